package parser

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/natsembed"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// newHarnessMaxPayload is newHarness on a server with NATS's default max
// payload (1 MB) instead of the embedded server's 8 MB.
func newHarnessMaxPayload(t *testing.T, maxPayload int32) *harness {
	t.Helper()
	env := testenv.StartBareJetStreamWith(t, natsembed.Config{MaxPayload: maxPayload})
	ctx := testenv.Context(t, 60*time.Second)
	if err := topology.Ensure(ctx, env.JS, topology.DefaultOptions()); err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, env: env, ctx: ctx}
}

// A report is never what fails a file: 50 lines with 200 KB fields (10 MB
// of bad rows, ten times the max payload) are reported, clipped, and the 4
// good rows are published.
func TestStageHugeBadRowsAreReportedWithinMaxPayload(t *testing.T) {
	const maxPayload = 1 << 20
	for _, onBad := range []string{OnBadRowSkip, OnBadRowReject} {
		t.Run(onBad, func(t *testing.T) {
			h := newHarnessMaxPayload(t, maxPayload)
			h.startParser(Config{})
			var data bytes.Buffer
			good := generateCSV(4, 1)
			lines := strings.SplitAfter(strings.TrimSpace(string(good)), "\n")
			field := strings.Repeat("7", 200<<10)
			for i := 0; i < 50; i++ {
				fmt.Fprintf(&data, "%d,%s,2,1,1.5,10,5\n", 1500000000+60*i, field)
				if i%13 == 0 && len(lines) > 0 {
					data.WriteString(strings.TrimSuffix(lines[0], "\n") + "\n")
					lines = lines[1:]
				}
			}
			ev := h.drop("XBTUSD_1.csv", data.Bytes(), func(ev *contract.FileEvent) { ev.OnBadRow = onBad })
			p := h.progress(ev.FileID)
			if p.RowsRejected != 50 {
				t.Errorf("%d bad rows reported, want 50", p.RowsRejected)
			}
			if len(p.Errors) != 50 {
				t.Errorf("%d bad rows listed, want all 50", len(p.Errors))
			}
			for _, e := range p.Errors {
				if len(e.Text) > 1024 || len(e.Reason) > 1024 {
					t.Fatalf("line %d echoed with %d + %d bytes", e.Line, len(e.Text), len(e.Reason))
				}
			}
			switch onBad {
			case OnBadRowSkip:
				if p.Kind != "parsed" || p.RowsParsed != 4 {
					t.Fatalf("progress %+v", p)
				}
				h.filesDone()
				assertCandles(t, allCandles(h.batches(ev.FileID)), expectCandles(t, good))
			case OnBadRowReject:
				if p.Kind != "rejected" || !strings.Contains(p.Reason, "50 bad rows") {
					t.Fatalf("progress %+v", p)
				}
				h.filesDone()
				if bs := h.batches(ev.FileID); len(bs) != 0 {
					t.Errorf("%d batches of a rejected file", len(bs))
				}
			}
			if n := h.streamMsgs(topology.StreamDLQ); n != 0 {
				t.Errorf("%d dead letters", n)
			}
		})
	}
}
