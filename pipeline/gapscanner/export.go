package gapscanner

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

// UnfillableCSVHeader is the exact header of --export-unfillable files.
var UnfillableCSVHeader = []string{"asset_ticker", "tier", "interval_minutes", "gap_start", "gap_end",
	"missing_candles", "candles_from_today", "overflow_candles"}

// WriteUnfillableCSV writes the gaps classed unfillable by OHLC (other
// classes are skipped: fillable ones will be filled, no-trades ones have
// nothing to fill) as CSV, times in RFC 3339 UTC.
func WriteUnfillableCSV(w io.Writer, gaps []Gap) (int, error) {
	cw := csv.NewWriter(w)
	if err := cw.Write(UnfillableCSVHeader); err != nil {
		return 0, fmt.Errorf("write csv: %w", err)
	}
	n := 0
	for _, g := range gaps {
		if g.Class != contract.ClassUnfillable {
			continue
		}
		row := []string{g.Base, g.Tier, strconv.Itoa(g.Interval),
			g.Start.UTC().Format(time.RFC3339), g.End.UTC().Format(time.RFC3339),
			strconv.FormatInt(g.Missing, 10), strconv.FormatInt(g.CandlesFromToday, 10), strconv.FormatInt(g.Overflow, 10)}
		if err := cw.Write(row); err != nil {
			return n, fmt.Errorf("write csv: %w", err)
		}
		n++
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return n, fmt.Errorf("write csv: %w", err)
	}
	return n, nil
}
