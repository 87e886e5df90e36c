package fillreport_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/fillreport"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// A fill counts as filled only when every batch of every fill id it
// published is reported queryable; a refusal or silence says why not.
func TestWait(t *testing.T) {
	js := testenv.StartJetStream(t)
	applied := func(id string, b uint32) contract.FillReport {
		return contract.FillReport{FillID: id, Batch: b, Rows: 10, Kind: contract.FillApplied}
	}
	cases := []struct {
		name    string
		reports []contract.FillReport
		wantErr string // "" = filled
	}{
		{"every batch of both fills", []contract.FillReport{applied("AAPL", 0), applied("MSFT", 0), applied("AAPL", 1), applied("AAPL", 0)}, ""},
		{"other fills and batches out of range do not count", []contract.FillReport{applied("AAPL", 0), applied("NVDA", 0), applied("AAPL", 7), applied("AAPL", 0), applied("MSFT", 0)},
			"reported only 2 of 3 batches queryable"},
		{"a refused batch", []contract.FillReport{applied("AAPL", 0), {FillID: "MSFT", Batch: 0, Kind: contract.FillRefused, Reason: "cast error"}},
			"QuestDB refused batch 0 of fill MSFT: cast error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, err := fillreport.Listen(js.Conn, "massive")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			for _, r := range c.reports {
				b, _ := json.Marshal(r)
				if err := js.Conn.Publish(topology.FillReportSubject("massive"), b); err != nil {
					t.Fatal(err)
				}
			}
			// Reports on another source's subject never count.
			b, _ := json.Marshal(applied("AAPL", 1))
			_ = js.Conn.Publish(topology.FillReportSubject("finnhub"), b)
			if err := js.Conn.Flush(); err != nil {
				t.Fatal(err)
			}
			err = l.Wait(context.Background(), map[string]uint32{"AAPL": 2, "MSFT": 1}, 30, 500*time.Millisecond)
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("want filled, got %v", err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("want %q, got %v", c.wantErr, err)
			}
		})
	}
}
