package questdb

import (
	"context"
	"errors"
	"time"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

// Sink stores requests of candle batches in one table, each request as one
// transaction. The writer and replay depend on this rather than on ILP, so a
// benchmark can put a NullSink where QuestDB would be.
//
// A Sink is not safe for concurrent use: give each worker its own.
type Sink interface {
	// Add encodes b into the pending request ahead of Commit, so the writer
	// can encode while it gathers. A Rejected error concerns b alone.
	Add(ctx context.Context, b *contract.Batch) error
	// Commit writes batches [0, n) and reports each through h; see
	// ILPSink.Commit for the contract.
	Commit(ctx context.Context, n int, get BatchFunc, h Hooks) error
	// LastFlush is how long the last accepted request took.
	LastFlush() time.Duration
	// Room is about how many more rows the pending request takes before
	// the sink would have to grow its buffer (math.MaxInt when it need not).
	Room() int
	// Close releases the connection; rows not committed are dropped.
	Close(ctx context.Context) error
}

// BatchFunc returns batch i of a request. The batch is only used until the
// next call, so a caller may decode into one scratch batch.
type BatchFunc func(i int) (*contract.Batch, error)

// Hooks tell Commit's caller what happened.
type Hooks struct {
	// Hold is called when QuestDB is unreachable or failing (network error,
	// 5xx). It waits before the next attempt (attempt counts from 1) and
	// returns nil to retry, or an error (the context's) to give up.
	Hold func(ctx context.Context, attempt int, rows int, err error) error
	// Committed says batches [lo, hi) are in QuestDB. Called in order.
	Committed func(lo, hi int)
	// Rejected says QuestDB refused batch i on its own, with its reason.
	Rejected func(i int, err error)
}

// rejectedError marks data QuestDB (or the client, before sending) refuses:
// sending it again cannot succeed.
type rejectedError struct{ err error }

func (e *rejectedError) Error() string { return e.err.Error() }
func (e *rejectedError) Unwrap() error { return e.err }

// unreachableError marks a QuestDB that did not answer or failed on its
// side: the same request may succeed later.
type unreachableError struct{ err error }

func (e *unreachableError) Error() string { return e.err.Error() }
func (e *unreachableError) Unwrap() error { return e.err }

// Rejected reports whether err means QuestDB refused the data itself, so
// that sending the same rows again cannot succeed (and bisecting can find the
// culprit). Everything else (network errors, 5xx, authentication, throttling)
// is worth waiting out.
func Rejected(err error) bool {
	var r *rejectedError
	return errors.As(err, &r)
}
