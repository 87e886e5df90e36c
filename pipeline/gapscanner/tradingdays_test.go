package gapscanner_test

import (
	"strings"
	"testing"
	"time"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/calendar"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/gaps"
	"github.com/feefifofunds/feefifofunds/pipeline/gapscanner"
	"github.com/feefifofunds/feefifofunds/pipeline/pricefetch"
)

// dailyOn makes a daily candle on each of days except those in skip.
func dailyOn(days []time.Time, skip ...string) []contract.Candle {
	var out []contract.Candle
	for _, d := range days {
		if !strings.Contains(strings.Join(skip, " "), d.Format(time.DateOnly)) {
			out = append(out, contract.Candle{Time: d.Unix(), Open: 1, High: 2, Low: 0.5, Close: 1.5, Volume: 3})
		}
	}
	return out
}

// A stock's daily series from a price source has no candle on weekends and
// exchange holidays (2023-01-16, Martin Luther King Jr. Day, here), nor on a
// day the grouped endpoint found the whole market without results: none of
// those is a gap; a real missing Tuesday is. A crypto asset trades daily.
func TestPriceSourceSeriesFollowTheirMarket(t *testing.T) {
	from, to := at("2023-01-09T00:00:00Z"), at("2023-02-10T00:00:00Z")
	stockDays := calendar.TradingDays(calendar.Stocks, from, to)
	allDays := calendar.TradingDays(calendar.Crypto, from, to)
	cases := []struct {
		name     string
		source   string
		ticker   string
		markets  map[string]string
		candles  []contract.Candle
		closed   string // a date a grouped request recorded without results
		want     []string
		expected int64
	}{
		{"stock", "massive", "AAPL", map[string]string{"AAPL": calendar.Stocks},
			dailyOn(stockDays, "2023-01-24"), "", []string{"2023-01-24..2023-01-24"}, 24},
		{"ticker not in the registry is a stock", "finnhub", "MSFT", nil,
			dailyOn(stockDays, "2023-01-24"), "", []string{"2023-01-24..2023-01-24"}, 24},
		{"grouped day without results", "massive", "AAPL", nil,
			dailyOn(stockDays, "2023-01-24", "2023-01-31"), "2023-01-31", []string{"2023-01-24..2023-01-24"}, 23},
		{"crypto trades daily", "massive", "BTC", map[string]string{"BTC": calendar.Crypto},
			dailyOn(allDays, "2023-01-24"), "", []string{"2023-01-24..2023-01-24"}, 33},
		{"crypto weekend missing is a gap", "massive", "ETH", map[string]string{"ETH": calendar.Crypto},
			dailyOn(stockDays), "", []string{"2023-01-14..2023-01-16", "2023-01-21..2023-01-22", "2023-01-28..2023-01-29", "2023-02-04..2023-02-05"}, 33},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := testenv.NewQuestDB(t)
			env := testenv.StartJetStream(t)
			ctx := testenv.Context(t, 60*time.Second)
			kv, err := gaps.Open(ctx, env.JS)
			if err != nil {
				t.Fatal(err)
			}
			if c.closed != "" {
				req := contract.PriceRequest{Grouped: true, Tickers: []string{c.ticker}, Start: from, End: to, ID: "g1"}
				err := gaps.Update(ctx, kv, pricefetch.RecordKey(c.source, req), func(r *contract.GapRecord, _ bool) bool {
					*r = contract.GapRecord{Source: c.source, Pair: pricefetch.GroupedPair, Interval: contract.PriceInterval,
						Start: from, End: to, State: contract.GapFilled,
						History: []contract.GapEvent{{State: contract.GapFilled,
							Detail: "request g1: 23 candles for 1 of 1 tickers from 25 grouped calls (23 trading days); no results (market holiday) on " + c.closed}}}
					return true
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			insertFrom(t, q, c.source, c.ticker, c.ticker, "USD", contract.PriceInterval, c.candles)
			rep, err := gapscanner.Scan(ctx, gapscanner.ScanConfig{DB: q.Pool, Table: q.Table, Source: c.source,
				Markets: c.markets, Records: kv, Now: fixed(at("2023-02-11T12:00:00Z")), Log: testLog(t)})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, g := range rep.Gaps {
				got = append(got, g.Start.Format(time.DateOnly)+".."+g.End.Format(time.DateOnly))
			}
			if strings.Join(got, " ") != strings.Join(c.want, " ") {
				t.Errorf("gaps %v, want %v", got, c.want)
			}
			if len(rep.Series) != 1 || rep.Series[0].Expected != c.expected {
				t.Errorf("series %+v: want %d candles expected", rep.Series, c.expected)
			}
		})
	}
}
