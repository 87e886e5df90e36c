package ledger_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/ledger"
	"github.com/feefifofunds/feefifofunds/pipeline/metrics"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

func TestApplyCommitsBeforeParsed(t *testing.T) {
	now := time.Now()
	e := contract.LedgerEntry{FileID: "f", State: contract.FileQueued}
	ledger.Apply(&e, contract.Progress{FileID: "f", Kind: "committed", Batch: 1, Rows: 10}, now)
	ledger.Apply(&e, contract.Progress{FileID: "f", Kind: "committed", Batch: 0, Rows: 8192}, now)
	if e.State != contract.FileQueued || e.BatchesDone != 2 || e.RowsCommitted != 8202 {
		t.Fatalf("after commits only: %+v", e)
	}
	ledger.Apply(&e, contract.Progress{FileID: "f", Kind: "parsed", Batches: 3, RowsParsed: 8203}, now)
	if e.State != contract.FileParsed {
		t.Fatalf("two of three batches committed: state %s, want PARSED", e.State)
	}
	ledger.Apply(&e, contract.Progress{FileID: "f", Kind: "committed", Batch: 2, Rows: 1}, now)
	if e.State != contract.FileCommitted || e.RowsCommitted != 8203 {
		t.Fatalf("all committed: %+v", e)
	}
}

func TestApplyAllCommitsThenParsed(t *testing.T) {
	e := contract.LedgerEntry{FileID: "f", State: contract.FileQueued}
	now := time.Now()
	ledger.Apply(&e, contract.Progress{Kind: "committed", Batch: 0, Rows: 5}, now)
	if e.State != contract.FileQueued {
		t.Fatalf("batch count unknown, yet state %s", e.State)
	}
	ledger.Apply(&e, contract.Progress{Kind: "parsed", Batches: 1, RowsParsed: 5, RowsRejected: 2,
		Errors: []contract.RowError{{Line: 3, Reason: "bad"}, {Line: 4, Reason: "bad"}}}, now)
	if e.State != contract.FileCommitted || e.RowsRejected != 2 || len(e.Errors) != 2 {
		t.Fatalf("got %+v", e)
	}
}

func TestApplyIdempotent(t *testing.T) {
	now := time.Now()
	reports := []contract.Progress{
		{Kind: "parsed", Batches: 2, RowsParsed: 15},
		{Kind: "committed", Batch: 0, Rows: 10},
		{Kind: "committed", Batch: 1, Rows: 5},
	}
	e := contract.LedgerEntry{FileID: "f", State: contract.FileQueued}
	for _, p := range reports {
		if !ledger.Apply(&e, p, now) {
			t.Fatalf("first %s changed nothing", p.Kind)
		}
	}
	want := e
	for _, p := range reports {
		if ledger.Apply(&e, p, now.Add(time.Hour)) {
			t.Fatalf("second %s (batch %d) changed the entry: %+v", p.Kind, p.Batch, e)
		}
	}
	if e.RowsCommitted != want.RowsCommitted || e.BatchesDone != 2 || e.State != contract.FileCommitted || !e.Updated.Equal(want.Updated) {
		t.Fatalf("replayed reports changed %+v into %+v", want, e)
	}
}

