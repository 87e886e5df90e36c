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
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/restapi"
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
	return restapi.KeyFromEnv(KeyEnv, "Finnhub", "https://finnhub.io/dashboard")
}

// Client calls Finnhub at the pace of its Caller. Its Name is "finnhub",
// its Symbol of a registry ticker AAPL for stocks, BINANCE:BTCUSDT for
// crypto.
type Client struct {
	*restapi.Client
}

// NewClient returns a client of the API at baseURL (…/api/v1) with key,
// which goes in the X-Finnhub-Token header.
func NewClient(baseURL, key string, hc *http.Client, calls *throttle.Caller) (*Client, error) {
	api, err := restapi.New(restapi.Config{Name: Name, BaseURL: baseURL, DefaultBaseURL: DefaultBaseURL,
		Key: key, KeyEnv: KeyEnv, KeyHeader: "X-Finnhub-Token",
		CryptoPrefix: "BINANCE:", CryptoSuffix: "USDT",
		MaxBody: 64 << 20, HTTP: hc, Calls: calls})
	if err != nil {
		return nil, err
	}
	return &Client{api}, nil
}

// APIError is an answer that is not a success, with Finnhub's own words.
type APIError struct {
	restapi.Refusal
	Endpoint string
}

// NoAccess is Finnhub's answer to a plan without the endpoint.
const NoAccess = "You don't have access to this resource."

func (e *APIError) Error() string {
	msg := e.Words()
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
	return e.Refusal.Temporary()
}

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
	if err := c.get(ctx, endpoint, symbol, q, &res); err != nil {
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

// get asks endpoint for symbol's candles into out at the Caller's pace.
func (c *Client) get(ctx context.Context, endpoint, symbol string, q url.Values, out *Candles) error {
	return c.Get(ctx, endpoint+" "+symbol, endpoint+"?"+q.Encode(), func(a *restapi.Answer) error {
		*out = Candles{}
		if a.StatusCode != http.StatusOK {
			var eb struct {
				Error string `json:"error"`
			}
			msg := a.Text()
			if json.Unmarshal(a.Body, &eb) == nil && eb.Error != "" {
				msg = eb.Error
			}
			return &APIError{Refusal: a.Refusal(msg), Endpoint: endpoint}
		}
		if err := json.Unmarshal(a.Body, out); err != nil {
			return fmt.Errorf("finnhub %s: answer is not the candle JSON: %w", endpoint, err)
		}
		return nil
	})
}
