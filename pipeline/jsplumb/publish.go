package jsplumb

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Publisher publishes messages asynchronously with at most a window of them
// awaiting their PubAck: fast, because acks overlap, and bounded, because a
// slow stream makes Publish wait instead of growing memory. A message whose
// ack fails or does not come in time is published again synchronously under
// the same message id, which the stream's duplicate window deduplicates.
//
// The first error sticks: every later Publish and Wait returns it, so a
// caller checks once, at Wait, that everything it published is stored.
// A Publisher is for one goroutine.
type Publisher struct {
	js         jetstream.JetStream
	window     int
	ackTimeout time.Duration
	attempts   int
	log        *slog.Logger
	pending    []pending
	free       [][]byte
	err        error
}

type pending struct {
	fut jetstream.PubAckFuture
	msg *nats.Msg
	id  string
}

// PublisherOption configures a Publisher.
type PublisherOption func(*Publisher)

// WithWindow bounds the messages awaiting their PubAck (default 8).
func WithWindow(n int) PublisherOption { return func(p *Publisher) { p.window = max(n, 1) } }

// WithAckTimeout is how long a PubAck may take before the message is
// published again (default 30 s).
func WithAckTimeout(d time.Duration) PublisherOption { return func(p *Publisher) { p.ackTimeout = d } }

// WithRepublishAttempts bounds the synchronous re-publishes of a message
// whose async publish failed (default 3, a second more between each).
func WithRepublishAttempts(n int) PublisherOption {
	return func(p *Publisher) { p.attempts = max(n, 1) }
}

// WithPublishLogger sets the logger (default slog.Default()).
func WithPublishLogger(l *slog.Logger) PublisherOption { return func(p *Publisher) { p.log = l } }

// NewPublisher returns a publisher on js.
func NewPublisher(js jetstream.JetStream, opts ...PublisherOption) *Publisher {
	p := &Publisher{js: js, window: 8, ackTimeout: 30 * time.Second, attempts: 3}
	for _, opt := range opts {
		opt(p)
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	return p
}

// Buffer returns the bytes of a message already acknowledged, emptied, for
// encoding the next one into (nil when there is none). Callers encoding
// large messages save an allocation per message.
func (p *Publisher) Buffer() []byte {
	n := len(p.free)
	if n == 0 {
		return nil
	}
	b := p.free[n-1]
	p.free = p.free[:n-1]
	return b[:0]
}

// InFlight is how many messages await their PubAck.
func (p *Publisher) InFlight() int { return len(p.pending) }

// Publish queues msg with message id id (the stream's dedup key; "" for
// none), first waiting for the oldest ack when the window is full. msg and
// its Data belong to the Publisher from now on.
func (p *Publisher) Publish(ctx context.Context, msg *nats.Msg, id string) error {
	if p.err != nil {
		return p.err
	}
	for len(p.pending) >= p.window {
		if err := p.settleOldest(ctx); err != nil {
			return err
		}
	}
	fut, err := p.js.PublishMsgAsync(msg, msgID(id)...)
	if err != nil {
		// The client refused to queue it (too many pending): go synchronous.
		return p.fail(p.publishSync(ctx, msg, id))
	}
	p.pending = append(p.pending, pending{fut: fut, msg: msg, id: id})
	return nil
}

// Wait settles every pending publish and returns the first error.
func (p *Publisher) Wait(ctx context.Context) error {
	for len(p.pending) > 0 && p.err == nil {
		if err := p.settleOldest(ctx); err != nil {
			return err
		}
	}
	return p.err
}

func (p *Publisher) fail(err error) error {
	if err != nil && p.err == nil {
		p.err = err
	}
	return err
}

func (p *Publisher) settleOldest(ctx context.Context) error {
	pp := p.pending[0]
	p.pending = p.pending[1:]
	t := time.NewTimer(p.ackTimeout)
	defer t.Stop()
	select {
	case <-pp.fut.Ok():
		// The client no longer needs the bytes: reuse them.
		p.free = append(p.free, pp.msg.Data)
		return nil
	case err := <-pp.fut.Err():
		p.log.Warn("publish failed; publishing again", "subject", pp.msg.Subject, "msg_id", pp.id, "err", err)
	case <-t.C:
		p.log.Warn("no ack; publishing again", "subject", pp.msg.Subject, "msg_id", pp.id, "waited", p.ackTimeout)
	case <-ctx.Done():
		// Not sticky: the messages may be stored, the caller just stopped waiting.
		return ctx.Err()
	}
	// The abandoned future may still hold the message: leave its bytes alone.
	return p.fail(p.publishSync(ctx, pp.msg, pp.id))
}

func (p *Publisher) publishSync(ctx context.Context, m *nats.Msg, id string) error {
	var err error
	for attempt := 0; attempt < p.attempts; attempt++ {
		if attempt > 0 && !Sleep(ctx, time.Duration(attempt)*time.Second) {
			return ctx.Err()
		}
		// A copy: the abandoned future may still hold m.
		retry := &nats.Msg{Subject: m.Subject, Data: m.Data, Header: maps.Clone(m.Header)}
		if _, err = p.js.PublishMsg(ctx, retry, msgID(id)...); err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return fmt.Errorf("publish %s (msg id %q): %w", m.Subject, id, err)
}

func msgID(id string) []jetstream.PublishOpt {
	if id == "" {
		return nil
	}
	return []jetstream.PublishOpt{jetstream.WithMsgID(id)}
}
