package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// Consumer lag families: how far each durable consumer is behind its stream.
const (
	ConsumerPendingName    = "fff_consumer_pending"
	ConsumerAckPendingName = "fff_consumer_ack_pending"
)

// DefaultConsumerLagEvery is how often WatchConsumers reads consumer info:
// Prometheus's usual scrape interval, so no scrape sees a value much older.
const DefaultConsumerLagEvery = 15 * time.Second

// WatchConsumers exports the lag of every durable consumer of streams (all
// streams when none is named) until ctx ends: fff_consumer_pending{stream,
// consumer} (messages not yet delivered) and fff_consumer_ack_pending
// (delivered, not yet acknowledged). Every stage runs it for all durables,
// not only its own: the lag that matters most is that of a consumer whose
// stage is down, which that stage cannot report. Series of a consumer that
// went away are removed. It blocks; the caller owns the goroutine.
func WatchConsumers(ctx context.Context, js jetstream.JetStream, r *Registry, every time.Duration, log *slog.Logger, streams ...string) error {
	if every <= 0 {
		every = DefaultConsumerLagEvery
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &lagWatcher{js: js, r: r, streams: streams, seen: map[[2]string]bool{}}
	t := time.NewTicker(every)
	defer t.Stop()
	var lastErr string
	for {
		err := w.round(ctx)
		if ctx.Err() != nil {
			return nil
		}
		// One log line per change of state: NATS being away is logged by
		// the connection already, every 15 s would only add noise.
		if msg := errString(err); msg != lastErr {
			if err != nil {
				log.Warn("consumer lag not read; keeping the last values", "err", err)
			} else {
				log.Info("consumer lag read again")
			}
			lastErr = msg
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

type lagWatcher struct {
	js      jetstream.JetStream
	r       *Registry
	streams []string
	seen    map[[2]string]bool // stream, consumer with series
}

// round reads every durable's info once and updates the gauges.
func (w *lagWatcher) round(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	streams := w.streams
	if len(streams) == 0 {
		names := w.js.StreamNames(ctx)
		for n := range names.Name() {
			streams = append(streams, n)
		}
		if err := names.Err(); err != nil {
			return fmt.Errorf("list streams: %w", err)
		}
	}
	now := map[[2]string]bool{}
	var errs []error
	for _, name := range streams {
		if err := w.stream(ctx, name, now); err != nil {
			errs = append(errs, err)
		}
	}
	// Forget only what was read and found gone: a failed read keeps the
	// last values rather than making a consumer look caught up.
	if len(errs) == 0 {
		for k := range w.seen {
			if !now[k] {
				l := prometheus.Labels{"stream": k[0], "consumer": k[1]}
				w.r.forget(ConsumerPendingName, l)
				w.r.forget(ConsumerAckPendingName, l)
			}
		}
		w.seen = now
	} else {
		for k := range now {
			w.seen[k] = true
		}
	}
	return errors.Join(errs...)
}

func (w *lagWatcher) stream(ctx context.Context, name string, now map[[2]string]bool) error {
	s, err := w.js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stream %s: %w", name, err)
	}
	list := s.ListConsumers(ctx)
	for info := range list.Info() {
		if info.Config.Durable == "" {
			continue // an ephemeral reader (fff tail, dlq list): not pipeline work
		}
		now[[2]string{name, info.Name}] = true
		w.r.Gauge(ConsumerPendingName, "Messages of the stream not yet delivered to the durable consumer",
			"stream", name, "consumer", info.Name).Set(float64(info.NumPending))
		w.r.Gauge(ConsumerAckPendingName, "Messages delivered to the durable consumer and not yet acknowledged",
			"stream", name, "consumer", info.Name).Set(float64(info.NumAckPending))
	}
	if err := list.Err(); err != nil {
		return fmt.Errorf("list consumers of %s: %w", name, err)
	}
	return nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
