package pricefetch

import (
	"strings"
	"time"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

// GroupedPair stands for "every requested ticker" in the gap record of a
// grouped request (tickers are letters and digits, so it reads as one, and
// registry tickers are never this long word by accident in practice).
const GroupedPair = "GROUPED"

// RecordKey is the GAPS key a request's outcome is recorded under:
// <source>.<ticker>.1440.<start unix>, or <source>.GROUPED.1440.<start unix>.
func RecordKey(source string, r contract.PriceRequest) string {
	pair := r.Ticker
	if r.Grouped {
		pair = GroupedPair
	}
	return contract.GapKey(source, pair, contract.PriceInterval, r.Start)
}

// FillID is the batch provenance of the candles a request publishes for
// ticker: the request's id, with "/<ticker>" for a grouped request (each
// ticker is its own series, so its batch ids must differ).
func FillID(r contract.PriceRequest, ticker string) string {
	if r.Grouped {
		return r.ID + "/" + ticker
	}
	return r.ID
}

// eventPrefix starts every history event the fetcher writes for a request,
// so a waiting client can tell its own outcome from earlier ones.
func eventPrefix(id string) string { return "request " + id + ": " }

// Outcome is the final event recorded for request id on rec, if any:
// FILLED, NO_TRADES or FAILED.
func Outcome(rec contract.GapRecord, id string) (contract.GapEvent, bool) {
	p := eventPrefix(id)
	for i := len(rec.History) - 1; i >= 0; i-- {
		e := rec.History[i]
		if !strings.HasPrefix(e.Detail, p) {
			continue
		}
		switch e.State {
		case contract.GapFilled, contract.GapNoTrades, contract.GapFailed, contract.GapUnfillable:
			return e, true
		}
	}
	return contract.GapEvent{}, false
}

type outcome struct {
	state   string
	detail  string
	written int64
}

func day(unix int64) string { return time.Unix(unix, 0).UTC().Format(time.DateOnly) }
