package watcher_test

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
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

const t0 = 1736496000 // 2025-01-10T08:00:00Z

func zipOf(t *testing.T, members ...[2]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range members {
		w, err := zw.Create(m[0])
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(m[1]))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// noteMode checks a reason or report note is readable by others.
func noteMode(t *testing.T, p string) {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("%s has mode %v, want 0644 (readable by others)", filepath.Base(p), fi.Mode().Perm())
	}
}

// Input that was once skipped without a word, through the real watcher,
// parser and writer into the real QuestDB: each case ends loaded exactly,
// or with the reason where the user looks.
func TestNothingSkippedSilently(t *testing.T) {
	q := testenv.NewQuestDB(t)
	h := newHarness(t)
	log := slog.New(slog.NewTextHandler(h.logs, nil))
	h.startStages(log, parser.Config{Now: time.Now}, writer.Config{QuestDB: q.Config(), FlushInterval: 100 * time.Millisecond})
	h.startWatcher(func(c *watcher.Config) { c.Log = log })

	t.Run("same bytes under two names both load", func(t *testing.T) {
		b := testenv.HourlyCSV(t0, 30, 100)
		h.write("AAAUSD_60.csv", b)
		h.waitFile(h.done("AAAUSD_60.csv"), 60*time.Second)
		h.write("BBBUSD_60.csv", b)
		h.waitFile(h.done("BBBUSD_60.csv"), 60*time.Second)
		for _, pair := range []string{"AAAUSD", "BBBUSD"} {
			if n := questCount(t, q, pair, 30); n != 30 {
				t.Errorf("%s: %d rows in QuestDB, want 30", pair, n)
			}
		}
		if exists(h.done("BBBUSD_60.csv.report.txt")) {
			t.Errorf("BBBUSD_60.csv was taken for AAAUSD_60.csv:\n%s", readText(t, h.done("BBBUSD_60.csv.report.txt")))
		}
		a, b2 := h.entryByName("AAAUSD_60.csv"), h.entryByName("BBBUSD_60.csv")
		if a.FileID == b2.FileID || a.Content != b2.Content || b2.RowsCommitted != 30 {
			t.Errorf("entries: %s/%s %s/%s rows %d: want two ids, one content, 30 rows", a.FileID, a.Content, b2.FileID, b2.Content, b2.RowsCommitted)
		}
	})

	t.Run("zip members in folders, same base name, non-CSV and ../", func(t *testing.T) {
		outside := filepath.Join(filepath.Dir(h.inbox), "x.csv")
		data := zipOf(t,
			[2]string{"Kraken_OHLCVT/CCCUSD_60.csv", string(testenv.HourlyCSV(t0, 20, 200))},
			[2]string{"a/DDDUSD_60.csv", string(testenv.HourlyCSV(t0, 10, 300))},
			[2]string{"b/DDDUSD_60.csv", string(testenv.HourlyCSV(t0+10*3600, 10, 310))},
			[2]string{"Kraken_OHLCVT/README.txt", "not candles"},
			[2]string{"../../EEEUSD_60.csv", string(testenv.HourlyCSV(t0, 5, 400))},
			[2]string{"../../x.csv", "1,2,3"},
		)
		h.write("kraken.zip", data)
		h.waitFile(h.done("kraken.zip.report.txt"), 60*time.Second)
		for pair, want := range map[string]int64{"CCCUSD": 20, "DDDUSD": 20, "EEEUSD": 5} {
			if n := questCount(t, q, pair, want); n != want {
				t.Errorf("%s: %d rows in QuestDB, want %d", pair, n, want)
			}
		}
		rep := readText(t, h.done("kraken.zip.report.txt"))
		t.Logf("zip report:\n%s", rep)
		for _, want := range []string{"a/DDDUSD_60.csv", "b/DDDUSD_60.csv", "README.txt", "SKIPPED", "x.csv"} {
			if !strings.Contains(rep, want) {
				t.Errorf("zip report lacks %q", want)
			}
		}
		noteMode(t, h.done("kraken.zip.report.txt"))
		if !strings.Contains(h.logs.String(), "zip member not ingested") || !strings.Contains(h.logs.String(), "README.txt") {
			t.Errorf("no log line names the skipped member")
		}
		if exists(outside) || exists(filepath.Join(h.inbox, "EEEUSD_60.csv")) {
			t.Errorf("a ../ member was written to disk")
		}
	})

	t.Run("replaced with new content after it was ingested", func(t *testing.T) {
		h.write("FFFUSD_60.csv", testenv.HourlyCSV(t0, 10, 500))
		h.waitFile(h.done("FFFUSD_60.csv"), 60*time.Second)
		h.write("FFFUSD_60.csv", testenv.HourlyCSV(t0+10*3600, 10, 510))
		h.waitFile(h.done("FFFUSD_60.csv.1"), 60*time.Second)
		if n := questCount(t, q, "FFFUSD", 20); n != 20 {
			t.Errorf("FFFUSD: %d rows, want both contents' 20", n)
		}
	})

	t.Run("duplicate open times name both lines", func(t *testing.T) {
		rows := strings.Split(strings.TrimSpace(string(testenv.HourlyCSV(t0, 5, 600))), "\n")
		// Line 6 repeats line 2 with other values, line 7 repeats line 3 as it is.
		in := append(rows, strings.Replace(rows[1], ",602,", ",602.5,", 1), rows[2])
		h.write("GGGUSD_60.csv", []byte(strings.Join(in, "\n")+"\n"))
		h.waitFile(h.done("GGGUSD_60.csv.report.txt"), 60*time.Second)
		rep := readText(t, h.done("GGGUSD_60.csv.report.txt"))
		t.Logf("report:\n%s", rep)
		if !strings.Contains(rep, "line 6: time") || !strings.Contains(rep, "repeats line 2 with different values") ||
			!strings.Contains(rep, "line 2 is kept") || strings.Contains(rep, "line 7") {
			t.Errorf("report does not name lines 6 and 2 (and only them)")
		}
		if n := questCount(t, q, "GGGUSD", 5); n != 5 {
			t.Errorf("GGGUSD: %d rows, want 5", n)
		}
		var cl float64
		if err := q.Pool.QueryRow(context.Background(), "SELECT close FROM "+q.Table+" WHERE pair = 'GGGUSD' AND ts = $1",
			time.Unix(t0+3600, 0).UTC()).Scan(&cl); err != nil || cl != 602 {
			t.Errorf("close of the repeated time: %v %v, want line 2's 602", cl, err)
		}
		noteMode(t, h.done("GGGUSD_60.csv.report.txt"))
	})

	t.Run("hints in the reason", func(t *testing.T) {
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(testenv.HourlyCSV(t0, 50, 700))
		zw.Close()
		var ms bytes.Buffer
		for i := range 3 {
			fmt.Fprintf(&ms, "%d000,1,2,0.5,1.5,1,1\n", t0+int64(i)*3600)
		}
		for _, tc := range []struct {
			name, want string
			b          []byte
		}{
			{"HHHUSD_60.csv", "this is gzip", gz.Bytes()},
			{"IIIUSD_60.csv", "looks like milliseconds (2025-01-10T08:00:00Z)", ms.Bytes()},
		} {
			h.write(tc.name, tc.b)
			h.waitFile(h.rejected(tc.name+".reason.txt"), 60*time.Second)
			if r := readText(t, h.rejected(tc.name+".reason.txt")); !strings.Contains(r, tc.want) {
				t.Errorf("%s reason lacks %q:\n%s", tc.name, tc.want, r)
			}
			noteMode(t, h.rejected(tc.name+".reason.txt"))
		}
	})

	t.Run("a sub-folder gets one log line", func(t *testing.T) {
		if err := os.MkdirAll(filepath.Join(h.inbox, "more", "deeper"), 0o755); err != nil {
			t.Fatal(err)
		}
		h.write(filepath.Join("more", "JJJUSD_60.csv"), testenv.HourlyCSV(t0, 3, 800))
		testenv.WaitValue(t, "log lines about the sub-folder", func() float64 {
			return float64(strings.Count(h.logs.String(), "sub-folders are not read"))
		}, 1, 10*time.Second)
		// Rescans (every 200ms here) do not repeat it.
		deadline := time.Now().Add(time.Second)
		for time.Now().Before(deadline) {
			if n := strings.Count(h.logs.String(), "sub-folders are not read"); n != 1 {
				t.Fatalf("%d log lines about the sub-folder, want 1", n)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// A file replaced in place while its earlier content is in flight: both
// contents are loaded, and the note beside the file tells what happened.
func TestReplacedWhileInFlight(t *testing.T) {
	q := testenv.NewQuestDB(t)
	h := newHarness(t)
	log := slog.New(slog.NewTextHandler(h.logs, nil))
	h.startWatcher(func(c *watcher.Config) { c.Log = log }) // no parser yet: the file stays in flight
	p := h.write("KKKUSD_60.csv", testenv.HourlyCSV(t0, 10, 900))
	testenv.WaitValue(t, "files queued", func() float64 { return float64(testenv.FilesPublished(t, h.env.JS)) }, 1, 10*time.Second)
	// Written into the same file (same inode), as cp over it does.
	if err := os.WriteFile(p, testenv.HourlyCSV(t0+10*3600, 10, 910), 0o644); err != nil {
		t.Fatal(err)
	}
	h.startStages(log, parser.Config{Now: time.Now}, writer.Config{QuestDB: q.Config(), FlushInterval: 100 * time.Millisecond})
	h.waitFile(h.done("KKKUSD_60.csv.report.txt"), 60*time.Second)
	if n := questCount(t, q, "KKKUSD", 20); n != 20 {
		t.Errorf("KKKUSD: %d rows, want both contents' 20", n)
	}
	rep := readText(t, h.done("KKKUSD_60.csv.report.txt"))
	if !strings.Contains(rep, "replaced while its earlier content was in flight") || !strings.Contains(rep, "COMMITTED with 10 row(s)") {
		t.Errorf("report:\n%s", rep)
	}
	if got := readText(t, h.done("KKKUSD_60.csv")); got != string(testenv.HourlyCSV(t0+10*3600, 10, 910)) {
		t.Errorf("ingested/ holds other bytes than the new content")
	}
}

// A ledger written before file ids included the pair and interval: its
// entries (keyed by the content's sha256) are still recognised for the same
// name, and the same bytes under another name load as their own file.
func TestLedgerKeyedByContentAlone(t *testing.T) {
	q := testenv.NewQuestDB(t)
	h := newHarness(t)
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(h.logs, nil))
	b := testenv.HourlyCSV(t0, 12, 1000)
	sum := sha256.Sum256(b)
	content := hex.EncodeToString(sum[:])
	led, err := ledger.Open(ctx, h.env.JS)
	if err != nil {
		t.Fatal(err)
	}
	then := time.Now().Add(-time.Hour).UTC()
	if _, err := led.Create(ctx, contract.LedgerEntry{FileID: content, Name: "LLLUSD_60.csv", Size: int64(len(b)), Pair: "LLLUSD",
		Interval: 60, State: contract.FileCommitted, RowsParsed: 12, RowsCommitted: 12, Created: then, Updated: then}); err != nil {
		t.Fatal(err)
	}
	h.startStages(log, parser.Config{Now: time.Now}, writer.Config{QuestDB: q.Config(), FlushInterval: 100 * time.Millisecond})
	h.startWatcher(func(c *watcher.Config) { c.Log = log })

	h.write("LLLUSD_60.csv", b)
	h.waitFile(h.done("LLLUSD_60.csv.report.txt"), 30*time.Second)
	if r := readText(t, h.done("LLLUSD_60.csv.report.txt")); !strings.Contains(r, "already ingested") {
		t.Errorf("the old entry was not recognised:\n%s", r)
	}
	h.write("MMMUSD_60.csv", b)
	h.waitFile(h.done("MMMUSD_60.csv"), 60*time.Second)
	if n := questCount(t, q, "MMMUSD", 12); n != 12 {
		t.Errorf("MMMUSD: %d rows, want 12", n)
	}
	if n := questCount(t, q, "LLLUSD", 0); n != 0 {
		t.Errorf("LLLUSD was loaded again: %d rows", n)
	}
	if n := testenv.FilesPublished(t, h.env.JS); n != 1 {
		t.Errorf("%d FILES messages, want MMMUSD's alone", n)
	}
}
