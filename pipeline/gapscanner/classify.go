package gapscanner

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

// DefaultTradesPerMinute is the trade rate assumed for a series whose recent
// candles carry no trade counts, when estimating Trades calls.
const DefaultTradesPerMinute = 5.0

// TradesPerCall is how many trades one Kraken Trades call returns.
const TradesPerCall = 1000

// classify sets a gap's class, reason, distance from now and whether a fill
// request may be published for it, from its age and its record (if any).
func classify(g *Gap, now time.Time, c *ScanConfig, rec contract.GapRecord) {
	step := int64(g.Interval) * 60
	alignedNow := contract.FloorTime(now.Unix(), step) // open time of the still-open candle
	g.CandlesFromToday = (alignedNow - g.Start.Unix()) / step
	g.Overflow = max(0, g.CandlesFromToday-int64(c.Window))
	g.State = rec.State

	switch rec.State {
	case contract.GapNoTrades:
		g.Class = contract.ClassNoTrades
		g.Reason = orDefault(rec.Reason, "a fill found Kraken has no trades in this range")
		g.Hold = "record says NO_TRADES: never requested again"
		return
	case contract.GapUnfillable:
		if !c.Trades {
			g.Class = contract.ClassUnfillable
			g.Reason = orDefault(rec.Reason, "the fetcher recorded it as unfillable")
			g.Hold = "record says UNFILLABLE: not requested again (--trades would rebuild it from trades)"
			return
		}
		// Unfillable by OHLC, which is what the fetcher found without
		// trades; with trade rebuilding on it is worth one more request.
	}
	switch {
	case g.CandlesFromToday <= int64(c.Window):
		g.Class = contract.ClassFillable
	case c.Trades:
		g.Class = contract.ClassFillableFromTrades
		g.Reason = fmt.Sprintf("starts %d candles back, %d beyond Kraken's %d-candle OHLC window: rebuild from trades",
			g.CandlesFromToday, g.Overflow, c.Window)
	default:
		g.Class = contract.ClassUnfillable
		g.Reason = fmt.Sprintf("starts %d candles back, %d beyond Kraken's %d-candle OHLC window (use --trades to rebuild from trades)",
			g.CandlesFromToday, g.Overflow, c.Window)
		return
	}
	switch rec.State {
	case "", contract.GapOpen, contract.GapUnfillable:
		g.Requestable = true
	default: // REQUESTED, or FILLED/FAILED while still missing
		last := lastActivity(rec)
		if age := now.Sub(last); age < c.RequeueAfter {
			g.Hold = fmt.Sprintf("record %s %s ago; requested again after %s", rec.State, age.Round(time.Second), c.RequeueAfter)
			return
		}
		g.Requestable = true
	}
}

// lastActivity is when a record last changed state: the newest history
// event, else its Updated time. Growing a gap's end does not count, so a
// trailing gap that grows every round is still re-requested on schedule.
func lastActivity(rec contract.GapRecord) time.Time {
	var t time.Time
	for _, e := range rec.History {
		if e.At.After(t) {
			t = e.At
		}
	}
	if t.IsZero() {
		t = rec.Updated
	}
	return t
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// tradesPerCandle is the series' average trade count over its newest
// OHLCWindow candles, or DefaultTradesPerMinute×interval when they carry none.
func tradesPerCandle(ctx context.Context, c *ScanConfig, s *seriesState) (float64, error) {
	from := s.Last.Unix() - int64(c.Window)*s.step
	sql := fmt.Sprintf(`SELECT avg(trades) FROM %s WHERE source = %s AND pair = %s AND interval_minutes = %d
AND ts >= cast(%d AS timestamp) AND trades >= 0`, c.Table, quote(s.Source), quote(s.Pair), s.Interval, from*1_000_000)
	var avg *float64
	if err := c.DB.QueryRow(ctx, sql).Scan(&avg); err != nil {
		return 0, fmt.Errorf("recent trade counts of %s %d: %w", s.Pair, s.Interval, err)
	}
	if avg == nil || math.IsNaN(*avg) || *avg <= 0 {
		return DefaultTradesPerMinute * float64(s.Interval), nil
	}
	return *avg, nil
}

// estimateTradeCalls is missing candles × trades per candle / 1000 trades a
// call, rounded up, at least one call (the call that finds the range empty).
func estimateTradeCalls(missing int64, tradesPerCandle float64) int64 {
	return max(1, int64(math.Ceil(float64(missing)*tradesPerCandle/TradesPerCall)))
}
