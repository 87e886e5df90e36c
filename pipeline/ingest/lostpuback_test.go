package ingest_test

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/ingest"
	"github.com/feefifofunds/feefifofunds/pipeline/ledger"
	"github.com/feefifofunds/feefifofunds/pipeline/ledger/ledgertest"
	"github.com/feefifofunds/feefifofunds/pipeline/metrics"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// lostPubAcks stores what is published on FILES but answers the first n
// publishes with an error, as when the stream's leader goes between storing
// a message and acknowledging it.
type lostPubAcks struct {
	jetstream.JetStream
	n atomic.Int32
}

func (l *lostPubAcks) Publish(ctx context.Context, subj string, data []byte, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	ack, err := l.JetStream.Publish(ctx, subj, data, opts...)
	if err == nil && subj == topology.SubjectFiles && l.n.Add(-1) >= 0 {
		return nil, context.DeadlineExceeded
	}
	return ack, err
}

// A file whose work was stored but whose PubAcks were all lost must still
// end COMMITTED: the submission fails, the ledger entry stays, and the
// parser's reports fold into it. (The entry used to be undone: the reports
// were dropped, the retry's event was a duplicate, and the file waited
// QUEUED for ever.)
func TestFileWithLostPubAcksIsCommitted(t *testing.T) {
	env := testenv.StartFakeStages(t, ledgertest.Options{})
	ctx := testenv.Context(t, 30*time.Second)
	keeper := make(chan error, 1)
	kctx, stopKeeper := context.WithCancel(ctx)
	go func() {
		keeper <- ledger.Run(kctx, ledger.Config{JS: env.JS, Log: testenv.Logger(t), Metrics: metrics.NewRegistry()})
	}()
	defer func() {
		stopKeeper()
		if err := <-keeper; err != nil {
			t.Errorf("ledger keeper: %v", err)
		}
	}()
	js := &lostPubAcks{JetStream: env.JS}
	js.n.Store(3) // every attempt of the first submission
	path := filepath.Join(t.TempDir(), "XBTUSD_60.csv")
	if err := os.WriteFile(path, testenv.HourlyCSV(1600000000, 10, 100), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ingest.Submit(ctx, js, path, ingest.SubmitOptions{})
	if err == nil {
		t.Fatal("first submission: no error, though no publish was acknowledged")
	}
	// The watcher tries again: the entry is in flight (or done already).
	sub, err := ingest.Submit(ctx, js, path, ingest.SubmitOptions{})
	if err != nil || sub.Outcome == ingest.Queued {
		t.Fatalf("second submission: %v, %v; want the first one's entry in flight or settled", sub.Outcome, err)
	}
	s, err := ingest.NewSubmitter(ctx, env.JS, testenv.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	for {
		e, _, err := s.Ledger().Get(ctx, sub.Entry.FileID)
		if err == nil && e.State == contract.FileCommitted {
			if e.RowsCommitted != 10 {
				t.Errorf("committed %d rows, want 10", e.RowsCommitted)
			}
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("file not COMMITTED: %+v %v", e, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// A bulk load reports such a file by what became of it, not as NOT
// SUBMITTED: its entry is QUEUED and its work was stored, so it commits,
// and a user told otherwise would load it again.
func TestLoadFollowsAFileWithLostPubAcks(t *testing.T) {
	env := testenv.StartFakeStages(t, ledgertest.Options{})
	ctx := testenv.Context(t, 30*time.Second)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "XBTUSD_60.csv"), testenv.HourlyCSV(1600000000, 10, 100), 0o644); err != nil {
		t.Fatal(err)
	}
	js := &lostPubAcks{JetStream: env.JS}
	js.n.Store(3) // every attempt of the one submission
	sum, err := ingest.Load(ctx, js, ingest.Options{Dir: dir, Log: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Committed != 1 || sum.Failed != 0 || sum.NotSubmitted != 0 || sum.Records != 10 || len(sum.Failures) != 0 {
		t.Fatalf("summary %+v, want the file committed with its 10 rows and no failure", sum)
	}
	if left := js.n.Load(); left > 0 {
		t.Fatalf("%d of the 3 acknowledgements were not lost: the test did not test that", left)
	}
}
