package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/benchmark"
)

// TestBenchArchive runs the archive step on a tiny archive against the real
// QuestDB: every member lands, the table holds every row and is dropped,
// each stage's memory is measured on the archive.
func TestBenchArchive(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole pipeline")
	}
	pool, ilp, pg := testenv.ConnectQuestDB(t)
	start := time.Now()
	out, errb, err := run(t, 240*time.Second, "bench", "--rows", "1000", "--files", "1", "--rss-file-size", "0",
		"--archive-rows", "20000", "--latency-files", "0", "--gapscan-rows", "0", "--skip-replay",
		"--json", "--questdb", ilp, "--questdb-pg", pg, "--dir", t.TempDir())
	t.Logf("took %s\nstderr:\n%s", time.Since(start).Round(time.Millisecond), errb)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	var rep benchmark.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out)
	}
	a := rep.Archive
	if a == nil {
		t.Fatal("no archive in the report")
	}
	if a.Rows != 20000 || a.Members != 1600 || a.Pairs != 200 || len(a.Intervals) != 8 || a.ZipBytes <= 0 || a.CSVBytes <= a.ZipBytes {
		t.Errorf("archive: %+v", a)
	}
	if a.SmallFiles != 1600 || a.SmallRows != 20000 {
		t.Errorf("small files: %d, %d rows", a.SmallFiles, a.SmallRows)
	}
	ld := a.Load
	if ld == nil {
		t.Fatal("archive: no load")
	}
	if ld.Rows != 20000 || ld.Members != 1600 || ld.CandlesPerSec <= 0 || ld.VisibleSecs < ld.MovedSecs || ld.FilesPerSec <= 0 || ld.ProcessPeakMB <= 1 {
		t.Errorf("load: %+v", ld)
	}
	// At 20,000 rows every member is small.
	if sl := a.Small; sl == nil || sl.Rows != 20000 || sl.Members != 1600 || sl.FilesPerSec <= 0 || sl.Table == ld.Table {
		t.Errorf("small files' load: %+v", sl)
	}
	if len(a.Stages) != 3 {
		t.Fatalf("stages: %+v", a.Stages)
	}
	for _, s := range a.Stages {
		if s.PeakMB <= 1 || s.PeakMB > 2000 {
			t.Errorf("stage %s: peak RSS %.1f MB", s.Stage, s.PeakMB)
		}
	}
	n := 0
	for _, b := range rep.Bars {
		if strings.HasPrefix(b.Figure, "archive: peak RSS ") {
			n++
		}
	}
	if n != 3 {
		t.Errorf("archive bars: %+v", rep.Bars)
	}
	for _, want := range []string{"11. archive Kraken_OHLCVT.zip: 1,600 members", "20,000 rows", "dropped into the watcher's inbox",
		"every row visible by count()", "members under 10,000 rows alone", "peak RSS per stage, each its own process on the whole archive", "archive: drop to queryable"} {
		if !strings.Contains(errb, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// The table is gone.
	var left int
	if err := pool.QueryRow(context.Background(), "SELECT count() FROM tables() WHERE table_name IN ($1, $2)", ld.Table, a.Small.Table).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d archive tables left behind", left)
	}
}
