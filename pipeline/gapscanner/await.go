package gapscanner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

// Outcome is what became of one requested gap, as its GAPS record says.
type Outcome struct {
	Key      string    `json:"key"`
	Pair     string    `json:"pair"`
	Tier     string    `json:"tier,omitempty"`
	Interval int       `json:"interval_minutes"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Missing  int64     `json:"missing_candles"`
	// State is FILLED, FAILED, NO_TRADES or UNFILLABLE once the fetcher
	// answered every request of the gap; REQUESTED when the wait ended first.
	State          string `json:"state"`
	CandlesWritten int64  `json:"candles_written"`
	// Error is the record's reason for FAILED and UNFILLABLE.
	Error string `json:"error,omitempty"`
}

// Settled says whether the fetcher gave its verdict.
func (o Outcome) Settled() bool { return settledState(o.State) }

func settledState(s string) bool {
	switch s {
	case contract.GapFilled, contract.GapFailed, contract.GapNoTrades, contract.GapUnfillable:
		return true
	}
	return false
}

// AwaitProgress is how far a wait got.
type AwaitProgress struct {
	Total, Settled                       int
	Filled, Failed, Unfillable, NoTrades int
	CandlesWritten                       int64
	Elapsed                              time.Duration
}

// AwaitOptions tune Await.
type AwaitOptions struct {
	// Timeout ends the wait with the gaps not yet settled left REQUESTED
	// (and ErrAwaitTimeout); 0 waits until ctx ends.
	Timeout time.Duration
	// MaxRequestCandles is what the requests were split by
	// (DefaultMaxRequestCandles when 0): a gap split in n requests is
	// settled once the fetcher recorded n outcomes.
	MaxRequestCandles int
	// Progress, when set, is called at the start and after every change.
	Progress func(AwaitProgress)
}

// ErrAwaitTimeout says the wait ended before every gap was settled.
var ErrAwaitTimeout = errors.New("not every fill request was answered in time")

// Await watches the GAPS records of the requested gaps until the fetcher
// settled each of them (FILLED, FAILED, NO_TRADES or UNFILLABLE for every
// request the gap was split into) and returns their outcomes in the order
// of list. Publish set them to REQUESTED before publishing, so a record's
// newest value is this round's. On timeout (ErrAwaitTimeout) or
// cancellation the outcomes so far are returned with the error.
func Await(ctx context.Context, kv jetstream.KeyValue, list []Gap, o AwaitOptions) ([]Outcome, error) {
	began := time.Now()
	out := make([]Outcome, len(list))
	index := make(map[string]int, len(list))
	parts := make([]int, len(list))
	for i, g := range list {
		out[i] = Outcome{Key: g.Key, Pair: g.Pair, Tier: g.Tier, Interval: g.Interval, Start: g.Start, End: g.End,
			Missing: g.Missing, State: contract.GapRequested}
		index[g.Key] = i
		parts[i] = len(Requests(g, o.MaxRequestCandles))
	}
	if len(list) == 0 {
		return out, nil
	}
	wctx := ctx
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	keys := make([]string, 0, len(index))
	for k := range index {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	w, err := kv.WatchFiltered(wctx, keys, jetstream.IgnoreDeletes())
	if err != nil {
		return out, fmt.Errorf("watch gap records: %w", err)
	}
	defer func() { _ = w.Stop() }()
	report := func() {
		if o.Progress != nil {
			o.Progress(progressOf(out, time.Since(began)))
		}
	}
	report()
	settled := 0
	for settled < len(out) {
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return out, fmt.Errorf("wait for fills: %w", ctx.Err())
			}
			return out, fmt.Errorf("%w: %d of %d gaps still REQUESTED after %s", ErrAwaitTimeout, len(out)-settled, len(out), o.Timeout)
		case e, ok := <-w.Updates():
			if !ok {
				return out, errors.New("wait for fills: the watch of the gap records ended")
			}
			if e == nil {
				continue // every current value delivered; updates follow
			}
			i, ok := index[e.Key()]
			if !ok {
				continue
			}
			var rec contract.GapRecord
			if json.Unmarshal(e.Value(), &rec) != nil {
				continue
			}
			was := out[i].Settled()
			out[i].State, out[i].CandlesWritten, out[i].Error = contract.GapRequested, rec.CandlesWritten, ""
			if settledState(rec.State) && verdicts(rec.History) >= parts[i] {
				out[i].State = rec.State
				if rec.State == contract.GapFailed || rec.State == contract.GapUnfillable {
					out[i].Error = rec.Reason
				}
			}
			switch now := out[i].Settled(); {
			case now && !was:
				settled++
			case !now && was:
				settled--
			}
			report()
		}
	}
	return out, nil
}

// verdicts counts the fetcher's outcomes recorded since the gap was last
// requested (the newest REQUESTED or OPEN event): one per request served.
func verdicts(h []contract.GapEvent) int {
	n := 0
	for _, e := range slices.Backward(h) {
		if e.State == contract.GapRequested || e.State == contract.GapOpen {
			break
		}
		n++
	}
	return n
}

func progressOf(out []Outcome, elapsed time.Duration) AwaitProgress {
	p := AwaitProgress{Total: len(out), Elapsed: elapsed}
	for _, o := range out {
		p.CandlesWritten += o.CandlesWritten
		if !o.Settled() {
			continue
		}
		p.Settled++
		switch o.State {
		case contract.GapFilled:
			p.Filled++
		case contract.GapFailed:
			p.Failed++
		case contract.GapUnfillable:
			p.Unfillable++
		case contract.GapNoTrades:
			p.NoTrades++
		}
	}
	return p
}
