package fetcher_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/deadletter"
	"github.com/feefifofunds/feefifofunds/pipeline/kraken"
	"github.com/feefifofunds/feefifofunds/pipeline/kraken/krakentest"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// The request from the README, typed by a person with nats pub.
const personRequest = `{"pair":"XBTUSD","interval":60,"start":"2025-01-10T08:00:00Z","end":"2025-01-10T14:00:00Z"}`

func TestRawJSONRequestIsServed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.cfg.BatchSize = 2
	data := hourly(at("2025-01-10T07:00:00Z"), 8, 93000) // 07:00 .. 14:00, 14:00 being the open candle
	data = append(data[:3], data[4:]...)                 // 10:00 had no trades
	e.fake.AddCandles("XBTUSD", 60, data)
	e.start()
	rec := e.fill(personRequest, "XBTUSD")
	if rec.State != contract.GapFilled || rec.CandlesWritten != 5 {
		t.Fatalf("gap record %+v", rec)
	}
	if !strings.HasPrefix(rec.History[len(rec.History)-1].Detail, "5 candles, 1 intervals had no trades") {
		t.Errorf("detail %q", rec.History[len(rec.History)-1].Detail)
	}
	if rec.Pair != "XBTUSD" || rec.Base != "BTC" || rec.Interval != 60 || rec.Missing != 7 || rec.Class != contract.ClassFillable ||
		len(rec.History) != 2 || rec.History[0].State != contract.GapRequested {
		t.Errorf("record %+v", rec)
	}

	// Exactly [start, end] of the fake's data, the open 14:00 candle dropped.
	bs := e.batches(topology.CandleSubject("kraken", "XBTUSD", 60))
	sameCandles(t, candlesOf(bs), data[1:6])
	if len(bs) != 3 {
		t.Fatalf("%d batches, want 3 of at most 2 candles", len(bs))
	}
	for i, b := range bs {
		if b.Source != "kraken" || b.Pair != "XBTUSD" || b.Base != "BTC" || b.Quote != "USD" || b.IntervalMinutes != 60 ||
			b.Origin != contract.OriginAPI || b.FillID != "XBTUSD-60-1736496000-1736517600" || b.BatchIndex != uint32(i) || b.Last != (i == 2) {
			t.Errorf("batch %d: %+v", i, b)
		}
	}
	// since is exclusive: the fetcher asked for start-1.
	var asked bool
	for _, c := range e.fake.Requests() {
		if c.Path == "/0/public/OHLC" {
			asked = true
			if c.Query.Get("pair") != "XBTUSD" || c.Query.Get("interval") != "60" || c.Query.Get("since") != strconv.FormatInt(at("2025-01-10T08:00:00Z").Unix()-1, 10) {
				t.Errorf("OHLC query %v", c.Query)
			}
		}
	}
	if !asked {
		t.Error("no OHLC call")
	}
	testenv.WaitValue(t, "filled counter", e.reg.Counter("fff_fetcher_requests_total", "", "outcome", "filled").Get, 1, 5*time.Second)
	testenv.WaitValue(t, "candles counter", e.reg.Counter("fff_fetcher_candles_published_total", "", "origin", "api").Get, 5, 5*time.Second)
	// Every Kraken call is timed: one observation per call made.
	calls := e.reg.Counter("fff_fetcher_kraken_calls_total", "", "endpoint", "OHLC").Get()
	lat := e.reg.Histogram("fff_fetcher_kraken_call_seconds", "", nil, "endpoint", "OHLC")
	if calls < 1 || float64(lat.Count()) != calls || lat.Sum() <= 0 {
		t.Errorf("OHLC latency histogram: %d observations summing to %vs, want one per call (%v)", lat.Count(), lat.Sum(), calls)
	}
}

