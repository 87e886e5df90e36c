package gapscanner

import (
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

// Totals are the figures of the old tool's backfill task, for one scan and
// the fetcher's answers to what it requested.
type Totals struct {
	GapsDetected int `json:"gaps_detected"`
	// GapsRequested are the gaps fill requests were published for; each
	// ends up filled, unfillable, no-trades, failed or (when the wait ended
	// first, or nobody waited) pending.
	GapsRequested int `json:"gaps_requested"`
	GapsFilled    int `json:"gaps_filled"`
	// GapsUnfillable counts the gaps the scan classed unfillable and the
	// requested ones the fetcher found it cannot serve.
	GapsUnfillable     int   `json:"gaps_unfillable"`
	GapsNoTrades       int   `json:"gaps_no_trades"`
	GapsFailed         int   `json:"gaps_failed"`
	GapsPending        int   `json:"gaps_pending"`
	TotalCandlesFilled int64 `json:"total_candles_filled"`
}

// Tally sums up a scan and the outcomes of the gaps it requested (outcomes
// may be nil: nothing was waited for, every requested gap is pending).
func Tally(rep Report, requested []Gap, outcomes []Outcome) Totals {
	t := Totals{GapsDetected: len(rep.Gaps), GapsRequested: len(requested)}
	asked := make(map[string]bool, len(requested))
	for _, g := range requested {
		asked[g.Key] = true
	}
	for _, g := range rep.Gaps {
		if asked[g.Key] {
			continue
		}
		switch g.Class {
		case contract.ClassUnfillable:
			t.GapsUnfillable++
		case contract.ClassNoTrades:
			t.GapsNoTrades++
		}
	}
	answered := 0
	for _, o := range outcomes {
		if !asked[o.Key] {
			continue
		}
		t.TotalCandlesFilled += o.CandlesWritten
		switch o.State {
		case contract.GapFilled:
			t.GapsFilled++
		case contract.GapFailed:
			t.GapsFailed++
		case contract.GapUnfillable:
			t.GapsUnfillable++
		case contract.GapNoTrades:
			t.GapsNoTrades++
		default:
			continue
		}
		answered++
	}
	t.GapsPending = len(requested) - answered
	return t
}

// Failed are the outcomes that failed, in order.
func Failed(outcomes []Outcome) []Outcome {
	var out []Outcome
	for _, o := range outcomes {
		if o.State == contract.GapFailed {
			out = append(out, o)
		}
	}
	return out
}
