package contract

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
)

// PriceRequest asks a price-source fetcher (fills.massive, fills.finnhub)
// for the daily candles of one ticker between two dates, both inclusive:
//
//	{"ticker":"AAPL","start":"2023-01-09","end":"2023-02-10"}
//
// or, from Massive only, for every listed ticker of a market on each date
// in one grouped-daily call per date:
//
//	{"grouped":true,"tickers":["AAPL","MSFT"],"start":"2023-01-09","end":"2023-01-13"}
//
// Stock and crypto prices from these sources are daily, so the interval is
// 1440 (and may be left out). Candles are stored under 00:00 UTC of their
// trading date, like Kraken's daily candles.
type PriceRequest struct {
	// Ticker is the registry's ticker (AAPL, BTC): the pair column and the
	// subject token of the candles. Empty for a grouped request.
	Ticker string `json:"ticker,omitempty"`
	// Symbol is the source's own symbol when it differs from what the
	// fetcher derives from Ticker and Market (X:BTCUSD, BINANCE:BTCUSDT).
	Symbol string `json:"symbol,omitempty"`
	// Market is "stocks" (default) or "crypto".
	Market   string    `json:"market,omitempty"`
	Interval int       `json:"interval"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	// Quote is the quote currency stored with the candles (default USD).
	Quote string `json:"quote,omitempty"`
	// Grouped asks for the grouped-daily endpoint; Tickers are the
	// registry tickers to keep from its answers.
	Grouped bool     `json:"grouped,omitempty"`
	Tickers []string `json:"tickers,omitempty"`
	// ID names the request in logs, batch ids and its gap record; derived
	// from the rest when absent.
	ID string `json:"id,omitempty"`
}

// PriceInterval is the one interval the price sources serve here: a day.
const PriceInterval = 1440

// Limits of a price request (schemas/price_request.schema.json).
const (
	MaxPriceRequestBytes = 64 << 10
	MaxTickerLen         = 20
	MaxSymbolLen         = 40
	MaxGroupedTickers    = 2000
	MaxPriceRequestDays  = 20 * 366
)

var priceRequestFields = []string{"ticker", "symbol", "market", "interval", "start", "end", "quote", "grouped", "tickers", "id"}

// priceRequestWire is the JSON shape, read by DecodePriceRequest and
// written by Encode: times may be dates, RFC 3339 or unix seconds.
type priceRequestWire struct {
	Ticker   string          `json:"ticker,omitempty"`
	Symbol   string          `json:"symbol,omitempty"`
	Market   string          `json:"market,omitempty"`
	Interval *float64        `json:"interval"`
	Start    json.RawMessage `json:"start"`
	End      json.RawMessage `json:"end"`
	Quote    string          `json:"quote,omitempty"`
	Grouped  bool            `json:"grouped,omitempty"`
	Tickers  []string        `json:"tickers,omitempty"`
	ID       string          `json:"id,omitempty"`
}

// DecodePriceRequest parses and validates a price request; its errors say
// what is wrong for a person who typed it with `nats pub`.
func DecodePriceRequest(data []byte) (PriceRequest, error) {
	var w priceRequestWire
	if err := decodeTyped("price request", data, MaxPriceRequestBytes, priceRequestFields, &w); err != nil {
		return PriceRequest{}, err
	}
	r := PriceRequest{
		Ticker: strings.ToUpper(strings.TrimSpace(w.Ticker)), Symbol: strings.TrimSpace(w.Symbol),
		Market: w.Market, Quote: strings.ToUpper(strings.TrimSpace(w.Quote)), Grouped: w.Grouped, ID: w.ID,
		Interval: PriceInterval,
	}
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	switch r.Market {
	case "":
		r.Market = "stocks"
	case "stocks", "crypto":
	default:
		add(`"market" %s: want "stocks" or "crypto"`, Clip(w.Market, 40))
	}
	if w.Interval != nil && *w.Interval != PriceInterval {
		add(`"interval" %v: price sources serve daily candles only (1440)`, *w.Interval)
	}
	if r.Grouped {
		if r.Ticker != "" || r.Symbol != "" {
			add(`a grouped request names its tickers in "tickers", not "ticker" or "symbol"`)
		}
		if len(w.Tickers) == 0 {
			add(`"tickers" is required with "grouped": the registry tickers to keep from each date's answer`)
		}
		if len(w.Tickers) > MaxGroupedTickers {
			add(`"tickers" has %d entries, at most %d`, len(w.Tickers), MaxGroupedTickers)
		}
		for _, t := range w.Tickers {
			t = strings.ToUpper(strings.TrimSpace(t))
			if !validTicker(t) {
				add(`"tickers" entry %s: want 1 to %d characters A-Z, 0-9`, Clip(t, 40), MaxTickerLen)
				break
			}
			if !slices.Contains(r.Tickers, t) {
				r.Tickers = append(r.Tickers, t)
			}
		}
	} else {
		switch {
		case len(w.Tickers) > 0:
			add(`"tickers" needs "grouped":true; one ticker goes in "ticker"`)
		case r.Ticker == "":
			add(`"ticker" is required (a registry ticker such as "AAPL")`)
		case !validTicker(r.Ticker):
			// The ticker becomes a subject token (candles.<source>.<ticker>.1440).
			add(`"ticker" %s: want 1 to %d characters A-Z, 0-9`, Clip(w.Ticker, 40), MaxTickerLen)
		}
	}
	if len(r.Symbol) > MaxSymbolLen || strings.ContainsFunc(r.Symbol, func(c rune) bool { return unicode.IsSpace(c) || unicode.IsControl(c) || c == '/' || c == '?' }) {
		add(`"symbol" %s: at most %d characters, no spaces, slashes or question marks`, Clip(w.Symbol, 60), MaxSymbolLen)
	}
	if r.Quote != "" && !validTicker(r.Quote) {
		add(`"quote" %s: want a currency such as "USD"`, Clip(w.Quote, 40))
	}
	var err error
	if r.Start, err = parseDay("start", w.Start); err != nil {
		add("%s", err)
	}
	if r.End, err = parseDay("end", w.End); err != nil {
		add("%s", err)
	}
	if !r.Start.IsZero() && !r.End.IsZero() {
		if r.Start.After(r.End) {
			add(`"start" %s is after "end" %s`, r.Start.Format(time.DateOnly), r.End.Format(time.DateOnly))
		} else if n := r.Days(); n > MaxPriceRequestDays {
			add(`%d days from "start" to "end", at most %d in one request`, n, MaxPriceRequestDays)
		}
	}
	if p := idProblem(r.ID); p != "" {
		add("%s", p)
	}
	if len(problems) > 0 {
		return PriceRequest{}, fmt.Errorf("price request: %s", strings.Join(problems, "; "))
	}
	if r.ID == "" {
		r.ID = r.DefaultID()
	}
	return r, nil
}

