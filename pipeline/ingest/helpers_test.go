package ingest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// StartSubmitter is a Submitter on a fresh JetStream with the topology in
// place, the test's context for its calls, and FILEDATA, where a test sees
// which bytes the Submitter stored. It is exported for the ingest_test
// package too.
func StartSubmitter(t testing.TB) (context.Context, *Submitter, jetstream.ObjectStore) {
	t.Helper()
	env := testenv.StartJetStream(t)
	ctx := testenv.Context(t, 30*time.Second)
	sub, err := NewSubmitter(ctx, env.JS, testenv.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	store, err := env.JS.ObjectStore(ctx, topology.BucketFileData)
	if err != nil {
		t.Fatal(err)
	}
	return ctx, sub, store
}
