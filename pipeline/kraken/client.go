package kraken

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

// DefaultBaseURL is Kraken's public REST API.
const DefaultBaseURL = "https://api.kraken.com"

// Kraken's answers for the conditions callers act on. They arrive as HTTP 200
// bodies {"error":["..."]}, sometimes with a suffix (EGeneral:Invalid arguments:ordertype),
// so they are matched by prefix.
const (
	ErrRateLimit       = "EAPI:Rate limit exceeded"
	ErrTooManyRequests = "EGeneral:Too many requests"
	ErrUnavailable     = "EService:Unavailable"
	ErrBusy            = "EService:Busy"
	ErrUnknownPair     = "EQuery:Unknown asset pair"
	ErrInvalidArgs     = "EGeneral:Invalid arguments"
)

// APIError is a non-empty "error" array in a Kraken response.
type APIError struct {
	Endpoint string // e.g. "OHLC"
	Errors   []string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("kraken %s: %s", e.Endpoint, strings.Join(e.Errors, "; "))
}

func (e *APIError) has(prefixes ...string) bool {
	for _, s := range e.Errors {
		for _, p := range prefixes {
			if strings.HasPrefix(s, p) {
				return true
			}
		}
	}
	return false
}

// Throttled reports a rate-limit answer: slow down and try again.
func (e *APIError) Throttled() bool { return e.has(ErrRateLimit, ErrTooManyRequests) }

// Temporary reports an answer worth retrying later unchanged.
func (e *APIError) Temporary() bool {
	return e.has(ErrRateLimit, ErrTooManyRequests, ErrUnavailable, ErrBusy)
}

// UnknownPair reports that Kraken does not list the pair asked for.
func (e *APIError) UnknownPair() bool { return e.has(ErrUnknownPair) }

// HTTPError is a response with a status other than 200 (Cloudflare pages,
// maintenance): 5xx and 429 are temporary.
type HTTPError struct {
	Endpoint string
	Status   int
	Body     string // first bytes, for the log
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("kraken %s: HTTP %d: %s", e.Endpoint, e.Status, e.Body)
}

// Temporary reports a server-side or throttling status.
func (e *HTTPError) Temporary() bool {
	return e.Status >= 500 || e.Status == http.StatusTooManyRequests
}

// Throttled reports HTTP 429.
func (e *HTTPError) Throttled() bool { return e.Status == http.StatusTooManyRequests }

// transportError wraps network failures and unreadable bodies, which are
// worth retrying.
type transportError struct {
	endpoint string
	err      error
}

func (e *transportError) Error() string   { return fmt.Sprintf("kraken %s: %v", e.endpoint, e.err) }
func (e *transportError) Unwrap() error   { return e.err }
func (e *transportError) Temporary() bool { return true }

// IsTemporary reports whether err is worth retrying with the same request:
// throttling and service answers, HTTP 5xx/429, network failures. A cancelled
// caller context is not temporary.
func IsTemporary(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var t interface{ Temporary() bool }
	if errors.As(err, &t) {
		return t.Temporary()
	}
	return false
}

// IsThrottled reports a rate-limit answer (body or HTTP 429).
func IsThrottled(err error) bool {
	var a *APIError
	if errors.As(err, &a) {
		return a.Throttled()
	}
	var h *HTTPError
	if errors.As(err, &h) {
		return h.Throttled()
	}
	return false
}

// IsUnknownPair reports Kraken's "EQuery:Unknown asset pair" or a pair the
// resolver does not know.
func IsUnknownPair(err error) bool {
	var a *APIError
	if errors.As(err, &a) {
		return a.UnknownPair()
	}
	return errors.Is(err, ErrPairNotListed)
}

// Client calls Kraken's public REST endpoints. It does not rate-limit: the
// caller decides how often to call.
type Client struct {
	base string
	hc   *http.Client
}

// NewClient makes a client for baseURL ("" = DefaultBaseURL). A nil hc gets
// one with a 30 s timeout.
func NewClient(baseURL string, hc *http.Client) *Client {
	if baseURL == "" {
		baseURL = DefaultBaseURL
	}
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), hc: hc}
}

// BaseURL is where the client sends requests.
func (c *Client) BaseURL() string { return c.base }

