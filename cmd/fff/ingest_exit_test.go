package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/ledger/ledgertest"
)

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
