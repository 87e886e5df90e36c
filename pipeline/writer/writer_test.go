package writer

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/deadletter"
	"github.com/feefifofunds/feefifofunds/pipeline/metrics"
	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// startWriter runs a writer until the returned stop is called (or the test ends).
func startWriter(t testing.TB, cfg Config) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- Run(ctx, cfg) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("writer returned %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("writer did not stop within 30s")
		}
	}
	t.Cleanup(stop)
	return stop
}

func xbtBatches(t testing.TB, fileID string, per int) []*contract.Batch {
	c := testenv.FixtureCandles(t, "XBTUSD_1440.csv")
	// Kraken's 6-column rows have no trade count: NULL in QuestDB.
	for i := 0; i < 10; i++ {
		c[i].Trades = contract.NoTrades
	}
	return fileBatches("XBTUSD", "BTC", "USD", 1440, fileID, c, per)
}

func progressOf(t testing.TB, env *testenv.JetStream, fileID string) []contract.Progress {
	var out []contract.Progress
	for _, m := range streamMsgs(t, env.JS, topology.StreamProgress, topology.ProgressSubject(fileID)) {
		var p contract.Progress
		if err := json.Unmarshal(m.Data(), &p); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func TestWriterCommitsExactlyTheBatches(t *testing.T) {
	env := testenv.StartJetStream(t)
	q := testenv.NewQuestDB(t)

	xbt := xbtBatches(t, "xbtfile", 100)
	eth := fileBatches("ETHUSD", "ETH", "USD", 1440, "ethfile", testenv.FixtureCandles(t, "ETHUSD_1440.csv"), 64)
	// An API batch with VWAP and trades, no file.
	api := []*contract.Batch{{Source: "kraken", Pair: "XBTUSD", Base: "BTC", Quote: "USD", IntervalMinutes: 60,
		Origin: contract.OriginAPI, FillID: "fill-1", Last: true, Candles: []contract.Candle{
			{Time: 1736496000, Open: 94000.5, High: 94100, Low: 93900.25, Close: 94050, VWAP: 94010.125, Volume: 12.5, Trades: 321},
			{Time: 1736499600, Open: 94050, High: 94060, Low: 94000, Close: 94001, VWAP: contract.NoVWAP, Volume: 0, Trades: 0},
		}}}
	env.PublishBatches(t, xbt, "")
	env.PublishBatches(t, eth, "")
	env.PublishBatches(t, api, "")

	reg := metrics.NewRegistry()
	cfg := Config{JS: env.JS, Log: testenv.Logger(t), Metrics: reg, QuestDB: q.Config(), FlushInterval: 100 * time.Millisecond}
	// Two writer "processes" compete for the batches.
	startWriter(t, cfg)
	startWriter(t, cfg)
	waitDrained(t, env.JS, 60*time.Second)
	assertRows(t, queryRows(t, q, q.Table), xbt, eth, api)

	// Every CSV batch is reported committed, with its rows and table.
	got := map[uint32]int64{}
	for _, p := range progressOf(t, env, "xbtfile") {
		if p.Kind != "committed" || p.Table != q.Table {
			t.Fatalf("progress %+v", p)
		}
		got[p.Batch] = p.Rows
	}
	if len(got) != len(xbt) {
		t.Fatalf("committed progress for batches %v, want %d batches", got, len(xbt))
	}
	for _, b := range xbt {
		if got[b.BatchIndex] != int64(len(b.Candles)) {
			t.Fatalf("batch %d reported %d rows, want %d", b.BatchIndex, got[b.BatchIndex], len(b.Candles))
		}
	}
	if n := len(progressOf(t, env, "ethfile")); n != len(eth) {
		t.Fatalf("%d progress reports for ethfile, want %d", n, len(eth))
	}
	testenv.WaitValue(t, "rows committed metric", reg.Counter("fff_writer_rows_committed_total", "", "table", q.Table).Get, float64(268+295+2), 5*time.Second)
	// Every accepted request is timed in the commit latency histogram.
	flushes := reg.Counter("fff_writer_flushes_total", "", "table", q.Table).Get()
	if n := reg.CommitSeconds(q.Table).Count(); flushes == 0 || float64(n) != flushes {
		t.Fatalf("commit histogram holds %d observations for %v accepted requests", n, flushes)
	}

	// The same batches again, past JetStream's duplicate window (new ids):
	// QuestDB's DEDUP keeps the table as it was.
	env.PublishBatches(t, xbt, ":again")
	env.PublishBatches(t, eth, ":again")
	waitDrained(t, env.JS, 60*time.Second)
	assertRows(t, queryRows(t, q, q.Table), xbt, eth, api)
}

func TestWriterDeadLettersWhatQuestDBRefuses(t *testing.T) {
	env := testenv.StartJetStream(t)
	q := testenv.NewQuestDB(t)

	batches := xbtBatches(t, "badfile", 40) // 7 batches
	// interval_minutes is an INT column: QuestDB refuses 3e9 with a 400.
	bad := batches[3]
	bad.IntervalMinutes = 3_000_000_000
	env.PublishBatches(t, batches, "")
	// And something that is not a batch at all.
	ctx := context.Background()
	if _, err := env.JS.Publish(ctx, topology.CandleSubject("kraken", "XBTUSD", 1440), []byte("hello")); err != nil {
		t.Fatal(err)
	}

	reg := metrics.NewRegistry()
	// A long interval: everything goes in one request, which must be bisected.
	startWriter(t, Config{JS: env.JS, Log: testenv.Logger(t), Metrics: reg, QuestDB: q.Config(), FlushInterval: time.Second})
	waitDrained(t, env.JS, 60*time.Second)

	good := append(append([]*contract.Batch{}, batches[:3]...), batches[4:]...)
	assertRows(t, queryRows(t, q, q.Table), good)

	letters := streamMsgs(t, env.JS, topology.StreamDLQ, topology.DLQSubject(Stage))
	if len(letters) != 2 {
		t.Fatalf("%d dead letters, want 2", len(letters))
	}
	var sawBad, sawJunk bool
	for _, l := range letters {
		reason := l.Headers().Get(deadletter.HeaderReason)
		var b contract.Batch
		if err := contract.DecodeBatch(l.Data(), &b); err == nil {
			sawBad = true
			if b.BatchIndex != bad.BatchIndex || b.FileID != "badfile" {
				t.Fatalf("dead-lettered batch %d of %s, want batch %d", b.BatchIndex, b.FileID, bad.BatchIndex)
			}
			if !strings.Contains(reason, "out bounds of column type: INT") || !strings.Contains(reason, "interval_minutes") {
				t.Fatalf("reason does not carry QuestDB's text: %q", reason)
			}
			if s := l.Headers().Get(deadletter.HeaderSubject); s != topology.CandleSubject("kraken", "XBTUSD", 3_000_000_000) {
				t.Fatalf("original subject %q", s)
			}
		} else {
			sawJunk = true
			if string(l.Data()) != "hello" || !strings.Contains(reason, "not a candle batch") {
				t.Fatalf("junk letter %q reason %q", l.Data(), reason)
			}
		}
	}
	if !sawBad || !sawJunk {
		t.Fatalf("dead letters: bad batch %v, junk %v", sawBad, sawJunk)
	}

	var failed, committed int
	for _, p := range progressOf(t, env, "badfile") {
		switch p.Kind {
		case "failed":
			failed++
			if p.Batch != bad.BatchIndex || !strings.Contains(p.Reason, "out bounds") {
				t.Fatalf("failed progress %+v", p)
			}
		case "committed":
			committed++
			if p.Batch == bad.BatchIndex {
				t.Fatalf("refused batch reported committed")
			}
		}
	}
	if failed != 1 || committed != len(good) {
		t.Fatalf("progress: %d failed, %d committed; want 1 and %d", failed, committed, len(good))
	}
	testenv.WaitValue(t, "dead-lettered metric", reg.Counter("fff_writer_batches_dead_lettered_total", "", "table", q.Table).Get, 2, 5*time.Second)
}

func TestWriterHoldsWhileQuestDBIsDown(t *testing.T) {
	env := testenv.StartJetStream(t)
	q := testenv.NewQuestDB(t)
	px := testenv.NewProxy(t, q.HTTPAddr())
	px.Down()

	qs := q.Config()
	qs.ILP = px.Conf()
	startWriter(t, Config{JS: env.JS, Log: testenv.Logger(t), QuestDB: qs, FlushInterval: 100 * time.Millisecond, MaxBackoff: time.Second})
	batches := xbtBatches(t, "downfile", 50)
	env.PublishBatches(t, batches, "")

	time.Sleep(3 * time.Second)
	if n := q.Count(t); n != 0 {
		t.Fatalf("%d rows while QuestDB was unreachable", n)
	}
	info := consumerInfo(t, env.JS)
	if info.AckFloor.Stream != 0 || info.NumAckPending == 0 {
		t.Fatalf("while QuestDB is down the batches must be held unacknowledged: %+v", info)
	}
	if l := streamMsgs(t, env.JS, topology.StreamDLQ, "dlq.>"); len(l) != 0 {
		t.Fatalf("%d dead letters while QuestDB was down", len(l))
	}

	px.Up()
	waitDrained(t, env.JS, 60*time.Second)
	assertRows(t, queryRows(t, q, q.Table), batches)

	// A second outage, now that the writer's senders are connected: the
	// requests themselves fail.
	px.Down()
	more := fileBatches("ETHUSD", "ETH", "USD", 1440, "downfile2", testenv.FixtureCandles(t, "ETHUSD_1440.csv"), 50)
	env.PublishBatches(t, more, "")
	time.Sleep(2 * time.Second)
	if n := q.Count(t); n != 268 {
		t.Fatalf("%d rows during the second outage, want 268", n)
	}
	if info := consumerInfo(t, env.JS); info.NumAckPending == 0 {
		t.Fatalf("batches not held during the second outage: %+v", info)
	}
	px.Up()
	waitDrained(t, env.JS, 60*time.Second)
	assertRows(t, queryRows(t, q, q.Table), batches, more)

	if l := streamMsgs(t, env.JS, topology.StreamDLQ, "dlq.>"); len(l) != 0 {
		t.Fatalf("%d dead letters after QuestDB came back", len(l))
	}
	if n := len(progressOf(t, env, "downfile")); n != len(batches) {
		t.Fatalf("%d progress reports, want %d", n, len(batches))
	}
}

// A writer whose requests reach QuestDB but whose answers are lost (as when
// it dies between the commit and the ack) holds unacknowledged messages;
// another writer takes over and the table ends with exactly the rows.
func TestWriterTakeoverAfterCommitWithoutAck(t *testing.T) {
	env := testenv.StartJetStream(t)
	q := testenv.NewQuestDB(t)
	px := testenv.NewProxy(t, q.HTTPAddr())
	qs := q.Config()
	qs.ILP = px.Conf()

	all := xbtBatches(t, "takeover", 30)
	first, second := all[:4], all[4:]
	stopA := startWriter(t, Config{JS: env.JS, Log: testenv.Logger(t), QuestDB: qs, FlushInterval: 100 * time.Millisecond, MaxBackoff: time.Second})
	env.PublishBatches(t, first, "")
	waitDrained(t, env.JS, 30*time.Second)

	px.SetMute(true)
	env.PublishBatches(t, second, "")
	var want int64
	for _, b := range all {
		want += int64(len(b.Candles))
	}
	if n := q.WaitCount(t, want, 30*time.Second); n != want {
		t.Fatalf("QuestDB holds %d rows, want %d (requests should reach it)", n, want)
	}
	if info := consumerInfo(t, env.JS); info.NumAckPending == 0 {
		t.Fatalf("writer A should still hold the unanswered batches: %+v", info)
	}
	stopA()

	startWriter(t, Config{JS: env.JS, Log: testenv.Logger(t), QuestDB: q.Config(), FlushInterval: 100 * time.Millisecond})
	waitDrained(t, env.JS, 60*time.Second)
	assertRows(t, queryRows(t, q, q.Table), all)
	got := map[uint32]bool{}
	for _, p := range progressOf(t, env, "takeover") {
		got[p.Batch] = true
	}
	if len(got) != len(all) {
		t.Fatalf("progress for %d batches, want %d", len(got), len(all))
	}
}

func TestSinkCommitBisects(t *testing.T) {
	q := testenv.NewQuestDB(t)
	ctx := context.Background()
	s, err := questdb.DialILPSink(ctx, q.ILP, q.Table)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	batches := xbtBatches(t, "bisect", 20) // 14 batches
	for _, i := range []int{2, 9, 10} {
		batches[i].IntervalMinutes = 4_000_000_000
	}
	var committed []int
	rejected := map[int]string{}
	err = s.Commit(ctx, len(batches), func(i int) (*contract.Batch, error) { return batches[i], nil }, questdb.Hooks{
		Committed: func(lo, hi int) {
			for i := lo; i < hi; i++ {
				committed = append(committed, i)
			}
		},
		Rejected: func(i int, err error) { rejected[i] = err.Error() },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rejected) != 3 || rejected[2] == "" || rejected[9] == "" || rejected[10] == "" {
		t.Fatalf("rejected %v", rejected)
	}
	if len(committed) != len(batches)-3 {
		t.Fatalf("committed %v", committed)
	}
	var good []*contract.Batch
	for i, b := range batches {
		if rejected[i] == "" {
			good = append(good, b)
		}
	}
	assertRows(t, queryRows(t, q, q.Table), good)
}