// DefaultID names a request by what it asks for.
func (r PriceRequest) DefaultID() string {
	what := r.Ticker
	if r.Grouped {
		what = "grouped-" + r.Market
	}
	return fmt.Sprintf("%s-%d-%s-%s", what, PriceInterval, r.Start.Format("20060102"), r.End.Format("20060102"))
}

// Days is how many calendar dates the request covers.
func (r PriceRequest) Days() int {
	return int(r.End.Sub(r.Start)/(24*time.Hour)) + 1
}

// Encode renders the request as people type it, dates as YYYY-MM-DD.
func (r PriceRequest) Encode() ([]byte, error) {
	iv := float64(PriceInterval)
	return json.Marshal(priceRequestWire{Ticker: r.Ticker, Symbol: r.Symbol, Market: r.Market, Interval: &iv,
		Start: jsonTime(r.Start, time.DateOnly), End: jsonTime(r.End, time.DateOnly), Quote: r.Quote, Grouped: r.Grouped, Tickers: r.Tickers, ID: r.ID})
}

// parseDay takes a date (2023-01-09), an RFC 3339 time or unix seconds and
// keeps its UTC date.
func parseDay(field string, raw json.RawMessage) (time.Time, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if d, err := time.Parse(time.DateOnly, strings.TrimSpace(s)); err == nil {
			return d, nil
		}
	}
	t, err := parseRequestTime(field, raw)
	if err != nil {
		return time.Time{}, fmt.Errorf(`%w (or a date such as "2023-01-09")`, err)
	}
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), nil
}

func validTicker(t string) bool {
	return len(t) <= MaxTickerLen && isPairName(t)
}
