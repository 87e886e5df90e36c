package jsplumb

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Handler does the work of one message and returns its outcome: nil to
// acknowledge it, Retry, Term, DeadLetter, or any other error to retry it
// after the consumer's retry delay. ctx ends when Pull is stopping; a
// handler that returns an error then has its message handed back at once.
type Handler func(ctx context.Context, msg jetstream.Msg) error

// DeadLetterFunc stores msg on a dead-letter subject with the reason
// cause.Error() and terminates it (deadletter.Msg does both), together with
// whatever the stage reports about it. An error leaves the message to be
// redelivered.
type DeadLetterFunc func(ctx context.Context, msg jetstream.Msg, cause error) error

// PullOption configures Pull.
type PullOption func(*pullOpts)

type pullOpts struct {
	batch      int
	wait       time.Duration
	keepAlive  time.Duration
	retryDelay func(msg jetstream.Msg, err error) time.Duration
	deadLetter DeadLetterFunc
	dlqRetry   time.Duration
	ackTimeout time.Duration
	pauseMin   time.Duration
	pauseMax   time.Duration
	log        *slog.Logger
}

// WithBatch is how many messages one pull asks for (default 1: a message
// waiting behind a slow one would let its AckWait run).
func WithBatch(n int) PullOption { return func(o *pullOpts) { o.batch = max(n, 1) } }

// WithFetchWait is the pull's server-side expiry (default 1 s). It is also
// how long a stopping Pull may take to return.
func WithFetchWait(d time.Duration) PullOption { return func(o *pullOpts) { o.wait = d } }

// WithKeepAlive marks a message being handled in progress every d (default
// off). Pick a fraction of the consumer's AckWait.
func WithKeepAlive(d time.Duration) PullOption { return func(o *pullOpts) { o.keepAlive = d } }

// WithRetryDelay decides the redelivery delay of a message whose handler
// returned a plain error (default 1 s).
func WithRetryDelay(f func(msg jetstream.Msg, err error) time.Duration) PullOption {
	return func(o *pullOpts) { o.retryDelay = f }
}

// WithDeadLetter sets what a DeadLetter outcome does, and how long a
// message whose dead-lettering failed waits before it is delivered again
// (0: at once). Without it a DeadLetter outcome terminates the message.
func WithDeadLetter(f DeadLetterFunc, retryAfterFailure time.Duration) PullOption {
	return func(o *pullOpts) { o.deadLetter, o.dlqRetry = f, retryAfterFailure }
}

// WithFetchBackoff bounds the pause after a failed fetch: it doubles from
// lo up to hi while fetches keep failing (default 100 ms to 5 s).
func WithFetchBackoff(lo, hi time.Duration) PullOption {
	return func(o *pullOpts) { o.pauseMin, o.pauseMax = lo, max(lo, hi) }
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) PullOption { return func(o *pullOpts) { o.log = l } }

// Pull fetches from cons and hands each message to h until ctx ends, then
// returns ctx's error. It owns every acknowledgement.
//
// Each pull waits with a server-side expiry (FetchMaxWait), never a client
// context: nats.go (v1.55) ends a fetch whose context is done by dropping
// what the server already sent, and each dropped message then waited out
// AckWait unseen.
func Pull(ctx context.Context, cons jetstream.Consumer, h Handler, opts ...PullOption) error {
	o := pullOpts{
		batch: 1, wait: time.Second, ackTimeout: 10 * time.Second,
		retryDelay: func(jetstream.Msg, error) time.Duration { return time.Second },
		pauseMin:   100 * time.Millisecond, pauseMax: 5 * time.Second,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = slog.Default()
	}
	p := &puller{o: o, pace: FetchPacer{Min: o.pauseMin, Max: o.pauseMax, Log: o.log}}
	for ctx.Err() == nil {
		batch, err := cons.Fetch(o.batch, jetstream.FetchMaxWait(o.wait))
		if err != nil {
			p.pace.Failed(ctx, err)
			continue
		}
		for msg := range batch.Messages() {
			p.handle(ctx, h, msg)
		}
		if err := batch.Error(); err != nil && !IdleFetch(err) {
			p.pace.Failed(ctx, err)
			continue
		}
		p.pace.OK()
	}
	return ctx.Err()
}

type puller struct {
	o    pullOpts
	pace FetchPacer
}

// handle runs h on msg under a keep-alive and settles msg by its outcome.
func (p *puller) handle(ctx context.Context, h Handler, msg jetstream.Msg) {
	stop := func() {}
	if p.o.keepAlive > 0 {
		stop = KeepAlive(ctx, p.o.keepAlive, One(msg), p.o.log)
	}
	err := h(ctx, msg)
	stop()
	p.settle(ctx, msg, err)
}

// settle carries out a handler's outcome. Failures to settle are logged
// only: the server redelivers an unsettled message after AckWait, which is
// the at-least-once the stages are built for.
func (p *puller) settle(ctx context.Context, msg jetstream.Msg, err error) {
	log := p.o.log.With("subject", msg.Subject())
	var (
		re *retryError
		te *termError
		de *deadLetterError
	)
	switch {
	case err == nil:
		// Ack even if shutdown began meanwhile: the work is done. DoubleAck
		// so that a lost ack is known here rather than redelivered silently.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.o.ackTimeout)
		defer cancel()
		if aerr := msg.DoubleAck(actx); aerr != nil {
			log.Warn("ack failed; the message will be redelivered", "err", aerr)
		}
	case errors.As(err, &de):
		if p.o.deadLetter == nil {
			if terr := msg.TermWithReason(de.Error()); terr != nil {
				log.Warn("term failed", "err", terr)
			}
			return
		}
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.o.ackTimeout)
		defer cancel()
		if derr := p.o.deadLetter(dctx, msg, de.err); derr != nil {
			log.Error("dead-lettering failed; the message will be redelivered", "reason", de.Error(), "err", derr)
			nak(msg, p.o.dlqRetry, log)
		}
	case errors.As(err, &te):
		if terr := msg.TermWithReason(te.Error()); terr != nil {
			log.Warn("term failed", "err", terr)
		}
	case ctx.Err() != nil:
		// Stopping: hand the message to another consumer now, not after a delay.
		nak(msg, 0, log)
	case errors.As(err, &re):
		nak(msg, re.delay, log)
	default:
		nak(msg, p.o.retryDelay(msg, err), log)
	}
}

func nak(msg jetstream.Msg, delay time.Duration, log *slog.Logger) {
	var err error
	if delay > 0 {
		err = msg.NakWithDelay(delay)
	} else {
		err = msg.Nak()
	}
	if err != nil {
		log.Warn("nak failed; the message returns after AckWait", "err", err)
	}
}
