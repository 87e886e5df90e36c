package pricefetch

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/feefifofunds/feefifofunds/pipeline/calendar"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/fillreport"
	"github.com/feefifofunds/feefifofunds/pipeline/jsplumb"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// series gathers the valid candles of one ticker within a request's dates.
type series struct {
	ticker   string
	candles  []contract.Candle
	seen     map[int64]bool
	rejected int
	reason   string // the first validation failure
}

func newSeries(ticker string) *series { return &series{ticker: ticker, seen: map[int64]bool{}} }

// add keeps c when it falls within the request's dates, is the first for its
// date and passes the CSV row checks.
func (sr *series) add(req contract.PriceRequest, c contract.Candle) {
	if c.Time < req.Start.Unix() || c.Time > req.End.Unix() || sr.seen[c.Time] {
		return
	}
	if err := contract.CheckCandle(c); err != nil {
		sr.rejected++
		if sr.reason == "" {
			sr.reason = fmt.Sprintf("%s %s: %v", sr.ticker, day(c.Time), err)
		}
		return
	}
	sr.seen[c.Time] = true
	sr.candles = append(sr.candles, c)
}

func (s *stage) serveDaily(ctx context.Context, req contract.PriceRequest) (outcome, error) {
	symbol := req.Symbol
	if symbol == "" {
		symbol = s.src.Symbol(req.Ticker, req.Market)
	}
	got, apiErr := s.src.Daily(ctx, symbol, req.Market, req.Start, req.End)
	if ctx.Err() != nil {
		return outcome{}, ctx.Err()
	}
	sr := newSeries(req.Ticker)
	for _, c := range got {
		sr.add(req, c)
	}
	written, applied, err := s.publish(ctx, req, []*series{sr})
	if err != nil {
		return outcome{}, err
	}
	span := req.Start.Format(time.DateOnly) + " to " + req.End.Format(time.DateOnly)
	expected := len(calendar.TradingDays(req.Market, req.Start, req.End))
	out := outcome{written: written}
	switch {
	case apiErr != nil:
		out.state, out.detail = contract.GapFailed, fmt.Sprintf("%s %s: %v", s.name, symbol, apiErr)
	case written == 0:
		out.state = contract.GapNoTrades
		out.detail = fmt.Sprintf("%s has no candles for %s from %s (%d trading days on the %s calendar): an unknown symbol, no trades, or only market holidays",
			s.name, symbol, span, expected, req.Market)
	case applied != nil:
		out.state, out.detail = contract.GapFailed, "not queryable: "+applied.Error()
	default:
		out.state = contract.GapFilled
		out.detail = fmt.Sprintf("%d candles of %s from %s (%d trading days on the %s calendar)", written, symbol, span, expected, req.Market)
	}
	if sr.rejected > 0 {
		out.detail += fmt.Sprintf("; %d candles failed validation and were skipped (first: %s)", sr.rejected, sr.reason)
		s.rejected.Add(float64(sr.rejected))
	}
	return out, nil
}

