package fetcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
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
		if r.Class == "" || out.State == contract.GapNoTrades || out.State == contract.GapUnfillable {
			r.Class = out.Class
		}
		r.State = out.State
		r.Reason = ""
		if out.State == contract.GapUnfillable || out.State == contract.GapFailed {
			r.Reason = out.Detail
		}
		r.CandlesWritten = out.Written
		r.History = append(r.History, contract.GapEvent{At: now, State: out.State, Detail: out.Detail})
		return true
	})
}

// maxGapHistory keeps a record that is requested again and again readable.
const maxGapHistory = 50

// updateGap applies change to the record under key with compare-and-set,
// retrying when someone else (the scanner) wrote in between. change gets a
// zero record and exists=false when there is none; it returns false to
// leave the bucket alone.
func (f *fetcher) updateGap(ctx context.Context, key string, change func(r *contract.GapRecord, exists bool) bool) error {
	for attempt := 0; attempt < 20; attempt++ {
		var rec contract.GapRecord
		entry, err := f.gaps.Get(ctx, key)
		exists := err == nil
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return &natsError{fmt.Errorf("read gap record %s: %w", key, err)}
		default:
			if err := json.Unmarshal(entry.Value(), &rec); err != nil {
				// Unreadable: start over rather than leave it stuck.
				f.log.Warn("gap record unreadable; rewriting it", "gap", key, "err", err)
				rec = contract.GapRecord{}
				exists = false
			}
		}
		if !change(&rec, exists) {
			return nil
		}
		if n := len(rec.History); n > maxGapHistory {
			rec.History = append(rec.History[:1], rec.History[n-maxGapHistory+1:]...)
		}
		rec.Key = key
		rec.Updated = time.Now().UTC()
		data, err := json.Marshal(rec)
		if err != nil {
			return &natsError{fmt.Errorf("encode gap record %s: %w", key, err)}
		}
		if entry == nil {
			_, err = f.gaps.Create(ctx, key, data)
		} else {
			_, err = f.gaps.Update(ctx, key, data, entry.Revision())
		}
		if err == nil {
			return nil
		}
		if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue // someone wrote in between: read again
		}
		return &natsError{fmt.Errorf("write gap record %s: %w", key, err)}
	}
	return &natsError{fmt.Errorf("write gap record %s: kept conflicting with other writers", key)}
}
