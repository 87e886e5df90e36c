package parser

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/assets"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/deadletter"
	"github.com/feefifofunds/feefifofunds/pipeline/ledger"
	"github.com/feefifofunds/feefifofunds/pipeline/metrics"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

type harness struct {
	t   *testing.T
	env *testenv.JetStream
	ctx context.Context
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	env := testenv.StartJetStream(t)
	ctx := testenv.Context(t, 60*time.Second)
	return &harness{t: t, env: env, ctx: ctx}
}

// startParser runs the stage until the test ends.
func (h *harness) startParser(cfg Config) {
	h.t.Helper()
	stop := h.runParser(cfg)
	h.t.Cleanup(stop)
}

// runParser runs the stage until the returned stop is called.
func (h *harness) runParser(cfg Config) (stop func()) {
	h.t.Helper()
	cfg.JS = h.env.JS
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.NewRegistry()
	}
	if cfg.Now == nil {
		cfg.Now = testNow
	}
	if cfg.FetchWait == 0 {
		cfg.FetchWait = 200 * time.Millisecond // a stopping parser waits out its pull
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					h.t.Errorf("Run: %v", err)
				}
			case <-time.After(20 * time.Second):
				buf := make([]byte, 1<<20)
				h.t.Errorf("Run did not return after cancel; goroutines:\n%s", buf[:runtime.Stack(buf, true)])
			}
		})
	}
}

// drop stores a file's bytes and queues its FileEvent, as the watcher does.
func (h *harness) drop(name string, data []byte, mutate func(*contract.FileEvent)) contract.FileEvent {
	h.t.Helper()
	ev := h.store(name, data)
	if mutate != nil {
		mutate(&ev)
	}
	h.queue(ev, "file:"+ev.FileID)
	return ev
}

// store puts a file's bytes in FILEDATA and returns its event, unqueued.
func (h *harness) store(name string, data []byte) contract.FileEvent {
	h.t.Helper()
	sum := sha256.Sum256(data)
	id := hex.EncodeToString(sum[:])
	store, err := h.env.JS.ObjectStore(h.ctx, topology.BucketFileData)
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := store.PutBytes(h.ctx, id, data); err != nil {
		h.t.Fatal(err)
	}
	pair, interval, _ := strings.Cut(strings.TrimSuffix(name, ".csv"), "_")
	var iv int
	fmt.Sscan(interval, &iv)
	return contract.FileEvent{FileID: id, Name: name, Object: id, Pair: pair, Interval: iv, Size: int64(len(data)), Received: time.Now().UTC()}
}

func (h *harness) queue(ev contract.FileEvent, msgID string) {
	h.t.Helper()
	b, _ := json.Marshal(ev)
	if _, err := h.env.JS.Publish(h.ctx, topology.SubjectFiles, b, jetstream.WithMsgID(msgID)); err != nil {
		h.t.Fatal(err)
	}
}