func TestApplyRejectedAndFailed(t *testing.T) {
	now := time.Now()
	e := contract.LedgerEntry{FileID: "f", State: contract.FileQueued}
	ledger.Apply(&e, contract.Progress{Kind: "rejected", Reason: "no valid row", RowsRejected: 3}, now)
	if e.State != contract.FileRejected || e.Reason != "no valid row" || e.RowsRejected != 3 {
		t.Fatalf("rejected: %+v", e)
	}

	e = contract.LedgerEntry{FileID: "g", State: contract.FileQueued}
	ledger.Apply(&e, contract.Progress{Kind: "parsed", Batches: 2, RowsParsed: 4}, now)
	ledger.Apply(&e, contract.Progress{Kind: "committed", Batch: 0, Rows: 2}, now)
	ledger.Apply(&e, contract.Progress{Kind: "failed", Batch: 1, Reason: "table is read only"}, now)
	if e.State != contract.FileFailed || e.Reason != "batch 1: table is read only" {
		t.Fatalf("failed: %+v", e)
	}
	if ledger.Apply(&e, contract.Progress{Kind: "failed", Batch: 1, Reason: "table is read only"}, now) {
		t.Fatal("the same failure twice changed the entry")
	}
	// The dead-lettered batch replayed from the DLQ and committed.
	ledger.Apply(&e, contract.Progress{Kind: "committed", Batch: 1, Rows: 2}, now)
	if e.State != contract.FileCommitted || e.RowsCommitted != 4 || e.Reason != "" {
		t.Fatalf("after replay of the failed batch: %+v", e)
	}
}

// A file the parser gave up on, whose event was replayed from the DLQ and
// then parsed, ends COMMITTED; a file refused for its content stays REJECTED.
func TestApplyReopensGivenUpFile(t *testing.T) {
	now := time.Now()
	e := contract.LedgerEntry{FileID: "f", State: contract.FileQueued}
	ledger.Apply(&e, contract.Progress{Kind: "rejected", Reason: ledger.GaveUpPrefix + "gave up after 4 attempts: read error"}, now)
	ledger.Apply(&e, contract.Progress{Kind: "parsed", Batches: 1, RowsParsed: 3}, now)
	ledger.Apply(&e, contract.Progress{Kind: "committed", Rows: 3}, now)
	if e.State != contract.FileCommitted || e.Reason != "" || e.RowsCommitted != 3 {
		t.Errorf("replayed file: %+v", e)
	}
	e = contract.LedgerEntry{FileID: "g", State: contract.FileQueued}
	ledger.Apply(&e, contract.Progress{Kind: "rejected", Reason: "no valid row"}, now)
	ledger.Apply(&e, contract.Progress{Kind: "parsed", Batches: 1, RowsParsed: 3}, now)
	if e.State != contract.FileRejected {
		t.Errorf("refused file reopened: %+v", e)
	}
}

func TestApplyCommittedStaysCommitted(t *testing.T) {
	e := contract.LedgerEntry{FileID: "f", State: contract.FileCommitted, Batches: 1, BatchesDone: 1}
	if ledger.Apply(&e, contract.Progress{Kind: "rejected", Reason: ledger.GaveUpPrefix + "bytes gone"}, time.Now()) ||
		e.State != contract.FileCommitted {
		t.Errorf("a late rejection undid a commit: %+v", e)
	}
}

func TestApplyIgnoresOtherRuns(t *testing.T) {
	now := time.Now()
	e := contract.LedgerEntry{FileID: "f", State: contract.FileQueued, Run: "b"}
	for _, p := range []contract.Progress{
		{Kind: "parsed", Batches: 1, RowsParsed: 9},
		{Kind: "committed", Rows: 9, Run: "a"},
		{Kind: "rejected", Reason: "old run", Run: "a"},
	} {
		if ledger.Apply(&e, p, now) {
			t.Errorf("report of run %q changed an entry of run %q: %+v", p.Run, e.Run, e)
		}
	}
	if !ledger.Apply(&e, contract.Progress{Kind: "parsed", Batches: 1, RowsParsed: 9, Run: "b"}, now) || e.State != contract.FileParsed {
		t.Errorf("report of the entry's run not applied: %+v", e)
	}
}

func TestApplyCapsErrors(t *testing.T) {
	errs := make([]contract.RowError, 250)
	for i := range errs {
		errs[i] = contract.RowError{Line: i + 1, Reason: "bad"}
	}
	e := contract.LedgerEntry{FileID: "f"}
	ledger.Apply(&e, contract.Progress{Kind: "parsed", Batches: 1, RowsRejected: 250, Errors: errs}, time.Now())
	if len(e.Errors) != ledger.MaxErrors || e.RowsRejected != 250 {
		t.Fatalf("kept %d errors, rows rejected %d", len(e.Errors), e.RowsRejected)
	}
}

