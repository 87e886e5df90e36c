package restapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/feefifofunds/feefifofunds/pipeline/throttle"
)

// DefaultTimeout bounds one call when the caller gives no HTTP client.
const DefaultTimeout = 60 * time.Second

// Config says how to reach one API.
type Config struct {
	// Name starts every error and call name ("massive").
	Name string
	// BaseURL is where requests go; DefaultBaseURL is the example its
	// error shows when BaseURL has no scheme or host.
	BaseURL, DefaultBaseURL string
	// Key is sent in KeyHeader after KeyPrefix ("Authorization", "Bearer ");
	// KeyEnv is the variable the error names when Key is empty.
	Key, KeyEnv          string
	KeyHeader, KeyPrefix string
	// CryptoPrefix and CryptoSuffix make the API's symbol of a crypto
	// ticker ("X:" and "USD": X:BTCUSD); a stock's is the ticker itself.
	CryptoPrefix, CryptoSuffix string
	// MaxBody bounds the bytes read of one answer.
	MaxBody int64
	// HTTP is the client (nil: one with DefaultTimeout); Calls paces and
	// retries every call (required).
	HTTP  *http.Client
	Calls *throttle.Caller
}

// Client sends paced GETs to one API.
type Client struct {
	cfg  Config
	base string
}

// New checks cfg: a key, a Caller and a base URL with scheme and host.
func New(cfg Config) (*Client, error) {
	if cfg.Key == "" {
		return nil, fmt.Errorf("%s: no API key (set %s)", cfg.Name, cfg.KeyEnv)
	}
	if cfg.Calls == nil {
		return nil, fmt.Errorf("%s: a throttle.Caller is required", cfg.Name)
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	u, err := url.Parse(base)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("%s: base URL %q: want scheme and host such as %s", cfg.Name, cfg.BaseURL, cfg.DefaultBaseURL)
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: DefaultTimeout}
	}
	return &Client{cfg: cfg, base: base}, nil
}

// Name is the source's name (Config.Name).
func (c *Client) Name() string { return c.cfg.Name }

// Symbol is the API's symbol for a registry ticker of market: the ticker for
// stocks, within CryptoPrefix and CryptoSuffix for crypto.
func (c *Client) Symbol(ticker, market string) string {
	if market == "crypto" {
		return c.cfg.CryptoPrefix + ticker + c.cfg.CryptoSuffix
	}
	return ticker
}

// Answer is what the API sent back to one call.
type Answer struct {
	StatusCode int
	Header     http.Header
	Body       []byte
}

// Get asks ref (path and query below the base URL) at the Caller's pace and
// hands every answer to decode; an error decode returns that is
// throttle.Temporary (a Refusal of 429 or 5xx) is retried. what names the
// call in errors and logs.
func (c *Client) Get(ctx context.Context, what, ref string, decode func(*Answer) error) error {
	return c.cfg.Calls.Do(ctx, c.cfg.Name+" "+what, func(ctx context.Context) error {
		a, err := c.fetch(ctx, ref)
		if err != nil {
			return fmt.Errorf("%s %s: %w", c.cfg.Name, what, err)
		}
		return decode(a)
	})
}

func (c *Client) fetch(ctx context.Context, ref string) (*Answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+ref, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set(c.cfg.KeyHeader, c.cfg.KeyPrefix+c.cfg.Key)
	req.Header.Set("Accept", "application/json")
	resp, err := c.cfg.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxBody))
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	return &Answer{StatusCode: resp.StatusCode, Header: resp.Header, Body: body}, nil
}
