package gapscanner

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/gaps"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// DefaultMaxRequestCandles caps one fill request; larger gaps are split.
// It matches the OHLC window, so an OHLC-fillable gap is always one request.
const DefaultMaxRequestCandles = OHLCWindow

// PublishOptions tune Publish.
type PublishOptions struct {
	// Now is the clock for record history (time.Now when nil).
	Now func() time.Time
	// MaxRequestCandles splits larger gaps (DefaultMaxRequestCandles when 0);
	// keep it at or under the fetcher's --max-request-candles.
	MaxRequestCandles int
}

// Requests are the fill requests for a gap: one per at most max candles,
// the first with the gap key as its ID, the others with "<key>-<n>" (n from 2).
func Requests(g Gap, maxCandles int) []contract.FillRequest {
	if maxCandles <= 0 {
		maxCandles = DefaultMaxRequestCandles
	}
	step := time.Duration(g.Interval) * time.Minute
	var out []contract.FillRequest
	for start, n := g.Start, 1; !start.After(g.End); n++ {
		end := start.Add(time.Duration(maxCandles-1) * step)
		if end.After(g.End) {
			end = g.End
		}
		id := g.Key
		if n > 1 {
			id = fmt.Sprintf("%s-%d", g.Key, n)
		}
		out = append(out, contract.FillRequest{
			Pair: g.Pair, Interval: g.Interval, Start: start, End: end, ID: id,
			Trades: g.Class == contract.ClassFillableFromTrades,
		})
		start = end.Add(step)
	}
	return out
}

// Publish asks the fetcher to fill gaps: each gap's record goes to REQUESTED
// first (so a fast fetcher's verdict is never overwritten), then its fill
// requests are published on fills.<source> with the request ID as message id,
// so a repeat within the stream's duplicate window is dropped. Gaps that are
// not fillable are skipped. It returns the requests published.
func Publish(ctx context.Context, js jetstream.JetStream, list ...Gap) ([]contract.FillRequest, error) {
	return PublishWith(ctx, js, PublishOptions{}, list...)
}

// PublishWith is Publish with options.
func PublishWith(ctx context.Context, js jetstream.JetStream, o PublishOptions, list ...Gap) ([]contract.FillRequest, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	kv, err := gaps.Open(ctx, js)
	if err != nil {
		return nil, err
	}
	var sent []contract.FillRequest
	for _, g := range list {
		if g.Class != contract.ClassFillable && g.Class != contract.ClassFillableFromTrades {
			continue
		}
		reqs := Requests(g, o.MaxRequestCandles)
		now := o.Now().UTC()
		detail := fmt.Sprintf("fill request %s published on %s (%d candles", reqs[0].ID, topology.FillSubject(g.Source), g.Missing)
		if len(reqs) > 1 {
			detail += fmt.Sprintf(", split in %d requests", len(reqs))
		}
		if reqs[0].Trades {
			detail += fmt.Sprintf(", from trades, about %d Trades calls", g.TradeCalls)
		}
		detail += ")"
		var prevState string
		err := gaps.Update(ctx, kv, g.Key, func(rec *contract.GapRecord, exists bool) bool {
			if !exists {
				*rec = newRecord(g, now)
			}
			prevState = rec.State
			rec.State = contract.GapRequested
			takeScan(rec, g)
			rec.History = append(rec.History, contract.GapEvent{At: now, State: contract.GapRequested, Detail: detail})
			rec.Updated = now
			return true
		})
		if err != nil {
			return sent, err
		}
		for _, r := range reqs {
			data, err := r.Encode()
			if err != nil {
				return sent, fmt.Errorf("encode fill request %s: %w", r.ID, err)
			}
			if _, err := js.Publish(ctx, topology.FillSubject(g.Source), data, jetstream.WithMsgID(r.ID)); err != nil {
				perr := fmt.Errorf("publish fill request %s: %w", r.ID, err)
				_ = gaps.Update(ctx, kv, g.Key, func(rec *contract.GapRecord, exists bool) bool {
					if !exists || rec.State != contract.GapRequested {
						return false
					}
					rec.State = orDefault(prevState, contract.GapOpen)
					rec.History = append(rec.History, contract.GapEvent{At: o.Now().UTC(), State: rec.State, Detail: perr.Error()})
					return true
				})
				return sent, perr
			}
			sent = append(sent, r)
		}
	}
	return sent, nil
}
