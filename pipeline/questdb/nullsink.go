package questdb

import (
	"context"
	"math"
	"sync/atomic"
	"time"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

// NullSink is a Sink that stores nothing and commits every request at once,
// so a benchmark can measure what comes before QuestDB without ILP encoding
// or HTTP (NullServer keeps both, answering like QuestDB's endpoint).
// The counters may be read from other goroutines.
type NullSink struct {
	Requests atomic.Int64
	Batches  atomic.Int64
	Rows     atomic.Int64
}

var (
	_ Sink = (*NullSink)(nil)
	_ Sink = (*ILPSink)(nil)
)

// Add accepts b; Commit counts it.
func (n *NullSink) Add(context.Context, *contract.Batch) error { return nil }

// Commit reads every batch (a batch that cannot be read is reported
// rejected, as the ILP sink does) and reports the rest committed.
func (n *NullSink) Commit(ctx context.Context, count int, get BatchFunc, h Hooks) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	n.Requests.Add(1)
	lo := 0
	for i := 0; i < count; i++ {
		b, err := get(i)
		if err == nil {
			n.Batches.Add(1)
			n.Rows.Add(int64(len(b.Candles)))
			continue
		}
		if lo < i && h.Committed != nil {
			h.Committed(lo, i)
		}
		if h.Rejected != nil {
			h.Rejected(i, &rejectedError{err})
		}
		lo = i + 1
	}
	if lo < count && h.Committed != nil {
		h.Committed(lo, count)
	}
	return nil
}

// LastFlush is zero: nothing is sent.
func (n *NullSink) LastFlush() time.Duration { return 0 }

// Room is unbounded: nothing is buffered.
func (n *NullSink) Room() int { return math.MaxInt }

// Close does nothing.
func (n *NullSink) Close(context.Context) error { return nil }