// serveGrouped makes one grouped-daily call per date the market may have
// traded (weekends are skipped for stocks), keeping the requested tickers.
// A weekday without results is a market holiday.
func (s *stage) serveGrouped(ctx context.Context, src GroupedSource, req contract.PriceRequest) (outcome, error) {
	bySymbol := map[string]*series{}
	all := make([]*series, 0, len(req.Tickers))
	for _, t := range req.Tickers {
		sr := newSeries(t)
		bySymbol[src.Symbol(t, req.Market)] = sr
		all = append(all, sr)
	}
	var (
		calls, traded int
		holidays      []string
		apiErr        error
		failedOn      string
	)
	for d := req.Start; !d.After(req.End); d = d.AddDate(0, 0, 1) {
		if wd := d.Weekday(); req.Market == calendar.Stocks && (wd == time.Saturday || wd == time.Sunday) {
			continue
		}
		calls++
		got, err := src.Grouped(ctx, req.Market, d)
		if ctx.Err() != nil {
			return outcome{}, ctx.Err()
		}
		if err != nil {
			apiErr, failedOn = err, d.Format(time.DateOnly)
			break
		}
		if len(got) == 0 {
			holidays = append(holidays, d.Format(time.DateOnly))
			continue
		}
		traded++
		for sym, c := range got {
			if sr := bySymbol[sym]; sr != nil {
				sr.add(req, c)
			}
		}
	}
	written, applied, err := s.publish(ctx, req, all)
	if err != nil {
		return outcome{}, err
	}
	var missing []string
	rejected, reason := 0, ""
	for _, sr := range all {
		if len(sr.candles) == 0 {
			missing = append(missing, sr.ticker)
		}
		if sr.rejected > 0 && reason == "" {
			reason = sr.reason
		}
		rejected += sr.rejected
	}
	out := outcome{written: written}
	detail := fmt.Sprintf("%d candles for %d of %d tickers from %d grouped calls (%d trading days)",
		written, len(all)-len(missing), len(all), calls, traded)
	if len(holidays) > 0 {
		detail += holidayNote + strings.Join(holidays, ", ")
	}
	if len(missing) > 0 && traded > 0 {
		sort.Strings(missing)
		detail += "; not in any answer: " + clipList(missing, 20)
	}
	switch {
	case apiErr != nil:
		out.state, out.detail = contract.GapFailed, fmt.Sprintf("%s grouped %s: %v (before it: %s)", s.name, failedOn, apiErr, detail)
	case written == 0:
		out.state, out.detail = contract.GapNoTrades, detail
	case applied != nil:
		out.state, out.detail = contract.GapFailed, "not queryable: "+applied.Error()+" ("+detail+")"
	default:
		out.state, out.detail = contract.GapFilled, detail
	}
	if rejected > 0 {
		out.detail += fmt.Sprintf("; %d candles failed validation and were skipped (first: %s)", rejected, reason)
		s.rejected.Add(float64(rejected))
	}
	return out, nil
}

func clipList(xs []string, n int) string {
	if len(xs) <= n {
		return strings.Join(xs, ", ")
	}
	return strings.Join(xs[:n], ", ") + fmt.Sprintf(" and %d more", len(xs)-n)
}

// publish sends every series as batches (the last one flagged), waits for
// every PubAck, then for the writer to report every batch queryable (FILLED
// means queryable). It returns the candles stored on CANDLES, and in applied
// why they do not all count as queryable; err is NATS trouble.
func (s *stage) publish(ctx context.Context, req contract.PriceRequest, all []*series) (written int64, applied, err error) {
	reports, err := fillreport.Listen(s.js.Conn(), s.name)
	if err != nil {
		return 0, nil, err
	}
	defer reports.Close()
	batches := map[string]uint32{}
	pub := jsplumb.NewPublisher(s.js, jsplumb.WithPublishLogger(s.log))
	quote := req.Quote
	if quote == "" {
		quote = "USD"
	}
	for _, sr := range all {
		if len(sr.candles) == 0 {
			continue
		}
		sort.Slice(sr.candles, func(i, j int) bool { return sr.candles[i].Time < sr.candles[j].Time })
		subject := topology.CandleSubject(s.name, sr.ticker, contract.PriceInterval)
		for i, idx := 0, uint32(0); i < len(sr.candles); i, idx = i+s.cfg.BatchSize, idx+1 {
			b := contract.Batch{
				Source: s.name, Pair: sr.ticker, Base: sr.ticker, Quote: quote,
				IntervalMinutes: contract.PriceInterval, Origin: contract.OriginAPI,
				FillID: FillID(req, sr.ticker), BatchIndex: idx,
				Candles: sr.candles[i:min(i+s.cfg.BatchSize, len(sr.candles))],
			}
			b.Last = i+s.cfg.BatchSize >= len(sr.candles)
			data, err := contract.AppendBatch(pub.Buffer(), &b)
			if err != nil {
				return 0, nil, fmt.Errorf("encode batch %d of %s: %w", idx, sr.ticker, err)
			}
			if err := pub.Publish(ctx, &nats.Msg{Subject: subject, Data: data}, b.MsgID()); err != nil {
				return 0, nil, fmt.Errorf("publish batch %d to %s: %w", idx, subject, err)
			}
			batches[b.FillID] = idx + 1
		}
		written += int64(len(sr.candles))
	}
	if err := pub.Wait(ctx); err != nil {
		return 0, nil, fmt.Errorf("publish candle batches of %s: %w", req.ID, err)
	}
	s.candles.Add(float64(written))
	if written > 0 {
		applied = reports.Wait(ctx, batches, written, s.cfg.ApplyTimeout)
		if ctx.Err() != nil {
			return 0, nil, ctx.Err()
		}
	}
	return written, applied, nil
}
