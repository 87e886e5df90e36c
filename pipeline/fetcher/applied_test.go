package fetcher_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// A gap is FILLED only once the writer reported every batch of the fill
// queryable; refused batches and a silent writer make it FAILED with the
// reason.
func TestFilledWaitsForTheWriter(t *testing.T) {
	key := contract.GapKey("kraken", "XBTUSD", 60, at("2025-01-10T08:00:00Z"))
	for _, tc := range []struct {
		name    string
		setup   func(e *env)
		release bool
		state   string
		detail  string
	}{
		{name: "reports held, then released", setup: func(e *env) { e.writer.hold(true) }, release: true, state: contract.GapFilled, detail: "5 candles"},
		{name: "batch refused", setup: func(e *env) { e.writer.setRefuse(true) }, state: contract.GapFailed, detail: "QuestDB refused batch"},
		{name: "no report", setup: func(e *env) { e.writer.hold(true); e.cfg.ApplyTimeout = 500 * time.Millisecond }, state: contract.GapFailed, detail: "reported only 0 of 3 batches queryable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.cfg.BatchSize = 2
			data := hourly(at("2025-01-10T07:00:00Z"), 8, 93000)
			data = append(data[:3], data[4:]...)
			e.fake.AddCandles("XBTUSD", 60, data)
			tc.setup(e)
			e.start()
			e.pub(personRequest)
			if tc.release {
				// Every batch is published and waits for its report: the gap
				// is not FILLED meanwhile.
				testenv.WaitValue(t, "reports held back", e.writer.heldReports, 3, 15*time.Second)
				if rec, ok := e.gapNow(key); ok && rec.State == contract.GapFilled {
					t.Fatalf("FILLED before the writer reported the batches queryable: %+v", rec)
				}
				e.writer.hold(false)
			}
			rec := e.waitGap(key, 15*time.Second)
			last := rec.History[len(rec.History)-1].Detail
			if rec.State != tc.state || !strings.Contains(last, tc.detail) {
				t.Fatalf("state %s detail %q, want %s with %q", rec.State, last, tc.state, tc.detail)
			}
		})
	}
}

// gapNow reads the gap record under key as it is now.
func (e *env) gapNow(key string) (contract.GapRecord, bool) {
	e.t.Helper()
	kv, err := e.js.JS.KeyValue(context.Background(), topology.BucketGaps)
	if err != nil {
		e.t.Fatal(err)
	}
	entry, err := kv.Get(context.Background(), key)
	if err != nil {
		return contract.GapRecord{}, false
	}
	var r contract.GapRecord
	if err := json.Unmarshal(entry.Value(), &r); err != nil {
		e.t.Fatal(err)
	}
	return r, true
}
