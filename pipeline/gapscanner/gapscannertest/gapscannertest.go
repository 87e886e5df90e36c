// Package gapscannertest holds what tests of the gap scanner and of its
// command need alike: taking the fill requests it published off FILLS.
package gapscannertest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// TakeFills drains every fill request now on fills.<source> and checks that
// each was published with its request id as message id (what lets JetStream
// drop a repeat).
func TakeFills(t testing.TB, js jetstream.JetStream, source string) []contract.FillRequest {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// FILLS is a work queue: the test takes the requests off it, as the
	// fetcher would, so one durable per source serves every call.
	cons, err := js.CreateOrUpdateConsumer(ctx, topology.StreamFills, jetstream.ConsumerConfig{
		Durable: "test-fills-" + source, FilterSubject: topology.FillSubject(source), AckPolicy: jetstream.AckExplicitPolicy,
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []contract.FillRequest
	for {
		// The consumer's pending count is exact once a publish is
		// acknowledged; a no-wait fetch from a consumer just created can come
		// back empty on a loaded machine, so fetch that many and wait for them.
		ci, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ci.NumPending == 0 {
			return out
		}
		batch, err := cons.Fetch(int(ci.NumPending), jetstream.FetchMaxWait(10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			r, err := contract.DecodeFillRequest(m.Data())
			if err != nil {
				t.Fatalf("fill request %s does not decode: %v", m.Data(), err)
			}
			if id := m.Headers().Get(jetstream.MsgIDHeader); id != r.ID {
				t.Errorf("message id %q, want the request id %q", id, r.ID)
			}
			out = append(out, r)
			if err := m.DoubleAck(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
}
