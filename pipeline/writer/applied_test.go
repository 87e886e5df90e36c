package writer

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/metrics"
)

// progressFeed receives every progress report as the ledger keeper would,
// the moment it is published.
func progressFeed(t *testing.T, env *testenv.JetStream) <-chan contract.Progress {
	t.Helper()
	ch := make(chan contract.Progress, 4096)
	sub, err := env.Conn.Subscribe("progress.>", func(m *nats.Msg) {
		var p contract.Progress
		if json.Unmarshal(m.Data, &p) == nil {
			ch <- p
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := env.Conn.Flush(); err != nil {
		t.Fatal(err)
	}
	return ch
}

// rawCount counts rows without waiting for the WAL: what a user's query sees.
func rawCount(t *testing.T, q *testenv.QuestDB, where string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var n int64
	if err := q.Pool.QueryRow(ctx, "SELECT count() FROM "+q.Table+" "+where).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A file's rows are queryable the moment the writer reports them committed.
func TestCommittedMeansQueryable(t *testing.T) {
	env := testenv.StartJetStream(t)
	q := testenv.NewQuestDB(t)
	feed := progressFeed(t, env)

	// Big requests (the default 200k rows) take QuestDB visibly long to apply.
	batches := synthBatches(600_000, 4)
	for i, b := range batches {
		b.FileID, b.BatchIndex = "bigfile", uint32(i)
	}
	batches[len(batches)-1].Last = true
	env.PublishBatches(t, batches, "")
	startWriter(t, Config{JS: env.JS, Log: testenv.Logger(t), QuestDB: q.Config()})

	var reported int64
	got := 0
	deadline := time.After(2 * time.Minute)
	for got < len(batches) {
		select {
		case p := <-feed:
			if p.Kind != "committed" {
				t.Fatalf("progress %+v", p)
			}
			reported += p.Rows
			got++
			// Checked before anything else: QuestDB must already show them.
			if n := rawCount(t, q, ""); n < reported {
				t.Fatalf("after %d committed reports (%d rows) a query sees %d rows", got, reported, n)
			}
		case <-deadline:
			t.Fatalf("%d of %d batches reported committed", got, len(batches))
		}
	}
	if reported != 600_000 {
		t.Fatalf("reported %d rows committed, want 600000", reported)
	}
}

// A suspended table never looks healthy: its committed batches wait, the
// gauge says 1, /healthz fails, a log line names the table and QuestDB's
// error, and everything resumes once an operator resumes the table.
func TestSuspendedTableHoldsReports(t *testing.T) {
	env := testenv.StartJetStream(t)
	q := testenv.NewQuestDB(t)
	feed := progressFeed(t, env)
	reg := metrics.NewRegistry()
	logs := &testenv.SyncBuffer{}
	checks := make(chan func() error, 1)
	cfg := Config{JS: env.JS, Log: slog.New(slog.NewTextHandler(logs, nil)), Metrics: reg, QuestDB: q.Config(),
		FlushInterval: 50 * time.Millisecond, Health: func(c func() error) { checks <- c }}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	startWriter(t, cfg)
	var check func() error
	select {
	case check = <-checks:
	case <-time.After(10 * time.Second):
		t.Fatal("the writer gave no health check")
	}
	day := func(s string) contract.Candle {
		ts, _ := time.Parse(time.DateOnly, s)
		return contract.Candle{Time: ts.Unix(), Open: 1, High: 2, Low: 0.5, Close: 1.5, VWAP: contract.NoVWAP, Volume: 3, Trades: contract.NoTrades}
	}
	first := fileBatches("SUSUSD", "SUS", "USD", 1440, "susfile1", []contract.Candle{day("2020-01-05"), day("2020-01-20"), day("2020-03-01")}, 10)
	env.PublishBatches(t, first, "")
	if p := <-feed; p.FileID != "susfile1" || p.Kind != "committed" {
		t.Fatalf("progress %+v", p)
	}
	if err := check(); err != nil {
		t.Fatalf("healthy table reported %v", err)
	}

	// A write out of order into 2020-01 makes QuestDB rewrite that
	// partition, which the blocked directory makes fail: suspended.
	unblock := q.BlockPartition(t, "2020-01")
	second := fileBatches("SUSUSD", "SUS", "USD", 1440, "susfile2", []contract.Candle{day("2020-01-10")}, 10)
	env.PublishBatches(t, second, "")
	suspended := reg.Gauge("fff_writer_table_suspended", "", "table", q.Table)
	testenv.WaitValue(t, "suspended gauge", suspended.Get, 1, 30*time.Second)
	err := check()
	if err == nil || !strings.Contains(err.Error(), q.Table) || !strings.Contains(err.Error(), "RESUME WAL") {
		t.Fatalf("health check while suspended: %v", err)
	}
	line := ""
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "suspended") && strings.Contains(l, "level=ERROR") {
			line = l
		}
	}
	if !strings.Contains(line, "table="+q.Table) || !strings.Contains(line, "error=") || strings.Contains(line, `error=""`) {
		t.Fatalf("no log line naming the table and QuestDB's error: %q", line)
	}
	select {
	case p := <-feed:
		t.Fatalf("reported while the table is suspended: %+v", p)
	default:
	}
	if info := consumerInfo(t, env.JS); info.NumAckPending == 0 {
		t.Fatalf("the batch must stay unacknowledged while suspended: %+v", info)
	}

	unblock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := q.Pool.Exec(ctx, "ALTER TABLE "+q.Table+" RESUME WAL"); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-feed:
		if p.FileID != "susfile2" || p.Kind != "committed" {
			t.Fatalf("progress %+v", p)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no committed report after RESUME WAL")
	}
	if n := rawCount(t, q, ""); n != 4 {
		t.Fatalf("%d rows queryable after the resume, want 4", n)
	}
	testenv.WaitValue(t, "suspended gauge", suspended.Get, 0, 5*time.Second)
	if err := check(); err != nil {
		t.Fatalf("health after resume: %v", err)
	}
	waitDrained(t, env.JS, 10*time.Second)
}

// QuestDB gone at start and again later (both ports closed, as when it is
// killed): the writer waits for its migrations instead of exiting, and
// resumes within a few seconds each time QuestDB is back.
func TestWriterResumesWithinSeconds(t *testing.T) {
	env := testenv.StartJetStream(t)
	pool, ilp, pg := testenv.ConnectQuestDB(t)
	q := &testenv.QuestDB{ILP: ilp, PG: pg, Table: testenv.NewTableName(t), Pool: pool}
	t.Cleanup(func() { testenv.DropTable(t, pool, q.Table) })
	u, err := url.Parse(pg)
	if err != nil {
		t.Fatal(err)
	}
	httpPx := testenv.NewProxy(t, q.HTTPAddr())
	pgPx := testenv.NewProxy(t, u.Host)
	down := func() { httpPx.Down(); pgPx.Down() }
	up := func() { httpPx.Up(); pgPx.Up() }
	down()
	u.Host = strings.TrimSuffix(strings.TrimPrefix(pgPx.Conf(), "http::addr="), ";")
	qs := q.Config()
	qs.ILP, qs.PG = httpPx.Conf(), u.String()

	reg := metrics.NewRegistry()
	startWriter(t, Config{JS: env.JS, Log: testenv.Logger(t), Metrics: reg, QuestDB: qs, Migrate: true, FlushInterval: 50 * time.Millisecond})
	batches := xbtBatches(t, "resumefile", 50)
	env.PublishBatches(t, batches, "")
	// Long enough for an uncapped backoff to have grown past several seconds.
	time.Sleep(8 * time.Second)
	up()
	back := time.Now()
	waitDrained(t, env.JS, 30*time.Second)
	if d := time.Since(back); d > 5*time.Second {
		t.Fatalf("took %s after QuestDB came back to commit the held batches", d.Round(time.Millisecond))
	}
	assertRows(t, queryRows(t, q, q.Table), batches)

	// Killed while running.
	down()
	more := fileBatches("ETHUSD", "ETH", "USD", 1440, "resumefile2", testenv.FixtureCandles(t, "ETHUSD_1440.csv"), 50)
	env.PublishBatches(t, more, "")
	testenv.WaitValue(t, "questdb_up gauge", reg.Gauge("fff_writer_questdb_up", "", "table", q.Table).Get, 0, 10*time.Second)
	time.Sleep(8 * time.Second)
	up()
	back = time.Now()
	waitDrained(t, env.JS, 30*time.Second)
	if d := time.Since(back); d > 5*time.Second {
		t.Fatalf("took %s after QuestDB came back to commit the held batches", d.Round(time.Millisecond))
	}
	assertRows(t, queryRows(t, q, q.Table), batches, more)
}