// get calls /0/public/<endpoint> and returns the "result" member.
func (c *Client) get(ctx context.Context, endpoint string, q url.Values) (json.RawMessage, error) {
	u := c.base + "/0/public/" + endpoint
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("kraken %s: %w", endpoint, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "feefifofunds-fetcher/1")
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("kraken %s: %w", endpoint, ctx.Err())
		}
		return nil, &transportError{endpoint, err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("kraken %s: %w", endpoint, ctx.Err())
		}
		return nil, &transportError{endpoint, fmt.Errorf("read body: %w", err)}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &HTTPError{Endpoint: endpoint, Status: resp.StatusCode, Body: snippet(body)}
	}
	var env struct {
		Error  []string        `json:"error"`
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		// A 200 that is not JSON is a proxy or maintenance page: try again later.
		return nil, &transportError{endpoint, fmt.Errorf("response is not Kraken JSON (%v): %s", err, snippet(body))}
	}
	if len(env.Error) > 0 {
		return nil, &APIError{Endpoint: endpoint, Errors: env.Error}
	}
	if len(env.Result) == 0 || string(env.Result) == "null" {
		return nil, &transportError{endpoint, errors.New("response has neither error nor result")}
	}
	return env.Result, nil
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// PairInfo is one entry of /0/public/AssetPairs.
type PairInfo struct {
	Key          string `json:"-"`       // Kraken's own name, the result key: XXBTZUSD
	Altname      string `json:"altname"` // XBTUSD: what CSV files and this pipeline call it
	WSName       string `json:"wsname"`  // XBT/USD
	Base         string `json:"base"`    // XXBT
	Quote        string `json:"quote"`   // ZUSD
	PairDecimals int    `json:"pair_decimals"`
	LotDecimals  int    `json:"lot_decimals"`
	Status       string `json:"status,omitempty"`
}

// AssetPairs lists every pair Kraken trades, keyed by Kraken's own name.
func (c *Client) AssetPairs(ctx context.Context) (map[string]PairInfo, error) {
	raw, err := c.get(ctx, "AssetPairs", nil)
	if err != nil {
		return nil, err
	}
	var m map[string]PairInfo
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("kraken AssetPairs: decode: %w", err)
	}
	for k, p := range m {
		p.Key = k
		m[k] = p
	}
	return m, nil
}

// ErrPairNotListed is returned by Resolver.Resolve for a name no listed pair has.
var ErrPairNotListed = errors.New("not a Kraken pair")

// Resolver maps what people type (altname XBTUSD, wsname XBT/USD, Kraken's
// name XXBTZUSD, any case) to a listed pair.
type Resolver struct {
	byName map[string]PairInfo
}

// NewResolver indexes an AssetPairs answer.
func NewResolver(pairs map[string]PairInfo) *Resolver {
	r := &Resolver{byName: make(map[string]PairInfo, 3*len(pairs))}
	// Kraken's keys first, then altnames and wsnames: a name that is both one
	// pair's key and another's altname resolves to the key's pair.
	for _, p := range pairs {
		if p.Altname != "" {
			r.byName[strings.ToUpper(p.Altname)] = p
		}
		if p.WSName != "" {
			r.byName[strings.ToUpper(p.WSName)] = p
		}
	}
	for k, p := range pairs {
		r.byName[strings.ToUpper(k)] = p
	}
	return r
}

// Resolve finds the pair a name means. Send PairInfo.Altname as the request's
// pair; expect PairInfo.Key as the result key.
func (r *Resolver) Resolve(name string) (PairInfo, error) {
	n := strings.ToUpper(strings.TrimSpace(name))
	if p, ok := r.byName[n]; ok {
		return p, nil
	}
	// People also write XBT-USD or XBT_USD.
	if p, ok := r.byName[strings.NewReplacer("-", "/", "_", "/").Replace(n)]; ok {
		return p, nil
	}
	return PairInfo{}, fmt.Errorf("pair %q: %w (see GET /0/public/AssetPairs for altnames such as XBTUSD)", name, ErrPairNotListed)
}

// Len is how many pairs the resolver knows.
func (r *Resolver) Len() int { return len(r.byName) }

