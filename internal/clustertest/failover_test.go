package clustertest_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/internal/cli"
	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/benchmark"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/ledger"
	"github.com/feefifofunds/feefifofunds/pipeline/parser"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
	"github.com/feefifofunds/feefifofunds/pipeline/watcher"
	"github.com/feefifofunds/feefifofunds/pipeline/writer"
)

// connect is one stage's connection.
func connect(t *testing.T, urls, name string) jetstream.JetStream {
	t.Helper()
	// The stage binaries' own dialer: every URL, endless reconnects.
	nc, err := cli.NATS{URL: urls}.Connect(name, nil)
	if err == nil {
		t.Cleanup(nc.Close)
		var js jetstream.JetStream
		if js, err = jetstream.New(nc); err == nil {
			return js
		}
	}
	t.Fatalf("connect %s: %v", name, err)
	return nil
}

// TestIngestSurvivesCandlesLeaderLoss loads files through the real stages on
// an R3 cluster and shuts down the CANDLES leader once batches flow: every
// row must land exactly once and every file end COMMITTED in ingested/.
func TestIngestSurvivesCandlesLeaderLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("3-node cluster run skipped with -short")
	}
	q := testenv.NewQuestDB(t)
	c := testenv.StartCluster(t, 3)
	// A deadline on ctx would become the deadline of every JetStream request
	// (one request waiting out a whole election); without one each request
	// gets the client's 5 s and is retried. The whole run is bounded apart.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer time.AfterFunc(90*time.Second, cancel).Stop()
	log := testenv.Logger(t)

	setup := connect(t, c.URLs(), "clustertest")
	o := topology.DefaultOptions()
	o.Replicas = 3
	if err := cli.EnsureTopology(ctx, setup, o, log); err != nil {
		t.Fatalf("topology on the cluster: %v", err)
	}

	inbox := t.TempDir()
	files, err := benchmark.Generate(benchmark.Spec{Dir: inbox, Rows: 6 * 4000, Files: 6, Seed: 7}, benchmark.Kraken)
	if err != nil {
		t.Fatal(err)
	}

	stageCtx, stopStages := context.WithCancel(ctx)
	var stages sync.WaitGroup
	stageErrs := make(chan error, 4)
	run := func(name string, f func(context.Context) error) {
		stages.Go(func() {
			if err := f(stageCtx); err != nil && stageCtx.Err() == nil {
				stageErrs <- fmt.Errorf("%s: %w", name, err)
			}
		})
	}
	defer func() {
		stopStages()
		stages.Wait()
	}()
	run("writer", func(ctx context.Context) error {
		return writer.Run(ctx, writer.Config{JS: connect(t, c.URLs(), "writer"), Log: log, QuestDB: q.Config(),
			FlushRows: 2000, FlushInterval: 50 * time.Millisecond, MaxBackoff: time.Second,
			// Deliveries lost with the leader (5-8 batches a run, some lost
			// twice) come back after one AckWait each: short here, to stay
			// quick. 30 s by default.
			AckWait: 5 * time.Second})
	})
	for i := range 2 {
		run("parser", func(ctx context.Context) error {
			return parser.Run(ctx, parser.Config{JS: connect(t, c.URLs(), fmt.Sprintf("parser-%d", i)), Log: log, BatchSize: 500,
				// A batch whose PubAck died with the leader is published again
				// after AckTimeout (30 s by default): short here, to stay quick.
				AckTimeout: 2 * time.Second,
				RetryDelay: 200 * time.Millisecond, MaxRetryDelay: time.Second, SpoolDir: t.TempDir()})
		})
	}
	run("watcher", func(ctx context.Context) error {
		return watcher.Run(ctx, watcher.Config{JS: connect(t, c.URLs(), "watcher"), Log: log, Inbox: inbox, Settle: 100 * time.Millisecond})
	})

	// Batches flow: the leader of CANDLES goes now.
	var leader string
	for leader == "" {
		s, err := setup.Stream(ctx, topology.StreamCandles)
		if err == nil && s.CachedInfo().State.Msgs >= 3 && s.CachedInfo().Cluster != nil {
			info := s.CachedInfo()
			leader = info.Cluster.Leader
			break
		}
		select {
		case err := <-stageErrs:
			t.Fatal(err)
		case <-ctx.Done():
			t.Fatal("no candle batches before the deadline")
		case <-time.After(20 * time.Millisecond):
		}
	}
	c.Stop(t, leader)
	t.Logf("shut down the CANDLES leader %s mid-ingest", leader)

	done := filepath.Join(inbox, "ingested")
	for len(csvs(done)) < len(files) {
		select {
		case err := <-stageErrs:
			t.Fatal(err)
		case <-ctx.Done():
			describe(t, setup)
			t.Fatalf("%d of %d files in ingested/ (rejected: %v)", len(csvs(done)), len(files), csvs(filepath.Join(inbox, "rejected")))
		case <-time.After(100 * time.Millisecond):
		}
	}

	var want int64
	for _, f := range files {
		want += f.Rows
	}
	var rows, distinct int64
	if rows = q.Count(t); rows != want {
		t.Errorf("table holds %d rows, want %d (lost %d)", rows, want, want-rows)
	}
	if err := q.Pool.QueryRow(ctx, "SELECT count() FROM (SELECT DISTINCT ts, pair, interval_minutes FROM "+q.Table+")").Scan(&distinct); err != nil {
		t.Fatal(err)
	}
	if distinct != rows {
		t.Errorf("%d rows but %d distinct keys: %d duplicated", rows, distinct, rows-distinct)
	}
	assertCommitted(ctx, t, setup, len(files))
}

