// Package finnhub is a client of Finnhub's candle endpoints for daily
// candles: /stock/candle and /crypto/candle with resolution D.
//
// What the client gets right (shared/fixtures/finnhub/README.md):
//   - the answer is parallel arrays c, h, l, o, t, v plus s; t is unix
//     seconds; a daily t is 00:00 UTC of the trading date since mid 2021
//     and was 09:30 New York (13:30 or 14:30 UTC) before: the UTC date of t
//     is the trading date either way;
//   - {"s":"no_data"} (no arrays) is no candles, not an error;
//   - errors are {"error": "..."}, except the empty-token 429, which is
//     plain text; 403 "You don't have access to this resource." is how a
//     plan without candles answers, and the error says so plainly;
//   - the key goes in the X-Finnhub-Token header, never in a URL, a log
//     line or an error.
package finnhub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/throttle"
)

// Defaults.
const (
	DefaultBaseURL = "https://finnhub.io/api/v1"
	// KeyEnv is the environment variable holding the API key.
	KeyEnv = "FINNHUB_API_KEY"
	// DefaultPerMinute is the free plan's limit: 60 calls a minute.
	DefaultPerMinute = 60
)

// Name is the source name: candles.finnhub.<ticker>.1440, source column.
const Name = "finnhub"

// KeyFromEnv reads the API key from FINNHUB_API_KEY.
func KeyFromEnv() (string, error) {
	k := strings.TrimSpace(os.Getenv(KeyEnv))
	if k == "" {
		return "", fmt.Errorf("%s is not set: Finnhub needs an API key (https://finnhub.io/dashboard)", KeyEnv)
	}
	return k, nil
}

// Client calls Finnhub at the pace of its Caller.
type Client struct {
	base  string
	key   string
	http  *http.Client
	calls *throttle.Caller
}

// NewClient returns a client of the API at baseURL (…/api/v1) with key.
func NewClient(baseURL, key string, hc *http.Client, calls *throttle.Caller) (*Client, error) {
	if key == "" {
		return nil, fmt.Errorf("finnhub: no API key (set %s)", KeyEnv)
	}
	if calls == nil {
		return nil, errors.New("finnhub: a throttle.Caller is required")
	}
	u, err := url.Parse(baseURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("finnhub: base URL %q: want scheme and host such as %s", baseURL, DefaultBaseURL)
	}
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), key: key, http: hc, calls: calls}, nil
}

// Name is "finnhub".
func (c *Client) Name() string { return Name }

// Symbol is Finnhub's symbol for a registry ticker: AAPL for stocks,
// BINANCE:BTCUSDT for crypto.
func (c *Client) Symbol(ticker, market string) string {
	if market == "crypto" {
		return "BINANCE:" + ticker + "USDT"
	}
	return ticker
}

// APIError is an answer that is not a success, with Finnhub's own words.
type APIError struct {
	StatusCode int
	Message    string
	Endpoint   string
	retryAfter time.Duration
}

// NoAccess is Finnhub's answer to a plan without the endpoint.
const NoAccess = "You don't have access to this resource."

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	s := fmt.Sprintf("Finnhub answered %d: %s", e.StatusCode, msg)
	if e.StatusCode == http.StatusForbidden || (e.StatusCode == http.StatusUnauthorized && msg == NoAccess) {
		s += " (candles are a paid Finnhub feature: the free plan does not include " + e.Endpoint + "; upgrade the plan or load these prices from Massive)"
	}
	return s
}

// Temporary is true for throttling (429) and server trouble (5xx), but not
// for the 429 Finnhub sends when the token is empty.
func (e *APIError) Temporary() bool {
	if e.StatusCode == http.StatusTooManyRequests {
		return !strings.Contains(e.Message, "sign up")
	}
	return e.StatusCode >= 500
}

// RetryAfter is the Retry-After the API sent, if any.
func (e *APIError) RetryAfter() time.Duration { return e.retryAfter }

// Candles is the body of a candle answer.
type Candles struct {
	C []float64 `json:"c"`
	H []float64 `json:"h"`
	L []float64 `json:"l"`
	O []float64 `json:"o"`
	S string    `json:"s"`
	T []int64   `json:"t"`
	V []float64 `json:"v"`
}

// Daily returns the daily candles of symbol from from to to (dates,
// inclusive), each at 00:00 UTC of its trading date. market "crypto" asks
// /crypto/candle, anything else /stock/candle. no_data is no candles.
func (c *Client) Daily(ctx context.Context, symbol, market string, from, to time.Time) ([]contract.Candle, error) {
	endpoint := "/stock/candle"
	if market == "crypto" {
		endpoint = "/crypto/candle"
	}
	q := url.Values{"symbol": {symbol}, "resolution": {"D"},
		"from": {strconv.FormatInt(from.Unix(), 10)}, "to": {strconv.FormatInt(to.AddDate(0, 0, 1).Unix()-1, 10)}}
	var res Candles
	err := c.calls.Do(ctx, "finnhub "+endpoint+" "+symbol, func(ctx context.Context) error {
		return c.get(ctx, endpoint, q, &res)
	})
	if err != nil {
		return nil, err
	}
	switch res.S {
	case "no_data":
		return nil, nil
	case "ok":
	default:
		return nil, fmt.Errorf("finnhub %s %s: status %q, want ok or no_data", endpoint, symbol, res.S)
	}
	n := len(res.T)
	if len(res.O) != n || len(res.H) != n || len(res.L) != n || len(res.C) != n || len(res.V) != n {
		return nil, fmt.Errorf("finnhub %s %s: arrays of different lengths (t %d, o %d, h %d, l %d, c %d, v %d)",
			endpoint, symbol, n, len(res.O), len(res.H), len(res.L), len(res.C), len(res.V))
	}
	out := make([]contract.Candle, n)
	for i := range n {
		y, m, d := time.Unix(res.T[i], 0).UTC().Date()
		out[i] = contract.Candle{Time: time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix(),
			Open: res.O[i], High: res.H[i], Low: res.L[i], Close: res.C[i], Volume: res.V[i],
			VWAP: contract.NoVWAP, Trades: contract.NoTrades}
	}
	return out, nil
}

func (c *Client) get(ctx context.Context, endpoint string, q url.Values, out *Candles) error {
	*out = Candles{}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+endpoint+"?"+q.Encode(), nil)
	if err != nil {
		return fmt.Errorf("finnhub %s: %w", endpoint, err)
	}
	req.Header.Set("X-Finnhub-Token", c.key)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("finnhub %s: %w", endpoint, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("finnhub %s: read answer: %w", endpoint, err)
	}
	if resp.StatusCode != http.StatusOK {
		e := &APIError{StatusCode: resp.StatusCode, Endpoint: endpoint}
		var eb struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &eb) == nil && eb.Error != "" {
			e.Message = eb.Error
		} else {
			e.Message = contract.Shorten(string(bytes.TrimSpace(body)), 200)
		}
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			e.retryAfter = time.Duration(s) * time.Second
		}
		return e
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("finnhub %s: answer is not the candle JSON: %w", endpoint, err)
	}
	return nil
}
