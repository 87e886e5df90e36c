package ingest_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/ingest"
	"github.com/feefifofunds/feefifofunds/pipeline/ledger/ledgertest"
)

func TestLoadStopOnError(t *testing.T) {
	env := testenv.StartFakeStages(t, ledgertest.Options{BatchRows: 50})
	dir := t.TempDir()
	// Sorted by tier, then interval: the bad one-minute file goes first.
	os.WriteFile(filepath.Join(dir, "XBTUSD_1.csv"), []byte("BAD\n"), 0o644)
	testenv.CopyKrakenFixture(t, dir, "XBTUSD_1440.csv")
	testenv.CopyKrakenFixture(t, dir, "ETHUSD_1440.csv")
	cands, _, err := ingest.Scan(dir, ingest.Filters{})
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
	if n := testenv.FilesPublished(t, env.JS); n != 1 {
		t.Errorf("%d files submitted after the first failure, want none", n-1)
	}
}
