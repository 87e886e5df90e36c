package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/ingest"
	"github.com/feefifofunds/feefifofunds/pipeline/ledger/ledgertest"
)

func copyFixture(t *testing.T, dir, name string) int64 {
	t.Helper()
	b := testenv.CopyKrakenFixture(t, dir, name)
	return int64(strings.Count(strings.TrimSpace(string(b)), "\n") + 1)
}

// runIngestCmd runs fff ingest with args: stdout, stderr and the exit
// status as an exitError.
func runIngestCmd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	return run(t, 60*time.Second, append([]string{"ingest"}, args...)...)
}

func TestIngestYesCommitsAndSummarises(t *testing.T) {
	env := testenv.StartFakeStages(t, ledgertest.Options{BatchRows: 50})
	dir := t.TempDir()
	xbt := copyFixture(t, dir, "XBTUSD_1440.csv")
	eth := copyFixture(t, dir, "ETHUSD_1440.csv")
	os.WriteFile(filepath.Join(dir, "BATUSD_1440.csv"), []byte("1\n"), 0o644) // TIER3: filtered out
	os.WriteFile(filepath.Join(dir, "readme.md"), []byte("hi"), 0o644)

	// --check-table=false: the fake stages write no table to check.
	out, progress, err := runIngestCmd(t, dir, "--yes", "--nats", env.URL, "--tier", "TIER1", "--progress-every", "50ms", "--check-table=false")
	if err != nil {
		t.Fatalf("ingest: %v\n%s\n%s", err, out, progress)
	}
	t.Logf("stdout:\n%s\nstderr:\n%s", out, progress)
	for _, want := range []string{
		"Found 2 file(s) to ingest",
		"TIER1", "1d",
		"BATUSD_1440.csv (filtered)", "readme.md (rejected)",
		"2 file(s) in", "2 committed, 0 already ingested, 0 failed",
		"Records committed: " + thousands(xbt+eth),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(progress, "ingest: ") || !strings.Contains(progress, "2/2 files") {
		t.Errorf("no progress lines on a non-terminal stderr:\n%s", progress)
	}
	for _, n := range []string{"XBTUSD_1440.csv", "ETHUSD_1440.csv", "BATUSD_1440.csv", "readme.md"} {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Errorf("ingest moved or removed %s", n)
		}
	}

	// Twice: everything is already ingested, nothing is published again.
	out, _, err = runIngestCmd(t, dir, "--yes", "--nats", env.URL, "--tier", "TIER1", "--check-table=false")
	if err != nil {
		t.Fatalf("second ingest: %v\n%s", err, out)
	}
	if !strings.Contains(out, "0 committed, 2 already ingested, 0 failed") {
		t.Errorf("second run summary:\n%s", out)
	}
	if n := testenv.FilesPublished(t, env.JS); n != 2 {
		t.Errorf("%d FILES messages after two runs, want 2", n)
	}
}

func TestIngestFailureExitsNonZero(t *testing.T) {
	env := testenv.StartFakeStages(t, ledgertest.Options{BatchRows: 50})
	dir := t.TempDir()
	copyFixture(t, dir, "XBTUSD_1440.csv")
	os.WriteFile(filepath.Join(dir, "ETHUSD_60.csv"), []byte("BAD\nBAD\n"), 0o644)

	out, _, err := runIngestCmd(t, dir, "--yes", "--nats", env.URL)
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("err %v, want exit status 1\n%s", err, out)
	}
	for _, want := range []string{"1 committed, 0 already ingested, 1 failed", "ETHUSD_60.csv: REJECTED: no valid row", "Rows rejected: 2"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestIngestRefusesWithoutTerminal(t *testing.T) {
	dir := t.TempDir()
	copyFixture(t, dir, "XBTUSD_1440.csv")
	out, _, err := runIngestCmd(t, dir, "--nats", "nats://127.0.0.1:1")
	if err == nil || err.Error() != "stdin is not a terminal: pass --yes to ingest without confirmation" {
		t.Fatalf("err %v, want the refusal", err)
	}
	if !strings.Contains(out, "Found 1 file(s)") {
		t.Errorf("the plan was not shown before refusing:\n%s", out)
	}
	if isTerminal(os.Stdin) && os.Getenv("CI") == "" {
		t.Log("stdin of this test is a terminal")
	}
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Error("/dev/null taken for a terminal")
	}
}

func TestIngestProgressBarsRedraw(t *testing.T) {
	var b bytes.Buffer
	p := &progressView{out: &b, tty: true}
	start := time.Now().Add(-2 * time.Second)
	p.draw(ingest.Progress{Files: 4, Bytes: 1000, Settled: 1, Failed: 0, Rows: 5000, DoneBytes: 250, Start: start})
	p.draw(ingest.Progress{Files: 4, Bytes: 1000, Settled: 2, Failed: 1, Rows: 10000, DoneBytes: 500, Start: start})
	s := b.String()
	for _, want := range []string{"files [", "1/4", "2/4, 1 failed", "10,000 rows committed", "rows/s", "ETA ", "\033[2A", " 50%"} {
		if !strings.Contains(s, want) {
			t.Errorf("bars lack %q: %q", want, s)
		}
	}
	if strings.Count(s, "\033[2A") != 1 {
		t.Errorf("the first draw must not move the cursor up: %q", s)
	}
}

// With --embedded nothing runs but QuestDB: the load goes through this
// process's own JetStream, parsers and writers, and is remembered in --store.
func TestIngestEmbeddedIntoQuestDB(t *testing.T) {
	q := testenv.NewQuestDB(t)
	dir := t.TempDir()
	store := t.TempDir()
	xbt := copyFixture(t, dir, "XBTUSD_1440.csv")
	eth := copyFixture(t, dir, "ETHUSD_1440.csv")
	args := []string{dir, "--yes", "--embedded", "--store", store,
		"--questdb", q.ILP, "--questdb-pg", q.PG, "--table", q.Table, "--progress-every", "100ms"}

	out, progress, err := runIngestCmd(t, args...)
	if err != nil {
		t.Fatalf("ingest --embedded: %v\n%s\n%s", err, out, progress)
	}
	if !strings.Contains(out, "2 committed, 0 already ingested, 0 failed") ||
		!strings.Contains(out, "Records committed: "+thousands(xbt+eth)) {
		t.Errorf("summary:\n%s", out)
	}
	if n := q.Count(t); n != xbt+eth {
		t.Fatalf("QuestDB holds %d rows, want %d", n, xbt+eth)
	}

	// The store remembers: a second run loads nothing again.
	out, _, err = runIngestCmd(t, args...)
	if err != nil {
		t.Fatalf("second ingest --embedded: %v\n%s", err, out)
	}
	if !strings.Contains(out, "0 committed, 2 already ingested, 0 failed") {
		t.Errorf("second run summary:\n%s", out)
	}
	if n := q.Count(t); n != xbt+eth {
		t.Errorf("after the second run QuestDB holds %d rows, want %d", n, xbt+eth)
	}
}
