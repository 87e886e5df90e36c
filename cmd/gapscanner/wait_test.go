package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/fetcher"
	"github.com/feefifofunds/feefifofunds/pipeline/kraken/krakentest"
	"github.com/feefifofunds/feefifofunds/pipeline/metrics"
	"github.com/feefifofunds/feefifofunds/pipeline/writer"
)

// withFetcher runs a fetcher on a fake Kraken that has every hourly candle
// from 2025-01-01 to 2025-01-31T06:00 but whose clock says 07:10: the
// 2025-01-20 hole is filled, the run to now (07:00..09:00 at the scanner's
// 10:30) has no closed candle yet for the fetcher and fails. A writer puts
// the fills into the world's table.
func (w *world) withFetcher(t *testing.T) {
	fake := krakentest.New(krakentest.WithNow(at("2025-01-31T07:10:00Z")))
	t.Cleanup(fake.Close)
	var candles []contract.Candle
	for ts := at("2025-01-01T00:00:00Z"); !ts.After(at("2025-01-31T06:00:00Z")); ts = ts.Add(time.Hour) {
		candles = append(candles, contract.Candle{Time: ts.Unix(), Open: 2, High: 3, Low: 1, Close: 2, Volume: 5, Trades: 4})
	}
	fake.AddCandles("ETHUSD", 60, candles)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() {
		done <- fetcher.Run(ctx, fetcher.Config{JS: w.nats.JS, Log: testenv.Logger(t), Metrics: metrics.NewRegistry(),
			KrakenURL: fake.URL, Rate: 1000, Now: fake.Now})
	}()
	go func() {
		done <- writer.Run(ctx, writer.Config{JS: w.nats.JS, Log: testenv.Logger(t), Metrics: metrics.NewRegistry(),
			QuestDB: w.q.Config(), FlushInterval: 50 * time.Millisecond})
	}()
	t.Cleanup(func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("stage stopped with %v", err)
			}
		}
	})
}

func TestScanWaitsForEveryOutcome(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		// check looks at stdout; the exit code and the table are checked for all.
		check func(t *testing.T, out string)
	}{
		{"text", nil, func(t *testing.T, out string) {
			for _, want := range []string{
				"OUTCOMES: 2 gaps",
				"ETHUSD 60m  TIER1  2025-01-20T12:00:00Z  2025-01-20T13:00:00Z  2        FILLED  2",
				"ETHUSD 60m  TIER1  2025-01-31T07:00:00Z  2025-01-31T09:00:00Z  3        FAILED  0",
				"FAILED: 1 gaps\n  ETHUSD 60m 2025-01-31T07:00:00Z..2025-01-31T09:00:00Z: no closed candle in the range yet",
				"TOTALS: detected 3, requested 2, filled 1, unfillable 1, no trades 0, failed 1, pending 0, candles filled 2",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			// The failed gaps come last, after every outcome.
			if strings.Index(out, "FAILED: 1 gaps") < strings.Index(out, "OUTCOMES:") {
				t.Errorf("failed gaps before the outcomes:\n%s", out)
			}
		}},
		{"json", []string{"--json"}, func(t *testing.T, out string) {
			var res struct {
				Report   struct{ Gaps []json.RawMessage }
				Outcomes []struct{ State, Error string }
				Failed   []struct{ Start time.Time }
				Totals   map[string]int64
			}
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("not one JSON object: %v\n%s", err, out)
			}
			want := map[string]int64{"gaps_detected": 3, "gaps_requested": 2, "gaps_filled": 1, "gaps_unfillable": 1,
				"gaps_no_trades": 0, "gaps_failed": 1, "gaps_pending": 0, "total_candles_filled": 2}
			for k, v := range want {
				if res.Totals[k] != v {
					t.Errorf("totals.%s = %d, want %d (%v)", k, res.Totals[k], v, res.Totals)
				}
			}
			if len(res.Report.Gaps) != 3 || len(res.Outcomes) != 2 || res.Outcomes[0].State != contract.GapFilled ||
				len(res.Failed) != 1 || !res.Failed[0].Start.Equal(at("2025-01-31T07:00:00Z")) {
				t.Errorf("json: %+v", res)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.withFetcher(t)
			before := w.q.Count(t)
			code, out, errOut := w.run(t, nil, append([]string{"scan", "-y", "--to-now", "--wait-timeout", "1m"}, tc.args...)...)
			if code != 1 || !strings.Contains(errOut, "1 of 2 requested gaps failed") {
				t.Errorf("exit %d, want 1 naming the failed gap; stderr:\n%s", code, errOut)
			}
			// Without a terminal the progress comes as lines.
			if !strings.Contains(errOut, "gaps 2/2 answered: 1 filled, 0 unfillable, 0 no trades, 1 failed; 2 candles written") {
				t.Errorf("no progress line in stderr:\n%s", errOut)
			}
			tc.check(t, out)
			w.q.WaitCount(t, before+2, 30*time.Second)
		})
	}
}

func TestScanWaitTimeoutExitsNonZero(t *testing.T) {
	w := newWorld(t) // no fetcher: nobody answers
	code, out, errOut := w.run(t, nil, "scan", "--yes", "--wait-timeout", "300ms")
	if code != 1 || !strings.Contains(errOut, "1 of 1 requested gaps were not answered within --wait-timeout 300ms") ||
		!strings.Contains(out, "pending 1") {
		t.Errorf("exit %d\n%s\n%s", code, out, errOut)
	}
}
