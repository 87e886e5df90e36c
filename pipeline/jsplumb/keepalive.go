package jsplumb

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// KeepAlive marks the messages held returns in progress every interval, so
// their AckWait does not run out while work on them is slow (a consumer's
// BackOff does not help here: it only spaces redeliveries). held is called
// on each tick, so a holder whose set of messages changes passes a function
// reading it under its own lock.
//
// The returned stop ends the goroutine and waits for it: after stop returns
// no InProgress is sent, so an ack or nak that follows is never overtaken.
func KeepAlive(ctx context.Context, every time.Duration, held func() []jetstream.Msg, log *slog.Logger) (stop func()) {
	if log == nil {
		log = slog.Default()
	}
	kctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		failing := false
		for {
			select {
			case <-kctx.Done():
				return
			case <-t.C:
			}
			for _, m := range held() {
				err := m.InProgress()
				// Once per change, not per tick: a lost connection would
				// otherwise log every interval for every message.
				if err != nil && !failing {
					log.Warn("could not mark a message in progress; its AckWait may run out", "subject", m.Subject(), "err", err)
				}
				failing = err != nil
			}
		}
	}()
	return func() { cancel(); wg.Wait() }
}

// One is the held function for a single message.
func One(msg jetstream.Msg) func() []jetstream.Msg {
	return func() []jetstream.Msg { return []jetstream.Msg{msg} }
}