func TestFlatRowsDroppedAndNoTrades(t *testing.T) {
	t.Parallel()
	e := newEnv(t, krakentest.WithFlatRows())
	data := hourly(at("2025-01-09T00:00:00Z"), 10, 3300) // then no trades until now: flat rows
	e.fake.AddCandles("ETH/USD", 60, data)
	e.start()
	rec := e.fill(`{"pair":"ETHUSD","interval":60,"start":"2025-01-09T05:00:00Z","end":"2025-01-09T15:00:00Z"}`, "ETHUSD")
	if rec.State != contract.GapFilled || rec.CandlesWritten != 5 || !strings.Contains(rec.History[1].Detail, "5 candles, 6 intervals had no trades") {
		t.Fatalf("record %+v", rec)
	}

	rec = e.fill(`{"pair":"ETHUSD","interval":60,"start":"2025-01-10T00:00:00Z","end":"2025-01-10T06:00:00Z"}`, "ETHUSD")
	if rec.State != contract.GapNoTrades || rec.Class != contract.ClassNoTrades || rec.CandlesWritten != 0 {
		t.Fatalf("record %+v", rec)
	}
	if d := rec.History[len(rec.History)-1].Detail; !strings.Contains(d, "no trades") || !strings.Contains(d, "7 intervals had no trades") {
		t.Errorf("detail %q", d)
	}
	sameCandles(t, candlesOf(e.batches(topology.CandleSubject("kraken", "ETHUSD", 60))), data[5:10])
}

func TestOlderThanWindowIsUnfillable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Window at now=2025-01-10T14:30: 2024-12-11T14:00 .. 2025-01-10T13:00.
	data := hourly(at("2024-12-11T10:00:00Z"), 9, 90000) // 10:00 .. 18:00
	e.fake.AddCandles("XBTUSD", 60, data)
	e.start()
	rec := e.fill(`{"pair":"XBTUSD","interval":60,"start":"2024-11-01T00:00:00Z","end":"2024-11-01T05:00:00Z"}`, "XBTUSD")
	want := "6 of the 6 candles (2024-11-01T00:00:00Z to 2024-11-01T05:00:00Z) are older than Kraken's 720-candle OHLC window (oldest servable 2024-12-11T14:00:00Z at 2025-01-10T14:30:00Z); enable --trades to rebuild from trades"
	if rec.State != contract.GapUnfillable || rec.Class != contract.ClassUnfillable || rec.Reason != want {
		t.Fatalf("record %+v\nwant reason %q", rec, want)
	}
	if n := e.fake.Calls("OHLC") + e.fake.Calls("Trades"); n != 0 {
		t.Errorf("%d data calls for an unfillable request", n)
	}

	// Straddling the window edge: the part inside is written, the record says why the rest is not.
	rec = e.fill(`{"pair":"XBTUSD","interval":60,"start":"2024-12-11T10:00:00Z","end":"2024-12-11T18:00:00Z"}`, "XBTUSD")
	if rec.State != contract.GapUnfillable || rec.CandlesWritten != 5 ||
		!strings.Contains(rec.Reason, "4 of the 9 candles") || !strings.Contains(rec.Reason, "5 candles inside the window were written") {
		t.Fatalf("record %+v", rec)
	}
	sameCandles(t, candlesOf(e.batches(topology.CandleSubject("kraken", "XBTUSD", 60))), data[4:])
}

// tradesFor makes n trades from t0 every step seconds, none in the hour
// starting at gap.
func tradesFor(t0 time.Time, n int, step float64, gap time.Time) []kraken.Trade {
	var out []kraken.Trade
	for i := range n {
		ts := float64(t0.Unix()) + float64(i)*step + 0.125
		if ts >= float64(gap.Unix()) && ts < float64(gap.Unix()+3600) {
			continue
		}
		out = append(out, kraken.Trade{
			Price:  68000 + float64((i*37)%500)/10,
			Volume: 0.001 * float64(1+i%13),
			Time:   ts,
			Side:   []string{"b", "s"}[i%2],
			Type:   "l",
		})
	}
	return out
}

// handCandles groups trades into hourly candles in [from, to], the plain way.
func handCandles(trades []kraken.Trade, from, to time.Time) []contract.Candle {
	var out []contract.Candle
	for h := from.Unix(); h <= to.Unix(); h += 3600 {
		var c contract.Candle
		var pv float64
		for _, tr := range trades {
			sec := int64(math.Floor(tr.Time))
			if sec < h || sec >= h+3600 {
				continue
			}
			if c.Trades == 0 {
				c = contract.Candle{Time: h, Open: tr.Price, High: tr.Price, Low: tr.Price}
			}
			c.High, c.Low, c.Close = math.Max(c.High, tr.Price), math.Min(c.Low, tr.Price), tr.Price
			c.Volume += tr.Volume
			pv += tr.Price * tr.Volume
			c.Trades++
		}
		if c.Trades > 0 {
			c.VWAP = pv / c.Volume
			out = append(out, c)
		}
	}
	return out
}

