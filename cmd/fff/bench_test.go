package main

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/benchmark"
)

// TestBenchSmall runs a tiny bench against the real QuestDB: every step,
// with a small file for the memory figures.
func TestBenchSmall(t *testing.T) {
	// 150 s: room for one writer stall (see docs/PERFORMANCE.md)
	rep, errb, pool := runBench(t, 150*time.Second, "--rows", "20000", "--files", "2", "--rss-file-size", "2MB", "--archive-rows", "0",
		"--latency-files", "2", "--latency-settle", "100ms", "--gapscan-rows", "20000")
	if rep.Set.Rows != 20000 || rep.Set.Files != 2 || rep.Set.Bytes == 0 {
		t.Errorf("set: %+v", rep.Set)
	}
	if rep.Parse == nil || rep.Parse.Rows != 20000 || rep.Parse.CandlesPerSec <= 0 {
		t.Errorf("parse: %+v", rep.Parse)
	}
	if rep.Codec == nil || rep.Codec.NsPerCandle <= 0 {
		t.Errorf("codec: %+v", rep.Codec)
	}
	for name, r := range map[string]*benchmark.PipelineResult{"questdb": rep.QuestDB, "null": rep.Null} {
		if r == nil || r.Rows != 20000 || r.CandlesPerSec <= 0 || r.VisibleSecs < r.CommittedSecs {
			t.Errorf("%s: %+v", name, r)
		}
	}
	if rep.Imp == nil || rep.Imp.Rows != 20000 || rep.Imp.RowsPerSec <= 0 || rep.Ratio <= 0 {
		t.Errorf("imp: %+v, ratio %v", rep.Imp, rep.Ratio)
	}
	if rep.ImpDedup == nil || rep.ImpDedup.Rows != 20000 || rep.ImpDedup.RowsPerSec <= 0 || rep.DedupRatio <= 0 {
		t.Errorf("imp with DEDUP: %+v, ratio %v", rep.ImpDedup, rep.DedupRatio)
	}
	if rep.RSS == nil || len(rep.RSS.Stages) != 3 {
		t.Fatalf("rss: %+v", rep.RSS)
	}
	checkPeakRSS(t, rep.RSS.Stages)
	if rep.Latency == nil || len(rep.Latency.Samples) != 2 || rep.GapScan == nil || rep.GapScan.Candles != 20000 ||
		rep.Replay == nil || rep.Replay.Candles != 20000 {
		t.Errorf("continuous steps: %+v, %+v, %+v", rep.Latency, rep.GapScan, rep.Replay)
	}
	if len(rep.Bars) != 11 {
		t.Errorf("bars: %+v", rep.Bars)
	}
	// The step lines go to stderr with --json.
	for _, want := range []string{"1. generated 2 files, 20,000 rows", "2. parse: 20,000 candles", "3. codec:",
		"4. end to end into a null ILP sink: 20,000 rows", "5. end to end into QuestDB", "20,000 rows committed",
		"6. QuestDB /imp", "pipeline/imp =", "into a table with DEDUP UPSERT KEYS(ts, pair)", "7. peak RSS per stage", "watcher", "parser", "writer", "peak RSS writer",
		"8. continuous mode latency", "p50", "9. gap scan", "found the 40 gaps made", "10. fff replay", "latency p99", "gap scan, 20K candles"} {
		if !strings.Contains(errb, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	tablesGone(t, pool, "bench", rep.QuestDB.Table, rep.Imp.Table, rep.ImpDedup.Table)
}

// runBench runs fff bench --json with args against the local QuestDB, and
// returns the report, the step lines (stderr) and the pool the bench's
// tables can be looked for with.
func runBench(t *testing.T, timeout time.Duration, args ...string) (benchmark.Report, string, *pgxpool.Pool) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the whole pipeline")
	}
	pool, ilp, pg := testenv.ConnectQuestDB(t)
	start := time.Now()
	args = append(append([]string{"bench"}, args...), "--json", "--questdb", ilp, "--questdb-pg", pg, "--dir", t.TempDir())
	out, errb, err := run(t, timeout, args...)
	t.Logf("took %s\nstderr:\n%s", time.Since(start).Round(time.Millisecond), errb)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	var rep benchmark.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out)
	}
	return rep, errb, pool
}

// checkPeakRSS fails a stage whose peak RSS is no plausible figure: none
// measured, or more than a stage on a small set can use.
func checkPeakRSS(t *testing.T, stages []benchmark.StageRSS) {
	t.Helper()
	for _, s := range stages {
		if s.PeakMB <= 1 || s.PeakMB > 2000 {
			t.Errorf("stage %s: peak RSS %.1f MB", s.Stage, s.PeakMB)
		}
	}
}

// tablesGone checks that the bench dropped the tables it made.
func tablesGone(t *testing.T, pool *pgxpool.Pool, what string, tables ...string) {
	t.Helper()
	in := make([]string, len(tables))
	args := make([]any, len(tables))
	for i, tb := range tables {
		in[i], args[i] = "$"+strconv.Itoa(i+1), tb
	}
	var n int
	q := "SELECT count() FROM tables() WHERE table_name IN (" + strings.Join(in, ", ") + ")"
	if err := pool.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d %s tables left behind", n, what)
	}
}
