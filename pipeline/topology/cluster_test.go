package topology_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// TestClusterReplicas3 is the documented 3-node deployment (nats-cluster.conf,
// --replicas 3) in miniature: the topology is created with 3 replicas and a
// committed candle batch survives losing a node, leader included.
func TestClusterReplicas3(t *testing.T) {
	if testing.Short() {
		t.Skip("3-node cluster test (about 10 s) skipped with -short")
	}
	c := testenv.StartCluster(t, 3)
	nc, err := nats.Connect(c.URLs(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	o := topology.DefaultOptions()
	o.Replicas = 3
	// The cluster elects its JetStream meta leader a moment after the
	// servers accept clients; until then Ensure fails and is retried.
	if err := retry(ctx, 20*time.Second, 3*time.Second, func(attempt context.Context) error {
		return topology.Ensure(attempt, js, o)
	}); err != nil {
		t.Fatalf("Ensure with 3 replicas: %v", err)
	}
	if err := topology.Ensure(ctx, js, o); err != nil {
		t.Fatalf("Ensure again on the cluster: %v", err)
	}
	s, err := js.Stream(ctx, topology.StreamCandles)
	if err != nil {
		t.Fatal(err)
	}
	info := s.CachedInfo()
	if info.Config.Replicas != 3 || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("CANDLES replicas=%d cluster=%+v, want 3 replicas", info.Config.Replicas, info.Cluster)
	}
	kv, err := js.KeyValue(ctx, topology.BucketLedger)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := kv.Status(ctx); err != nil || st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.Replicas != 3 {
		t.Fatalf("LEDGER bucket not replicated 3 times: %v", err)
	}

	b := &contract.Batch{Source: "kraken", Pair: "XBTUSD", Base: "BTC", Quote: "USD", IntervalMinutes: 60, Origin: contract.OriginAPI, FillID: "cluster", Last: true,
		Candles: []contract.Candle{{Time: 1736496000, Open: 1, High: 2, Low: 0.5, Close: 1.5, VWAP: contract.NoVWAP, Volume: 3, Trades: 4}}}
	data, _ := contract.EncodeBatch(b)
	ack, err := js.Publish(ctx, topology.CandleSubject("kraken", "XBTUSD", 60), data, jetstream.WithMsgID(b.MsgID()))
	if err != nil {
		t.Fatalf("publish: %v", err)
	}

	// Stop the stream's leader: the hardest node to lose.
	leader := info.Cluster.Leader
	c.Stop(t, leader)

	// The batch is still there, readable through the surviving nodes, and
	// the stream still takes writes (two of three is a quorum).
	var got jetstream.RawStreamMsg
	if err := retry(ctx, 20*time.Second, 2*time.Second, func(attempt context.Context) error {
		s, err := js.Stream(attempt, topology.StreamCandles)
		if err != nil {
			return err
		}
		m, err := s.GetMsg(attempt, ack.Sequence)
		if err != nil {
			return err
		}
		got = *m
		return nil
	}); err != nil {
		t.Fatalf("batch lost after stopping %s: %v", leader, err)
	}
	var decoded contract.Batch
	if err := contract.DecodeBatch(got.Data, &decoded); err != nil || decoded.MsgID() != b.MsgID() || len(decoded.Candles) != 1 {
		t.Fatalf("batch after failover: %+v %v", decoded, err)
	}
	if err := retry(ctx, 20*time.Second, 2*time.Second, func(attempt context.Context) error {
		_, err := js.Publish(attempt, topology.CandleSubject("kraken", "XBTUSD", 60), data, jetstream.WithMsgID("after-failover"))
		return err
	}); err != nil {
		t.Fatalf("publish after losing a node: %v", err)
	}
}

// retry calls f, each call under a timeout of per, until it succeeds or
// within has passed, and returns its last error: a cluster takes a moment
// to elect its leaders when it starts and after it loses a node.
func retry(ctx context.Context, within, per time.Duration, f func(attempt context.Context) error) error {
	deadline := time.Now().Add(within)
	for {
		attempt, cancel := context.WithTimeout(ctx, per)
		err := f(attempt)
		cancel()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(250 * time.Millisecond)
	}
}
