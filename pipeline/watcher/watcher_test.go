package watcher_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/ledger"
	"github.com/feefifofunds/feefifofunds/pipeline/ledger/ledgertest"
	"github.com/feefifofunds/feefifofunds/pipeline/metrics"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
	"github.com/feefifofunds/feefifofunds/pipeline/watcher"
)

const fixtures = "../../testdata/kraken"

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	return b
}

func rows(b []byte) int64 {
	var n int64
	for _, l := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(l) != "" {
			n++
		}
	}
	return n
}

type harness struct {
	t     *testing.T
	env   *testenv.JetStream
	inbox string
	logs  *testenv.SyncBuffer
	sim   *ledgertest.Sim
}

func newHarness(t *testing.T) *harness {
	env := testenv.StartJetStream(t)
	return &harness{t: t, env: env, inbox: t.TempDir(), logs: &testenv.SyncBuffer{}}
}

func (h *harness) startSim(opts ledgertest.Options) {
	sim, err := ledgertest.Start(context.Background(), h.env.JS, opts)
	if err != nil {
		h.t.Fatal(err)
	}
	h.sim = sim
	h.t.Cleanup(func() {
		if err := sim.Stop(); err != nil {
			h.t.Errorf("simulated stages: %v", err)
		}
	})
}

// startWatcher runs the watcher until the returned stop is called (or the
// test ends).
func (h *harness) startWatcher(mod func(*watcher.Config)) (stop func()) {
	cfg := watcher.Config{
		JS: h.env.JS, Inbox: h.inbox, Settle: 150 * time.Millisecond, Rescan: 200 * time.Millisecond,
		Log:     slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Metrics: metrics.NewRegistry(),
	}
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- watcher.Run(ctx, cfg) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					h.t.Errorf("watcher.Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				h.t.Error("watcher did not stop within 10s")
			}
		})
	}
	h.t.Cleanup(stop)
	return stop
}