func TestTradesRebuildBeyondWindow(t *testing.T) {
	t.Parallel()
	from, to := at("2024-11-01T00:00:00Z"), at("2024-11-01T04:00:00Z")
	// 2600 trades every 6.5 s from 23:30 the day before: three Trades pages,
	// trades before and after the range, none 02:00-03:00.
	trades := tradesFor(from.Add(-30*time.Minute), 2600, 6.5, at("2024-11-01T02:00:00Z"))
	want := handCandles(trades, from, to)
	if len(want) != 4 {
		t.Fatalf("test data: %d hand candles", len(want))
	}
	check := func(t *testing.T, e *env, pair, request string) {
		e.pub(request)
		rec := e.waitGap(contract.GapKey("kraken", pair, 60, from), 20*time.Second)
		if rec.State != contract.GapFilled || rec.CandlesWritten != 4 || rec.Class != contract.ClassFillableFromTrades ||
			!strings.Contains(rec.History[1].Detail, "4 candles, 1 intervals had no trades (4 rebuilt from trades, 0 from OHLC)") {
			t.Fatalf("record %+v", rec)
		}
		bs := e.batches(topology.CandleSubject("kraken", pair, 60))
		sameCandles(t, candlesOf(bs), want)
		for _, b := range bs {
			if b.Origin != contract.OriginTrades {
				t.Errorf("batch origin %v", b.Origin)
			}
		}
		if n := e.fake.Calls("Trades"); n < 3 {
			t.Errorf("%d Trades calls; the range needs at least 3 pages", n)
		}
		if e.fake.Calls("OHLC") != 0 {
			t.Error("OHLC called for a range outside its window")
		}
	}
	t.Run("fetcher --trades", func(t *testing.T) {
		e := newEnv(t)
		e.cfg.Trades = true
		e.fake.AddTrades("XBTUSD", trades)
		e.start()
		check(t, e, "XBTUSD", `{"pair":"XBTUSD","interval":60,"start":"2024-11-01T00:00:00Z","end":"2024-11-01T04:00:00Z"}`)
	})
	t.Run("request trades:true", func(t *testing.T) {
		e := newEnv(t)
		e.fake.AddTrades("XBTUSDT", trades)
		e.start()
		check(t, e, "XBTUSDT", `{"pair":"xbtusdt","interval":60,"start":"2024-11-01T00:00:00Z","end":"2024-11-01T04:00:00Z","trades":true}`)
	})
}

func TestTradesAndOHLCInOneRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.cfg.Trades = true
	// The window starts at 2024-12-11T14:00: 12:00 and 13:00 come from trades.
	trades := tradesFor(at("2024-12-11T12:00:00Z"), 1000, 7.2, at("2000-01-01T00:00:00Z"))
	ohlc := hourly(at("2024-12-11T14:00:00Z"), 3, 95000)
	e.fake.AddTrades("XBTUSD", trades)
	e.fake.AddCandles("XBTUSD", 60, ohlc)
	e.start()
	rec := e.fill(`{"pair":"XXBTZUSD","interval":60,"start":"2024-12-11T12:00:00Z","end":"2024-12-11T16:00:00Z"}`, "XBTUSD")
	if rec.State != contract.GapFilled || rec.CandlesWritten != 5 || !strings.Contains(rec.History[1].Detail, "(2 rebuilt from trades, 3 from OHLC)") {
		t.Fatalf("record %+v", rec)
	}
	bs := e.batches(topology.CandleSubject("kraken", "XBTUSD", 60))
	want := append(handCandles(trades, at("2024-12-11T12:00:00Z"), at("2024-12-11T13:00:00Z")), ohlc...)
	sameCandles(t, candlesOf(bs), want)
	if len(bs) != 2 || bs[0].Origin != contract.OriginTrades || bs[1].Origin != contract.OriginAPI || bs[0].Last || !bs[1].Last {
		t.Errorf("batches: %d, origins/last %v/%v %v/%v", len(bs), bs[0].Origin, bs[0].Last, bs[len(bs)-1].Origin, bs[len(bs)-1].Last)
	}
}

