package gapscanner

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/gaps"
)

func newRecord(g Gap, now time.Time) contract.GapRecord {
	return contract.GapRecord{
		Key: g.Key, Source: g.Source, Pair: g.Pair, Base: g.Base, Interval: g.Interval,
		Start: g.Start, End: g.End, Missing: g.Missing, Class: g.Class, Reason: g.Reason,
		TradeCalls: g.TradeCalls, State: contract.GapOpen,
		History: []contract.GapEvent{{At: now, State: contract.GapOpen,
			Detail: fmt.Sprintf("found by the gap scanner: %d missing candles", g.Missing)}},
		Updated: now,
	}
}

// SyncStats counts what SyncRecords did.
type SyncStats struct {
	Created int `json:"created"` // new OPEN records
	Updated int `json:"updated"` // records whose range or class changed
	Filled  int `json:"filled"`  // records marked FILLED because the gap is gone
	Partial int `json:"partial"` // records whose gap is only partly gone (marked FAILED)
	Purged  int `json:"purged"`  // FILLED/FAILED records past retention
}

// SyncOptions tune SyncRecords.
type SyncOptions struct {
	// Now is the clock for history events (time.Now when nil).
	Now func() time.Time
	// Retention: FILLED and FAILED records older than this are purged
	// (90 days when 0; negative keeps them).
	Retention time.Duration
}

// DefaultRetention is how long FILLED and FAILED records are kept.
const DefaultRetention = 90 * 24 * time.Hour

// SyncRecords brings the GAPS bucket in line with a scan:
//   - every gap found gets a record (OPEN when new; its end, size and class
//     kept current);
//   - an OPEN, REQUESTED or FAILED record of a scanned series whose range the
//     scan covered and found complete is marked FILLED ("no longer
//     missing"), or FAILED when only part of it was filled (the remainder is
//     a gap of its own, with its own record);
//   - FILLED and FAILED records older than the retention are purged.
//
// UNFILLABLE and NO_TRADES records are never changed or purged.
func SyncRecords(ctx context.Context, kv jetstream.KeyValue, rep Report, o SyncOptions) (SyncStats, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Retention == 0 {
		o.Retention = DefaultRetention
	}
	now := o.Now().UTC()
	var st SyncStats
	records, err := gaps.Load(ctx, kv)
	if err != nil {
		return st, err
	}
	const (
		untouched = iota
		created
		updated
	)
	var mu sync.Mutex
	// Writes go in parallel: a first scan of a big table can find many gaps.
	eg, ectx := errgroup.WithContext(ctx)
	eg.SetLimit(16)
	found := map[string]bool{}
	for _, g := range rep.Gaps {
		found[g.Key] = true
		if rec, ok := records[g.Key]; ok && !recordNeedsUpdate(rec, g) {
			continue
		}
		eg.Go(func() error {
			kind := untouched
			err := gaps.Update(ectx, kv, g.Key, func(rec *contract.GapRecord, exists bool) bool {
				kind = untouched
				if !exists {
					*rec = newRecord(g, now)
					kind = created
					return true
				}
				if !recordNeedsUpdate(*rec, g) {
					return false
				}
				takeScan(rec, g)
				if g.Reason != "" {
					rec.Reason = g.Reason
				}
				rec.Updated = now
				kind = updated
				return true
			})
			mu.Lock()
			defer mu.Unlock()
			switch kind {
			case created:
				st.Created++
			case updated:
				st.Updated++
			}
			return err
		})
	}
	if err := eg.Wait(); err != nil {
		return st, err
	}

	scanned := map[seriesID]Series{}
	for _, s := range rep.Series {
		scanned[seriesID{s.Source, s.Pair, s.Interval}] = s
	}
	for key, rec := range records {
		if purgeDue(rec, now, o.Retention) {
			if err := kv.Purge(ctx, key); err != nil {
				return st, fmt.Errorf("purge gap record %s: %w", key, err)
			}
			st.Purged++
			continue
		}
		if found[key] {
			continue
		}
		switch rec.State {
		case contract.GapOpen, contract.GapRequested, contract.GapFailed:
		default:
			continue
		}
		s, ok := scanned[seriesID{rec.Source, rec.Pair, rec.Interval}]
		if !ok || rec.Start.Before(s.From) || rec.End.After(s.To) {
			continue // this scan did not look at the whole range
		}
		var rest []string
		for _, g := range rep.Gaps {
			if g.Source == rec.Source && g.Pair == rec.Pair && g.Interval == rec.Interval &&
				!g.Start.After(rec.End) && !g.End.Before(rec.Start) {
				rest = append(rest, g.Key)
			}
		}
		if len(rest) > 0 && rec.State == contract.GapFailed {
			continue // already says so
		}
		err := gaps.Update(ctx, kv, key, func(r *contract.GapRecord, exists bool) bool {
			if !exists || r.State != rec.State {
				return false // changed under us: the fetcher has news
			}
			if len(rest) == 0 {
				r.State = contract.GapFilled
				r.History = append(r.History, contract.GapEvent{At: now, State: contract.GapFilled,
					Detail: "no longer missing (seen by the gap scanner)"})
				st.Filled++
			} else {
				r.State = contract.GapFailed
				r.History = append(r.History, contract.GapEvent{At: now, State: contract.GapFailed,
					Detail: fmt.Sprintf("only partly filled; still missing as %v", rest)})
				st.Partial++
			}
			r.Updated = now
			return true
		})
		if err != nil {
			return st, err
		}
	}
	return st, nil
}

// recordNeedsUpdate says whether a record is behind what the scan found, in
// the fields takeScan sets. UNFILLABLE and NO_TRADES records are the
// fetcher's verdicts and stay as they are.
func recordNeedsUpdate(rec contract.GapRecord, g Gap) bool {
	switch rec.State {
	case contract.GapNoTrades, contract.GapUnfillable:
		return false
	}
	return !rec.End.Equal(g.End) || rec.Missing != g.Missing || rec.Class != g.Class || rec.TradeCalls != g.TradeCalls
}

// takeScan brings an existing record up to the scan: a gap keeps its key
// (and start) while it grows, shrinks or changes class, so only these move.
func takeScan(rec *contract.GapRecord, g Gap) {
	rec.End, rec.Missing, rec.Class, rec.TradeCalls = g.End, g.Missing, g.Class, g.TradeCalls
}