func (h *harness) write(name string, b []byte) string {
	h.t.Helper()
	p := filepath.Join(h.inbox, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		h.t.Fatal(err)
	}
	return p
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func (h *harness) waitFile(p string, timeout time.Duration) {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for !exists(p) {
		if time.Now().After(deadline) {
			h.t.Fatalf("%s did not appear within %v\nlogs:\n%s", p, timeout, h.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *harness) done(name string) string     { return filepath.Join(h.inbox, "ingested", name) }
func (h *harness) rejected(name string) string { return filepath.Join(h.inbox, "rejected", name) }

func readText(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (h *harness) entryByName(name string) contract.LedgerEntry {
	h.t.Helper()
	kv, err := h.env.JS.KeyValue(context.Background(), topology.BucketLedger)
	if err != nil {
		h.t.Fatal(err)
	}
	keys, _ := kv.Keys(context.Background())
	led, _ := ledger.Open(context.Background(), h.env.JS)
	for _, k := range keys {
		e, _, err := led.Get(context.Background(), k)
		if err == nil && e.Name == name {
			return e
		}
	}
	h.t.Fatalf("no ledger entry named %s", name)
	return contract.LedgerEntry{}
}

func TestExistingAndNewFilesAndRefusals(t *testing.T) {
	h := newHarness(t)
	h.startSim(ledgertest.Options{BatchRows: 100})
	xbt := fixture(t, "XBTUSD_1440.csv")
	eth := fixture(t, "ETHUSD_1440.csv")
	h.write("XBTUSD_1440.csv", xbt) // there before the watcher starts
	h.write(".XBTUSD_60.csv", xbt)
	h.write("XBTUSD_60.csv.part", xbt)
	h.write("notes.tmp", []byte("x"))
	h.write("hello.csv", []byte("1,2,3\n"))
	h.write("XBTUSD_60.csv", nil) // empty
	if err := os.Symlink(filepath.Join(h.inbox, "XBTUSD_1440.csv"), filepath.Join(h.inbox, "ETHUSD_60.csv")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(h.inbox, "XBTUSD_5.csv"), 0o755); err != nil { // a folder
		t.Fatal(err)
	}
	h.startWatcher(nil)

	h.waitFile(h.done("XBTUSD_1440.csv"), 15*time.Second)
	h.write("ETHUSD_1440.csv", eth) // a new one
	h.waitFile(h.done("ETHUSD_1440.csv"), 15*time.Second)

	e := h.entryByName("XBTUSD_1440.csv")
	if e.State != contract.FileCommitted || e.RowsCommitted != rows(xbt) || e.Pair != "XBTUSD" || e.Interval != 1440 || e.Size != int64(len(xbt)) {
		t.Errorf("XBTUSD ledger entry: %+v", e)
	}
	if e := h.entryByName("ETHUSD_1440.csv"); e.RowsCommitted != rows(eth) {
		t.Errorf("ETHUSD rows committed %d, want %d", e.RowsCommitted, rows(eth))
	}
	if exists(h.done("XBTUSD_1440.csv.report.txt")) {
		t.Error("a report was written for a file without bad rows")
	}

	h.waitFile(h.rejected("hello.csv.reason.txt"), 5*time.Second)
	if txt := readText(t, h.rejected("hello.csv.reason.txt")); !strings.Contains(txt, "{PAIR}_{INTERVAL}.csv") {
		t.Errorf("misnamed reason: %s", txt)
	}
	h.waitFile(h.rejected("XBTUSD_60.csv.reason.txt"), 5*time.Second)
	if txt := readText(t, h.rejected("XBTUSD_60.csv.reason.txt")); !strings.Contains(txt, "empty") {
		t.Errorf("empty file reason: %s", txt)
	}
	h.waitFile(h.rejected("ETHUSD_60.csv.reason.txt"), 5*time.Second)
	if txt := readText(t, h.rejected("ETHUSD_60.csv.reason.txt")); !strings.Contains(txt, "symbolic link") {
		t.Errorf("symlink reason: %s", txt)
	}
	for _, n := range []string{".XBTUSD_60.csv", "XBTUSD_60.csv.part", "notes.tmp", "XBTUSD_5.csv"} {
		if !exists(filepath.Join(h.inbox, n)) {
			t.Errorf("%s was touched; it must be ignored", n)
		}
	}
	if got := len(h.sim.Events()); got != 2 {
		t.Errorf("%d files published, want 2", got)
	}
}

func TestFilteredFilesStayWithOneLogLine(t *testing.T) {
	h := newHarness(t)
	h.startSim(ledgertest.Options{BatchRows: 100})
	xbt := fixture(t, "XBTUSD_1440.csv")
	h.write("BATUSD_1440.csv", xbt) // TIER3
	h.write("XBTUSD_5.csv", xbt)    // interval not wanted
	h.write("XBTUSD_1440.csv", xbt)
	h.startWatcher(func(c *watcher.Config) {
		c.Tiers = []string{"TIER1", "2"}
		c.Intervals = []int{60, 1440}
	})
	h.waitFile(h.done("XBTUSD_1440.csv"), 15*time.Second)
	time.Sleep(800 * time.Millisecond) // several rescans
	for _, n := range []string{"BATUSD_1440.csv", "XBTUSD_5.csv"} {
		if !exists(filepath.Join(h.inbox, n)) {
			t.Errorf("filtered %s left the inbox", n)
		}
		lines := 0
		for _, l := range strings.Split(h.logs.String(), "\n") {
			if strings.Contains(l, "outside the filters") && strings.Contains(l, n) {
				lines++
			}
		}
		if lines != 1 {
			t.Errorf("%s: %d log lines, want exactly 1\n%s", n, lines, h.logs.String())
		}
	}
}

func TestFileStillBeingWrittenWaits(t *testing.T) {
	h := newHarness(t)
	h.startSim(ledgertest.Options{BatchRows: 100})
	h.startWatcher(func(c *watcher.Config) { c.Settle = 400 * time.Millisecond })
	xbt := fixture(t, "XBTUSD_1440.csv")
	p := filepath.Join(h.inbox, "XBTUSD_1440.csv")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	chunk := len(xbt) / 12
	for i := 0; i < 12; i++ { // 1.2 s of writing, a chunk every 100 ms
		end := (i + 1) * chunk
		if i == 11 {
			end = len(xbt)
		}
		if _, err := f.Write(xbt[i*chunk : end]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		if n := len(h.sim.Events()); n != 0 {
			t.Fatalf("file taken while still being written (after chunk %d)", i)
		}
	}
	f.Close()
	h.waitFile(h.done("XBTUSD_1440.csv"), 15*time.Second)
	evs := h.sim.Events()
	if len(evs) != 1 || evs[0].Size != int64(len(xbt)) {
		t.Fatalf("events %+v, want one of the whole file (%d bytes)", evs, len(xbt))
	}
	if e := h.entryByName("XBTUSD_1440.csv"); e.RowsCommitted != rows(xbt) {
		t.Errorf("rows committed %d, want %d", e.RowsCommitted, rows(xbt))
	}
}

func TestMovesOnlyAfterEveryBatchCommitted(t *testing.T) {
	h := newHarness(t)
	release := make(chan struct{})
	h.startSim(ledgertest.Options{BatchRows: 100, BeforeCommit: func(_ contract.FileEvent, batch int) {
		if batch >= 1 {
			<-release
		}
	}})
	h.startWatcher(nil)
	xbt := fixture(t, "XBTUSD_1440.csv") // 268 rows: 3 batches of 100
	p := h.write("XBTUSD_1440.csv", xbt)

	led, err := ledger.Open(context.Background(), h.env.JS)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		e := h.entryByNameMaybe("XBTUSD_1440.csv", led)
		if e.State == contract.FileParsed && e.BatchesDone == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never PARSED with one batch committed: %+v", e)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	if !exists(p) || exists(h.done("XBTUSD_1440.csv")) {
		t.Fatal("file moved before every batch was committed")
	}
	close(release)
	h.waitFile(h.done("XBTUSD_1440.csv"), 10*time.Second)
	if exists(p) {
		t.Error("file still in the inbox after it moved")
	}
}

func (h *harness) entryByNameMaybe(name string, led *ledger.Ledger) contract.LedgerEntry {
	kv, _ := h.env.JS.KeyValue(context.Background(), topology.BucketLedger)
	keys, _ := kv.Keys(context.Background())
	for _, k := range keys {
		if e, _, err := led.Get(context.Background(), k); err == nil && e.Name == name {
			return e
		}
	}
	return contract.LedgerEntry{}
}

func TestSameContentAgainAndForce(t *testing.T) {
	h := newHarness(t)
	h.startSim(ledgertest.Options{BatchRows: 100})
	stop := h.startWatcher(nil)
	xbt := fixture(t, "XBTUSD_1440.csv")
	h.write("XBTUSD_1440.csv", xbt)
	h.waitFile(h.done("XBTUSD_1440.csv"), 15*time.Second)
	if n := testenv.FilesPublished(t, h.env.JS); n != 1 {
		t.Fatalf("%d FILES messages, want 1", n)
	}

	// The same bytes again, under another name and under the same name.
	h.write("XBTUSD_1440.csv", xbt)
	h.waitFile(h.done("XBTUSD_1440.csv.1"), 15*time.Second)
	h.waitFile(h.done("XBTUSD_1440.csv.1.report.txt"), 5*time.Second)
	rep := readText(t, h.done("XBTUSD_1440.csv.1.report.txt"))
	t.Logf("already report:\n%s", rep)
	if !strings.Contains(rep, "already ingested") || !strings.Contains(rep, fmt.Sprint(rows(xbt))) {
		t.Errorf("report: %s", rep)
	}
	if n := testenv.FilesPublished(t, h.env.JS); n != 1 {
		t.Fatalf("the same content was published again: %d FILES messages", n)
	}
	if got := readText(t, h.done("XBTUSD_1440.csv")); got != string(xbt) {
		t.Error("the first file was overwritten")
	}
	stop()

	// --force right away ingests it again as a new run: its messages carry
	// the run's name, so the duplicate window does not swallow them.
	h.startWatcher(func(c *watcher.Config) { c.Force = true })
	h.write("XBTUSD_1440.csv", xbt)
	h.waitFile(h.done("XBTUSD_1440.csv.2"), 15*time.Second)
	if n := testenv.FilesPublished(t, h.env.JS); n != 2 {
		t.Fatalf("--force: %d FILES messages, want 2", n)
	}
	if exists(h.done("XBTUSD_1440.csv.2.report.txt")) {
		t.Error("--force wrote an already-ingested report")
	}
	evs := h.sim.Events()
	if len(evs) != 2 || !evs[1].Force || evs[1].Run == "" || evs[0].Run != "" {
		t.Errorf("events %+v", evs)
	}
}

func TestBadRowsFailedAndRejectedFiles(t *testing.T) {
	h := newHarness(t)
	h.startSim(ledgertest.Options{BatchRows: 2, FailBatch: func(ev contract.FileEvent, b int) bool {
		return ev.Pair == "SOLUSD" && b == 1
	}})
	h.startWatcher(nil)
	h.write("XBTUSD_60.csv", []byte("1,a\n2,b\nBAD row\n3,c\n"))
	h.write("ETHUSD_60.csv", []byte("BAD\nBAD again\n"))
	h.write("SOLUSD_60.csv", []byte("1\n2\n3\n4\n"))

	h.waitFile(h.done("XBTUSD_60.csv.report.txt"), 15*time.Second)
	rep := readText(t, h.done("XBTUSD_60.csv.report.txt"))
	t.Logf("bad-row report:\n%s", rep)
	if !strings.Contains(rep, "line 3") || !strings.Contains(rep, "rows committed: 3") {
		t.Errorf("bad-row report: %s", rep)
	}
	h.waitFile(h.rejected("ETHUSD_60.csv.reason.txt"), 15*time.Second)
	if r := readText(t, h.rejected("ETHUSD_60.csv.reason.txt")); !strings.Contains(r, "no valid row") || !strings.Contains(r, "line 2") {
		t.Errorf("all-bad reason: %s", r)
	}
	h.waitFile(h.rejected("SOLUSD_60.csv.reason.txt"), 15*time.Second)
	if r := readText(t, h.rejected("SOLUSD_60.csv.reason.txt")); !strings.Contains(r, "simulated QuestDB rejection") {
		t.Errorf("failed reason: %s", r)
	}
}

func TestZipMemberByMember(t *testing.T) {
	h := newHarness(t)
	h.startSim(ledgertest.Options{BatchRows: 100})
	xbt := fixture(t, "XBTUSD_1440.csv")
	eth := fixture(t, "ETHUSD_1440.csv")
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range []struct {
		name string
		b    []byte
	}{{"XBTUSD_1440.csv", xbt}, {"Kraken/ETHUSD_1440.csv", eth}, {"README.txt", []byte("hi")}, {"XBTUSD_7.csv", xbt}} {
		w, _ := zw.Create(m.name)
		w.Write(m.b)
	}
	zw.Close()
	h.startWatcher(nil)
	h.write("archive.zip", buf.Bytes())
	h.waitFile(h.done("archive.zip"), 15*time.Second)
	h.waitFile(h.done("archive.zip.report.txt"), 5*time.Second)
	rep := readText(t, h.done("archive.zip.report.txt"))
	t.Logf("zip report:\n%s", rep)
	for _, want := range []string{"archive.zip/XBTUSD_1440.csv", "archive.zip/Kraken/ETHUSD_1440.csv", "README.txt", "XBTUSD_7.csv", "COMMITTED"} {
		if !strings.Contains(rep, want) {
			t.Errorf("zip report lacks %q:\n%s", want, rep)
		}
	}
	if e := h.entryByName("archive.zip/XBTUSD_1440.csv"); e.RowsCommitted != rows(xbt) || e.State != contract.FileCommitted {
		t.Errorf("member entry %+v", e)
	}
	if e := h.entryByName("archive.zip/Kraken/ETHUSD_1440.csv"); e.RowsCommitted != rows(eth) {
		t.Errorf("member entry %+v", e)
	}
	if n := len(h.sim.Events()); n != 2 {
		t.Errorf("%d members published, want 2", n)
	}

	// A zip with nothing to ingest is rejected.
	buf.Reset()
	zw = zip.NewWriter(&buf)
	w, _ := zw.Create("notes.txt")
	w.Write([]byte("x"))
	zw.Close()
	h.write("nothing.zip", buf.Bytes())
	h.waitFile(h.rejected("nothing.zip.reason.txt"), 15*time.Second)
	if r := readText(t, h.rejected("nothing.zip.reason.txt")); !strings.Contains(r, "notes.txt") {
		t.Errorf("empty zip reason: %s", r)
	}
	h.write("broken.zip", []byte("not a zip"))
	h.waitFile(h.rejected("broken.zip.reason.txt"), 15*time.Second)
}

func TestRestartWaitsForFilesInFlight(t *testing.T) {
	h := newHarness(t)
	stop := h.startWatcher(nil) // no parser or writer running yet
	xbt := fixture(t, "XBTUSD_1440.csv")
	p := h.write("XBTUSD_1440.csv", xbt)
	deadline := time.Now().Add(10 * time.Second)
	for testenv.FilesPublished(t, h.env.JS) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("file never queued")
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	h.startWatcher(nil)
	time.Sleep(700 * time.Millisecond) // settle and more
	if n := testenv.FilesPublished(t, h.env.JS); n != 1 {
		t.Fatalf("restart republished a file in flight: %d FILES messages", n)
	}
	if !exists(p) {
		t.Fatal("file moved while in flight")
	}
	h.startSim(ledgertest.Options{BatchRows: 100})
	h.waitFile(h.done("XBTUSD_1440.csv"), 15*time.Second)
}

// A watcher that crashed after writing a file's QUEUED entry but before
// publishing its work: after the restart the file must not wait for ever.
func TestQueuedWithoutWorkIsRequeued(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	xbt := fixture(t, "XBTUSD_1440.csv")
	sum := sha256.Sum256(xbt)
	id := hex.EncodeToString(sum[:])
	p := h.write("XBTUSD_1440.csv", xbt)

	// What the crashed watcher left: the bytes stored, the entry QUEUED, no event.
	obj, err := h.env.JS.ObjectStore(ctx, topology.BucketFileData)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := obj.PutBytes(ctx, id, xbt); err != nil {
		t.Fatal(err)
	}
	led, err := ledger.Open(ctx, h.env.JS)
	if err != nil {
		t.Fatal(err)
	}
	then := time.Now().Add(-time.Hour)
	if _, err := led.Create(ctx, contract.LedgerEntry{FileID: id, Name: "XBTUSD_1440.csv", Path: p, Size: int64(len(xbt)),
		Pair: "XBTUSD", Interval: 1440, State: contract.FileQueued, Created: then, Updated: then}); err != nil {
		t.Fatal(err)
	}

	h.startSim(ledgertest.Options{BatchRows: 100})
	h.startWatcher(func(c *watcher.Config) { c.RequeueAfter = 300 * time.Millisecond })
	h.waitFile(h.done("XBTUSD_1440.csv"), 15*time.Second)
	if n := testenv.FilesPublished(t, h.env.JS); n != 1 {
		t.Errorf("%d FILES messages, want the one requeued", n)
	}
	if e := h.entryByName("XBTUSD_1440.csv"); e.State != contract.FileCommitted || e.RowsCommitted != int64(rows(xbt)) {
		t.Errorf("entry %+v", e)
	}
	if !strings.Contains(h.logs.String(), "requeued a file whose work was lost") {
		t.Errorf("no log line says the file was requeued:\n%s", h.logs.String())
	}
}