// assertCommitted checks every ledger entry is COMMITTED.
func assertCommitted(ctx context.Context, t *testing.T, js jetstream.JetStream, files int) {
	t.Helper()
	l, err := ledger.Open(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, topology.BucketLedger)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := kv.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	committed := 0
	for _, k := range keys {
		e, _, err := l.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if e.State == contract.FileCommitted {
			committed++
		} else {
			t.Errorf("file %s is %s, want COMMITTED", k, e.State)
		}
	}
	if committed != files {
		t.Errorf("%d files COMMITTED, want %d", committed, files)
	}
}

func csvs(dir string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, "*.csv"))
	return m
}

// describe logs where a stuck run stands: the ledger entries not yet
// COMMITTED and the consumers' pending counts.
func describe(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if l, err := ledger.Open(ctx, js); err == nil {
		if kv, err := js.KeyValue(ctx, topology.BucketLedger); err == nil {
			keys, _ := kv.Keys(ctx)
			for _, k := range keys {
				if e, _, err := l.Get(ctx, k); err == nil && e.State != contract.FileCommitted {
					t.Logf("ledger: %s %s batches %d/%d rows %d/%d committed batches %v waiting %q",
						e.Name, e.State, e.BatchesDone, e.Batches, e.RowsCommitted, e.RowsParsed, e.CommittedBatch, e.Waiting)
				}
			}
		}
	}
	for _, sc := range [][2]string{{topology.StreamCandles, topology.ConsumerWriter}, {topology.StreamProgress, topology.ConsumerProgress}} {
		c, err := js.Consumer(ctx, sc[0], sc[1])
		if err != nil {
			t.Logf("consumer %s on %s: %v", sc[1], sc[0], err)
			continue
		}
		i := c.CachedInfo()
		t.Logf("consumer %s on %s: delivered %d ack floor %d pending %d ack pending %d redelivered %d waiting %d",
			sc[1], sc[0], i.Delivered.Stream, i.AckFloor.Stream, i.NumPending, i.NumAckPending, i.NumRedelivered, i.NumWaiting)
	}
	if s, err := js.Stream(ctx, topology.StreamCandles); err == nil {
		t.Logf("stream %s: %d messages, last seq %d", topology.StreamCandles, s.CachedInfo().State.Msgs, s.CachedInfo().State.LastSeq)
	}
}
