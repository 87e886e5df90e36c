package jsplumb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrConflict is returned by Update when other writers kept changing the
// record between its read and its write for every attempt.
var ErrConflict = errors.New("record kept changing under concurrent writers")

// ErrUnreadable is returned by Get for a record whose bytes do not decode.
var ErrUnreadable = errors.New("record does not decode")

// The unreadable-record policy, the same for every bucket: reading one
// (Get) reports ErrUnreadable, so nobody acts on a guess; updating one
// (Update) treats it as absent, so fn sees the zero value and exists false,
// and what fn writes replaces it, compare-and-set against the unreadable
// revision so a repair made meanwhile is not overwritten. A record that no
// writer may replace would block its key for good, and the buckets are
// people-editable.

// UpdateOption configures Update.
type UpdateOption func(*updateOpts)

type updateOpts struct {
	attempts int
	log      *slog.Logger
}

// WithAttempts bounds the read-change-write rounds (default 50).
func WithAttempts(n int) UpdateOption { return func(o *updateOpts) { o.attempts = max(n, 1) } }

// WithUpdateLogger is where a replaced unreadable record is reported
// (default slog.Default()).
func WithUpdateLogger(l *slog.Logger) UpdateOption { return func(o *updateOpts) { o.log = l } }

// Get reads the JSON record under key. ok is false when there is none
// (or it was deleted); an unreadable record is an error wrapping ErrUnreadable.
func Get[T any](ctx context.Context, kv jetstream.KeyValue, key string) (v T, rev uint64, ok bool, err error) {
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return v, 0, false, nil
	}
	if err != nil {
		return v, 0, false, fmt.Errorf("read %s/%s: %w", kv.Bucket(), key, err)
	}
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		return v, e.Revision(), false, fmt.Errorf("read %s/%s: %w: %w", kv.Bucket(), key, ErrUnreadable, err)
	}
	return v, e.Revision(), true, nil
}

// Update applies fn to the JSON record under key and writes the result with
// compare-and-set, reading again when another writer got in between. fn
// gets the zero T and exists false when there is no (readable) record; it
// returns changed false to write nothing, or an error to stop (returned as
// is). Update returns the record as last seen or written and its revision.
//
// fn may run several times and must start from what it is given each time.
func Update[T any](ctx context.Context, kv jetstream.KeyValue, key string, fn func(cur *T, exists bool) (changed bool, err error), opts ...UpdateOption) (T, uint64, error) {
	o := updateOpts{attempts: 50}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = slog.Default()
	}
	var zero T
	for attempt := 0; attempt < o.attempts; attempt++ {
		if attempt > 0 && !Sleep(ctx, conflictPause(attempt)) {
			return zero, 0, ctx.Err()
		}
		var (
			cur    T
			rev    uint64
			exists bool
		)
		e, err := kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
			// A deleted key keeps a revision (its tombstone); Create accepts it.
		case err != nil:
			return zero, 0, fmt.Errorf("read %s/%s: %w", kv.Bucket(), key, err)
		default:
			rev = e.Revision()
			if derr := json.Unmarshal(e.Value(), &cur); derr != nil {
				o.log.Warn("unreadable record; an update replaces it", "bucket", kv.Bucket(), "key", key, "err", derr)
				cur = zero
			} else {
				exists = true
			}
		}
		changed, err := fn(&cur, exists)
		if err != nil {
			return cur, rev, err
		}
		if !changed {
			return cur, rev, nil
		}
		data, err := json.Marshal(cur)
		if err != nil {
			return cur, rev, fmt.Errorf("encode %s/%s: %w", kv.Bucket(), key, err)
		}
		var nrev uint64
		if rev == 0 {
			nrev, err = kv.Create(ctx, key, data)
		} else {
			nrev, err = kv.Update(ctx, key, data, rev)
		}
		if err == nil {
			return cur, nrev, nil
		}
		if !isConflict(err) {
			return cur, rev, fmt.Errorf("write %s/%s: %w", kv.Bucket(), key, err)
		}
	}
	return zero, 0, fmt.Errorf("write %s/%s: gave up after %d attempts: %w", kv.Bucket(), key, o.attempts, ErrConflict)
}

// isConflict says whether a write lost a compare-and-set race: Create on a
// key that now exists, Update on a revision that is no longer the last.
func isConflict(err error) bool {
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch)
}

// conflictPause spreads writers that collided, so they do not collide
// again in lockstep: 1-5 ms times the attempt, up to 50 ms.
func conflictPause(attempt int) time.Duration {
	base := time.Duration(min(attempt, 10)) * time.Millisecond
	return base + rand.N(4*base+time.Millisecond)
}
