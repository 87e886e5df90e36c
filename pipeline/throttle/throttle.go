// Package throttle paces the calls a REST client makes to a rate-limited
// API and retries the answers that mean "slow down" or "try again": each
// price source (Massive, Finnhub) has a plan with so many calls a minute,
// and one Caller per source keeps every page of every request inside it.
package throttle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"golang.org/x/time/rate"
)

// Temporary is implemented by errors a client knows to be worth retrying
// (HTTP 429, 5xx). RetryAfter, when non-zero, is how long the API asked
// the caller to wait.
type Temporary interface {
	error
	Temporary() bool
	RetryAfter() time.Duration
}

// Defaults.
const (
	DefaultBackoff     = 2 * time.Second
	DefaultMaxBackoff  = 2 * time.Minute
	DefaultMaxAttempts = 8
)

// Config says how fast a Caller may call and how it retries.
type Config struct {
	// PerMinute is the plan's calls a minute (required, > 0).
	PerMinute float64
	// Backoff is the first wait after a temporary failure; it doubles up to
	// MaxBackoff. A wait is never shorter than one call slot of the plan.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// MaxAttempts bounds the calls for one operation (default 8), so an
	// API that keeps refusing ends as an error naming its last answer.
	MaxAttempts int
	Log         *slog.Logger
	// OnRetry, when set, is told of every retry (metrics).
	OnRetry func(err error)
}

// Caller paces calls and retries temporary failures. It is safe for
// concurrent use; all users share its rate.
type Caller struct {
	cfg Config
	lim *rate.Limiter
}

// New returns a Caller; a non-positive PerMinute is an error.
func New(cfg Config) (*Caller, error) {
	if cfg.PerMinute <= 0 {
		return nil, fmt.Errorf("throttle: calls per minute %v: want a positive number", cfg.PerMinute)
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.MaxBackoff < cfg.Backoff {
		cfg.MaxBackoff = max(DefaultMaxBackoff, cfg.Backoff)
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Caller{cfg: cfg, lim: rate.NewLimiter(rate.Limit(cfg.PerMinute/60), 1)}, nil
}

// Slot is the time between two calls at the plan's rate.
func (c *Caller) Slot() time.Duration {
	return time.Duration(float64(time.Minute) / c.cfg.PerMinute)
}

// Do calls fn at the plan's rate, retrying while it fails temporarily,
// until it succeeds, fails for good, runs out of attempts or ctx ends.
func (c *Caller) Do(ctx context.Context, what string, fn func(ctx context.Context) error) error {
	wait := max(c.cfg.Backoff, c.Slot())
	var err error
	for attempt := 1; ; attempt++ {
		if werr := c.lim.Wait(ctx); werr != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("%s: rate limiter: %w", what, werr)
		}
		err = fn(ctx)
		if err == nil || !IsTemporary(err) || ctx.Err() != nil {
			return err
		}
		if attempt >= c.cfg.MaxAttempts {
			return fmt.Errorf("%s: gave up after %d attempts: %w", what, attempt, err)
		}
		d := wait
		var t Temporary
		if errors.As(err, &t) && t.RetryAfter() > d {
			d = min(t.RetryAfter(), c.cfg.MaxBackoff)
		}
		if c.cfg.OnRetry != nil {
			c.cfg.OnRetry(err)
		}
		c.cfg.Log.Warn("call failed temporarily; backing off", "call", what, "attempt", attempt, "err", err, "wait", d)
		tm := time.NewTimer(d)
		select {
		case <-ctx.Done():
			tm.Stop()
			return ctx.Err()
		case <-tm.C:
		}
		wait = min(2*wait, c.cfg.MaxBackoff)
	}
}

// IsTemporary says whether err is worth retrying: a client's Temporary
// error that says so, or a network failure (refused, reset, timed out).
func IsTemporary(err error) bool {
	var t Temporary
	if errors.As(err, &t) {
		return t.Temporary()
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe)
}
