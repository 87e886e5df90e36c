package questdb

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ApplyWatcher tells when rows committed to a WAL table are queryable.
//
// QuestDB answers an ILP request once its transaction is in the table's WAL;
// queries see it only after the table's writer applied it. So a commit is
// visible once wal_tables().writerTxn reaches the sequencerTxn read after
// the commit (that txn is the commit's own or a later one). One watcher per
// table serves every worker writing it: it polls only while a commit waits,
// every Interval, and one query releases every waiter it can; while nothing
// waits it polls every Idle so that a suspended table is noticed anyway.
type ApplyWatcher struct {
	db    Querier
	table string
	o     ApplyOptions

	wake chan struct{}

	mu      sync.Mutex
	waiters []*applyWaiter
	state   WALState
	err     error // the last poll's error, nil when it succeeded
}

// ApplyOptions tune an ApplyWatcher.
type ApplyOptions struct {
	// Interval is the pause between polls while a commit waits (default
	// 20ms: WAL apply takes tens to hundreds of milliseconds).
	Interval time.Duration
	// Idle is the pause between polls while nothing waits (default 5s).
	Idle time.Duration
	// MaxBackoff caps the pause between polls that fail (default 2s).
	MaxBackoff time.Duration
	// OnPoll, when set, is told every poll's outcome, from the watcher's
	// goroutine (for metrics, health and logs).
	OnPoll func(s WALState, err error)
}

type applyWaiter struct {
	target int64 // sequencerTxn seen after the commit; -1 until polled
	done   chan error
}

// NewApplyWatcher watches table through db; run it with Run.
func NewApplyWatcher(db Querier, table string, o ApplyOptions) *ApplyWatcher {
	if o.Interval <= 0 {
		o.Interval = 20 * time.Millisecond
	}
	if o.Idle <= 0 {
		o.Idle = 5 * time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 2 * time.Second
	}
	return &ApplyWatcher{db: db, table: table, o: o, wake: make(chan struct{}, 1)}
}

// Watch registers a commit QuestDB confirmed before the call. The channel
// gets nil once the commit is queryable, or an error when it never will be
// (the table was dropped and created again, so its rows are gone; or the
// watcher stopped).
func (w *ApplyWatcher) Watch() <-chan error {
	wt := &applyWaiter{target: -1, done: make(chan error, 1)}
	w.mu.Lock()
	w.waiters = append(w.waiters, wt)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return wt.done
}

// State is the table's WAL state at the last poll, and that poll's error.
// Before the first poll it is the zero state and a nil error.
func (w *ApplyWatcher) State() (WALState, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.state, w.err
}

// Waiting is the number of commits waiting to become queryable.
func (w *ApplyWatcher) Waiting() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.waiters)
}

// Run polls until ctx ends, then fails whatever still waits.
func (w *ApplyWatcher) Run(ctx context.Context) {
	defer w.stop(ctx)
	var fail time.Duration // pause after a failed poll, growing to MaxBackoff
	for first := true; ; first = false {
		pause := w.o.Idle
		switch {
		case first:
			pause = 0
		case fail > 0:
			pause = fail
		case w.Waiting() > 0:
			pause = 0
		}
		// A new waiter cuts an idle (or failing) pause short.
		if pause > 0 && !w.sleep(ctx, pause, w.wake) {
			return
		}
		n := w.Waiting() // only commits registered before the query starts
		s, err := TableWAL(ctx, w.db, w.table)
		if ctx.Err() != nil {
			return
		}
		w.record(s, err)
		if err != nil && !errors.Is(err, ErrNotWAL) {
			fail = min(max(2*fail, w.o.Interval), w.o.MaxBackoff)
			continue
		}
		fail = 0
		if w.release(n, s, err) > 0 && !w.sleep(ctx, w.o.Interval, nil) {
			return
		}
	}
}

// sleep pauses for d, less when wake fires; false when ctx ended. (Since
// Go 1.23 an unfired time.After timer is collected, so no Stop is needed.)
func (w *ApplyWatcher) sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) bool {
	select {
	case <-wake:
	case <-time.After(d):
	case <-ctx.Done():
	}
	return ctx.Err() == nil
}

func (w *ApplyWatcher) record(s WALState, err error) {
	w.mu.Lock()
	w.state, w.err = s, err
	w.mu.Unlock()
	if w.o.OnPoll != nil {
		w.o.OnPoll(s, err)
	}
}

// release settles the first n waiters against one poll and returns how
// many still wait.
func (w *ApplyWatcher) release(n int, s WALState, err error) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	kept := w.waiters[:0]
	for i, wt := range w.waiters {
		if i >= n {
			kept = append(kept, wt)
			continue
		}
		switch {
		case err != nil: // not a WAL table: its commits are visible at once
			wt.done <- nil
			continue
		case wt.target < 0:
			wt.target = s.SequencerTxn
		case s.SequencerTxn < wt.target:
			wt.done <- fmt.Errorf("table %s was created again (its WAL is at txn %d, the commit was at %d): the committed rows are gone", w.table, s.SequencerTxn, wt.target)
			continue
		}
		if s.WriterTxn >= wt.target {
			wt.done <- nil
			continue
		}
		kept = append(kept, wt)
	}
	clear(w.waiters[len(kept):])
	w.waiters = kept
	return len(kept)
}

func (w *ApplyWatcher) stop(ctx context.Context) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, wt := range w.waiters {
		wt.done <- fmt.Errorf("stopped watching %s before the commit was applied: %w", w.table, context.Cause(ctx))
	}
	w.waiters = nil
}
