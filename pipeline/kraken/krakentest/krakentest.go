// Package krakentest is an in-process fake of Kraken's public REST API for
// tests: /0/public/AssetPairs, /0/public/OHLC, /0/public/Trades and
// /0/public/Time, answering with Kraken's shapes, formats and quirks
// (fixtures in shared/fixtures/kraken), plus controls to set the clock, load
// candles and trades, and throttle.
//
// The OHLC rules it implements, which the fetcher relies on:
//   - now is aligned down to the interval: the candle opening there is the
//     still-open one, and the 720 intervals before it are the window of closed
//     candles Kraken serves, whatever since says.
//   - since is exclusive: closed rows have time > since.
//   - the final row is always the open candle, even when since is at or past
//     it (Kraken does this: see the since-now fixture). When the data has no
//     candle there, a flat count-0 row at the previous close is synthesized,
//     as Kraken shows an interval without trades yet; with no earlier candle
//     at all there is no open row.
//   - last is the newest closed candle's time (open candle - interval), even
//     when no closed row is returned.
//   - intervals without data are absent, or with WithFlatRows flat count-0
//     rows (O=H=L=C=previous close, vwap 0, volume 0) between the series'
//     first candle and now.
//   - prices and vwap are strings with the pair's pair_decimals (XBTUSD:
//     "30000.0"), volume with 8 decimals, time and count are numbers.
//   - the request's pair may be Kraken's name or the altname, any case; the
//     result key is always Kraken's name (XXBTZUSD). Unknown pairs answer
//     {"error":["EQuery:Unknown asset pair"]}, bad intervals or arguments
//     {"error":["EGeneral:Invalid arguments"]}, all with HTTP 200.
//
// Trades: up to 1000 trades (or count=) with time > since (nanoseconds) and
// not after now, oldest first; without since, the newest 1000. last is the
// newest returned trade's time in nanoseconds, as a string (since itself when
// nothing is newer).
package krakentest

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/kraken"
)

// Window is how many closed candles OHLC serves.
const Window = 720

// MaxTrades is the most trades one Trades call returns.
const MaxTrades = 1000

// Call is one request the fake received.
type Call struct {
	Path  string // e.g. /0/public/OHLC
	Query url.Values
	At    time.Time // wall-clock arrival time (not the fake's now)
}

type series struct {
	key      string
	interval int
}

// Server is the fake. Its URL is the base URL for kraken.NewClient or the
// fetcher's --kraken-url.
type Server struct {
	*httptest.Server

	mu       sync.Mutex
	now      time.Time
	pairs    map[string]kraken.PairInfo // by Kraken's name
	byName   map[string]string          // upper-case key or altname → key
	candles  map[series]map[int64]contract.Candle
	trades   map[string][]kraken.Trade // by key, sorted by time
	nextID   map[string]int64
	failures []failure
	flatRows bool
	calls    []Call
}

type failure struct {
	msg    string // Kraken error string, or
	status int    // an HTTP status with an HTML page
}

// Option configures New.
type Option func(*Server)

// WithFlatRows makes OHLC send flat count-0 rows for intervals without
// trades instead of leaving them out (Kraken does both).
func WithFlatRows() Option { return func(s *Server) { s.flatRows = true } }

// WithNow sets the fake's clock.
func WithNow(t time.Time) Option { return func(s *Server) { s.now = t.UTC() } }

