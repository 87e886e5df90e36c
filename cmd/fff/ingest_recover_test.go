package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
)

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
