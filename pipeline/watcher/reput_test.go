package watcher_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/ledger"
	"github.com/feefifofunds/feefifofunds/pipeline/parser"
	"github.com/feefifofunds/feefifofunds/pipeline/watcher"
	"github.com/feefifofunds/feefifofunds/pipeline/writer"
)

// A file whose stored copy in FILEDATA went bad or went missing after it
// was submitted waits for the pipeline, and the watcher, still holding the
// file, puts its bytes again when the parser asks: the file ends COMMITTED
// in ingested/ with every row in QuestDB.
func TestWatcherPutsUnreadableBytesAgain(t *testing.T) {
	cases := []struct {
		name    string
		breakIt func(t *testing.T, h *harness, id string)
		reason  string
	}{
		{"corrupt chunk", func(t *testing.T, h *harness, id string) { testenv.CorruptFileData(t, h.env.JS, id) }, "digests do not match"},
		{"object gone", func(t *testing.T, h *harness, id string) { testenv.DeleteFileData(t, h.env.JS, id) }, "not in the object store"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := testenv.NewQuestDB(t)
			h := newHarness(t)
			log := slog.New(slog.NewTextHandler(h.logs, nil))
			h.startWriter(log, writer.Config{QuestDB: q.Config(), FlushInterval: 100 * time.Millisecond})
			h.startWatcher(func(cfg *watcher.Config) { cfg.Log = log })
			// 20,000 hourly rows: several 128 KB chunks.
			data := testenv.HourlyCSV(1_599_998_400, 20_000, 100)
			h.write("XBTUSD_60.csv", data)

			// Submitted, with no parser yet: the stored copy breaks before
			// anyone reads it.
			led, err := ledger.Open(context.Background(), h.env.JS)
			if err != nil {
				t.Fatal(err)
			}
			var e contract.LedgerEntry
			testenv.WaitValue(t, "a QUEUED ledger entry", func() float64 {
				e = h.entryByNameMaybe("XBTUSD_60.csv", led)
				if e.State == contract.FileQueued {
					return 1
				}
				return 0
			}, 1, 30*time.Second)
			c.breakIt(t, h, e.FileID)
			h.startParser(log, parser.Config{RetryDelay: 20 * time.Millisecond, MaxRetryDelay: 100 * time.Millisecond})

			h.waitFile(h.done("XBTUSD_60.csv"), 60*time.Second)
			if got := h.entryByName("XBTUSD_60.csv"); got.State != contract.FileCommitted || got.RowsCommitted != 20_000 || got.Reput {
				t.Errorf("ledger entry %+v: want COMMITTED with 20000 rows and no reput left", got)
			}
			if n := q.Count(t); n != 20_000 {
				t.Errorf("QuestDB holds %d rows, want 20000", n)
			}
			logs := h.logs.String()
			if n := strings.Count(logs, "asks for a file's bytes again"); n != 1 {
				t.Errorf("%d reput lines in the log, want one:\n%s", n, logs)
			}
			if !strings.Contains(logs, c.reason) {
				t.Errorf("the log does not say why (%q):\n%s", c.reason, logs)
			}
		})
	}
}
