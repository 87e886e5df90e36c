package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/feefifofunds/feefifofunds/internal/cli"
	"github.com/feefifofunds/feefifofunds/pipeline/gapscanner"
)

// scanResult is `scan --json` of a scan that published: everything the
// text output shows, as one object.
type scanResult struct {
	Report    gapscanner.Report    `json:"report"`
	Records   gapscanner.SyncStats `json:"records"`
	Published int                  `json:"fill_requests_published"`
	Waited    bool                 `json:"waited"`
	Outcomes  []gapscanner.Outcome `json:"outcomes"`
	Failed    []gapscanner.Outcome `json:"failed"`
	Totals    gapscanner.Totals    `json:"totals"`
}

type settleOptions struct {
	wait       bool
	timeout    time.Duration
	asJSON     bool
	maxRequest int
}

// settle waits for the fetcher's answers to what the scan requested (unless
// told not to), prints the outcomes, the failed gaps and the totals, and
// fails when a gap failed or was not answered in time.
func (a *app) settle(ctx context.Context, res gapscanner.SweepResult, o settleOptions) error {
	requested := res.Todo
	var outcomes []gapscanner.Outcome
	var waitErr error
	if o.wait && len(requested) > 0 {
		kv, closeNATS, err := a.gapRecords(ctx)
		if err != nil {
			return err
		}
		defer closeNATS()
		a.note(o.asJSON, "waiting for the fetcher to answer %d gaps (up to %s; --no-wait to skip)", len(requested), o.timeout)
		bar := newProgress(a.ErrOut)
		outcomes, waitErr = gapscanner.Await(ctx, kv, requested, gapscanner.AwaitOptions{
			Timeout: o.timeout, MaxRequestCandles: o.maxRequest, Progress: bar.show,
		})
		bar.done()
		if waitErr != nil && !errors.Is(waitErr, gapscanner.ErrAwaitTimeout) {
			return waitErr
		}
	}
	totals := gapscanner.Tally(res.Report, requested, outcomes)
	failed := gapscanner.Failed(outcomes)
	if o.asJSON {
		out := scanResult{Report: res.Report, Records: res.Sync, Published: len(res.Requested), Waited: o.wait,
			Outcomes: outcomes, Failed: failed, Totals: totals}
		if out.Outcomes == nil {
			out.Outcomes = []gapscanner.Outcome{}
		}
		if out.Failed == nil {
			out.Failed = []gapscanner.Outcome{}
		}
		if err := cli.WriteJSON(a.Out, out); err != nil {
			return err
		}
	} else {
		a.printOutcomes(outcomes, failed, totals, o.wait && len(requested) > 0)
	}
	switch {
	case totals.GapsFailed > 0:
		return fmt.Errorf("%d of %d requested gaps failed", totals.GapsFailed, totals.GapsRequested)
	case o.wait && totals.GapsPending > 0:
		return fmt.Errorf("%d of %d requested gaps were not answered within --wait-timeout %s (is the fetcher running?): %w",
			totals.GapsPending, totals.GapsRequested, o.timeout, waitErr)
	}
	return nil
}

func (a *app) printOutcomes(outcomes, failed []gapscanner.Outcome, t gapscanner.Totals, waited bool) {
	if waited {
		fmt.Fprintf(a.Out, "\nOUTCOMES: %d gaps\n", len(outcomes))
		tw := a.table("SERIES", "TIER", "START", "END", "MISSING", "STATE", "CANDLES WRITTEN")
		for _, o := range outcomes {
			fmt.Fprintf(tw, "%s %dm\t%s\t%s\t%s\t%d\t%s\t%d\n", o.Pair, o.Interval, o.Tier, ts(o.Start), ts(o.End), o.Missing, o.State, o.CandlesWritten)
		}
		tw.Flush()
		if len(failed) > 0 {
			fmt.Fprintf(a.Out, "\nFAILED: %d gaps\n", len(failed))
			for _, o := range failed {
				fmt.Fprintf(a.Out, "  %s %dm %s..%s: %s\n", o.Pair, o.Interval, ts(o.Start), ts(o.End), o.Error)
			}
		}
	}
	fmt.Fprintf(a.Out, "\nTOTALS: detected %d, requested %d, filled %d, unfillable %d, no trades %d, failed %d, pending %d, candles filled %d\n",
		t.GapsDetected, t.GapsRequested, t.GapsFilled, t.GapsUnfillable, t.GapsNoTrades, t.GapsFailed, t.GapsPending, t.TotalCandlesFilled)
}

// progress shows a wait: a bar redrawn in place on a terminal, a line per
// change otherwise (logs, CI).
type progress struct {
	w    io.Writer
	tty  bool
	last int
	drew bool
}

func newProgress(w io.Writer) *progress { return &progress{w: w, tty: cli.IsTerminal(w), last: -1} }

func (p *progress) show(s gapscanner.AwaitProgress) {
	line := fmt.Sprintf("gaps %d/%d answered: %d filled, %d unfillable, %d no trades, %d failed; %d candles written; %s",
		s.Settled, s.Total, s.Filled, s.Unfillable, s.NoTrades, s.Failed, s.CandlesWritten, s.Elapsed.Round(time.Second))
	if p.tty {
		frac := 0.0
		if s.Total > 0 {
			frac = float64(s.Settled) / float64(s.Total)
		}
		fmt.Fprintf(p.w, "\r\033[K%s %s", bar(frac, 30), line)
		p.drew = true
		return
	}
	if s.Settled != p.last {
		p.last = s.Settled
		fmt.Fprintln(p.w, line)
	}
}

func (p *progress) done() {
	if p.tty && p.drew {
		fmt.Fprintln(p.w)
	}
}

func bar(frac float64, width int) string {
	n := int(frac*float64(width) + 0.5)
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}
