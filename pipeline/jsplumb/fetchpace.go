package jsplumb

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// IdleFetch says whether a fetch error only means the pull expired empty.
func IdleFetch(err error) bool {
	return errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, jetstream.ErrNoMessages) || errors.Is(err, context.Canceled)
}

// FetchPacer paces a fetch loop whose fetches fail: each failure pauses
// longer, doubling from Min up to Max, so a lost server is not asked in a hot
// loop, and the log says when fetching starts failing and when it works
// again, not at every failure. The zero value pauses 100 ms to 5 s.
type FetchPacer struct {
	Min, Max time.Duration
	Log      *slog.Logger
	// What names the source in log lines (default "messages").
	What string

	pause   time.Duration
	failing bool
}

// Failed logs a change of state and pauses; it returns false when ctx ended.
func (p *FetchPacer) Failed(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	lo, hi := p.Min, p.Max
	if lo <= 0 {
		lo = 100 * time.Millisecond
	}
	hi = max(lo, hi)
	if p.Max <= 0 {
		hi = max(lo, 5*time.Second)
	}
	if p.pause < lo {
		p.pause = lo
	}
	if !p.failing {
		p.log().Warn("fetching "+p.what()+" failed; retrying with backoff", "err", err)
		p.failing = true
	} else {
		p.log().Debug("fetching "+p.what()+" still failing", "err", err, "pause", p.pause)
	}
	ok := Sleep(ctx, p.pause)
	p.pause = min(2*p.pause, hi)
	return ok
}

// OK ends a failing state (logging that it did) and resets the pause.
func (p *FetchPacer) OK() {
	if p.failing {
		p.log().Info("fetching " + p.what() + " works again")
	}
	p.failing, p.pause = false, 0
}

// Failing says whether the last fetch failed.
func (p *FetchPacer) Failing() bool { return p.failing }

func (p *FetchPacer) log() *slog.Logger {
	if p.Log == nil {
		return slog.Default()
	}
	return p.Log
}

func (p *FetchPacer) what() string {
	if p.What == "" {
		return "messages"
	}
	return p.What
}
