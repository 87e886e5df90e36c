package main

import (
	"strings"
	"testing"
	"time"
)

// TestBenchArchive runs the archive step on a tiny archive against the real
// QuestDB: every member lands, the table holds every row and is dropped,
// each stage's memory is measured on the archive.
func TestBenchArchive(t *testing.T) {
	rep, errb, pool := runBench(t, 240*time.Second, "--rows", "1000", "--files", "1", "--rss-file-size", "0",
		"--archive-rows", "20000", "--latency-files", "0", "--gapscan-rows", "0", "--skip-replay")
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
	checkPeakRSS(t, a.Stages)
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
	tablesGone(t, pool, "archive", ld.Table, a.Small.Table)
}
