package krakentest

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/kraken"
)

var now = time.Date(2025, 1, 10, 14, 30, 0, 0, time.UTC) // open hourly candle: 14:00

func hourly(from int64, n int, base float64) []contract.Candle {
	out := make([]contract.Candle, n)
	for i := range out {
		p := base + float64(i)
		out[i] = contract.Candle{Time: from + int64(i)*3600, Open: p, High: p + 5, Low: p - 5, Close: p + 1, VWAP: p + 0.5, Volume: 1.5, Trades: 10}
	}
	return out
}

func start(t *testing.T, opts ...Option) (*Server, *kraken.Client) {
	s := New(append([]Option{WithNow(now)}, opts...)...)
	t.Cleanup(s.Close)
	return s, kraken.NewClient(s.URL, nil)
}

func get(t *testing.T, url string) string {
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%s: HTTP %d", url, resp.StatusCode)
	}
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestAssetPairs(t *testing.T) {
	_, c := start(t)
	pairs, err := c.AssetPairs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r := kraken.NewResolver(pairs)
	for name, key := range map[string]string{"XBTUSD": "XXBTZUSD", "XBT/USD": "XXBTZUSD", "XXBTZUSD": "XXBTZUSD",
		"ETHUSD": "XETHZUSD", "XDGUSD": "XDGUSD", "XBTUSDT": "XBTUSDT", "ETHUSDT": "ETHUSDT"} {
		p, err := r.Resolve(name)
		if err != nil || p.Key != key {
			t.Errorf("%s → %+v %v, want %s", name, p, err, key)
		}
	}
	if p := pairs["XDGUSD"]; p.Base != "XXDG" || p.Altname != "XDGUSD" {
		t.Errorf("XDGUSD %+v", p)
	}
}