// New starts a fake Kraken. Close it when done. Its clock starts at the
// current time, to the second.
func New(opts ...Option) *Server {
	s := &Server{
		now:     time.Now().UTC().Truncate(time.Second),
		pairs:   map[string]kraken.PairInfo{},
		byName:  map[string]string{},
		candles: map[series]map[int64]contract.Candle{},
		trades:  map[string][]kraken.Trade{},
		nextID:  map[string]int64{},
	}
	for _, p := range DefaultPairs() {
		s.addPairLocked(p)
	}
	for _, o := range opts {
		o(s)
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// DefaultPairs are the pairs the fake lists, as Kraken lists them.
func DefaultPairs() []kraken.PairInfo {
	p := func(key, alt, ws, base, quote string, dec int) kraken.PairInfo {
		return kraken.PairInfo{Key: key, Altname: alt, WSName: ws, Base: base, Quote: quote, PairDecimals: dec, LotDecimals: 8, Status: "online"}
	}
	return []kraken.PairInfo{
		p("XXBTZUSD", "XBTUSD", "XBT/USD", "XXBT", "ZUSD", 1),
		p("XXBTZEUR", "XBTEUR", "XBT/EUR", "XXBT", "ZEUR", 1),
		p("XBTUSDT", "XBTUSDT", "XBT/USDT", "XXBT", "USDT", 1),
		p("XBTUSDC", "XBTUSDC", "XBT/USDC", "XXBT", "USDC", 2),
		p("XETHZUSD", "ETHUSD", "ETH/USD", "XETH", "ZUSD", 2),
		p("XETHZEUR", "ETHEUR", "ETH/EUR", "XETH", "ZEUR", 2),
		p("XETHXXBT", "ETHXBT", "ETH/XBT", "XETH", "XXBT", 5),
		p("ETHUSDT", "ETHUSDT", "ETH/USDT", "XETH", "USDT", 2),
		p("XDGUSD", "XDGUSD", "XDG/USD", "XXDG", "ZUSD", 7),
		p("XXRPZUSD", "XRPUSD", "XRP/USD", "XXRP", "ZUSD", 5),
		p("XLTCZUSD", "LTCUSD", "LTC/USD", "XLTC", "ZUSD", 2),
		p("SOLUSD", "SOLUSD", "SOL/USD", "SOL", "ZUSD", 2),
		p("ADAEUR", "ADAEUR", "ADA/EUR", "ADA", "ZEUR", 6),
		p("ADAUSD", "ADAUSD", "ADA/USD", "ADA", "ZUSD", 6),
		p("DOTUSD", "DOTUSD", "DOT/USD", "DOT", "ZUSD", 4),
		p("USDTZUSD", "USDTUSD", "USDT/USD", "USDT", "ZUSD", 5),
	}
}

// AddPair lists another pair (Key, Altname, WSName, Base, Quote,
// PairDecimals are used).
func (s *Server) AddPair(p kraken.PairInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addPairLocked(p)
}

func (s *Server) addPairLocked(p kraken.PairInfo) {
	if p.LotDecimals == 0 {
		p.LotDecimals = 8
	}
	if p.Status == "" {
		p.Status = "online"
	}
	s.pairs[p.Key] = p
	s.byName[strings.ToUpper(p.Key)] = p.Key
	s.byName[strings.ToUpper(p.Altname)] = p.Key
}

// lookup finds a pair as Kraken's REST does: its name or altname, any case.
func (s *Server) lookup(name string) (kraken.PairInfo, bool) {
	k, ok := s.byName[strings.ToUpper(name)]
	if !ok {
		return kraken.PairInfo{}, false
	}
	return s.pairs[k], true
}

// knownPair is the endpoints' lookup: a name Kraken does not know answers
// EQuery:Unknown asset pair, whichever endpoint was asked.
func (s *Server) knownPair(w http.ResponseWriter, name string) (kraken.PairInfo, bool) {
	p, ok := s.lookup(name)
	if !ok {
		writeError(w, kraken.ErrUnknownPair)
	}
	return p, ok
}

// mustLookup is the controls' lookup: it also takes wsnames (XBT/USD).
func (s *Server) mustLookup(name string) kraken.PairInfo {
	p, ok := s.lookup(name)
	if !ok {
		for _, q := range s.pairs {
			if strings.EqualFold(q.WSName, name) {
				return q
			}
		}
		panic(fmt.Sprintf("krakentest: unknown pair %q (AddPair it first)", name))
	}
	return p
}

// SetNow sets the fake's clock, which decides the open candle and the window.
func (s *Server) SetNow(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = t.UTC()
}

// Now is the fake's clock (give it to the fetcher's Config.Now).
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

// SetFlatRows switches flat count-0 rows for no-trade intervals on or off.
func (s *Server) SetFlatRows(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flatRows = on
}

// AddCandles stores candles of pair (altname, wsname or Kraken's name) and interval
// for OHLC to serve; a candle at an existing time replaces it. Prices are
// sent rounded to the pair's decimals, as Kraken does; a NaN VWAP is sent as
// the close and a negative trade count as 0.
func (s *Server) AddCandles(pair string, interval int, candles []contract.Candle) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.mustLookup(pair)
	k := series{p.Key, interval}
	m := s.candles[k]
	if m == nil {
		m = map[int64]contract.Candle{}
		s.candles[k] = m
	}
	for _, c := range candles {
		m[c.Time] = c
	}
}

// AddTrades stores trades of pair for Trades to serve. Trades without an ID
// get the next one in time order.
func (s *Server) AddTrades(pair string, trades []kraken.Trade) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.mustLookup(pair)
	all := append(s.trades[p.Key], trades...)
	sort.SliceStable(all, func(i, j int) bool { return all[i].UnixNano() < all[j].UnixNano() })
	for i := range all {
		if all[i].ID == 0 {
			s.nextID[p.Key]++
			all[i].ID = s.nextID[p.Key]
		} else if all[i].ID > s.nextID[p.Key] {
			s.nextID[p.Key] = all[i].ID
		}
	}
	s.trades[p.Key] = all
}

