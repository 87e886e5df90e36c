package metrics_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/metrics"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// The lag gauges follow a durable with messages waiting: pending until
// delivered, ack-pending until acknowledged, gone with the consumer.
func TestConsumerLag(t *testing.T) {
	env := testenv.StartJetStream(t)
	ctx := testenv.Context(t, 30*time.Second)
	cons, err := topology.EnsureConsumer(ctx, env.JS, topology.StreamFills, topology.FetcherConsumer(topology.SourceKraken))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := env.JS.Publish(ctx, topology.FillSubject(topology.SourceKraken), []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	// An ephemeral reader (fff tail) is not pipeline work and not reported.
	if _, err := env.JS.CreateConsumer(ctx, topology.StreamCandles, jetstream.ConsumerConfig{AckPolicy: jetstream.AckNonePolicy}); err != nil {
		t.Fatal(err)
	}

	r := metrics.NewRegistry()
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- metrics.WatchConsumers(wctx, env.JS, r, 10*time.Millisecond, testenv.Logger(t)) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("WatchConsumers: %v", err)
		}
	}()

	labels := []string{"stream", topology.StreamFills, "consumer", topology.ConsumerFetcher}
	pending := r.Gauge(metrics.ConsumerPendingName, "", labels...).Get
	ackPending := r.Gauge(metrics.ConsumerAckPendingName, "", labels...).Get
	testenv.WaitValue(t, "pending", pending, 3, 5*time.Second)
	testenv.WaitValue(t, "ack pending", ackPending, 0, 5*time.Second)

	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var held []jetstream.Msg
	for m := range batch.Messages() {
		held = append(held, m)
	}
	if len(held) != 1 {
		t.Fatalf("fetched %d messages, want 1", len(held))
	}
	testenv.WaitValue(t, "pending after one delivery", pending, 2, 5*time.Second)
	testenv.WaitValue(t, "ack pending after one delivery", ackPending, 1, 5*time.Second)
	if err := held[0].DoubleAck(ctx); err != nil {
		t.Fatal(err)
	}
	testenv.WaitValue(t, "ack pending after the ack", ackPending, 0, 5*time.Second)

	// The scrape shows exactly one durable's series: no ephemeral ones.
	fams := scrape(t, r)
	if f := fams[metrics.ConsumerPendingName]; f == nil || len(f.Metric) != 1 {
		t.Fatalf("pending series: %v", f)
	}

	if err := env.JS.DeleteConsumer(ctx, topology.StreamFills, topology.ConsumerFetcher); err != nil {
		t.Fatal(err)
	}
	testenv.WaitValue(t, "series of a deleted consumer", func() float64 {
		return float64(len(scrape(t, r)[metrics.ConsumerPendingName].GetMetric()))
	}, 0, 5*time.Second)
}