func publish(t *testing.T, js jetstream.JetStream, p contract.Progress, msgID string) {
	t.Helper()
	b, _ := json.Marshal(p)
	opts := []jetstream.PublishOpt{}
	if msgID != "" {
		opts = append(opts, jetstream.WithMsgID(msgID))
	}
	if _, err := js.Publish(context.Background(), topology.ProgressSubject(p.FileID), b, opts...); err != nil {
		t.Fatal(err)
	}
}

func waitState(t *testing.T, led *ledger.Ledger, id, state string) contract.LedgerEntry {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		e, _, err := led.Get(context.Background(), id)
		if err == nil && e.State == state {
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("file %s: state %q (err %v), want %s", id, e.State, err, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestKeeperFoldsProgress(t *testing.T) {
	env := testenv.StartJetStream(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	led, err := ledger.Open(ctx, env.JS)
	if err != nil {
		t.Fatal(err)
	}
	id := "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	obj, err := env.JS.ObjectStore(ctx, topology.BucketFileData)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := obj.PutBytes(ctx, id, []byte("1,2,3\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := led.Create(ctx, contract.LedgerEntry{FileID: id, Name: "XBTUSD_60.csv", State: contract.FileQueued, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := led.Create(ctx, contract.LedgerEntry{FileID: id, State: contract.FileQueued}); !errors.Is(err, ledger.ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	events, err := led.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}

	done := make(chan error, 2)
	reg := metrics.NewRegistry()
	// Two keepers compete for the reports, as the watcher and fff ingest may.
	for range 2 {
		go func() { done <- ledger.Run(ctx, ledger.Config{JS: env.JS, Metrics: reg}) }()
	}

	// Commits before "parsed", and a report delivered twice without a
	// message id (so JetStream does not drop the copy).
	publish(t, env.JS, contract.Progress{FileID: id, Kind: "committed", Batch: 2, Rows: 7}, "")
	publish(t, env.JS, contract.Progress{FileID: id, Kind: "committed", Batch: 0, Rows: 100}, "")
	publish(t, env.JS, contract.Progress{FileID: id, Kind: "committed", Batch: 0, Rows: 100}, "")
	publish(t, env.JS, contract.Progress{FileID: id, Kind: "parsed", Batches: 3, RowsParsed: 207, RowsRejected: 1,
		Errors: []contract.RowError{{Line: 9, Reason: "low above open"}}}, "")
	waitState(t, led, id, contract.FileParsed)
	publish(t, env.JS, contract.Progress{FileID: id, Kind: "committed", Batch: 1, Rows: 100}, "")
	publish(t, env.JS, contract.Progress{FileID: id, Kind: "parsed", Batches: 3, RowsParsed: 207, RowsRejected: 1,
		Errors: []contract.RowError{{Line: 9, Reason: "low above open"}}}, "")
	e := waitState(t, led, id, contract.FileCommitted)
	if e.RowsCommitted != 207 || e.BatchesDone != 3 || e.RowsRejected != 1 || e.Name != "XBTUSD_60.csv" {
		t.Fatalf("committed entry: %+v", e)
	}
	// Its bytes are no longer kept once it is committed.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := obj.GetInfo(ctx, id); errors.Is(err, jetstream.ErrObjectNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a committed file's bytes are still in FILEDATA")
		}
	}
	// Its wait from QUEUED to COMMITTED was timed once (before the bytes
	// went), however many reports and keepers took part.
	queryable := reg.Histogram("fff_ledger_file_seconds", "", nil)
	if queryable.Count() != 1 || queryable.Sum() <= 0 {
		t.Fatalf("time-to-queryable: %d observations, %vs; want 1", queryable.Count(), queryable.Sum())
	}

	// The watch saw the file go through its states, ending COMMITTED.
	deadline := time.After(5 * time.Second)
	for seen := false; !seen; {
		select {
		case ev := <-events:
			seen = ev.Entry.FileID == id && ev.Entry.State == contract.FileCommitted
		case <-deadline:
			t.Fatal("the watch never delivered the COMMITTED entry")
		}
	}

	// Replaying every report again changes nothing.
	_, rev, _ := led.Get(ctx, id)
	for b := range 3 {
		publish(t, env.JS, contract.Progress{FileID: id, Kind: "committed", Batch: uint32(b), Rows: 100}, "")
	}
	waitConsumed(t, env.JS)
	e2, rev2, _ := led.Get(ctx, id)
	if rev2 != rev || e2.RowsCommitted != 207 {
		t.Fatalf("replayed commits changed the entry: rev %d→%d rows %d", rev, rev2, e2.RowsCommitted)
	}
	if queryable.Count() != 1 {
		t.Fatalf("replayed commits timed the file again: %d observations", queryable.Count())
	}

	// A report for a file the ledger does not know is consumed and dropped:
	// an entry made of reports alone would name no file.
	publish(t, env.JS, contract.Progress{FileID: "bbbb", Kind: "rejected", Reason: "no valid row"}, "")
	waitConsumed(t, env.JS)
	if _, _, err := led.Get(ctx, "bbbb"); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("a report for an unknown file made an entry (err %v)", err)
	}

	// A forced run starts the entry over under a new run name; late reports
	// of the previous run do not count towards it.
	_, rev, _ = led.Get(ctx, id)
	if _, err := led.Put(ctx, contract.LedgerEntry{FileID: id, Name: "XBTUSD_60.csv", State: contract.FileQueued,
		Run: "r2", Created: time.Now()}, rev); err != nil {
		t.Fatal(err)
	}
	publish(t, env.JS, contract.Progress{FileID: id, Kind: "committed", Batch: 0, Rows: 100}, "")
	publish(t, env.JS, contract.Progress{FileID: id, Run: "r2", Kind: "parsed", Batches: 1, RowsParsed: 5}, "")
	publish(t, env.JS, contract.Progress{FileID: id, Run: "r2", Kind: "committed", Batch: 0, Rows: 5}, "")
	e = waitState(t, led, id, contract.FileCommitted)
	if e.RowsCommitted != 5 || e.BatchesDone != 1 || e.Run != "r2" {
		t.Fatalf("forced run's entry: %+v", e)
	}
	testenv.WaitValue(t, "files timed", func() float64 { return float64(queryable.Count()) }, 2, 5*time.Second)

	// A malformed report goes to the DLQ instead of blocking the keeper.
	if _, err := env.JS.Publish(ctx, topology.ProgressSubject("x"), []byte("not json")); err != nil {
		t.Fatal(err)
	}
	waitConsumed(t, env.JS)
	dlq, err := env.JS.Stream(ctx, topology.StreamDLQ)
	if err != nil {
		t.Fatal(err)
	}
	testenv.WaitValue(t, "DLQ messages", func() float64 {
		info, err := dlq.Info(ctx)
		if err != nil {
			return -1
		}
		return float64(info.State.Msgs)
	}, 1, 10*time.Second)

	cancel()
	for range 2 {
		if err := <-done; err != nil {
			t.Fatalf("keeper returned %v on shutdown", err)
		}
	}
}

// waitConsumed waits until the keepers acked every progress report.
func waitConsumed(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := js.Consumer(context.Background(), topology.StreamProgress, topology.ConsumerProgress)
		if err != nil {
			t.Fatal(err)
		}
		info, err := c.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if info.NumPending == 0 && info.NumAckPending == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("progress not consumed: pending %d, ack pending %d", info.NumPending, info.NumAckPending)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