// Throttle makes the next n calls (any endpoint) answer {"error":[msg]},
// e.g. Throttle(3, "EAPI:Rate limit exceeded").
func (s *Server) Throttle(n int, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, failure{msg: msg})
	}
}

// FailHTTP makes the next n calls answer HTTP status with an HTML page, as
// Kraken's CDN does during outages.
func (s *Server) FailHTTP(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, failure{status: status})
	}
}

// ClearFailures drops the throttling and HTTP failures still queued.
func (s *Server) ClearFailures() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = nil
}

// Calls counts the requests to path ("/0/public/OHLC" or just "OHLC"),
// throttled ones included.
func (s *Server) Calls(path string) int {
	if !strings.HasPrefix(path, "/") {
		path = "/0/public/" + path
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if c.Path == path {
			n++
		}
	}
	return n
}

// Requests is the log of every request received, oldest first.
func (s *Server) Requests() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm() // Kraken takes GET queries and POST forms alike
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, Call{Path: r.URL.Path, Query: r.Form, At: time.Now()})
	if len(s.failures) > 0 {
		f := s.failures[0]
		s.failures = s.failures[1:]
		if f.status != 0 {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(f.status)
			fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>", f.status, http.StatusText(f.status))
			return
		}
		writeError(w, f.msg)
		return
	}
	switch r.URL.Path {
	case "/0/public/Time":
		writeResult(w, map[string]any{"unixtime": s.now.Unix(), "rfc1123": s.now.Format(time.RFC1123)})
	case "/0/public/AssetPairs":
		s.assetPairs(w, r.Form)
	case "/0/public/OHLC":
		s.ohlc(w, r.Form)
	case "/0/public/Trades":
		s.tradesPage(w, r.Form)
	default:
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":["EGeneral:Unknown method"]}`))
	}
}

func writeError(w http.ResponseWriter, msgs ...string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	b, _ := json.Marshal(map[string]any{"error": msgs})
	_, _ = w.Write(b)
}

func writeResult(w http.ResponseWriter, result any) {
	b, err := json.Marshal(result)
	if err != nil {
		panic(err)
	}
	writeRaw(w, b)
}

func writeRaw(w http.ResponseWriter, result []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write([]byte(`{"error":[],"result":`))
	_, _ = w.Write(result)
	_, _ = w.Write([]byte(`}`))
}

