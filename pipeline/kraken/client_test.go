package kraken

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

// snippets returns the JSON lines of rest_snippets.txt in order.
func snippets(t *testing.T) []string {
	var out []string
	for _, l := range strings.Split(string(testenv.Fixture(t, "rest_snippets.txt")), "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "[") || strings.HasPrefix(l, "{") {
			out = append(out, l)
		}
	}
	return out
}

// bodyServer answers every request with body and records the queries.
type bodyServer struct {
	*httptest.Server
	mu      sync.Mutex
	queries []url.Values
	paths   []string
}

func serveBody(t *testing.T, status int, body []byte) *bodyServer {
	s := &bodyServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.queries = append(s.queries, r.URL.Query())
		s.paths = append(s.paths, r.URL.Path)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestOHLCParsesRealResponse(t *testing.T) {
	srv := serveBody(t, 200, testenv.Fixture(t, "ohlc_XXBTZUSD_1440_DawnKosmos-kraken-go.json"))
	c := NewClient(srv.URL, nil)
	res, err := c.OHLC(context.Background(), "XBTUSD", 1440, 1680825600)
	if err != nil {
		t.Fatal(err)
	}
	if srv.paths[0] != "/0/public/OHLC" {
		t.Errorf("path %q", srv.paths[0])
	}
	q := srv.queries[0]
	if q.Get("pair") != "XBTUSD" || q.Get("interval") != "1440" || q.Get("since") != "1680825600" {
		t.Errorf("query %v", q)
	}
	if res.Pair != "XXBTZUSD" {
		t.Errorf("pair key %q, want XXBTZUSD", res.Pair)
	}
	if res.Last != 1681603200 {
		t.Errorf("last %d", res.Last)
	}
	if len(res.Candles) != 10 {
		t.Fatalf("%d candles, want 10", len(res.Candles))
	}
	want := contract.Candle{Time: 1680912000, Open: 27923.0, High: 28170.0, Low: 27886.0, Close: 27956.0, VWAP: 28017.9, Volume: 814.32026236, Trades: 15890}
	if res.Candles[0] != want {
		t.Errorf("first candle %+v, want %+v", res.Candles[0], want)
	}
	lastRow := contract.Candle{Time: 1681689600, Open: 30316.1, High: 30319.3, Low: 29777.0, Close: 29889.7, VWAP: 29947.6, Volume: 1431.51497736, Trades: 13735}
	if res.Candles[9] != lastRow {
		t.Errorf("open candle %+v, want %+v", res.Candles[9], lastRow)
	}
	// The final row is the open candle: one interval after last.
	if res.Candles[9].Time != res.Last+86400 {
		t.Errorf("final row %d is not last+1 day", res.Candles[9].Time)
	}
}

func TestOHLCResultKeyDiffersFromRequest(t *testing.T) {
	srv := serveBody(t, 200, testenv.Fixture(t, "ohlc_XETHZEUR_60_since-now_ccxt-issue22606.json"))
	res, err := NewClient(srv.URL, nil).OHLC(context.Background(), "ETHEUR", 60, 1716546459)
	if err != nil {
		t.Fatal(err)
	}
	if res.Pair != "XETHZEUR" || res.Last != 1716541200 || len(res.Candles) != 1 {
		t.Fatalf("got %+v", res)
	}
	if c := res.Candles[0]; c.Time != 1716544800 || c.Open != 3401.65 || c.Volume != 67.23911980 || c.Trades != 394 {
		t.Fatalf("candle %+v", c)
	}

	srv2 := serveBody(t, 200, testenv.Fixture(t, "ohlc_XBTUSDT_60_ccxt-pr22607.json"))
	res, err = NewClient(srv2.URL, nil).OHLC(context.Background(), "XBTUSDT", 60, 1716523348)
	if err != nil {
		t.Fatal(err)
	}
	if res.Pair != "XBTUSDT" || res.Last != 1716544800 || len(res.Candles) != 7 {
		t.Fatalf("got pair %s last %d %d candles", res.Pair, res.Last, len(res.Candles))
	}
	if c := res.Candles[3]; c.Time != 1716537600 || c.Low != 66624.9 || c.Volume != 7.58390828 || c.Trades != 320 {
		t.Fatalf("candle %+v", c)
	}
}

func TestOHLCZeroTradeRows(t *testing.T) {
	sn := snippets(t)
	body := `{"error":[],"result":{"ADAEUR":[` + sn[0] + `],"last":1627084800}}`
	srv := serveBody(t, 200, []byte(body))
	res, err := NewClient(srv.URL, nil).OHLC(context.Background(), "ADAEUR", 1440, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := srv.queries[0]["since"]; ok {
		t.Error("since=0 should not be sent")
	}
	c := res.Candles[0]
	if c.Time != 1627084800 || c.Open != 1.024497 || c.Close != 1.024497 || c.VWAP != 0 || c.Volume != 0 || c.Trades != 0 {
		t.Fatalf("flat row %+v", c)
	}
}

func TestErrorBodies(t *testing.T) {
	sn := snippets(t)
	cases := []struct {
		body                          string
		unknown, throttled, temporary bool
		wantText                      string
	}{
		{sn[2], true, false, false, "EQuery:Unknown asset pair"},
		{sn[3], false, false, false, "EGeneral:Invalid arguments:ordertype"},
		{sn[4], false, true, true, "EGeneral:Too many requests"},
		{`{"error":["EAPI:Rate limit exceeded"]}`, false, true, true, "EAPI:Rate limit exceeded"},
		{`{"error":["EService:Unavailable"]}`, false, false, true, "EService:Unavailable"},
		{`{"error":["EService:Busy"]}`, false, false, true, "EService:Busy"},
	}
	for _, tc := range cases {
		srv := serveBody(t, 200, []byte(tc.body))
		_, err := NewClient(srv.URL, nil).OHLC(context.Background(), "XBTUSD", 60, 0)
		var ae *APIError
		if !errors.As(err, &ae) {
			t.Fatalf("%s: want *APIError, got %v", tc.body, err)
		}
		if ae.UnknownPair() != tc.unknown || ae.Throttled() != tc.throttled || ae.Temporary() != tc.temporary {
			t.Errorf("%s: unknown=%v throttled=%v temporary=%v", tc.body, ae.UnknownPair(), ae.Throttled(), ae.Temporary())
		}
		if IsTemporary(err) != tc.temporary || IsThrottled(err) != tc.throttled || IsUnknownPair(err) != tc.unknown {
			t.Errorf("%s: helper functions disagree", tc.body)
		}
		if !strings.Contains(err.Error(), tc.wantText) {
			t.Errorf("error text %q lacks %q", err, tc.wantText)
		}
	}
}

func TestHTTPAndNetworkErrorsAreTemporary(t *testing.T) {
	for status, temp := range map[int]bool{502: true, 503: true, 520: true, 429: true, 404: false, 403: false} {
		srv := serveBody(t, status, []byte("<html>cloudflare</html>"))
		_, err := NewClient(srv.URL, nil).OHLC(context.Background(), "XBTUSD", 60, 0)
		var he *HTTPError
		if !errors.As(err, &he) || he.Status != status {
			t.Fatalf("HTTP %d: got %v", status, err)
		}
		if IsTemporary(err) != temp {
			t.Errorf("HTTP %d: temporary=%v, want %v", status, IsTemporary(err), temp)
		}
	}
	// A 200 that is not JSON: a proxy page; retry.
	srv := serveBody(t, 200, []byte("<html>maintenance</html>"))
	if _, err := NewClient(srv.URL, nil).OHLC(context.Background(), "XBTUSD", 60, 0); !IsTemporary(err) {
		t.Errorf("non-JSON 200: %v should be temporary", err)
	}
	// Nothing listening.
	dead := httptest.NewServer(http.NotFoundHandler())
	url := dead.URL
	dead.Close()
	if _, err := NewClient(url, nil).AssetPairs(context.Background()); !IsTemporary(err) {
		t.Errorf("connection refused: %v should be temporary", err)
	}
	// A cancelled caller is not something to retry.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := NewClient(srv.URL, nil).OHLC(ctx, "XBTUSD", 60, 0); err == nil || IsTemporary(err) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestTradesFragment(t *testing.T) {
	sn := snippets(t)
	frag := sn[5]
	// The source truncates the body after two trades; close it as Kraken does.
	frag = strings.TrimSpace(strings.TrimSuffix(frag, "..."))
	body := frag + `],"last":"1559347203808600000"}}`
	srv := serveBody(t, 200, []byte(body))
	res, err := NewClient(srv.URL, nil).Trades(context.Background(), "xbtusd", 1559347200000000000)
	if err != nil {
		t.Fatal(err)
	}
	if q := srv.queries[0]; q.Get("since") != "1559347200000000000" || q.Get("pair") != "xbtusd" || srv.paths[0] != "/0/public/Trades" {
		t.Errorf("request %s %v", srv.paths[0], q)
	}
	if res.Pair != "XXBTZUSD" || res.Last != 1559347203808600000 || len(res.Trades) != 2 {
		t.Fatalf("got %+v", res)
	}
	tr := res.Trades[0]
	if tr.Price != 8552.9 || tr.Volume != 0.03190270 || tr.Time != 1559347203.7998 || tr.Side != "s" || tr.Type != "m" || tr.ID != 0 {
		t.Errorf("trade %+v", tr)
	}
	if tr.UnixNano() != 1559347203799800000 {
		t.Errorf("UnixNano %d", tr.UnixNano())
	}
	if res.Trades[1].UnixNano() != 1559347203808600000 {
		t.Errorf("second trade ns %d", res.Trades[1].UnixNano())
	}
}

func TestTradesWithIDs(t *testing.T) {
	body := `{"error":[],"result":{"XXBTZUSD":[["95283.50000","0.00010500",1736500000.123456,"b","l","",76543210]],"last":"1736500000123456000"}}`
	srv := serveBody(t, 200, []byte(body))
	res, err := NewClient(srv.URL, nil).Trades(context.Background(), "XBTUSD", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := srv.queries[0]["since"]; ok {
		t.Error("since=0 should not be sent")
	}
	tr := res.Trades[0]
	if tr.ID != 76543210 || tr.Side != "b" || tr.Type != "l" || tr.UnixNano() != 1736500000123456000 {
		t.Fatalf("trade %+v ns %d", tr, tr.UnixNano())
	}
}

const assetPairsBody = `{"error":[],"result":{
"XXBTZUSD":{"altname":"XBTUSD","wsname":"XBT/USD","aclass_base":"currency","base":"XXBT","aclass_quote":"currency","quote":"ZUSD","pair_decimals":1,"lot_decimals":8,"status":"online"},
"XETHZUSD":{"altname":"ETHUSD","wsname":"ETH/USD","base":"XETH","quote":"ZUSD","pair_decimals":2,"lot_decimals":8},
"XDGUSD":{"altname":"XDGUSD","wsname":"XDG/USD","base":"XXDG","quote":"ZUSD","pair_decimals":7,"lot_decimals":8},
"XBTUSDT":{"altname":"XBTUSDT","wsname":"XBT/USDT","base":"XXBT","quote":"USDT","pair_decimals":1,"lot_decimals":8}}}`

func TestAssetPairsAndResolver(t *testing.T) {
	srv := serveBody(t, 200, []byte(assetPairsBody))
	pairs, err := NewClient(srv.URL, nil).AssetPairs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if srv.paths[0] != "/0/public/AssetPairs" {
		t.Errorf("path %q", srv.paths[0])
	}
	p := pairs["XXBTZUSD"]
	if p.Key != "XXBTZUSD" || p.Altname != "XBTUSD" || p.WSName != "XBT/USD" || p.Base != "XXBT" || p.Quote != "ZUSD" || p.PairDecimals != 1 {
		t.Fatalf("XXBTZUSD = %+v", p)
	}
	r := NewResolver(pairs)
	for _, name := range []string{"XBTUSD", "xbtusd", "XBT/USD", "XXBTZUSD", "XBT-USD", " XBTUSD "} {
		got, err := r.Resolve(name)
		if err != nil || got.Key != "XXBTZUSD" || got.Altname != "XBTUSD" {
			t.Errorf("Resolve(%q) = %+v, %v", name, got, err)
		}
	}
	if got, _ := r.Resolve("XDG/USD"); got.Key != "XDGUSD" || got.Base != "XXDG" {
		t.Errorf("XDG/USD = %+v", got)
	}
	if got, _ := r.Resolve("XBTUSDT"); got.Key != "XBTUSDT" {
		t.Errorf("XBTUSDT = %+v", got)
	}
	_, err = r.Resolve("NOPEUSD")
	if !errors.Is(err, ErrPairNotListed) || !IsUnknownPair(err) || !strings.Contains(err.Error(), "NOPEUSD") {
		t.Errorf("unknown pair: %v", err)
	}
}
