// Package massive is a client of Massive.com's REST API (Polygon.io renamed:
// same paths, base https://api.massive.com; https://api.polygon.io still
// answers) for daily bars: custom-range aggregates, paged with next_url,
// and grouped daily bars, one call per date for a whole market.
//
// What the client gets right (shared/fixtures/massive/README.md):
//   - range bars have t = 00:00 America/New_York of the trading date in
//     unix milliseconds, grouped bars t = 16:00 New York; both are turned
//     into the New York date, stored as 00:00 UTC of that date;
//   - vw and n may be missing; v is a float (7.0790813e+07);
//   - no bars is resultsCount 0 with no results key, or results null;
//   - status OK and DELAYED are success; errors carry "error" (ERROR) or
//     "message" (NOT_AUTHORIZED), and the client reports the API's words;
//   - next_url does not carry the key: the key is sent as a Bearer header
//     on every page, and never appears in a URL, a log line or an error.
package massive

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // America/New_York on machines without a zoneinfo database

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/restapi"
	"github.com/feefifofunds/feefifofunds/pipeline/throttle"
)

// Defaults.
const (
	DefaultBaseURL = "https://api.massive.com"
	// KeyEnv is the environment variable holding the API key.
	KeyEnv = "MASSIVE_API_KEY"
	// DefaultPerMinute is the free plan's limit: 5 calls a minute.
	DefaultPerMinute = 5
	// PageLimit is the most base aggregates one call reads (the API's max).
	PageLimit = 50000
	// MaxPages bounds the pages followed for one range.
	MaxPages = 1000
)

// Name is the source name: candles.massive.<ticker>.1440, source column.
const Name = "massive"

// NewYork is the zone of Massive's bar times: a bar's date is its New York
// date (massivetest answers in it too).
var NewYork = func() *time.Location {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		panic(err)
	}
	return loc
}()

// KeyFromEnv reads the API key from MASSIVE_API_KEY.
func KeyFromEnv() (string, error) {
	return restapi.KeyFromEnv(KeyEnv, "Massive.com", "https://massive.com/dashboard/keys")
}

// Client calls Massive's REST API at the pace of its Caller. Its Name is
// "massive", its Symbol of a registry ticker AAPL for stocks, X:BTCUSD for
// crypto.
type Client struct {
	*restapi.Client
}

// NewClient returns a client of the API at baseURL with key; calls paces
// and retries every page. The key goes as a Bearer header, next_url being
// keyless.
func NewClient(baseURL, key string, hc *http.Client, calls *throttle.Caller) (*Client, error) {
	api, err := restapi.New(restapi.Config{Name: Name, BaseURL: baseURL, DefaultBaseURL: DefaultBaseURL,
		Key: key, KeyEnv: KeyEnv, KeyHeader: "Authorization", KeyPrefix: "Bearer ",
		CryptoPrefix: "X:", CryptoSuffix: "USD",
		MaxBody: 256 << 20, HTTP: hc, Calls: calls})
	if err != nil {
		return nil, err
	}
	return &Client{api}, nil
}

// APIError is an answer that is not a success, with the API's own words
// (Message: the body's error or message).
type APIError struct {
	restapi.Refusal
	Status    string // the body's status: ERROR, NOT_AUTHORIZED
	RequestID string
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("Massive answered %d", e.StatusCode)
	if e.Status != "" {
		s += " " + e.Status
	}
	return s + ": " + e.Words()
}

// Bar is one item of results.
type Bar struct {
	T  string   `json:"T,omitempty"` // grouped only: the ticker
	O  float64  `json:"o"`
	H  float64  `json:"h"`
	L  float64  `json:"l"`
	C  float64  `json:"c"`
	V  float64  `json:"v"`
	VW *float64 `json:"vw,omitempty"`
	Ts int64    `json:"t"` // unix milliseconds
	N  *int64   `json:"n,omitempty"`
}

// aggsResponse is the body of /v2/aggs answers.
type aggsResponse struct {
	Ticker       string `json:"ticker"`
	QueryCount   int    `json:"queryCount"`
	ResultsCount int    `json:"resultsCount"`
	Results      []Bar  `json:"results"`
	Status       string `json:"status"`
	RequestID    string `json:"request_id"`
	NextURL      string `json:"next_url"`
	Error        string `json:"error"`
	Message      string `json:"message"`
}

