package pricefetch

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/feefifofunds/feefifofunds/pipeline/finnhub"
	"github.com/feefifofunds/feefifofunds/pipeline/massive"
	"github.com/feefifofunds/feefifofunds/pipeline/throttle"
)

// SourceOptions say how to reach a price source.
type SourceOptions struct {
	// BaseURL of the API ("" = the real one; tests point it at a fake).
	BaseURL string
	// Key is the API key; "" reads the source's variable (MASSIVE_API_KEY,
	// FINNHUB_API_KEY), and a missing one is an error naming it.
	Key string
	// PerMinute is the plan's calls a minute (0 = the free plan's: Massive 5,
	// Finnhub 60).
	PerMinute float64
	// Backoff is the first wait after a 429 (default 2 s, at least one call
	// slot), doubling up to MaxBackoff; MaxAttempts bounds the calls of one
	// page.
	Backoff     time.Duration
	MaxBackoff  time.Duration
	MaxAttempts int
	HTTPClient  *http.Client
	Log         *slog.Logger
}

// SourceNames are the sources NewSource knows.
var SourceNames = []string{massive.Name, finnhub.Name}

// NewSource builds the client of a source by name.
func NewSource(name string, o SourceOptions) (Source, error) {
	var defURL string
	var defRate float64
	var keyFromEnv func() (string, error)
	switch name {
	case massive.Name:
		defURL, defRate, keyFromEnv = massive.DefaultBaseURL, massive.DefaultPerMinute, massive.KeyFromEnv
	case finnhub.Name:
		defURL, defRate, keyFromEnv = finnhub.DefaultBaseURL, finnhub.DefaultPerMinute, finnhub.KeyFromEnv
	default:
		return nil, fmt.Errorf("price source %q: want massive or finnhub", name)
	}
	if o.BaseURL == "" {
		o.BaseURL = defURL
	}
	if o.PerMinute <= 0 {
		o.PerMinute = defRate
	}
	if o.Key == "" {
		k, err := keyFromEnv()
		if err != nil {
			return nil, err
		}
		o.Key = k
	}
	calls, err := throttle.New(throttle.Config{PerMinute: o.PerMinute, Backoff: o.Backoff, MaxBackoff: o.MaxBackoff,
		MaxAttempts: o.MaxAttempts, Log: o.Log})
	if err != nil {
		return nil, err
	}
	if name == massive.Name {
		return massive.NewClient(o.BaseURL, o.Key, o.HTTPClient, calls)
	}
	return finnhub.NewClient(o.BaseURL, o.Key, o.HTTPClient, calls)
}