func TestThrottlingSlowsDownButServes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	data := hourly(at("2025-01-10T08:00:00Z"), 6, 93000)
	e.fake.AddCandles("XBTUSD", 60, data)
	e.fake.Throttle(3, "EAPI:Rate limit exceeded")
	begin := time.Now()
	e.start()
	rec := e.fill(personRequest, "XBTUSD")
	took := time.Since(begin)
	if rec.State != contract.GapFilled || rec.CandlesWritten != 6 {
		t.Fatalf("record %+v", rec)
	}
	// Backoff 20 ms, 40 ms, 80 ms.
	if took < 140*time.Millisecond {
		t.Errorf("served in %s: throttling did not slow it down", took)
	}
	testenv.WaitValue(t, "throttled counter", e.reg.Counter("fff_fetcher_kraken_throttled_total", "").Get, 3, 5*time.Second)
	if e.fake.Calls("AssetPairs") != 4 {
		t.Errorf("AssetPairs calls %d, want 3 throttled + 1", e.fake.Calls("AssetPairs"))
	}
	sameCandles(t, candlesOf(e.batches(topology.CandleSubject("kraken", "XBTUSD", 60))), data)
	if dl := e.deadLetters(0, 0); len(dl) != 0 {
		t.Errorf("throttled request dead-lettered: %v", dl[0].Header)
	}

	// Every kind of temporary answer, mid-request this time.
	e.fake.Throttle(1, "EGeneral:Too many requests")
	e.fake.Throttle(1, "EService:Unavailable")
	e.fake.Throttle(1, "EService:Busy")
	e.fake.FailHTTP(1, 503)
	rec = e.fill(`{"pair":"XBTUSD","interval":60,"start":"2025-01-10T09:00:00Z","end":"2025-01-10T11:00:00Z"}`, "XBTUSD")
	if rec.State != contract.GapFilled || rec.CandlesWritten != 3 {
		t.Fatalf("record %+v", rec)
	}
}

func TestShutdownHandsRequestBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.fake.AddCandles("XBTUSD", 60, hourly(at("2025-01-10T08:00:00Z"), 6, 93000))
	e.fake.Throttle(1_000_000, "EService:Unavailable")
	e.start()
	e.pub(personRequest)
	deadline := time.Now().Add(10 * time.Second)
	for e.fake.Calls("AssetPairs") < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	e.stop() // while backing off
	s, err := e.js.JS.Stream(context.Background(), topology.StreamFills)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := s.Info(context.Background())
	if info.State.Msgs != 1 {
		t.Fatalf("FILLS holds %d messages after shutdown, want the request kept", info.State.Msgs)
	}
	e.fake.ClearFailures()
	e.start()
	rec := e.waitGap(contract.GapKey("kraken", "XBTUSD", 60, at("2025-01-10T08:00:00Z")), 15*time.Second)
	if rec.State != contract.GapFilled || rec.CandlesWritten != 6 {
		t.Fatalf("record %+v", rec)
	}
	if dl := e.deadLetters(0, 0); len(dl) != 0 {
		t.Error("request dead-lettered")
	}
}

func TestBadRequestsAreDeadLettered(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.cfg.MaxRequestCandles = 100
	e.fake.AddCandles("XBTUSD", 60, hourly(at("2025-01-10T08:00:00Z"), 6, 93000))
	e.start()
	cases := []struct{ body, reason string }{
		{`XBTUSD 60 yesterday`, "not valid JSON"},
		{`{"pair":"XBTUSD","interval":60,"start":"2025-01-10T08:00:00Z","end":"2025-01-10T14:00:00Z","limit":5}`, `unknown field "limit"`},
		{`{"pair":"XBTUSD","interval":"60","start":"2025-01-10T08:00:00Z","end":"2025-01-10T14:00:00Z"}`, `field "interval" must be`},
		{`{"pair":"XBTUSD","interval":60,"start":"2025-01-10T14:00:00Z","end":"2025-01-10T08:00:00Z"}`, `"start" 2025-01-10T14:00:00Z is after "end"`},
		{`{"pair":"XBTUSD","interval":720,"start":"2025-01-10T08:00:00Z","end":"2025-01-10T14:00:00Z"}`, `"interval" 720 is not served by Kraken`},
		{`{"pair":"NOPEUSD","interval":60,"start":"2025-01-10T08:00:00Z","end":"2025-01-10T14:00:00Z"}`, `unknown pair "NOPEUSD"`},
		{`{"pair":"XBTUSD","interval":1,"start":"2025-01-09T00:00:00Z","end":"2025-01-10T00:00:00Z"}`, "1441 candles of 1 minutes, more than the 100 one request may ask for (--max-request-candles)"},
		{`{"pair":"XBTUSD","interval":60,"start":"2025-01-10T08:10:00Z","end":"2025-01-10T08:50:00Z"}`, "holds no 60-minute candle"},
	}
	for _, c := range cases {
		e.pub(c.body)
	}
	rec := e.fill(personRequest, "XBTUSD") // and it goes on serving
	if rec.State != contract.GapFilled {
		t.Fatalf("good request after bad ones: %+v", rec)
	}
	dl := e.deadLetters(len(cases), 10*time.Second)
	if len(dl) != len(cases) {
		t.Fatalf("%d dead letters, want %d", len(dl), len(cases))
	}
	for i, c := range cases {
		m := dl[i]
		if string(m.Data) != c.body {
			t.Errorf("dead letter %d carries %q, want the original %q", i, m.Data, c.body)
		}
		if r := m.Header.Get(deadletter.HeaderReason); !strings.Contains(r, c.reason) {
			t.Errorf("dead letter %d reason %q, want it to say %q", i, r, c.reason)
		}
		if m.Header.Get(deadletter.HeaderStage) != "fetcher" || m.Header.Get(deadletter.HeaderSubject) != "fills.kraken" {
			t.Errorf("dead letter %d headers %v", i, m.Header)
		}
	}
	testenv.WaitValue(t, "dead-letter counter", e.reg.Counter("fff_fetcher_requests_total", "", "outcome", "dead_lettered").Get, float64(len(cases)), 5*time.Second)
}

