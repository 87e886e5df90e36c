package testenv

import (
	"context"
	"testing"

	"github.com/feefifofunds/feefifofunds/pipeline/ledger/ledgertest"
)

// StartFakeStages starts an embedded JetStream (as StartJetStream) with
// ledgertest standing in for the parser and the writer, so a test of what
// submits files and follows the ledger (fff ingest, ingest.Load) needs no
// QuestDB. Both stop when the test ends, the fake stages first.
func StartFakeStages(t testing.TB, opts ledgertest.Options) *JetStream {
	t.Helper()
	env := StartJetStream(t)
	sim, err := ledgertest.Start(context.Background(), env.JS, opts)
	if err != nil {
		t.Fatalf("fake parser and writer: %v", err)
	}
	t.Cleanup(func() {
		if err := sim.Stop(); err != nil {
			t.Errorf("fake parser and writer: %v", err)
		}
	})
	return env
}