// assetPair is the AssetPairs entry shape (a realistic subset of Kraken's fields).
type assetPair struct {
	Altname           string      `json:"altname"`
	WSName            string      `json:"wsname"`
	AClassBase        string      `json:"aclass_base"`
	Base              string      `json:"base"`
	AClassQuote       string      `json:"aclass_quote"`
	Quote             string      `json:"quote"`
	Lot               string      `json:"lot"`
	CostDecimals      int         `json:"cost_decimals"`
	PairDecimals      int         `json:"pair_decimals"`
	LotDecimals       int         `json:"lot_decimals"`
	LotMultiplier     int         `json:"lot_multiplier"`
	LeverageBuy       []int       `json:"leverage_buy"`
	LeverageSell      []int       `json:"leverage_sell"`
	Fees              [][]float64 `json:"fees"`
	FeesMaker         [][]float64 `json:"fees_maker"`
	FeeVolumeCurrency string      `json:"fee_volume_currency"`
	MarginCall        int         `json:"margin_call"`
	MarginStop        int         `json:"margin_stop"`
	OrderMin          string      `json:"ordermin"`
	CostMin           string      `json:"costmin"`
	TickSize          string      `json:"tick_size"`
	Status            string      `json:"status"`
}

func (s *Server) assetPairs(w http.ResponseWriter, q url.Values) {
	keys := make([]string, 0, len(s.pairs))
	if want := q.Get("pair"); want != "" {
		for _, name := range strings.Split(want, ",") {
			p, ok := s.knownPair(w, strings.TrimSpace(name))
			if !ok {
				return
			}
			keys = append(keys, p.Key)
		}
	} else {
		for k := range s.pairs {
			keys = append(keys, k)
		}
	}
	out := make(map[string]assetPair, len(keys))
	for _, k := range keys {
		p := s.pairs[k]
		out[k] = assetPair{
			Altname: p.Altname, WSName: p.WSName, AClassBase: "currency", Base: p.Base,
			AClassQuote: "currency", Quote: p.Quote, Lot: "unit", CostDecimals: 5,
			PairDecimals: p.PairDecimals, LotDecimals: p.LotDecimals, LotMultiplier: 1,
			LeverageBuy: []int{}, LeverageSell: []int{},
			Fees:              [][]float64{{0, 0.4}, {10000, 0.35}, {50000, 0.24}},
			FeesMaker:         [][]float64{{0, 0.25}, {10000, 0.2}, {50000, 0.14}},
			FeeVolumeCurrency: "ZUSD", MarginCall: 80, MarginStop: 40,
			OrderMin: "0.0001", CostMin: "0.5", TickSize: tick(p.PairDecimals), Status: p.Status,
		}
	}
	writeResult(w, out)
}

func tick(dec int) string {
	if dec <= 0 {
		return "1"
	}
	return "0." + strings.Repeat("0", dec-1) + "1"
}

func (s *Server) ohlc(w http.ResponseWriter, q url.Values) {
	name := q.Get("pair")
	if name == "" {
		writeError(w, kraken.ErrInvalidArgs+":pair")
		return
	}
	interval := 1
	if v := q.Get("interval"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || !contract.Interval(n).ServedByOHLC() {
			writeError(w, kraken.ErrInvalidArgs)
			return
		}
		interval = n
	}
	since, _, ok := querySince(w, q, kraken.ErrInvalidArgs)
	if !ok {
		return
	}
	p, ok := s.knownPair(w, name)
	if !ok {
		return
	}
	step := int64(interval) * 60
	open := contract.FloorTime(s.now.Unix(), step)
	oldest := open - Window*step
	data := s.candles[series{p.Key, interval}]
	times := make([]int64, 0, len(data))
	for t := range data {
		times = append(times, t)
	}
	slices.Sort(times)

	var b strings.Builder
	b.WriteString(`{`)
	b.WriteString(strconv.Quote(p.Key))
	b.WriteString(`:[`)
	first := true
	row := func(c contract.Candle, flat bool) {
		if !first {
			b.WriteByte(',')
		}
		first = false
		writeRow(&b, c, p.PairDecimals, flat)
	}
	// prevClose finds the close of the newest candle before t.
	prevClose := func(t int64) (float64, bool) {
		i := sort.Search(len(times), func(i int) bool { return times[i] >= t })
		if i == 0 {
			return 0, false
		}
		return data[times[i-1]].Close, true
	}
	from := max(oldest, since+1)
	if s.flatRows && len(times) > 0 {
		t0 := contract.CeilTime(max(from, times[0]), step)
		for t := t0; t < open; t += step {
			if c, ok := data[t]; ok {
				row(c, false)
			} else if pc, ok := prevClose(t); ok {
				row(contract.Candle{Time: t, Open: pc, High: pc, Low: pc, Close: pc}, true)
			}
		}
	} else {
		for _, t := range times {
			if t >= from && t < open {
				row(data[t], false)
			}
		}
	}
	if c, ok := data[open]; ok {
		row(c, false)
	} else if pc, ok := prevClose(open); ok {
		row(contract.Candle{Time: open, Open: pc, High: pc, Low: pc, Close: pc}, true)
	}
	b.WriteString(`],"last":`)
	b.WriteString(strconv.FormatInt(open-step, 10))
	b.WriteString(`}`)
	writeRaw(w, []byte(b.String()))
}