// OHLCResult is one OHLC answer. Candles include the still-open one as the
// final row (Kraken always sends it); Last is the newest closed candle's time.
type OHLCResult struct {
	Pair    string // the result key: Kraken's own name (XXBTZUSD)
	Candles []contract.Candle
	Last    int64
}

// OHLC fetches candles of interval minutes with open time > since (unix
// seconds; since is exclusive, 0 = from the start of Kraken's window).
// Kraken answers at most the 720 newest closed candles plus the open one,
// whatever since says.
func (c *Client) OHLC(ctx context.Context, pair string, interval int, since int64) (OHLCResult, error) {
	return getPage(ctx, c, "OHLC", url.Values{"pair": {pair}, "interval": {strconv.Itoa(interval)}}, since, ParseOHLCResult)
}

// ParseOHLCResult decodes the "result" member of an OHLC response.
func ParseOHLCResult(raw json.RawMessage) (OHLCResult, error) {
	pair, last, candles, err := parseRows(raw, "OHLC", ohlcRow)
	if err != nil {
		return OHLCResult{}, err
	}
	return OHLCResult{Pair: pair, Candles: candles, Last: last}, nil
}

// ohlcRow reads [time, open, high, low, close, vwap, volume, count].
func ohlcRow(row []json.RawMessage) (contract.Candle, error) {
	var k contract.Candle
	if len(row) < 8 {
		return k, fmt.Errorf("has %d fields, want 8", len(row))
	}
	var err error
	if k.Time, err = parseInt(row[0]); err != nil {
		return k, fmt.Errorf("time: %w", err)
	}
	fs := []*float64{&k.Open, &k.High, &k.Low, &k.Close, &k.VWAP, &k.Volume}
	names := []string{"open", "high", "low", "close", "vwap", "volume"}
	for j, f := range fs {
		if *f, err = parseFloat(row[1+j]); err != nil {
			return k, fmt.Errorf("%s: %w", names[j], err)
		}
	}
	if k.Trades, err = parseInt(row[7]); err != nil {
		return k, fmt.Errorf("count: %w", err)
	}
	return k, nil
}

// getPage calls endpoint with q, plus since unless it is 0, and decodes
// the result with parse: OHLC and Trades page by since, and leaving it out
// asks for Kraken's own start.
func getPage[R any](ctx context.Context, c *Client, endpoint string, q url.Values, since int64, parse func(json.RawMessage) (R, error)) (R, error) {
	if since > 0 {
		q.Set("since", strconv.FormatInt(since, 10))
	}
	raw, err := c.get(ctx, endpoint, q)
	if err != nil {
		var zero R
		return zero, err
	}
	return parse(raw)
}

// parseRows reads each row of an OHLC or Trades result with parse, and
// returns them with the result's pair key and last; errors name the
// endpoint and the row.
func parseRows[T any](raw json.RawMessage, endpoint string, parse func([]json.RawMessage) (T, error)) (string, int64, []T, error) {
	key, last, rows, err := pairRows(raw)
	if err != nil {
		return "", 0, nil, fmt.Errorf("kraken %s: %w", endpoint, err)
	}
	out := make([]T, 0, len(rows))
	for i, row := range rows {
		v, err := parse(row)
		if err != nil {
			return "", 0, nil, fmt.Errorf("kraken %s: row %d %w", endpoint, i, err)
		}
		out = append(out, v)
	}
	return key, last, out, nil
}

// pairRows splits an OHLC or Trades result: the rows under Kraken's own
// pair key (XXBTZUSD, whatever name was asked for) and "last", the since of
// the next call.
func pairRows(raw json.RawMessage) (key string, last int64, rows [][]json.RawMessage, err error) {
	members, err := decodeMembers(raw)
	if err != nil {
		return "", 0, nil, err
	}
	if l, ok := members["last"]; ok {
		if last, err = parseInt(l); err != nil {
			return "", 0, nil, fmt.Errorf("last: %w", err)
		}
	}
	key, rows, err = pairMember(members)
	return key, last, rows, err
}

