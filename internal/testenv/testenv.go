// Package testenv gives tests the real services: an embedded JetStream server
// in a temp dir, and the local QuestDB (scripts/questdb.sh) with a fresh
// table per test. Under CI (CI=true) a missing QuestDB fails the test;
// elsewhere the test is skipped with one line saying how to start it.
package testenv

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/natsembed"
	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// JetStream is an embedded server with the pipeline's topology in place.
type JetStream struct {
	Server *natsembed.Server
	URL    string
	Conn   *nats.Conn
	JS     jetstream.JetStream
	Dir    string
}

// StartBareJetStream starts an embedded JetStream server on a free port with
// no streams at all; it is stopped when the test ends.
func StartBareJetStream(t testing.TB) *JetStream {
	t.Helper()
	return StartBareJetStreamWith(t, natsembed.Config{})
}

// StartBareJetStreamWith is StartBareJetStream with server settings (a max
// payload, say); the store directory is the test's own.
func StartBareJetStreamWith(t testing.TB, cfg natsembed.Config) *JetStream {
	t.Helper()
	dir := t.TempDir()
	cfg.StoreDir = dir
	s, err := natsembed.Start(cfg)
	if err != nil {
		t.Fatalf("embedded nats: %v", err)
	}
	t.Cleanup(s.Stop)
	nc, err := nats.Connect(s.URL())
	if err != nil {
		t.Fatalf("connect embedded nats: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return &JetStream{Server: s, URL: s.URL(), Conn: nc, JS: js, Dir: dir}
}

// StartJetStream starts an embedded JetStream server on a free port with the
// pipeline's topology in place; it is stopped when the test ends.
func StartJetStream(t testing.TB) *JetStream {
	t.Helper()
	env := StartBareJetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := topology.Ensure(ctx, env.JS, topology.DefaultOptions()); err != nil {
		t.Fatalf("topology: %v", err)
	}
	return env
}

// PublishBatches puts batches on CANDLES under their message ids; idSuffix
// makes the ids differ from an earlier publication (a re-publish outside the
// duplicate window).
func (j *JetStream) PublishBatches(t testing.TB, batches []*contract.Batch, idSuffix string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, b := range batches {
		data, err := contract.EncodeBatch(b)
		if err != nil {
			t.Fatal(err)
		}
		subj := topology.CandleSubject(b.Source, b.Pair, int(b.IntervalMinutes))
		if _, err := j.JS.Publish(ctx, subj, data, jetstream.WithMsgID(b.MsgID()+idSuffix)); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
}

// QuestDB is the test QuestDB with a table of the test's own.
type QuestDB struct {
	ILP   string // ILP conf string
	PG    string // PG wire URL
	Table string
	Pool  *pgxpool.Pool
}

// HTTPAddr is the host:port of QuestDB's HTTP (ILP) endpoint.
func (q *QuestDB) HTTPAddr() string {
	_, addr, _ := questdb.ILPAddr(q.ILP) // q.ILP is built by this package
	return addr
}

// Config is the QuestDB config for this test's table.
func (q *QuestDB) Config() questdb.Config {
	return questdb.Config{ILP: q.ILP, PG: q.PG, Table: q.Table}
}

var tableSeq atomic.Int64

// QuestDBAddrs are where tests look for QuestDB (FFF_TEST_QUESTDB and
// FFF_TEST_QUESTDB_PG override the defaults).
func QuestDBAddrs() (ilp, pg string) {
	ilp = envOr("FFF_TEST_QUESTDB", questdb.DefaultILP)
	pg = envOr("FFF_TEST_QUESTDB_PG", questdb.DefaultPG)
	return
}

// ConnectQuestDB connects to the test QuestDB or skips (fails under CI).
func ConnectQuestDB(t testing.TB) (*pgxpool.Pool, string, string) {
	t.Helper()
	ilp, pg := QuestDBAddrs()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	pool, err := questdb.Connect(ctx, pg)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("QuestDB is required under CI: %v", err)
		}
		t.Skipf("QuestDB not reachable (%v); start it with scripts/questdb.sh start", err)
	}
	t.Cleanup(pool.Close)
	return pool, ilp, pg
}

// NewQuestDB gives the test a fresh, migrated candle table, dropped when the
// test ends (kept when FFF_KEEP_TABLES is set, to look at after a failure).
func NewQuestDB(t testing.TB) *QuestDB {
	t.Helper()
	pool, ilp, pg := ConnectQuestDB(t)
	table := NewTableName(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := questdb.Up(ctx, pool, table); err != nil {
		t.Fatalf("migrate %s: %v", table, err)
	}
	t.Cleanup(func() { DropTable(t, pool, table) })
	return &QuestDB{ILP: ilp, PG: pg, Table: table, Pool: pool}
}

// NewTableName makes a table name unique to this test run.
func NewTableName(t testing.TB) string {
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, t.Name())
	if len(name) > 40 {
		name = name[:40]
	}
	return fmt.Sprintf("t_%s_%d_%d", strings.ToLower(name), time.Now().UnixNano()%1_000_000_000, tableSeq.Add(1))
}

// DropTable drops a test table unless FFF_KEEP_TABLES is set.
func DropTable(t testing.TB, pool *pgxpool.Pool, table string) {
	if os.Getenv("FFF_KEEP_TABLES") != "" {
		t.Logf("kept table %s", table)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := pool.Exec(ctx, "DROP TABLE IF EXISTS "+table); err != nil {
		t.Logf("drop %s: %v", table, err)
	}
}

// Count is the number of rows in the table after the WAL is applied.
func (q *QuestDB) Count(t testing.TB) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := questdb.WaitApplied(ctx, q.Pool, q.Table); err != nil {
		t.Fatalf("wait applied: %v", err)
	}
	var n int64
	if err := q.Pool.QueryRow(ctx, "SELECT count() FROM "+q.Table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", q.Table, err)
	}
	return n
}

// WaitCount polls until the table holds want rows or the timeout passes, and
// returns the last count.
func (q *QuestDB) WaitCount(t testing.TB, want int64, timeout time.Duration) int64 {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var n int64
	for {
		n = q.Count(t)
		if n == want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// WaitValue waits until get returns want (a metric another goroutine
// updates after the event a test saw) and fails the test with the last value
// when timeout passes first.
func WaitValue(t testing.TB, what string, get func() float64, want float64, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := get()
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is %v after %s, want %v", what, got, timeout, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
