package testenv

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
)

// SeriesRow is one candle of a series as a user reads it from the table
type SeriesRow struct {
	// (vwap and trades may be NULL: a source without them).
	TS                             time.Time
	Open, High, Low, Close, Volume float64
}

// Series reads the candles of one series (source, pair, interval) of the
// test table, oldest first, once the WAL is applied: what a test asserts
// about is what a query would show.
func (q *QuestDB) Series(t testing.TB, source, pair string, interval int) []SeriesRow {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := questdb.WaitApplied(ctx, q.Pool, q.Table); err != nil {
		t.Fatalf("wait applied: %v", err)
	}
	rs, err := q.Pool.Query(ctx, fmt.Sprintf(`SELECT ts, open, high, low, close, volume FROM %s
		WHERE source = $1 AND pair = $2 AND interval_minutes = $3 ORDER BY ts`, q.Table), source, pair, interval)
	if err != nil {
		t.Fatalf("series %s %s %d: %v", source, pair, interval, err)
	}
	defer rs.Close()
	var out []SeriesRow
	for rs.Next() {
		var r SeriesRow
		if err := rs.Scan(&r.TS, &r.Open, &r.High, &r.Low, &r.Close, &r.Volume); err != nil {
			t.Fatalf("series %s %s %d: %v", source, pair, interval, err)
		}
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		t.Fatalf("series %s %s %d: %v", source, pair, interval, err)
	}
	return out
}
