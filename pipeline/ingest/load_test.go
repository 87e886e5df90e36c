package ingest_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/ingest"
	"github.com/feefifofunds/feefifofunds/pipeline/ledger/ledgertest"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
	"github.com/feefifofunds/feefifofunds/pipeline/watcher"
)

const krakenFixtures = "../../testdata/kraken"

func copyFixture(t *testing.T, dir, name string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(krakenFixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// filesPublished is the last sequence of the FILES stream: how many files
// were submitted.
func filesPublished(t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	s, err := js.Stream(context.Background(), topology.StreamFiles)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.LastSeq
}

func TestLoadStopOnError(t *testing.T) {
	env := testenv.StartJetStream(t)
	sim, err := ledgertest.Start(context.Background(), env.JS, ledgertest.Options{BatchRows: 50})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Stop()
	dir := t.TempDir()
	// Sorted by tier, then interval: the bad one-minute file goes first.
	os.WriteFile(filepath.Join(dir, "XBTUSD_1.csv"), []byte("BAD\n"), 0o644)
	copyFixture(t, dir, "XBTUSD_1440.csv")
	copyFixture(t, dir, "ETHUSD_1440.csv")
	cands, _, err := watcher.Scan(dir, watcher.Filters{})
	if err != nil || len(cands) != 3 || cands[0].Name != "XBTUSD_1.csv" {
		t.Fatalf("scan: %v %+v", err, cands)
	}
	sum, err := ingest.Load(context.Background(), env.JS, ingest.Options{Candidates: cands, StopOnError: true, InFlight: 1})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Failed != 1 || sum.NotSubmitted != 2 || sum.Committed != 0 || len(sum.Failures) != 1 || sum.Failures[0].State != contract.FileRejected {
		t.Fatalf("summary %+v", sum)
	}
	if n := filesPublished(t, env.JS); n != 1 {
		t.Errorf("%d files submitted after the first failure, want none", n-1)
	}
}
