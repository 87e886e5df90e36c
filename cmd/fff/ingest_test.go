package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/feefifofunds/feefifofunds/internal/cli"
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
	if cli.IsTerminal(os.Stdin) && os.Getenv("CI") == "" {
		t.Log("stdin of this test is a terminal")
	}
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if cli.IsTerminal(f) {
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

// The exit status of fff ingest says whether everything is in: 0 all
// committed (now or before), 1 anything left out, 2 the load could not
// start. The summary comes first whenever a load ran.
func TestIngestExitCodes(t *testing.T) {
	env := testenv.StartFakeStages(t, ledgertest.Options{BatchRows: 50})
	nats := "--nats=" + env.URL
	folder := func(t *testing.T, files map[string]string) string {
		dir := t.TempDir()
		for name, content := range files {
			if content == "" {
				copyFixture(t, dir, name)
				continue
			}
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	good := map[string]string{"XBTUSD_1440.csv": ""}
	allBad := map[string]string{"XBTUSD_60.csv": "BAD\n", "ETHUSD_60.csv": "BAD\nBAD\n"}
	someBad := map[string]string{"ETHUSD_1440.csv": "", "XBTUSD_1.csv": "BAD\n"}
	for _, tc := range []struct {
		name  string
		files map[string]string
		args  []string // after DIR; nil: the folder is not passed
		twice bool     // the status and output of a second run count
		code  int
		want  []string // in stdout (the summary) or, for status 2, in the message
	}{
		{name: "all committed", files: good, args: []string{"--yes", nats}, code: 0,
			want: []string{"1 committed, 0 already ingested, 0 failed"}},
		{name: "all committed before", files: good, args: []string{"--yes", nats, "--check-table=false"}, twice: true, code: 0,
			want: []string{"0 committed, 1 already ingested, 0 failed"}},
		{name: "every file rejected", files: allBad, args: []string{"--yes", nats}, code: 1,
			want: []string{"0 committed, 0 already ingested, 2 failed", "XBTUSD_60.csv: REJECTED", "2 of 2 file(s) failed or were rejected"}},
		{name: "some file rejected", files: someBad, args: []string{"--yes", nats}, code: 1,
			want: []string{"1 committed, 0 already ingested, 1 failed", "XBTUSD_1.csv: REJECTED", "1 of 2 file(s) failed or were rejected"}},
		{name: "rejected by an earlier load", files: allBad, args: []string{"--yes", nats}, twice: true, code: 1,
			want: []string{"0 committed, 0 already ingested, 2 failed", "rejected before", "use --force to try again"}},
		{name: "stopped after the first failure", files: someBad, args: []string{"--yes", nats, "--stop-on-error", "--in-flight=1"}, code: 1,
			want: []string{"1 failed, 1 not submitted", "1 not submitted"}},
		// The ledger's word stands when the table cannot be looked at; the
		// summary says the check was not made.
		{name: "table not checkable", files: good, args: []string{"--yes", nats, "--questdb-pg=postgres://admin:quest@127.0.0.1:1/qdb"}, twice: true, code: 0,
			want: []string{"0 committed, 1 already ingested, 0 failed", "Could not check that the files already ingested still have their rows in candles: "}},
		{name: "no folder given", code: 2, want: []string{"accepts 1 arg(s), received 0"}},
		{name: "unknown flag", files: good, args: []string{"--yes", "--no-such-flag"}, code: 2, want: []string{"unknown flag: --no-such-flag"}},
		{name: "bad --on-bad-row", files: good, args: []string{"--yes", "--on-bad-row=drop"}, code: 2, want: []string{`--on-bad-row "drop"`}},
		{name: "bad environment value", files: good, args: []string{"--yes"}, code: 2, want: []string{"FFF_WORKERS"}},
		{name: "no terminal without --yes", files: good, args: []string{nats}, code: 2, want: []string{"stdin is not a terminal"}},
		{name: "NATS not reachable", files: good, args: []string{"--yes", "--nats=nats://127.0.0.1:1"}, code: 2, want: []string{"127.0.0.1:1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"ingest"}
			if tc.files != nil {
				args = append(args, folder(t, tc.files))
			}
			args = append(args, tc.args...)
			if tc.name == "bad environment value" {
				t.Setenv("FFF_WORKERS", "many")
			}
			if tc.twice {
				runFFF(t, args...)
			}
			out, err := runFFF(t, args...)
			if got := exitCode(err); got != tc.code {
				t.Fatalf("exit status %d (%v), want %d\n%s", got, err, tc.code, out)
			}
			shown := out
			if err != nil {
				shown += err.Error()
			}
			for _, w := range tc.want {
				if !strings.Contains(shown, w) {
					t.Errorf("output lacks %q:\n%s", w, shown)
				}
			}
			if tc.code == 1 && !strings.Contains(out, "Summary: ") {
				t.Errorf("no summary before the non-zero exit:\n%s", out)
			}
		})
	}
}

// The ledger remembers a commit for good; when the rows are gone from the
// table afterwards, a second fff ingest says so, names the rows missing and
// the way out, and exits 1; --force then brings them back.
func TestIngestAfterRowsWereDropped(t *testing.T) {
	for _, tc := range []struct {
		name     string
		drop     string // SQL, %s is the table
		missing  []string
		complete []string // series whose rows are all still there: not named
	}{
		{name: "table dropped", drop: "DROP TABLE %s",
			missing: []string{"XBTUSD 1d (XBTUSD_1440.csv): 268 of 268 rows missing, 0 in the table",
				"ETHUSD 1d (ETHUSD_1440.csv): 295 of 295 rows missing, 0 in the table"}},
		// XBTUSD's January 2014, 31 daily candles; ETHUSD starts in 2015.
		{name: "partition dropped", drop: "ALTER TABLE %s DROP PARTITION LIST '2014-01'",
			missing:  []string{"XBTUSD 1d (XBTUSD_1440.csv): 31 of 268 rows missing, 237 in the table"},
			complete: []string{"ETHUSD 1d"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := testenv.NewQuestDB(t)
			dir, store := t.TempDir(), t.TempDir()
			xbt := copyFixture(t, dir, "XBTUSD_1440.csv")
			eth := copyFixture(t, dir, "ETHUSD_1440.csv")
			args := []string{dir, "--yes", "--embedded", "--store", store,
				"--questdb", q.ILP, "--questdb-pg", q.PG, "--table", q.Table}
			if out, _, err := runIngestCmd(t, args...); err != nil {
				t.Fatalf("first ingest: %v\n%s", err, out)
			}
			if n := q.Count(t); n != xbt+eth {
				t.Fatalf("QuestDB holds %d rows after the first ingest, want %d", n, xbt+eth)
			}
			if _, err := q.Pool.Exec(context.Background(), strings.ReplaceAll(tc.drop, "%s", q.Table)); err != nil {
				t.Fatal(err)
			}

			out, _, err := runIngestCmd(t, args...)
			if exitCode(err) != 1 {
				t.Fatalf("ingest after the drop: exit status %d (%v), want 1\n%s", exitCode(err), err, out)
			}
			for _, want := range append([]string{
				"with rows missing from the table",
				"Rows missing from " + q.Table + ": the ledger says these files were committed",
				"fff ingest " + dir + " --force",
				"fff replay --table " + q.Table,
			}, tc.missing...) {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if want := fmt.Sprintf("0 committed, %d already ingested, 0 failed, %d with rows missing", 2-len(tc.missing), len(tc.missing)); !strings.Contains(out, want) {
				t.Errorf("files with rows missing counted as already ingested:\n%s", out)
			}
			if want := "already ingested but with rows missing from the table"; !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
			for _, c := range tc.complete {
				if strings.Contains(out, c+" (") {
					t.Errorf("%s is named though its rows are all there:\n%s", c, out)
				}
			}

			// The way out the message offers works.
			out, _, err = runIngestCmd(t, append(args, "--force")...)
			if err != nil {
				t.Fatalf("ingest --force: %v\n%s", err, out)
			}
			if n := q.Count(t); n != xbt+eth {
				t.Errorf("after --force QuestDB holds %d rows, want %d", n, xbt+eth)
			}
			out, _, err = runIngestCmd(t, args...)
			if err != nil || !strings.Contains(out, "0 committed, 2 already ingested, 0 failed") || strings.Contains(out, "Rows missing") {
				t.Errorf("ingest once the rows are back: %v\n%s", err, out)
			}
		})
	}
}