// progress waits for the parser's report on a file.
func (h *harness) progress(fileID string) contract.Progress {
	h.t.Helper()
	s, err := h.env.JS.Stream(h.ctx, topology.StreamProgress)
	if err != nil {
		h.t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		m, err := s.GetLastMsgForSubject(h.ctx, topology.ProgressSubject(fileID))
		if err == nil {
			var p contract.Progress
			if err := json.Unmarshal(m.Data, &p); err != nil {
				h.t.Fatal(err)
			}
			if id := m.Header.Get(jetstream.MsgIDHeader); id != p.Kind+":"+fileID {
				h.t.Errorf("progress msg id %q, want %q", id, p.Kind+":"+fileID)
			}
			return p
		}
		if !errors.Is(err, jetstream.ErrMsgNotFound) {
			h.t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.t.Fatalf("no progress for %s", fileID)
	return contract.Progress{}
}

func (h *harness) streamMsgs(name string) uint64 {
	h.t.Helper()
	s, err := h.env.JS.Stream(h.ctx, name)
	if err != nil {
		h.t.Fatal(err)
	}
	info, err := s.Info(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	return info.State.Msgs
}

// filesDone waits until the FILES work queue is empty (every event acked or
// terminated).
func (h *harness) filesDone() {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if h.streamMsgs(topology.StreamFiles) == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.t.Fatalf("FILES still holds %d events", h.streamMsgs(topology.StreamFiles))
}

type storedBatch struct {
	contract.Batch
	subject, msgID string
}

// batches returns every batch of a file in CANDLES, in stream order.
func (h *harness) batches(fileID string) []storedBatch {
	h.t.Helper()
	s, err := h.env.JS.Stream(h.ctx, topology.StreamCandles)
	if err != nil {
		h.t.Fatal(err)
	}
	info, err := s.Info(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []storedBatch
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(h.ctx, seq)
		if err != nil {
			h.t.Fatal(err)
		}
		var b contract.Batch
		if err := contract.DecodeBatch(m.Data, &b); err != nil {
			h.t.Fatal(err)
		}
		if b.FileID == fileID {
			out = append(out, storedBatch{Batch: b, subject: m.Subject, msgID: m.Header.Get(jetstream.MsgIDHeader)})
		}
	}
	return out
}

func allCandles(bs []storedBatch) []contract.Candle {
	var out []contract.Candle
	for _, b := range bs {
		out = append(out, b.Candles...)
	}
	return out
}

func assertCandles(t *testing.T, got, want []contract.Candle) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d candles, want %d", len(got), len(want))
	}
	for i := range want {
		if !sameCandle(got[i], want[i]) {
			t.Fatalf("candle %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestStageParsesFixture(t *testing.T) {
	h := newHarness(t)
	data := testenv.Fixture(t, "XBTUSD_1440.csv")
	h.startParser(Config{BatchSize: 100})
	ev := h.drop("XBTUSD_1440.csv", data, nil)

	p := h.progress(ev.FileID)
	if p.Kind != "parsed" || p.Batches != 3 || p.RowsParsed != 268 || p.RowsRejected != 0 || len(p.Errors) != 0 {
		t.Fatalf("progress %+v", p)
	}
	h.filesDone()
	bs := h.batches(ev.FileID)
	if len(bs) != 3 {
		t.Fatalf("%d batches in CANDLES, want 3", len(bs))
	}
	for i, b := range bs {
		wantLen := 100
		if i == 2 {
			wantLen = 68
		}
		if b.subject != "candles.kraken.XBTUSD.1440" || b.BatchIndex != uint32(i) || b.Last != (i == 2) ||
			len(b.Candles) != wantLen || b.Source != "kraken" || b.Pair != "XBTUSD" || b.Base != "BTC" ||
			b.Quote != "USD" || b.IntervalMinutes != 1440 || b.Origin != contract.OriginCSV ||
			b.FileName != "XBTUSD_1440.csv" || b.msgID != fmt.Sprintf("csv:%s:%d", ev.FileID, i) {
			t.Errorf("batch %d: subject %s msg id %s index %d last %v %d candles %s/%s %s/%s %d %v %s",
				i, b.subject, b.msgID, b.BatchIndex, b.Last, len(b.Candles), b.Source, b.Pair, b.Base, b.Quote,
				b.IntervalMinutes, b.Origin, b.FileName)
		}
	}
	assertCandles(t, allCandles(bs), expectCandles(t, data))

	reg, err := assets.Open(h.ctx, h.env.JS)
	if err != nil {
		t.Fatal(err)
	}
	btc, err := reg.Get(h.ctx, "BTC")
	if err != nil || btc.Tier != "TIER1" || btc.Category != "CRYPTO" || btc.CreatedBy != "parser" {
		t.Errorf("BTC asset: %+v, %v", btc, err)
	}
	usd, err := reg.Get(h.ctx, "USD")
	if err != nil || usd.Tier != "TIER4" || usd.Category != "CURRENCY" {
		t.Errorf("USD asset: %+v, %v", usd, err)
	}

	// The same file again (as after a crash before the ack, or --force within
	// the duplicate window) adds nothing to CANDLES or PROGRESS.
	candles, progress := h.streamMsgs(topology.StreamCandles), h.streamMsgs(topology.StreamProgress)
	h.queue(ev, "file:"+ev.FileID+":again")
	h.filesDone()
	if got := h.streamMsgs(topology.StreamCandles); got != candles {
		t.Errorf("CANDLES went from %d to %d messages on a re-run", candles, got)
	}
	if got := h.streamMsgs(topology.StreamProgress); got != progress {
		t.Errorf("PROGRESS went from %d to %d messages on a re-run", progress, got)
	}
}

// badFile has good rows with bad ones on known lines.
func badFile() (data []byte, good []contract.Candle) {
	lines := []string{
		"1381017600,122.0,122.0,122.0,122.0,0.1,1",     // 1
		"1381104000,123.61,123.61,123.61,123.61,0.1,1", // 2
		"1381190400,123.91,120,123.9,123.9,3.9916,4",   // 3 bad: high below open
		"", // 4
		"1381276800,124.01687,124.01687,123.84,123.84,,",    // 5
		"1381363200,125.85,125.86,125.85,abc,2,2",           // 6 bad: close not a number
		"1381449600,125.86,125.86,125.86,125.86,1E+1",       // 7
		"1381449601,125.86,125.86,125.86,125.86,1,1",        // 8 bad: not aligned
		"1381536000,125.86,125.86,125.86,125.86,5.5E+2,7\r", // 9
	}
	data = []byte(strings.Join(lines, "\n") + "\n")
	good = []contract.Candle{
		{Time: 1381017600, Open: 122, High: 122, Low: 122, Close: 122, Volume: 0.1, Trades: 1},
		{Time: 1381104000, Open: 123.61, High: 123.61, Low: 123.61, Close: 123.61, Volume: 0.1, Trades: 1},
		{Time: 1381276800, Open: 124.01687, High: 124.01687, Low: 123.84, Close: 123.84, Volume: 0, Trades: contract.NoTrades},
		{Time: 1381449600, Open: 125.86, High: 125.86, Low: 125.86, Close: 125.86, Volume: 10, Trades: contract.NoTrades},
		{Time: 1381536000, Open: 125.86, High: 125.86, Low: 125.86, Close: 125.86, Volume: 550, Trades: 7},
	}
	for i := range good {
		good[i].VWAP = contract.NoVWAP
	}
	return data, good
}

var badFileErrors = []contract.RowError{
	{Line: 3, Reason: "high 120 is below low 123.9", Text: "1381190400,123.91,120,123.9,123.9,3.9916,4"},
	{Line: 6, Reason: `close "abc" is not a number`, Text: "1381363200,125.85,125.86,125.85,abc,2,2"},
	{Line: 8, Reason: "time 1381449601 (2013-10-11T00:00:01Z) is not aligned to the 1440-minute interval", Text: "1381449601,125.86,125.86,125.86,125.86,1,1"},
}

func TestStageSkipsBadRows(t *testing.T) {
	h := newHarness(t)
	data, good := badFile()
	h.startParser(Config{})
	ev := h.drop("XBTUSD_1440.csv", data, nil)
	p := h.progress(ev.FileID)
	if p.Kind != "parsed" || p.Batches != 1 || p.RowsParsed != 5 || p.RowsRejected != 3 {
		t.Fatalf("progress %+v", p)
	}
	if fmt.Sprint(p.Errors) != fmt.Sprint(badFileErrors) {
		t.Errorf("errors\n got %+v\nwant %+v", p.Errors, badFileErrors)
	}
	h.filesDone()
	bs := h.batches(ev.FileID)
	if len(bs) != 1 || !bs[0].Last {
		t.Fatalf("%d batches", len(bs))
	}
	assertCandles(t, allCandles(bs), good)
}

func TestStageRejectFile(t *testing.T) {
	h := newHarness(t)
	data, _ := badFile()
	h.startParser(Config{OnBadRow: OnBadRowReject})
	ev := h.drop("XBTUSD_1440.csv", data, nil)
	p := h.progress(ev.FileID)
	if p.Kind != "rejected" || p.RowsRejected != 3 || fmt.Sprint(p.Errors) != fmt.Sprint(badFileErrors) ||
		!strings.Contains(p.Reason, "3 bad rows") || !strings.Contains(p.Reason, "line 3: high 120 is below low 123.9") {
		t.Fatalf("progress %+v", p)
	}
	h.filesDone()
	if n := h.streamMsgs(topology.StreamCandles); n != 0 {
		t.Errorf("reject-file published %d batches", n)
	}

	// The FileEvent's own setting beats the stage's: this one lands its good rows.
	ev2 := h.drop("XBTUSD_60.csv", []byte("1381017600,122,122,122,122,1,1\n1381017601,1,1,1,1,1,1\n"),
		func(e *contract.FileEvent) { e.OnBadRow = OnBadRowSkip })
	if p := h.progress(ev2.FileID); p.Kind != "parsed" || p.RowsParsed != 1 || p.RowsRejected != 1 {
		t.Fatalf("override: %+v", p)
	}
}

func TestStageRejectsFilesWithoutRows(t *testing.T) {
	h := newHarness(t)
	h.startParser(Config{})
	cases := []struct {
		name, data, reason string
	}{
		{"XBTUSD_1.csv", "", "the file is empty"},
		{"XBTUSD_5.csv", "time,open,high,low,close,volume,trades\r\n", "the file has a header but no data rows"},
		{"XBTUSD_15.csv", "\n\n\r\n", "the file has no data rows (only blank lines)"},
		{"XBTUSD_30.csv", "1,2,3\n", "no valid row: all 1 rows are bad (first: line 1: want 6 or 7 columns (time,open,high,low,close,volume[,trades]), got 3)"},
		{"FOOBAR_60.csv", "1381017600,122,122,122,122,1,1\n", `pair "FOOBAR": cannot tell its base from its quote (unknown quote currency)`},
	}
	for _, tc := range cases {
		ev := h.drop(tc.name, []byte(tc.data), nil)
		p := h.progress(ev.FileID)
		if p.Kind != "rejected" || p.Reason != tc.reason {
			t.Errorf("%s: %+v, want rejected: %s", tc.name, p, tc.reason)
		}
	}
	h.filesDone()
	if n := h.streamMsgs(topology.StreamCandles); n != 0 {
		t.Errorf("%d batches published for files without rows", n)
	}
}

func TestStagePoisonEvents(t *testing.T) {
	h := newHarness(t)
	h.startParser(Config{RetryDelay: 50 * time.Millisecond})
	if _, err := h.env.JS.Publish(h.ctx, topology.SubjectFiles, []byte("not json")); err != nil {
		t.Fatal(err)
	}
	missing := contract.FileEvent{FileID: "deadbeef", Name: "XBTUSD_60.csv", Object: "deadbeef", Pair: "XBTUSD", Interval: 60}
	h.queue(missing, "file:deadbeef")

	p := h.progress("deadbeef")
	if p.Kind != "rejected" || !strings.Contains(p.Reason, "not in the object store") {
		t.Errorf("missing object: %+v", p)
	}
	h.filesDone()
	dlq, err := h.env.JS.Stream(h.ctx, topology.StreamDLQ)
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for seq := uint64(1); seq <= 2; seq++ {
		m, err := dlq.GetMsg(h.ctx, seq)
		if err != nil {
			t.Fatalf("dead letter %d: %v", seq, err)
		}
		if m.Subject != "dlq.parser" {
			t.Errorf("dead letter on %s", m.Subject)
		}
		reasons = append(reasons, m.Header.Get(deadletter.HeaderReason))
	}
	all := strings.Join(reasons, " | ")
	if !strings.Contains(all, "not a FileEvent (JSON)") || !strings.Contains(all, "gave up after 4 attempts") ||
		!strings.Contains(all, "FILEDATA/deadbeef: file bytes are not in the object store") {
		t.Errorf("dead letter reasons: %s", all)
	}
}

// A late redelivery of a file the ledger has COMMITTED, whose bytes are
// gone from FILEDATA, is dropped without a dead letter or a rejection.
func TestStageStaleEventOfCommittedFile(t *testing.T) {
	h := newHarness(t)
	led, err := ledger.Open(h.ctx, h.env.JS)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := led.Create(h.ctx, contract.LedgerEntry{FileID: "c0ffee", Name: "XBTUSD_60.csv", State: contract.FileCommitted}); err != nil {
		t.Fatal(err)
	}
	h.startParser(Config{RetryDelay: 50 * time.Millisecond})
	h.queue(contract.FileEvent{FileID: "c0ffee", Name: "XBTUSD_60.csv", Object: "c0ffee", Pair: "XBTUSD", Interval: 60}, "file:c0ffee")
	h.filesDone()
	dlq, err := h.env.JS.Stream(h.ctx, topology.StreamDLQ)
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := dlq.Info(h.ctx); info.State.Msgs != 0 {
		t.Errorf("%d dead letters for a stale event of a committed file", info.State.Msgs)
	}
	prog, err := h.env.JS.Stream(h.ctx, topology.StreamProgress)
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := prog.Info(h.ctx); info.State.Msgs != 0 {
		t.Errorf("%d progress reports for a stale event of a committed file", info.State.Msgs)
	}
}

func TestStageCompetingParsers(t *testing.T) {
	h := newHarness(t)
	// Two parser processes (as far as JetStream can tell) share the work.
	h.startParser(Config{Workers: 2, BatchSize: 1000})
	h.startParser(Config{Workers: 2, BatchSize: 1000})
	pairs := []string{"XBTUSD", "ETHUSD", "XDGUSD", "ETHUSDT", "SOLEUR", "ADAUSD"}
	var evs []contract.FileEvent
	want := map[string][]contract.Candle{}
	for i, pair := range pairs {
		data := generateCSV(2500+i*100, 1)
		ev := h.drop(pair+"_1.csv", data, nil)
		evs = append(evs, ev)
		want[ev.FileID] = expectCandles(t, data)
	}
	var wg sync.WaitGroup
	for _, ev := range evs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := h.progress(ev.FileID)
			if p.Kind != "parsed" || p.RowsParsed != int64(len(want[ev.FileID])) {
				t.Errorf("%s: %+v", ev.Name, p)
			}
		}()
	}
	wg.Wait()
	h.filesDone()
	for _, ev := range evs {
		bs := h.batches(ev.FileID)
		assertCandles(t, allCandles(bs), want[ev.FileID])
		for i, b := range bs {
			if b.BatchIndex != uint32(i) || b.Last != (i == len(bs)-1) {
				t.Errorf("%s: batch %d has index %d last %v", ev.Name, i, b.BatchIndex, b.Last)
			}
		}
	}
	reg, err := assets.Open(h.ctx, h.env.JS)
	if err != nil {
		t.Fatal(err)
	}
	list, err := reg.List(h.ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range list {
		got = append(got, a.Ticker+":"+a.Tier)
	}
	if strings.Join(got, " ") != "ADA:TIER1 BTC:TIER1 DOGE:TIER1 ETH:TIER1 SOL:TIER1 USDT:TIER1 EUR:TIER4 USD:TIER4" {
		t.Errorf("assets: %v", got)
	}
}

func TestStageBigFileBoundedBatches(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	h := newHarness(t)
	data := generateCSV(200_000, 1)
	h.startParser(Config{MaxInFlight: 2, Heartbeat: 10 * time.Millisecond})
	ev := h.drop("XBTUSD_1.csv", data, nil)
	p := h.progress(ev.FileID)
	wantBatches := (200_000 + DefaultBatchSize - 1) / DefaultBatchSize
	if p.Kind != "parsed" || p.RowsParsed != 200_000 || p.Batches != wantBatches {
		t.Fatalf("progress %+v, want %d batches", p, wantBatches)
	}
	h.filesDone()
	bs := h.batches(ev.FileID)
	got := allCandles(bs)
	want := expectCandles(t, data)
	assertCandles(t, got, want)
	if !bytes.Equal([]byte(fmt.Sprint(len(bs))), []byte(fmt.Sprint(wantBatches))) {
		t.Errorf("%d batches", len(bs))
	}
}

func TestStageStoppedMidFileRepublishesNothingTwice(t *testing.T) {
	h := newHarness(t)
	const rows, batchSize = 150_000, 500
	data := generateCSV(rows, 1)
	stop := h.runParser(Config{Workers: 1, BatchSize: batchSize, MaxInFlight: 1})
	ev := h.drop("XBTUSD_1.csv", data, nil)
	deadline := time.Now().Add(30 * time.Second)
	for h.streamMsgs(topology.StreamCandles) < 20 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	stop()
	mid := h.streamMsgs(topology.StreamCandles)
	if mid == 0 || mid >= rows/batchSize {
		t.Logf("stopped with %d of %d batches published; the test did not stop mid-file", mid, rows/batchSize)
	}
	h.startParser(Config{Workers: 1, BatchSize: batchSize})
	p := h.progress(ev.FileID)
	if p.Kind != "parsed" || p.RowsParsed != rows || p.Batches != rows/batchSize {
		t.Fatalf("progress %+v", p)
	}
	h.filesDone()
	if n := h.streamMsgs(topology.StreamCandles); n != rows/batchSize {
		t.Errorf("CANDLES holds %d batches, want exactly %d", n, rows/batchSize)
	}
	assertCandles(t, allCandles(h.batches(ev.FileID)), expectCandles(t, data))
}
