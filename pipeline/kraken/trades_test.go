package kraken

import (
	"math"
	"testing"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

func TestCandlesFromTradesByHand(t *testing.T) {
	// Hourly candles from 2025-01-10 08:00 (1736496000).
	h := int64(1736496000)
	trades := []Trade{
		{Price: 100, Volume: 1, Time: float64(h) + 0.5},      // 08:00 open
		{Price: 110, Volume: 2, Time: float64(h) + 600.25},   // 08:10 high
		{Price: 90, Volume: 1, Time: float64(h) + 1800},      // 08:30 low
		{Price: 95, Volume: 4, Time: float64(h) + 3599.9999}, // 08:59:59.9999 close
		{Price: 96, Volume: 0.5, Time: float64(h) + 3600},    // 09:00 exactly: next candle
		// 10:00 has no trades
		{Price: 99, Volume: 3, Time: float64(h) + 3*3600 + 1}, // 11:00
		{Price: 98, Volume: 1, Time: float64(h) + 3*3600 + 2},
		{Price: 1, Volume: 1, Time: float64(h) - 1},          // before from: ignored
		{Price: 1, Volume: 1, Time: float64(h) + 4*3600 + 5}, // after to: ignored
	}
	got := CandlesFromTrades(trades, 60, h, h+3*3600)
	want := []contract.Candle{
		// vwap = (100·1 + 110·2 + 90·1 + 95·4) / 8 = 790/8
		{Time: h, Open: 100, High: 110, Low: 90, Close: 95, Volume: 8, VWAP: 790.0 / 8, Trades: 4},
		{Time: h + 3600, Open: 96, High: 96, Low: 96, Close: 96, Volume: 0.5, VWAP: 96, Trades: 1},
		// vwap = (99·3 + 98·1) / 4 = 395/4
		{Time: h + 3*3600, Open: 99, High: 99, Low: 98, Close: 98, Volume: 4, VWAP: 395.0 / 4, Trades: 2},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d candles %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if !same(got[i], want[i]) {
			t.Errorf("candle %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestCandleBuilderAcrossPages(t *testing.T) {
	h := int64(1736496000)
	all := []Trade{
		{Price: 10, Volume: 1, Time: float64(h) + 1},
		{Price: 12, Volume: 1, Time: float64(h) + 2},
		{Price: 11, Volume: 2, Time: float64(h) + 300}, // 5-minute candle h+300
		{Price: 13, Volume: 1, Time: float64(h) + 301},
	}
	whole := CandlesFromTrades(all, 5, h, h+300)
	b := NewCandleBuilder(5, h, h+300)
	b.Add(all[:1])
	if c := b.Take(); len(c) != 0 {
		t.Fatalf("candle closed too early: %+v", c)
	}
	b.Add(all[1:3]) // page boundary inside the first candle
	first := b.Take()
	if len(first) != 1 {
		t.Fatalf("want the first candle closed, got %+v", first)
	}
	b.Add(all[3:])
	paged := append(first, b.Flush()...)
	if len(paged) != len(whole) {
		t.Fatalf("paged %+v whole %+v", paged, whole)
	}
	for i := range whole {
		if !same(paged[i], whole[i]) {
			t.Errorf("candle %d: paged %+v whole %+v", i, paged[i], whole[i])
		}
	}
	if whole[0].Open != 10 || whole[0].Close != 12 || whole[0].Trades != 2 || whole[1].Open != 11 || whole[1].High != 13 {
		t.Errorf("candles %+v", whole)
	}
}

func TestCandlesFromUnsortedTrades(t *testing.T) {
	h := int64(1736496000)
	got := CandlesFromTrades([]Trade{
		{Price: 3, Volume: 1, Time: float64(h) + 30},
		{Price: 1, Volume: 1, Time: float64(h) + 10},
		{Price: 2, Volume: 1, Time: float64(h) + 20},
	}, 1, h, h)
	if len(got) != 1 || got[0].Open != 1 || got[0].Close != 3 {
		t.Fatalf("got %+v", got)
	}
}

func same(a, b contract.Candle) bool {
	eq := func(x, y float64) bool { return math.Abs(x-y) <= 1e-9*math.Max(1, math.Abs(y)) }
	return a.Time == b.Time && a.Trades == b.Trades && eq(a.Open, b.Open) && eq(a.High, b.High) &&
		eq(a.Low, b.Low) && eq(a.Close, b.Close) && eq(a.Volume, b.Volume) && eq(a.VWAP, b.VWAP)
}
