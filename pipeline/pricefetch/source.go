package pricefetch

import (
	"context"
	"time"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

// Source is a REST API serving daily candles: pipeline/massive and
// pipeline/finnhub implement it. Its client paces and retries its own calls
// (pipeline/throttle); what it returns as an error is final: the API's
// refusal in its own words, or throttling that outlasted the retries.
type Source interface {
	// Name is the source column and subject token: "massive", "finnhub".
	Name() string
	// Symbol is the source's symbol for a registry ticker in market
	// ("stocks" or "crypto").
	Symbol(ticker, market string) string
	// Daily returns the candles of symbol from from to to (dates,
	// inclusive), each at 00:00 UTC of its trading date. No data is no
	// candles and no error.
	Daily(ctx context.Context, symbol, market string, from, to time.Time) ([]contract.Candle, error)
}

// GroupedSource also serves one date of a whole market in one call
// (Massive's grouped daily bars).
type GroupedSource interface {
	Source
	// Grouped returns the candles of every symbol of market on date, by
	// the source's symbol; a date the market was closed is an empty map.
	Grouped(ctx context.Context, market string, date time.Time) (map[string]contract.Candle, error)
}
