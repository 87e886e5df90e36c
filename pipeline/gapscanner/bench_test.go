package gapscanner_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/gapscanner"
	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
)

// BenchmarkScan fills a fresh table server-side with FFF_BENCH_SCAN_ROWS
// one-minute candles of 50 pairs (with a common outage of 90 minutes every
// ~69 days and scattered single-minute holes that differ per pair), then
// times full scans. Run it alone, e.g.
//
//	FFF_BENCH_SCAN_ROWS=50000000 go test -run '^$' -bench BenchmarkScan -benchtime 1x ./pipeline/gapscanner/
func BenchmarkScan(b *testing.B) {
	n, _ := strconv.ParseInt(os.Getenv("FFF_BENCH_SCAN_ROWS"), 10, 64)
	if n <= 0 {
		b.Skip("set FFF_BENCH_SCAN_ROWS (e.g. 50000000) to run the scan benchmark")
	}
	const pairs = 50
	ctx := context.Background()
	base := time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	now := time.UnixMicro(base).Add(time.Duration(n/pairs) * time.Minute).Add(time.Hour)
	if table := os.Getenv("FFF_BENCH_SCAN_TABLE"); table != "" {
		// A table an earlier run filled and kept (FFF_KEEP_TABLES=1): skips the fill.
		pool, _, _ := testenv.ConnectQuestDB(b)
		benchScan(b, &testenv.QuestDB{Pool: pool, Table: table}, now)
		return
	}
	q := testenv.NewQuestDB(b)
	fill := fmt.Sprintf(`INSERT INTO %s
SELECT cast(%d + ((x-1) / %d) * 60000000L AS timestamp), 'kraken', cast('B' || ((x-1) %% %d) || 'USD' AS symbol), 'B', 'USD', 'csv', 1,
  1.0, 2.0, 0.5, 1.5, 1.2, 10.0, 5L
FROM long_sequence(%d)
WHERE NOT ((x-1) / %d %% 100003 < 90 OR ((x-1) / %d + ((x-1) %% %d) * 13) %% 7919 = 5)`,
		q.Table, base, pairs, pairs, n, pairs, pairs, pairs)
	began := time.Now()
	if _, err := q.Pool.Exec(ctx, fill); err != nil {
		b.Fatalf("fill: %v", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	if err := questdb.WaitApplied(wctx, q.Pool, q.Table); err != nil {
		b.Fatal(err)
	}
	b.Logf("filled %s with %d rows (holes left out) in %s", q.Table, n, time.Since(began).Round(time.Millisecond))
	benchScan(b, q, now)
}

func benchScan(b *testing.B, q *testenv.QuestDB, now time.Time) {
	ctx := context.Background()
	b.ResetTimer()
	var rep gapscanner.Report
	for i := 0; i < b.N; i++ {
		var err error
		rep, err = gapscanner.Scan(ctx, gapscanner.ScanConfig{DB: q.Pool, Table: q.Table, Now: func() time.Time { return now }, Log: testLog(b)})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(rep.Candles)*float64(b.N)/b.Elapsed().Seconds(), "candles/s")
	b.ReportMetric(float64(len(rep.Gaps)), "gaps")
	b.Logf("scan: %d series, %d candles, %d gaps, %d days read in detail, %s a scan",
		len(rep.Series), rep.Candles, len(rep.Gaps), rep.DetailDays, (b.Elapsed() / time.Duration(b.N)).Round(time.Millisecond))
}