// writeRow renders [time,"open","high","low","close","vwap","volume",count]
// the way Kraken does.
func writeRow(b *strings.Builder, c contract.Candle, dec int, flat bool) {
	price := func(f float64) string { return strconv.FormatFloat(f, 'f', dec, 64) }
	vwap := c.VWAP
	if math.IsNaN(vwap) {
		vwap = c.Close
	}
	count := c.Trades
	if count < 0 {
		count = 0
	}
	if flat {
		vwap, count = 0, 0
	}
	fmt.Fprintf(b, `[%d,"%s","%s","%s","%s","%s","%s",%d]`, c.Time,
		price(c.Open), price(c.High), price(c.Low), price(c.Close), price(vwap),
		strconv.FormatFloat(c.Volume, 'f', 8, 64), count)
}

func (s *Server) tradesPage(w http.ResponseWriter, q url.Values) {
	name := q.Get("pair")
	if name == "" {
		writeError(w, kraken.ErrInvalidArgs+":pair")
		return
	}
	limit := MaxTrades
	if v := q.Get("count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxTrades {
			writeError(w, kraken.ErrInvalidArgs+":count")
			return
		}
		limit = n
	}
	since, sinceSet, ok := querySince(w, q, kraken.ErrInvalidArgs+":since")
	if !ok {
		return
	}
	p, ok := s.knownPair(w, name)
	if !ok {
		return
	}
	all := s.trades[p.Key]
	nowNS := s.now.UnixNano()
	end := sort.Search(len(all), func(i int) bool { return all[i].UnixNano() > nowNS })
	var page []kraken.Trade
	if sinceSet {
		start := sort.Search(end, func(i int) bool { return all[i].UnixNano() > since })
		page = all[start:min(end, start+limit)]
	} else {
		page = all[max(0, end-limit):end]
	}
	last := since
	if len(page) > 0 {
		last = page[len(page)-1].UnixNano()
	}
	dec := max(p.PairDecimals, 5)
	var b strings.Builder
	b.WriteString(`{`)
	b.WriteString(strconv.Quote(p.Key))
	b.WriteString(`:[`)
	for i, t := range page {
		if i > 0 {
			b.WriteByte(',')
		}
		ns := t.UnixNano()
		secs := strconv.FormatInt(ns/1e9, 10)
		if frac := ns % 1e9 / 1e3; frac != 0 {
			secs += "." + strings.TrimRight(fmt.Sprintf("%06d", frac), "0")
		}
		fmt.Fprintf(&b, `["%s","%s",%s,%q,%q,%q,%d]`,
			strconv.FormatFloat(t.Price, 'f', dec, 64), strconv.FormatFloat(t.Volume, 'f', 8, 64),
			secs, orDefault(t.Side, "b"), orDefault(t.Type, "l"), t.Misc, t.ID)
	}
	b.WriteString(`],"last":"`)
	b.WriteString(strconv.FormatInt(last, 10))
	b.WriteString(`"}`)
	writeRaw(w, []byte(b.String()))
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// querySince reads the since parameter as Kraken does: absent is 0, a
// non-number answers errText (the two endpoints word it differently).
func querySince(w http.ResponseWriter, q url.Values, errText string) (since int64, set, ok bool) {
	v := q.Get("since")
	if v == "" {
		return 0, false, true
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		writeError(w, errText)
		return 0, true, false
	}
	return n, true, true
}
