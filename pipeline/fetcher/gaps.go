package fetcher

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/gaps"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// record writes a served request's outcome on its gap record, creating the
// record for a request a person published (the scanner creates its own).
func (f *fetcher) record(ctx context.Context, msg jetstream.Msg, req *request, out outcome) error {
	now := time.Now().UTC()
	received := now
	if md, err := msg.Metadata(); err == nil && !md.Timestamp.IsZero() {
		received = md.Timestamp.UTC()
	}
	return f.updateGap(ctx, req.key, func(r *contract.GapRecord, exists bool) bool {
		if !exists {
			*r = contract.GapRecord{
				Key:      req.key,
				Source:   topology.SourceKraken,
				Pair:     req.pair.Altname,
				Base:     req.base,
				Interval: req.Interval,
				Start:    req.Start.UTC(),
				End:      req.End.UTC(),
				Missing:  req.Candles(),
				History: []contract.GapEvent{{At: received, State: contract.GapRequested,
					Detail: "fill request " + req.ID + " received on " + topology.FillSubject(topology.SourceKraken)}},
			}
		}
		if exists && !req.part {
			// A person's request on a known gap: say where this round began.
			r.History = append(r.History, contract.GapEvent{At: received, State: contract.GapRequested,
				Detail: "fill request " + req.ID + " received on " + topology.FillSubject(topology.SourceKraken)})
		}
		// Outcomes already recorded since the gap was last requested come from
		// the other requests the scanner split it into: the gap's state is
		// the worst of them, its candle count their sum.
		siblings := outcomesSinceRequested(r.History)
		state, reason, class := out.State, "", out.Class
		if out.State == contract.GapUnfillable || out.State == contract.GapFailed {
			reason = out.Detail
		}
		if req.part && len(siblings) > 0 {
			if severity(r.State) > severity(out.State) {
				state, reason, class = r.State, r.Reason, r.Class
			}
			r.CandlesWritten += out.Written
		} else {
			r.CandlesWritten = out.Written
		}
		if r.Class == "" || state == contract.GapNoTrades || state == contract.GapUnfillable {
			r.Class = class
		}
		r.State, r.Reason = state, reason
		r.History = append(r.History, contract.GapEvent{At: now, State: out.State, Detail: out.Detail})
		return true
	})
}

// severity orders outcomes: a gap is NO_TRADES only when every part found no
// trades, and a failure in any part shows.
func severity(state string) int {
	switch state {
	case contract.GapNoTrades:
		return 1
	case contract.GapFilled:
		return 2
	case contract.GapUnfillable:
		return 3
	case contract.GapFailed:
		return 4
	}
	return 0
}

func outcomesSinceRequested(h []contract.GapEvent) []contract.GapEvent {
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].State == contract.GapRequested || h[i].State == contract.GapOpen {
			return h[i+1:]
		}
	}
	return h
}

// updateGap applies change to the record under key (package gaps: one
// compare-and-set policy for scanner and fetcher). It stamps Updated when
// change changed something. Failures are NATS trouble: the request is
// handed back.
func (f *fetcher) updateGap(ctx context.Context, key string, change func(r *contract.GapRecord, exists bool) bool) error {
	err := gaps.Update(ctx, f.gaps, key, func(r *contract.GapRecord, exists bool) bool {
		if !change(r, exists) {
			return false
		}
		r.Updated = time.Now().UTC()
		return true
	})
	if err != nil {
		return &natsError{err}
	}
	return nil
}
