// Package fillreport is the fetchers' side of the writer's fill reports: a
// fill (a Kraken gap, a price request) counts as FILLED only once the
// writer says every batch it published is queryable in QuestDB. The writer
// sends a contract.FillReport per fill batch on fillreports.<source>, core
// NATS; a Listener is opened before the first batch is published, so no
// report can slip by.
package fillreport

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// DefaultTimeout is how long a fill waits for the writer to report its
// batches queryable before it is recorded FAILED instead of FILLED.
const DefaultTimeout = 2 * time.Minute

// Listener collects the writer's reports on one source's fills.
type Listener struct {
	sub *nats.Subscription
	ch  chan *nats.Msg
}

// Listen subscribes to the reports on source's fills.
func Listen(nc *nats.Conn, source string) (*Listener, error) {
	l := &Listener{ch: make(chan *nats.Msg, 4096)}
	sub, err := nc.ChanSubscribe(topology.FillReportSubject(source), l.ch)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", topology.FillReportSubject(source), err)
	}
	l.sub = sub
	return l, nil
}

// Close stops listening.
func (l *Listener) Close() { _ = l.sub.Unsubscribe() }

// Wait returns nil once, for every fill id in batches, batches [0, n) are
// reported queryable, or the reason the fill cannot count as filled: a
// batch the writer refused (with QuestDB's reason), or no report within
// timeout. rows is the candles published, for the message.
func (l *Listener) Wait(ctx context.Context, batches map[string]uint32, rows int64, timeout time.Duration) error {
	applied := make(map[string]map[uint32]bool, len(batches))
	var want, got int
	for id, n := range batches {
		applied[id] = make(map[uint32]bool, n)
		want += int(n)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	for got < want {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return fmt.Errorf("%d candles were published but the writer reported only %d of %d batches queryable within %s (is a writer running, is the table suspended?)",
				rows, got, want, timeout)
		case m := <-l.ch:
			var rep contract.FillReport
			if json.Unmarshal(m.Data, &rep) != nil {
				continue
			}
			seen, ok := applied[rep.FillID]
			if !ok || rep.Batch >= batches[rep.FillID] {
				continue
			}
			if rep.Kind == contract.FillRefused {
				return fmt.Errorf("QuestDB refused batch %d of fill %s: %s", rep.Batch, rep.FillID, rep.Reason)
			}
			if !seen[rep.Batch] {
				seen[rep.Batch] = true
				got++
			}
		}
	}
	return nil
}
