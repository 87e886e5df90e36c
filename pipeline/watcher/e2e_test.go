package watcher_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/ledger"
	"github.com/feefifofunds/feefifofunds/pipeline/parser"
	"github.com/feefifofunds/feefifofunds/pipeline/watcher"
	"github.com/feefifofunds/feefifofunds/pipeline/writer"
)

type csvRow struct {
	ts                             int64
	open, high, low, close, volume float64
	trades                         int64
}

func readCSV(t *testing.T, b []byte) []csvRow {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []csvRow
	for _, r := range recs {
		var c csvRow
		c.ts, _ = strconv.ParseInt(r[0], 10, 64)
		f := func(s string) float64 { v, _ := strconv.ParseFloat(s, 64); return v }
		c.open, c.high, c.low, c.close, c.volume = f(r[1]), f(r[2]), f(r[3]), f(r[4]), f(r[5])
		c.trades, _ = strconv.ParseInt(r[6], 10, 64)
		out = append(out, c)
	}
	return out
}

// The real parser and writer, the real QuestDB: fixtures dropped in the
// inbox land with exactly the CSV's values and times, and each file moves to
// done/ only once its rows are in QuestDB.
func TestEndToEndIntoQuestDB(t *testing.T) {
	q := testenv.NewQuestDB(t)
	h := newHarness(t)
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(h.logs, nil))
	h.startStages(log, parser.Config{Now: time.Now}, writer.Config{QuestDB: q.Config(), FlushInterval: 100 * time.Millisecond})

	xbt := fixture(t, "XBTUSD_1440.csv")
	eth := fixture(t, "ETHUSD_1440.csv")
	h.write("XBTUSD_1440.csv", xbt)
	stop := h.startWatcher(func(c *watcher.Config) { c.Log = log })
	h.write("ETHUSD_1440.csv", eth)

	want := map[string][]csvRow{"XBTUSD": readCSV(t, xbt), "ETHUSD": readCSV(t, eth)}
	total := int64(len(want["XBTUSD"]) + len(want["ETHUSD"]))
	h.waitFile(h.done("XBTUSD_1440.csv"), 60*time.Second)
	h.waitFile(h.done("ETHUSD_1440.csv"), 60*time.Second)
	// Moved only after the commit: the rows are there the moment the files are.
	if n := q.Count(t); n != total {
		t.Fatalf("QuestDB holds %d rows once both files moved, want %d", n, total)
	}
	if exists(h.done("XBTUSD_1440.csv.report.txt")) || exists(h.done("ETHUSD_1440.csv.report.txt")) {
		t.Errorf("a fixture had rejected rows:\n%s", readText(t, h.done("XBTUSD_1440.csv.report.txt")))
	}

	for pair, rows := range want {
		dbRows, err := q.Pool.Query(ctx, fmt.Sprintf(
			"SELECT ts, open, high, low, close, volume, trades, interval_minutes, source, origin FROM %s WHERE pair = $1 ORDER BY ts", q.Table), pair)
		if err != nil {
			t.Fatal(err)
		}
		i := 0
		for dbRows.Next() {
			var ts time.Time
			var o, hi, lo, c, v float64
			var trades int64
			var iv int32
			var source, origin string
			if err := dbRows.Scan(&ts, &o, &hi, &lo, &c, &v, &trades, &iv, &source, &origin); err != nil {
				t.Fatal(err)
			}
			if i >= len(rows) {
				i++
				continue
			}
			w := rows[i]
			if ts.Unix() != w.ts || o != w.open || hi != w.high || lo != w.low || c != w.close ||
				math.Abs(v-w.volume) > 1e-12 || trades != w.trades || iv != 1440 || source != "kraken" || origin != "csv" {
				t.Errorf("%s row %d: got %v %v %v %v %v %v %d %d %s %s, want %+v", pair, i, ts.UTC(), o, hi, lo, c, v, trades, iv, source, origin, w)
			}
			i++
		}
		dbRows.Close()
		if i != len(rows) {
			t.Errorf("%s: %d rows in QuestDB, want %d", pair, i, len(rows))
		}
	}

	// The same file dropped again adds no rows and is not ingested twice.
	h.write("XBTUSD_1440.csv", xbt)
	h.waitFile(h.done("XBTUSD_1440.csv.1.report.txt"), 30*time.Second)
	if !strings.Contains(readText(t, h.done("XBTUSD_1440.csv.1.report.txt")), "already ingested") {
		t.Errorf("no already-ingested report:\n%s", readText(t, h.done("XBTUSD_1440.csv.1.report.txt")))
	}
	if n := q.Count(t); n != total {
		t.Errorf("after the same file again: %d rows, want %d", n, total)
	}
	if _, err := os.Stat(filepath.Join(h.inbox, "XBTUSD_1440.csv")); err == nil {
		t.Error("the dropped-again file is still in the inbox")
	}

	stop()

	// --force right away, within the streams' duplicate window: the run goes
	// through every stage again under its own message ids, the ledger counts
	// the new run's commits, and the table still holds each candle once.
	h.startWatcher(func(c *watcher.Config) { c.Log = log; c.Force = true })
	h.write("XBTUSD_1440.csv", xbt)
	h.waitFile(h.done("XBTUSD_1440.csv.2"), 60*time.Second)
	e := h.entryByName("XBTUSD_1440.csv")
	if e.State != "COMMITTED" || e.Run == "" || e.RowsCommitted != int64(len(want["XBTUSD"])) {
		t.Errorf("forced run's ledger entry: state %s run %q rows committed %d, want COMMITTED, a run, %d",
			e.State, e.Run, e.RowsCommitted, len(want["XBTUSD"]))
	}
	if n := q.Count(t); n != total {
		t.Errorf("after --force: %d rows, want %d", n, total)
	}
}