// Candle turns a bar into a daily candle at 00:00 UTC of its New York date.
func (b Bar) Candle() contract.Candle {
	y, m, d := time.UnixMilli(b.Ts).In(NewYork).Date()
	c := contract.Candle{
		Time: time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix(),
		Open: b.O, High: b.H, Low: b.L, Close: b.C, Volume: b.V,
		VWAP: contract.NoVWAP, Trades: contract.NoTrades,
	}
	if b.VW != nil {
		c.VWAP = *b.VW
	}
	if b.N != nil {
		c.Trades = *b.N
	}
	return c
}

// Daily returns the daily candles of symbol from from to to (dates,
// inclusive), oldest first, following next_url page by page. An empty
// answer (no trades, unknown ticker, holidays only) is no candles and no
// error.
func (c *Client) Daily(ctx context.Context, symbol, _ string, from, to time.Time) ([]contract.Candle, error) {
	path := fmt.Sprintf("/v2/aggs/ticker/%s/range/1/day/%s/%s", url.PathEscape(symbol),
		from.Format(time.DateOnly), to.Format(time.DateOnly))
	q := url.Values{"adjusted": {"true"}, "sort": {"asc"}, "limit": {strconv.Itoa(PageLimit)}}
	next := c.ref(path, q)
	var out []contract.Candle
	for page := 0; next != ""; page++ {
		if page >= MaxPages {
			return out, fmt.Errorf("massive %s: more than %d pages of next_url", symbol, MaxPages)
		}
		var res aggsResponse
		if err := c.get(ctx, "aggs "+symbol, next, &res); err != nil {
			return out, err
		}
		for _, b := range res.Results {
			out = append(out, b.Candle())
		}
		next = ""
		if res.NextURL != "" {
			var err error
			if next, err = c.rebase(res.NextURL); err != nil {
				return out, err
			}
		}
	}
	return out, nil
}

// Grouped returns the daily bars of every ticker of market ("stocks" or
// "crypto") on date, by Massive's ticker. A date the market did not trade
// (weekend, holiday) is an empty map and no error.
func (c *Client) Grouped(ctx context.Context, market string, date time.Time) (map[string]contract.Candle, error) {
	locale := "us"
	if market == "crypto" {
		locale = "global"
	}
	path := fmt.Sprintf("/v2/aggs/grouped/locale/%s/market/%s/%s", locale, market, date.Format(time.DateOnly))
	var res aggsResponse
	if err := c.get(ctx, "grouped "+date.Format(time.DateOnly), c.ref(path, url.Values{"adjusted": {"true"}}), &res); err != nil {
		return nil, err
	}
	out := make(map[string]contract.Candle, len(res.Results))
	for _, b := range res.Results {
		out[b.T] = b.Candle()
	}
	return out, nil
}

func (c *Client) ref(path string, q url.Values) string {
	return path + "?" + q.Encode()
}

// rebase keeps next_url's path and query and sends them to the client's own
// base, as the official client does: the key goes only where it was meant to.
func (c *Client) rebase(next string) (string, error) {
	u, err := url.Parse(next)
	if err != nil {
		return "", fmt.Errorf("massive: next_url %q: %w", contract.Clip(next, 120), err)
	}
	if !strings.HasPrefix(u.Path, "/v2/aggs/") {
		return "", fmt.Errorf("massive: next_url %q is not an aggregates page", contract.Clip(next, 120))
	}
	return u.RequestURI(), nil
}

// get fetches ref (path and query) into out at the Caller's pace.
func (c *Client) get(ctx context.Context, what, ref string, out *aggsResponse) error {
	return c.Get(ctx, what, ref, func(a *restapi.Answer) error {
		*out = aggsResponse{}
		jerr := json.Unmarshal(a.Body, out)
		if a.StatusCode != http.StatusOK || (out.Status != "OK" && out.Status != "DELAYED" && jerr == nil) {
			msg := out.Error
			if msg == "" {
				msg = out.Message
			}
			if jerr != nil {
				msg = a.Text()
			}
			return &APIError{Refusal: a.Refusal(msg), Status: out.Status, RequestID: out.RequestID}
		}
		if jerr != nil {
			return fmt.Errorf("massive %s: answer is not the aggregates JSON: %w", what, jerr)
		}
		return nil
	})
}
