package topology

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrConsumerConflict marks a durable consumer that exists with settings
// the pipeline cannot change by itself: waiting will not fix it.
var ErrConsumerConflict = errors.New("consumer conflict")

// WaitConsumer is EnsureConsumer retried with capped backoff (250 ms
// doubling to 2 s) while JetStream cannot answer: a cluster electing a
// leader or without quorum (503, timeouts) must delay a stage, not end it.
// A conflicting consumer is returned at once. It logs once per distinct
// error and once when it got through.
func WaitConsumer(ctx context.Context, js jetstream.JetStream, stream string, want jetstream.ConsumerConfig, log *slog.Logger) (jetstream.Consumer, error) {
	wait := 250 * time.Millisecond
	var last string
	for {
		c, err := EnsureConsumer(ctx, js, stream, want)
		if err == nil {
			if last != "" && log != nil {
				log.Info("consumer ready", "stream", stream, "consumer", want.Durable)
			}
			return c, nil
		}
		if errors.Is(err, ErrConsumerConflict) || ctx.Err() != nil {
			return nil, err
		}
		if msg := err.Error(); msg != last && log != nil {
			log.Warn("consumer not ready; retrying", "stream", stream, "consumer", want.Durable, "err", err, "retry_in", wait)
			last = msg
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("gave up waiting for consumer %s on %s: %w", want.Durable, stream, err)
		case <-t.C:
		}
		wait = min(2*wait, 2*time.Second)
	}
}