// QuestDB goes away in the middle of an ingest and comes back: the file is
// parsed, waits in the inbox while nothing can be committed, and moves once
// QuestDB holds exactly its rows.
func TestEndToEndQuestDBDownMidIngest(t *testing.T) {
	q := testenv.NewQuestDB(t)
	px := testenv.NewProxy(t, q.HTTPAddr())
	h := newHarness(t)
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(h.logs, nil))
	qs := q.Config()
	qs.ILP = px.Conf()
	h.startStages(log, parser.Config{BatchSize: 50},
		writer.Config{QuestDB: qs, FlushInterval: 100 * time.Millisecond, FlushRows: 100, MaxBackoff: time.Second})
	h.startWatcher(func(c *watcher.Config) { c.Log = log })

	// The first file lands with QuestDB up: the writer is connected.
	eth := fixture(t, "ETHUSD_1440.csv")
	h.write("ETHUSD_1440.csv", eth)
	h.waitFile(h.done("ETHUSD_1440.csv"), 60*time.Second)

	// Down, then the second file: parsed, but it stays in the inbox.
	px.Down()
	xbt := fixture(t, "XBTUSD_1440.csv")
	p := h.write("XBTUSD_1440.csv", xbt)
	led, err := ledger.Open(ctx, h.env.JS)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for h.entryByNameMaybe("XBTUSD_1440.csv", led).State != "PARSED" {
		if time.Now().After(deadline) {
			t.Fatalf("the file was not parsed while QuestDB was down: %+v", h.entryByNameMaybe("XBTUSD_1440.csv", led))
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	if !exists(p) || exists(h.done("XBTUSD_1440.csv")) {
		t.Fatal("the file moved while QuestDB was down")
	}
	ethRows := int64(len(readCSV(t, eth)))
	if n := q.Count(t); n != ethRows {
		t.Fatalf("QuestDB holds %d rows while down, want the first file's %d", n, ethRows)
	}

	px.Up()
	h.waitFile(h.done("XBTUSD_1440.csv"), 60*time.Second)
	if n, want := q.Count(t), ethRows+int64(len(readCSV(t, xbt))); n != want {
		t.Fatalf("QuestDB holds %d rows once the file moved, want exactly %d", n, want)
	}
	if e := h.entryByName("XBTUSD_1440.csv"); e.State != "COMMITTED" || e.BatchesDone != e.Batches || e.Batches < 2 {
		t.Errorf("entry %+v", e)
	}
}