func TestRateLimitSpacesCalls(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.cfg.Rate = 2 // one call every 500 ms
	e.fake.AddCandles("XBTUSD", 60, hourly(at("2025-01-10T00:00:00Z"), 14, 93000))
	e.start()
	for h := 0; h < 3; h++ {
		e.pub(fmt.Sprintf(`{"pair":"XBTUSD","interval":60,"start":"2025-01-10T%02d:00:00Z","end":"2025-01-10T%02d:00:00Z"}`, h, h+1))
	}
	for h := 0; h < 3; h++ {
		e.waitGap(contract.GapKey("kraken", "XBTUSD", 60, at(fmt.Sprintf("2025-01-10T%02d:00:00Z", h))), 15*time.Second)
	}
	calls := e.fake.Requests()
	if len(calls) != 4 {
		t.Fatalf("%d calls, want AssetPairs + 3 OHLC", len(calls))
	}
	// The limiter spaces the starts of calls; a call's arrival at the fake
	// lags its start by scheduling and HTTP time, which on a loaded machine
	// can eat most of a pair's gap. Against the first arrival the lag of the
	// later call only lengthens the span, so call i arrives no earlier than
	// i × 500 ms minus the first call's lag (150 ms is plenty).
	for i := 1; i < len(calls); i++ {
		want := time.Duration(i)*500*time.Millisecond - 150*time.Millisecond
		if span := calls[i].At.Sub(calls[0].At); span < want {
			t.Errorf("call %d arrived %s after call 0 at 2 calls/s, want at least %s", i, span, want)
		}
	}
}

func TestScannerRecordIsUpdated(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	data := hourly(at("2025-01-10T08:00:00Z"), 3, 93000)
	e.fake.AddCandles("XBTUSD", 60, data)
	start := at("2025-01-10T08:00:00Z")
	key := contract.GapKey("kraken", "XBTUSD", 60, start)
	e.putGap(contract.GapRecord{Key: key, Source: "kraken", Pair: "XBTUSD", Base: "BTC", Interval: 60, Start: start,
		End: start.Add(2 * time.Hour), Missing: 3, Class: contract.ClassFillable, State: contract.GapRequested,
		History: []contract.GapEvent{{At: time.Now(), State: contract.GapOpen}, {At: time.Now(), State: contract.GapRequested}}})
	e.start()
	req := contract.FillRequest{Pair: "XBTUSD", Interval: 60, Start: start, End: start.Add(2 * time.Hour), ID: key}
	body, _ := req.Encode()
	e.pub(string(body))
	rec := e.waitGap(key, 15*time.Second)
	if rec.State != contract.GapFilled || rec.CandlesWritten != 3 || rec.Missing != 3 || len(rec.History) != 3 ||
		rec.History[0].State != contract.GapOpen || rec.History[2].State != contract.GapFilled {
		t.Fatalf("record %+v", rec)
	}
	for _, b := range e.batches(topology.CandleSubject("kraken", "XBTUSD", 60)) {
		if b.FillID != key || b.MsgID() != "api:"+key+":0" {
			t.Errorf("batch fill id %q msg id %q", b.FillID, b.MsgID())
		}
	}
}

