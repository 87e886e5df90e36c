package gapscanner

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/assets"
	"github.com/feefifofunds/feefifofunds/pipeline/calendar"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/pricefetch"
	"github.com/feefifofunds/feefifofunds/pipeline/prices"
)

// A daily series of a price source (Massive.com, Finnhub) has a candle on
// trading days only: a weekend or an exchange holiday without one is no gap,
// a missing Tuesday is. Kraken's series, and crypto, trade every day.

// tradingCalendar says which days of one series the market trades.
type tradingCalendar struct {
	market string
	closed map[int64]bool // days (unix s) grouped requests found without results
}

// calendarOf is the trading calendar of s, and false when every day counts
// (not a daily series of a price source, or a crypto asset).
func (c *ScanConfig) calendarOf(s *seriesState, closed map[int64]bool) (tradingCalendar, bool) {
	if s.Interval != contract.PriceInterval || !slices.Contains(pricefetch.SourceNames, s.Source) {
		return tradingCalendar{}, false
	}
	market, ok := c.Markets[s.Pair]
	if !ok {
		market = calendar.Stocks // what the price sources serve unless told
	}
	if market == calendar.Crypto {
		return tradingCalendar{}, false
	}
	return tradingCalendar{market: market, closed: closed}, true
}

func (tc tradingCalendar) trades(d int64) bool {
	return !tc.closed[d] && calendar.IsTradingDay(tc.market, time.Unix(d, 0).UTC())
}

// tradingSpans splits missing spans of a daily series into runs of trading
// days, leaving the closed days out.
func (tc tradingCalendar) tradingSpans(spans []span) []span {
	var out []span
	for _, sp := range spans {
		start := int64(-1)
		for d := sp.a; d <= sp.b; d += day {
			switch {
			case tc.trades(d) && start < 0:
				start = d
			case !tc.trades(d) && start >= 0:
				out = append(out, span{start, d - day})
				start = -1
			}
		}
		if start >= 0 {
			out = append(out, span{start, sp.b})
		}
	}
	return out
}

// expected counts the trading days from lo to hi.
func (tc tradingCalendar) expected(lo, hi int64) int64 {
	var n int64
	for d := lo; d <= hi; d += day {
		if tc.trades(d) {
			n++
		}
	}
	return n
}

// groupedHolidays are, by source, the days the source's grouped requests
// found the whole market without results (see pricefetch.GroupedHolidays).
func groupedHolidays(records map[string]contract.GapRecord) map[string]map[int64]bool {
	out := map[string]map[int64]bool{}
	for _, r := range records {
		for _, d := range pricefetch.GroupedHolidays(r) {
			if out[r.Source] == nil {
				out[r.Source] = map[int64]bool{}
			}
			out[r.Source][d.Unix()] = true
		}
	}
	return out
}

// AssetMarkets maps each registry ticker to the market its prices follow
// (prices.MarketOf its category): what ScanConfig.Markets wants.
func AssetMarkets(ctx context.Context, js jetstream.JetStream) (map[string]string, error) {
	reg, err := assets.Open(ctx, js)
	if err != nil {
		return nil, err
	}
	list, err := reg.List(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("list assets for their markets: %w", err)
	}
	out := make(map[string]string, len(list))
	for _, a := range list {
		if m, ok := prices.MarketOf(a.Category); ok {
			out[a.Ticker] = m
		}
	}
	return out, nil
}