// Trade is one row of /0/public/Trades.
type Trade struct {
	Price  float64
	Volume float64
	Time   float64 // unix seconds with fraction, as Kraken sends it
	Side   string  // "b" buy, "s" sell
	Type   string  // "m" market, "l" limit
	Misc   string
	ID     int64 // trade id (0 when Kraken did not send one)
}

// UnixNano is the trade time in nanoseconds, rounded to the microsecond
// (Kraken's resolution) so float noise does not move it.
func (t Trade) UnixNano() int64 {
	sec := math.Floor(t.Time)
	us := math.Round((t.Time - sec) * 1e6)
	return int64(sec)*1e9 + int64(us)*1e3
}

// At is the trade time.
func (t Trade) At() time.Time { return time.Unix(0, t.UnixNano()).UTC() }

// TradesResult is one page of trades. Last (nanoseconds) is the since of the
// next page.
type TradesResult struct {
	Pair   string
	Trades []Trade
	Last   int64
}

// Trades fetches up to 1000 trades after sinceNS (unix nanoseconds; 0 = the
// newest trades).
func (c *Client) Trades(ctx context.Context, pair string, sinceNS int64) (TradesResult, error) {
	return getPage(ctx, c, "Trades", url.Values{"pair": {pair}}, sinceNS, ParseTradesResult)
}

// ParseTradesResult decodes the "result" member of a Trades response.
func ParseTradesResult(raw json.RawMessage) (TradesResult, error) {
	pair, last, trades, err := parseRows(raw, "Trades", tradeRow)
	if err != nil {
		return TradesResult{}, err
	}
	return TradesResult{Pair: pair, Trades: trades, Last: last}, nil
}

// tradeRow reads [price, volume, time, side, type, misc, id]; misc and id
// are optional.
func tradeRow(row []json.RawMessage) (Trade, error) {
	var t Trade
	if len(row) < 5 {
		return t, fmt.Errorf("has %d fields, want at least 5", len(row))
	}
	var err error
	if t.Price, err = parseFloat(row[0]); err != nil {
		return t, fmt.Errorf("price: %w", err)
	}
	if t.Volume, err = parseFloat(row[1]); err != nil {
		return t, fmt.Errorf("volume: %w", err)
	}
	if t.Time, err = parseFloat(row[2]); err != nil {
		return t, fmt.Errorf("time: %w", err)
	}
	t.Side, t.Type = parseString(row[3]), parseString(row[4])
	if len(row) > 5 {
		t.Misc = parseString(row[5])
	}
	if len(row) > 6 {
		if t.ID, err = parseInt(row[6]); err != nil {
			return t, fmt.Errorf("id: %w", err)
		}
	}
	return t, nil
}

func decodeMembers(raw json.RawMessage) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("result is not an object: %w", err)
	}
	return m, nil
}

// pairMember finds the rows under the result's pair key: Kraken names it its
// own way (XXBTZUSD for a request of XBTUSD), so it is "the key that is not last".
func pairMember(m map[string]json.RawMessage) (string, [][]json.RawMessage, error) {
	for k, v := range m {
		if k == "last" {
			continue
		}
		var rows [][]json.RawMessage
		if err := json.Unmarshal(v, &rows); err != nil {
			return "", nil, fmt.Errorf("%s: rows: %w", k, err)
		}
		return k, rows, nil
	}
	return "", nil, errors.New("result has no pair member")
}

// parseFloat reads a number Kraken sends as a string ("30000.0"), or as a
// JSON number (trade times).
func parseFloat(raw json.RawMessage) (float64, error) {
	s, err := unquote(raw)
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%s is not a number", string(raw))
	}
	return f, nil
}

// parseInt reads an integer sent as a JSON number or a string (Trades' last).
func parseInt(raw json.RawMessage) (int64, error) {
	s, err := unquote(raw)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s is not an integer", string(raw))
	}
	return n, nil
}

// unquote is the text of a value Kraken sends either as a JSON string or
// bare, as the same field differs between endpoints.
func unquote(raw json.RawMessage) (string, error) {
	s := strings.TrimSpace(string(raw))
	if len(s) > 0 && s[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", err
		}
	}
	return s, nil
}

func parseString(raw json.RawMessage) string {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return string(bytes.Trim(raw, `"`))
	}
	return s
}