func TestSplitScannerRequestsReportToOneRecord(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	data := hourly(at("2025-01-10T08:00:00Z"), 3, 93000) // 08:00-10:00; nothing 11:00-13:00
	e.fake.AddCandles("XBTUSD", 60, data)
	start := at("2025-01-10T08:00:00Z")
	key := contract.GapKey("kraken", "XBTUSD", 60, start)
	e.putGap(contract.GapRecord{Key: key, Source: "kraken", Pair: "XBTUSD", Interval: 60, Start: start,
		End: start.Add(5 * time.Hour), Missing: 6, Class: contract.ClassFillable, State: contract.GapRequested,
		History: []contract.GapEvent{{At: time.Now(), State: contract.GapRequested}}})
	e.start()
	for i, r := range []contract.FillRequest{
		{Pair: "XBTUSD", Interval: 60, Start: start, End: start.Add(2 * time.Hour), ID: key},
		{Pair: "XBTUSD", Interval: 60, Start: start.Add(3 * time.Hour), End: start.Add(5 * time.Hour), ID: key + "-2"},
	} {
		body, _ := r.Encode()
		e.pub(string(body))
		want := 2 + i
		deadline := time.Now().Add(15 * time.Second)
		for {
			rec := e.waitGap(key, 15*time.Second)
			if len(rec.History) == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("record %+v", rec)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	rec := e.waitGap(key, time.Second)
	// Part one filled 3 candles, part two found no trades: the gap is FILLED, not NO_TRADES.
	if rec.State != contract.GapFilled || rec.CandlesWritten != 3 || rec.History[1].State != contract.GapFilled || rec.History[2].State != contract.GapNoTrades {
		t.Fatalf("record %+v", rec)
	}
	if _, ok := e.gapNow(contract.GapKey("kraken", "XBTUSD", 60, start.Add(3*time.Hour))); ok {
		t.Error("the second part made a record of its own")
	}
}

// A gap is FILLED only once the writer reported every batch of the fill
// queryable; refused batches and a silent writer make it FAILED with the
// reason.
func TestFilledWaitsForTheWriter(t *testing.T) {
	key := contract.GapKey("kraken", "XBTUSD", 60, at("2025-01-10T08:00:00Z"))
	for _, tc := range []struct {
		name    string
		setup   func(e *env)
		release bool
		state   string
		detail  string
	}{
		{name: "reports held, then released", setup: func(e *env) { e.writer.hold(true) }, release: true, state: contract.GapFilled, detail: "5 candles"},
		{name: "batch refused", setup: func(e *env) { e.writer.setRefuse(true) }, state: contract.GapFailed, detail: "QuestDB refused batch"},
		{name: "no report", setup: func(e *env) { e.writer.hold(true); e.cfg.ApplyTimeout = 500 * time.Millisecond }, state: contract.GapFailed, detail: "reported only 0 of 3 batches queryable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.cfg.BatchSize = 2
			data := hourly(at("2025-01-10T07:00:00Z"), 8, 93000)
			data = append(data[:3], data[4:]...)
			e.fake.AddCandles("XBTUSD", 60, data)
			tc.setup(e)
			e.start()
			e.pub(personRequest)
			if tc.release {
				// Every batch is published and waits for its report: the gap
				// is not FILLED meanwhile.
				testenv.WaitValue(t, "reports held back", e.writer.heldReports, 3, 15*time.Second)
				if rec, ok := e.gapNow(key); ok && rec.State == contract.GapFilled {
					t.Fatalf("FILLED before the writer reported the batches queryable: %+v", rec)
				}
				e.writer.hold(false)
			}
			rec := e.waitGap(key, 15*time.Second)
			last := rec.History[len(rec.History)-1].Detail
			if rec.State != tc.state || !strings.Contains(last, tc.detail) {
				t.Fatalf("state %s detail %q, want %s with %q", rec.State, last, tc.state, tc.detail)
			}
		})
	}
}

// gapNow reads the gap record under key as it is now.
func (e *env) gapNow(key string) (contract.GapRecord, bool) {
	e.t.Helper()
	entry, err := e.gapBucket().Get(context.Background(), key)
	if err != nil {
		return contract.GapRecord{}, false
	}
	var r contract.GapRecord
	if err := json.Unmarshal(entry.Value(), &r); err != nil {
		e.t.Fatal(err)
	}
	return r, true
}
