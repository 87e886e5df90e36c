package benchmark

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/feefifofunds/feefifofunds/pipeline/gapscanner"
)

// GapScanResult is step 9: the gap scanner's scan (gapscanner.Scan, what
// `gapscanner scan` and the scheduled fill jobs run) over a table of the
// real candle schema holding GapScanRows one-minute candles with a known
// set of holes.
type GapScanResult struct {
	Table   string `json:"table"`
	Candles int64  `json:"candles"`
	Pairs   int    `json:"pairs"`
	// Gaps and Missing are what the scan found; they equal the holes made.
	Gaps    int   `json:"gaps"`
	Missing int64 `json:"missing_candles"`
	// LoadSecs: INSERT … SELECT FROM long_sequence() until applied.
	LoadSecs float64 `json:"load_seconds"`
	// ScanSecs is the first scan after the load (the figure judged);
	// AgainSecs a second scan right after (warm caches).
	ScanSecs   float64 `json:"scan_seconds"`
	AgainSecs  float64 `json:"scan_again_seconds"`
	DetailDays int     `json:"detail_days"`
}

// gapLayout is how the step's table is filled: Pairs series of Base
// candles each, every series with Holes holes (hole k, 1 ≤ k ≤ Holes, of
// pair p starts at minute k·Period + offset(p) and is 1 + (k·997 mod
// MaxLen) minutes long), so the scan must find exactly Pairs × Holes gaps.
type gapLayout struct {
	Pairs  int
	Base   int64 // candles per series in the table
	Holes  int64 // per series
	Period int64 // minutes between hole starts
	MaxLen int64
	Offset int64 // offsets are (p·13) mod Offset
	Start  int64 // open time of minute 0, unix µs
}

func newGapLayout(rows int64, end time.Time) (gapLayout, error) {
	if rows < 1000 {
		return gapLayout{}, fmt.Errorf("--gapscan-rows %d: want at least 1,000 (or 0 to skip)", rows)
	}
	l := gapLayout{Pairs: 50, Holes: 20}
	if rows < 50*10_000 {
		l.Pairs = int(max(1, rows/10_000))
	}
	l.Base = rows / int64(l.Pairs)
	l.Period = l.Base / (l.Holes + 2)
	l.MaxLen = min(l.Period/2, 4000) // up to 2.8 days: whole missing days too
	l.Offset = max(l.Period/4, 1)
	slots := l.Base + l.missingPerSeries()
	// End two days before end, on a day boundary.
	last := end.UTC().Truncate(24 * time.Hour).Add(-48 * time.Hour)
	l.Start = last.Add(-time.Duration(slots) * time.Minute).UnixMicro()
	if l.Start < Earliest.UnixMicro() {
		return gapLayout{}, fmt.Errorf("--gapscan-rows %d: %d series of %d minutes do not fit since 2009", rows, l.Pairs, slots)
	}
	return l, nil
}

func (l gapLayout) holeLen(k int64) int64 { return 1 + (k*997)%l.MaxLen }

func (l gapLayout) missingPerSeries() int64 {
	var m int64
	for k := int64(1); k <= l.Holes; k++ {
		m += l.holeLen(k)
	}
	return m
}

func (l gapLayout) pair(p int) string { return fmt.Sprintf("B%dUSD", p) }

// fillSQL generates every series server-side, holes left out.
func (l gapLayout) fillSQL(table string) string {
	slots := l.Base + l.missingPerSeries()
	rel := fmt.Sprintf("(m - (p * 13) %% %d)", l.Offset)
	return fmt.Sprintf(`INSERT INTO %s (ts, source, pair, base, quote, origin, interval_minutes, open, high, low, close, vwap, volume, trades)
SELECT cast(%d + m * 60000000L AS timestamp), 'kraken', cast('B' || p || 'USD' AS symbol), cast('B' || p AS symbol), 'USD', 'csv', 1,
  1.0 + p, 2.0 + p, 0.5, 1.5 + p, NULL, 10.0 + m %% 7, 5L
FROM (SELECT (x - 1) / %d m, (x - 1) %% %d p FROM long_sequence(%d))
WHERE NOT (%s >= 0 AND %s / %d BETWEEN 1 AND %d AND %s %% %d < 1 + (%s / %d * 997) %% %d)`,
		table, l.Start, l.Pairs, l.Pairs, int64(l.Pairs)*slots,
		rel, rel, l.Period, l.Holes, rel, l.Period, rel, l.Period, l.MaxLen)
}

// expected lists the holes as "pair start missing", sorted.
func (l gapLayout) expected() []string {
	var out []string
	for p := range l.Pairs {
		off := int64(p*13) % l.Offset
		for k := int64(1); k <= l.Holes; k++ {
			start := time.UnixMicro(l.Start).Add(time.Duration(k*l.Period+off) * time.Minute).UTC()
			out = append(out, fmt.Sprintf("%s %s %d", l.pair(p), start.Format(time.RFC3339), l.holeLen(k)))
		}
	}
	slices.Sort(out)
	return out
}

// gapScan is step 9.
func (b *bench) gapScan(ctx context.Context) (*GapScanResult, error) {
	now := time.Now()
	l, err := newGapLayout(b.o.GapScanRows, now)
	if err != nil {
		return nil, err
	}
	table := tableName("fff_bench_gapscan")
	if err := b.createTable(ctx, table, "MONTH"); err != nil {
		return nil, err
	}
	defer b.dropTable(table)
	res := &GapScanResult{Table: table, Pairs: l.Pairs}
	t0 := time.Now()
	lctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	if _, err := b.pool.Exec(lctx, l.fillSQL(table)); err != nil {
		return nil, fmt.Errorf("fill %s: %w", table, err)
	}
	n, err := b.countApplied(ctx, table)
	if err != nil {
		return nil, err
	}
	res.LoadSecs = time.Since(t0).Seconds()
	if want := int64(l.Pairs) * l.Base; n != want {
		return nil, fmt.Errorf("table %s holds %d candles after the fill, want %d", table, n, want)
	}
	res.Candles = n
	cfg := gapscanner.ScanConfig{DB: b.pool, Table: table, Now: func() time.Time { return now }, Log: b.stageLog}
	rep, err := gapscanner.Scan(ctx, cfg)
	if err != nil {
		return nil, err
	}
	res.ScanSecs = rep.Took.Seconds()
	again, err := gapscanner.Scan(ctx, cfg)
	if err != nil {
		return nil, err
	}
	res.AgainSecs = again.Took.Seconds()
	res.Gaps, res.DetailDays = len(rep.Gaps), rep.DetailDays
	var found []string
	for _, g := range rep.Gaps {
		res.Missing += g.Missing
		found = append(found, fmt.Sprintf("%s %s %d", g.Pair, g.Start.UTC().Format(time.RFC3339), g.Missing))
	}
	slices.Sort(found)
	if want := l.expected(); !slices.Equal(found, want) || rep.Candles != n {
		return res, fmt.Errorf("the scan of %s found %d gaps (%s) in %d candles; made %d holes (%s) in %d",
			table, len(found), firstOf(found), rep.Candles, len(want), firstOf(want), n)
	}
	return res, nil
}

func firstOf(s []string) string {
	if len(s) > 3 {
		return strings.Join(s[:3], ", ") + ", …"
	}
	return strings.Join(s, ", ")
}
