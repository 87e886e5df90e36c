package fetcher

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// DefaultApplyTimeout is how long a fill waits for the writer to report its
// batches queryable before it is recorded FAILED instead of FILLED.
const DefaultApplyTimeout = 2 * time.Minute

// applyReports listens for the writer's FillReports on one fill. It is
// opened before the first batch is published, so no report can slip by.
type applyReports struct {
	sub    *nats.Subscription
	ch     chan *nats.Msg
	fillID string
}

func (f *fetcher) listenApplied(fillID string) (*applyReports, error) {
	r := &applyReports{ch: make(chan *nats.Msg, 4096), fillID: fillID}
	sub, err := f.js.Conn().ChanSubscribe(topology.FillReportSubject(topology.SourceKraken), r.ch)
	if err != nil {
		return nil, &natsError{fmt.Errorf("listen on %s: %w", topology.FillReportSubject(topology.SourceKraken), err)}
	}
	r.sub = sub
	return r, nil
}

func (r *applyReports) close() { _ = r.sub.Unsubscribe() }

// wait returns nil once batches [0, n) of the fill are reported queryable,
// or the reason the fill cannot count as filled: a batch the writer refused
// (with QuestDB's reason), or no report within timeout.
func (r *applyReports) wait(ctx context.Context, n uint32, rows int64, timeout time.Duration) error {
	applied := make(map[uint32]bool, n)
	t := time.NewTimer(timeout)
	defer t.Stop()
	for uint32(len(applied)) < n {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return fmt.Errorf("%d candles were published but the writer reported only %d of %d batches queryable within %s (is a writer running, is the table suspended?)",
				rows, len(applied), n, timeout)
		case m := <-r.ch:
			var rep contract.FillReport
			if json.Unmarshal(m.Data, &rep) != nil || rep.FillID != r.fillID || rep.Batch >= n {
				continue
			}
			if rep.Kind == contract.FillRefused {
				return fmt.Errorf("QuestDB refused batch %d of the fill: %s", rep.Batch, rep.Reason)
			}
			applied[rep.Batch] = true
		}
	}
	return nil
}