func TestOHLCWindowOpenCandleAndSince(t *testing.T) {
	s, c := start(t)
	open := now.Truncate(time.Hour).Unix()
	first := open - 800*3600
	s.AddCandles("XBTUSD", 60, hourly(first, 801, 30000)) // through the open candle
	ctx := context.Background()

	res, err := c.OHLC(ctx, "XBTUSD", 60, 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.Pair != "XXBTZUSD" {
		t.Errorf("key %s", res.Pair)
	}
	if len(res.Candles) != Window+1 {
		t.Fatalf("%d rows, want %d closed + the open one", len(res.Candles), Window)
	}
	if res.Candles[0].Time != open-Window*3600 || res.Candles[Window].Time != open || res.Last != open-3600 {
		t.Errorf("first %d open %d last %d", res.Candles[0].Time, res.Candles[Window].Time, res.Last)
	}
	// since older than the window changes nothing.
	old, _ := c.OHLC(ctx, "XBTUSD", 60, first)
	if len(old.Candles) != Window+1 {
		t.Errorf("since before the window: %d rows", len(old.Candles))
	}
	// since is exclusive.
	since := open - 5*3600
	res, _ = c.OHLC(ctx, "XBTUSD", 60, since)
	if len(res.Candles) != 5 || res.Candles[0].Time != since+3600 {
		t.Errorf("since=%d: %d rows from %d", since, len(res.Candles), res.Candles[0].Time)
	}
	res, _ = c.OHLC(ctx, "XBTUSD", 60, since-1)
	if res.Candles[0].Time != since {
		t.Errorf("since-1 should include %d, got %d", since, res.Candles[0].Time)
	}
	// since = now: only the open candle, last still the newest closed.
	res, _ = c.OHLC(ctx, "XBTUSD", 60, now.Unix())
	if len(res.Candles) != 1 || res.Candles[0].Time != open || res.Last != open-3600 {
		t.Errorf("since=now: %+v", res)
	}
	// The clock moves the window.
	s.SetNow(now.Add(2 * time.Hour))
	res, _ = c.OHLC(ctx, "XBTUSD", 60, 0)
	if res.Last != open+3600 || res.Candles[len(res.Candles)-1].Time != open+2*3600 {
		t.Errorf("after SetNow: last %d final %d", res.Last, res.Candles[len(res.Candles)-1].Time)
	}
	if s.Calls("OHLC") != 6 || s.Calls("/0/public/OHLC") != 6 {
		t.Errorf("calls %d", s.Calls("OHLC"))
	}
	if q := s.Requests()[1].Query; q.Get("since") != itoa(first) || q.Get("pair") != "XBTUSD" || q.Get("interval") != "60" {
		t.Errorf("logged query %v", q)
	}
}

func TestOHLCFormatsLikeKraken(t *testing.T) {
	s, _ := start(t)
	open := now.Truncate(time.Hour).Unix()
	s.AddCandles("XXBTZUSD", 60, []contract.Candle{
		{Time: open - 3600, Open: 30000, High: 30100.5, Low: 29950, Close: 30050, VWAP: 30020.25, Volume: 12.5, Trades: 42},
		{Time: open, Open: 30050, High: 30060, Low: 30040, Close: 30055, VWAP: 30051, Volume: 0.1, Trades: 3},
	})
	body := get(t, s.URL+"/0/public/OHLC?pair=xbtusd&interval=60&since="+itoa(open-7200))
	want := `{"error":[],"result":{"XXBTZUSD":[[` + itoa(open-3600) + `,"30000.0","30100.5","29950.0","30050.0","30020.2","12.50000000",42],[` +
		itoa(open) + `,"30050.0","30060.0","30040.0","30055.0","30051.0","0.10000000",3]],"last":` + itoa(open-3600) + `}}`
	if body != want {
		t.Fatalf("body\n%s\nwant\n%s", body, want)
	}
	s.AddCandles("ETHUSD", 60, []contract.Candle{{Time: open, Open: 3300.1, High: 3300.1, Low: 3300.1, Close: 3300.1, VWAP: 3300.1, Volume: 1, Trades: 1}})
	if body := get(t, s.URL+"/0/public/OHLC?pair=ETHUSD&interval=60"); !strings.Contains(body, `"XETHZUSD":[[`+itoa(open)+`,"3300.10",`) {
		t.Errorf("ETHUSD body %s", body)
	}
}

func TestOHLCErrors(t *testing.T) {
	s, c := start(t)
	ctx := context.Background()
	_, err := c.OHLC(ctx, "NOPEUSD", 60, 0)
	if !kraken.IsUnknownPair(err) {
		t.Errorf("unknown pair: %v", err)
	}
	_, err = c.OHLC(ctx, "XBTUSD", 720, 0) // CSV ships 720, REST does not
	if err == nil || !strings.Contains(err.Error(), "EGeneral:Invalid arguments") || kraken.IsTemporary(err) {
		t.Errorf("bad interval: %v", err)
	}
	if body := get(t, s.URL+"/0/public/OHLC?pair=NOPE&interval=60"); body != `{"error":["EQuery:Unknown asset pair"]}` {
		t.Errorf("body %s", body)
	}
}

func TestOHLCNoTradeIntervals(t *testing.T) {
	s, c := start(t)
	open := now.Truncate(time.Hour).Unix()
	cs := hourly(open-10*3600, 10, 100) // up to the last closed one; none at the open time
	cs = append(cs[:3], cs[6:]...)      // hours 3,4,5 had no trades
	s.AddCandles("ETHUSD", 60, cs)
	ctx := context.Background()
	res, err := c.OHLC(ctx, "ETHUSD", 60, 0)
	if err != nil {
		t.Fatal(err)
	}
	// 7 closed + a synthesized open row (flat, count 0, at the last close).
	if len(res.Candles) != 8 {
		t.Fatalf("%d rows", len(res.Candles))
	}
	o := res.Candles[7]
	lastClose := cs[len(cs)-1].Close
	if o.Time != open || o.Trades != 0 || o.Volume != 0 || o.VWAP != 0 || o.Open != lastClose || o.High != lastClose {
		t.Errorf("open row %+v", o)
	}

	s.SetFlatRows(true)
	res, _ = c.OHLC(ctx, "ETHUSD", 60, 0)
	if len(res.Candles) != 11 {
		t.Fatalf("with flat rows: %d rows", len(res.Candles))
	}
	for i := 3; i <= 5; i++ {
		f := res.Candles[i]
		if f.Time != open-int64(10-i)*3600 || f.Trades != 0 || f.VWAP != 0 || f.Volume != 0 || f.Open != cs[2].Close || f.Close != cs[2].Close {
			t.Errorf("flat row %d: %+v", i, f)
		}
	}
	body := get(t, s.URL+"/0/public/OHLC?pair=ETHUSD&interval=60&since="+itoa(open-7*3600-1))
	if !strings.Contains(body, `"0.00","0.00000000",0]`) {
		t.Errorf("flat row format: %s", body)
	}
}

func TestTradesPaging(t *testing.T) {
	s, c := start(t)
	base := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	var trades []kraken.Trade
	for i := range 2500 {
		trades = append(trades, kraken.Trade{Price: 60000 + float64(i%7), Volume: 0.01, Time: float64(base.Unix()) + float64(i)*0.25, Side: "b", Type: "m"})
	}
	trades = append(trades, kraken.Trade{Price: 1, Volume: 1, Time: float64(now.Add(time.Minute).Unix())}) // after now: not served
	s.AddTrades("XBTUSD", trades)
	ctx := context.Background()
	since := base.UnixNano() - 1
	var got []kraken.Trade
	pages := 0
	for {
		res, err := c.Trades(ctx, "XBTUSD", since)
		if err != nil {
			t.Fatal(err)
		}
		if res.Pair != "XXBTZUSD" {
			t.Fatalf("key %s", res.Pair)
		}
		if len(res.Trades) == 0 {
			if res.Last != since {
				t.Errorf("empty page last %d, want since %d", res.Last, since)
			}
			break
		}
		pages++
		if len(res.Trades) > MaxTrades {
			t.Fatalf("page of %d", len(res.Trades))
		}
		if res.Last != res.Trades[len(res.Trades)-1].UnixNano() {
			t.Errorf("last %d", res.Last)
		}
		got = append(got, res.Trades...)
		since = res.Last
	}
	if pages != 3 || len(got) != 2500 {
		t.Fatalf("%d pages, %d trades", pages, len(got))
	}
	for i := range got {
		if got[i].ID != int64(i+1) || got[i].UnixNano() != trades[i].UnixNano() || got[i].Price != trades[i].Price {
			t.Fatalf("trade %d: %+v vs %+v", i, got[i], trades[i])
		}
	}
	body := get(t, s.URL+"/0/public/Trades?pair=XBTUSD&count=1&since="+itoa(base.UnixNano()))
	if !regexp.MustCompile(`^\{"error":\[\],"result":\{"XXBTZUSD":\[\["60001\.00000","0\.01000000",1717200000\.25,"b","m","",2\]\],"last":"1717200000250000000"\}\}$`).MatchString(body) {
		t.Errorf("trades body %s", body)
	}
}

func TestThrottleAndHTTPFailures(t *testing.T) {
	s, c := start(t)
	ctx := context.Background()
	s.Throttle(2, "EAPI:Rate limit exceeded")
	s.FailHTTP(1, 503)
	for range 2 {
		if _, err := c.OHLC(ctx, "XBTUSD", 60, 0); !kraken.IsThrottled(err) || !kraken.IsTemporary(err) {
			t.Fatalf("want throttled, got %v", err)
		}
	}
	if _, err := c.AssetPairs(ctx); !kraken.IsTemporary(err) || kraken.IsThrottled(err) {
		t.Fatalf("want 503, got %v", err)
	}
	if _, err := c.OHLC(ctx, "XBTUSD", 60, 0); err != nil {
		t.Fatalf("after throttling: %v", err)
	}
	if s.Calls("OHLC") != 3 || s.Calls("AssetPairs") != 1 || len(s.Requests()) != 4 {
		t.Errorf("calls OHLC %d AssetPairs %d", s.Calls("OHLC"), s.Calls("AssetPairs"))
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
