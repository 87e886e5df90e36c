package ingest

import (
	"context"
	"fmt"
	"time"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/ledger"
)

// Settlement is a tracked file whose ledger entry reached COMMITTED,
// REJECTED or FAILED.
type Settlement[T any] struct {
	Ref      T // what the caller tracked the file with
	Entry    contract.LedgerEntry
	Revision uint64
}

type waiter[T any] struct {
	minRev uint64
	ref    T
}

type trackedFile[T any] struct {
	waiters  []waiter[T]
	latest   contract.LedgerEntry
	reputRev uint64 // the last revision handed out by Reputs
}

// Tracker follows submitted files in the LEDGER bucket until each settles.
// It is driven from one goroutine, the caller's event loop: the caller
// selects on Events and hands each event to Apply, so the caller's state
// needs no locks.
type Tracker[T any] struct {
	led    *ledger.Ledger
	events <-chan ledger.Event
	files  map[string]*trackedFile[T]
	reputs []ReputRequest[T]
}

// NewTracker starts watching the ledger. Start it before submitting, so no
// state change of a file to be tracked can slip by.
func NewTracker[T any](ctx context.Context, led *ledger.Ledger) (*Tracker[T], error) {
	t := &Tracker[T]{led: led, files: map[string]*trackedFile[T]{}}
	if err := t.Rewatch(ctx); err != nil {
		return nil, err
	}
	return t, nil
}

// Events are the ledger changes to pass to Apply. The channel closes when
// the watch ends; then call Rewatch (unless ctx is done).
func (t *Tracker[T]) Events() <-chan ledger.Event { return t.events }

// Rewatch starts the ledger watch again after Events closed.
func (t *Tracker[T]) Rewatch(ctx context.Context) error {
	events, err := t.led.Watch(ctx)
	if err != nil {
		return fmt.Errorf("watch the ledger: %w", err)
	}
	t.events = events
	return nil
}

// Track waits for the file of the submitted entry to settle at revision
// minRev or later (what Submit returned: older states are of an earlier
// run). One file may be tracked under several refs; each settles once. It
// catches up with what happened since the submission and returns the
// settlements that already happened.
func (t *Tracker[T]) Track(ctx context.Context, submitted contract.LedgerEntry, minRev uint64, ref T) []Settlement[T] {
	f := t.files[submitted.FileID]
	if f == nil {
		f = &trackedFile[T]{latest: submitted}
		t.files[submitted.FileID] = f
	}
	f.waiters = append(f.waiters, waiter[T]{minRev: minRev, ref: ref})
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	e, rev, err := t.led.Get(ctx, submitted.FileID)
	if err != nil {
		return nil // the watch brings the next change
	}
	return t.Apply(ledger.Event{Entry: e, Revision: rev})
}

// Apply takes one ledger change and returns the tracked files it settles.
func (t *Tracker[T]) Apply(ev ledger.Event) []Settlement[T] {
	f := t.files[ev.Entry.FileID]
	if f == nil {
		return nil
	}
	oldest := f.waiters[0].minRev
	for _, w := range f.waiters[1:] {
		oldest = min(oldest, w.minRev)
	}
	if ev.Revision < oldest {
		return nil // a state from before every submission tracked
	}
	f.latest = ev.Entry
	if NeedsReput(ev.Entry) && ev.Revision > f.reputRev {
		f.reputRev = ev.Revision
		t.reputs = append(t.reputs, ReputRequest[T]{Ref: f.waiters[0].ref, Entry: ev.Entry})
	}
	if !ledger.Terminal(ev.Entry.State) {
		return nil
	}
	var out []Settlement[T]
	keep := f.waiters[:0]
	for _, w := range f.waiters {
		if ev.Revision < w.minRev {
			keep = append(keep, w) // an older state than the one submitted
			continue
		}
		out = append(out, Settlement[T]{Ref: w.ref, Entry: ev.Entry, Revision: ev.Revision})
	}
	f.waiters = keep
	if len(keep) == 0 {
		delete(t.files, ev.Entry.FileID)
	}
	return out
}

// ReputRequest is a tracked file whose ledger entry asks for its bytes to
// be put in FILEDATA again (NeedsReput): hand Ref's candidate and Entry to
// Submitter.Reput.
type ReputRequest[T any] struct {
	Ref   T
	Entry contract.LedgerEntry
}

// Reputs returns the requests for bytes seen by Apply and Track since the
// last call, each ledger revision once. The keeper writes the entry only
// when the parser's answer changes (repeated waiting reports leave it as
// it is), so acting once on each request puts the bytes once, not once per
// parser retry.
func (t *Tracker[T]) Reputs() []ReputRequest[T] {
	out := t.reputs
	t.reputs = nil
	return out
}

// Waiting is the number of file ids not settled yet.
func (t *Tracker[T]) Waiting() int { return len(t.files) }

// Latest is the last entry seen of a file not settled yet.
func (t *Tracker[T]) Latest(fileID string) (contract.LedgerEntry, bool) {
	f := t.files[fileID]
	if f == nil {
		return contract.LedgerEntry{}, false
	}
	return f.latest, true
}

// Queued lists the files not settled whose entry was last seen QUEUED: the
// only ones whose work can have been lost (see Submitter.RequeueLost).
func (t *Tracker[T]) Queued() []string {
	var ids []string
	for id, f := range t.files {
		if f.latest.State == contract.FileQueued {
			ids = append(ids, id)
		}
	}
	return ids
}
