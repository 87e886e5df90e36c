package kraken

import (
	"math"
	"sort"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

// CandlesFromTrades rebuilds the candles of interval minutes whose open times
// lie in [from, to] (unix seconds, inclusive) from trades. Intervals are
// aligned to the unix epoch like Kraken's. Per interval: open = first trade's
// price, close = last's, high/low, volume = Σv, vwap = Σ(p·v)/Σv, trades =
// count. An interval without trades produces no candle, as in Kraken's CSV.
func CandlesFromTrades(trades []Trade, interval int, from, to int64) []contract.Candle {
	b := NewCandleBuilder(interval, from, to)
	b.Add(trades)
	return b.Flush()
}

// CandleBuilder folds trades into candles page by page, so a long run of
// Trades pages never has to sit in memory. Pages must come in time order (as
// Kraken's since/last paging delivers them); within a page order is by time.
type CandleBuilder struct {
	step     int64
	from, to int64
	done     []contract.Candle
	cur      contract.Candle
	pv       float64 // Σ price·volume of cur
	have     bool
}

// NewCandleBuilder builds candles with open times in [from, to].
func NewCandleBuilder(interval int, from, to int64) *CandleBuilder {
	return &CandleBuilder{step: int64(interval) * 60, from: from, to: to}
}

// Add folds in a page of trades.
func (b *CandleBuilder) Add(trades []Trade) {
	if b.step <= 0 {
		return
	}
	page := trades
	if !sort.SliceIsSorted(page, func(i, j int) bool { return page[i].UnixNano() < page[j].UnixNano() }) {
		page = append([]Trade(nil), trades...)
		sort.SliceStable(page, func(i, j int) bool { return page[i].UnixNano() < page[j].UnixNano() })
	}
	for _, t := range page {
		open := contract.FloorTime(t.UnixNano(), b.step*1e9) / 1e9
		if open < b.from || open > b.to {
			continue
		}
		if b.have && open != b.cur.Time {
			b.close()
		}
		if !b.have {
			b.cur = contract.Candle{Time: open, Open: t.Price, High: t.Price, Low: t.Price}
			b.pv = 0
			b.have = true
		}
		b.cur.High = math.Max(b.cur.High, t.Price)
		b.cur.Low = math.Min(b.cur.Low, t.Price)
		b.cur.Close = t.Price
		b.cur.Volume += t.Volume
		b.pv += t.Price * t.Volume
		b.cur.Trades++
	}
}

func (b *CandleBuilder) close() {
	if b.cur.Volume > 0 {
		b.cur.VWAP = b.pv / b.cur.Volume
	} else {
		b.cur.VWAP = contract.NoVWAP
	}
	b.done = append(b.done, b.cur)
	b.have = false
}

// Take returns the candles completed so far (every interval before the one
// the latest trade fell in) and forgets them.
func (b *CandleBuilder) Take() []contract.Candle {
	out := b.done
	b.done = nil
	return out
}

// Flush closes the interval in progress and returns every candle not yet taken.
func (b *CandleBuilder) Flush() []contract.Candle {
	if b.have {
		b.close()
	}
	return b.Take()
}
