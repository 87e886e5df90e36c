package pricefetch

import (
	"strings"
	"time"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

// holidayNote starts the list of dates a grouped request found no results
// on, in the outcome's detail: the market was closed, whatever the
// calendar says (a closure it does not know yet).
const holidayNote = "; no results (market holiday) on "

// GroupedHolidays are the dates the grouped requests recorded on rec found
// the whole market without results: market holidays, which the gap
// scanner does not count as gaps.
func GroupedHolidays(rec contract.GapRecord) []time.Time {
	if rec.Pair != GroupedPair {
		return nil
	}
	var out []time.Time
	for _, e := range rec.History {
		_, list, ok := strings.Cut(e.Detail, holidayNote)
		if !ok {
			continue
		}
		list, _, _ = strings.Cut(list, ";")
		for _, d := range strings.Split(list, ", ") {
			if t, err := time.Parse(time.DateOnly, strings.TrimSpace(d)); err == nil {
				out = append(out, t)
			}
		}
	}
	return out
}
