// Package fetcher is the stage that serves fill requests from fills.kraken
// with Kraken's REST API: OHLC for the newest 720 closed candles of an
// interval, Trades (when enabled) to rebuild older ones. It publishes candle
// batches to candles.kraken.<pair>.<interval> like the parser does, so the
// writer commits them the same way, waits until the writer reports every
// batch queryable (fillreports.kraken), then records the outcome on the
// request's gap record in the GAPS bucket and only then acknowledges the
// request.
//
// Requests come from the gap scanner or from a person:
//
//	nats pub fills.kraken '{"pair":"XBTUSD","interval":60,"start":"2025-01-10T08:00:00Z","end":"2025-01-10T14:00:00Z"}'
//
// A request that can never be served as written (not JSON, unknown field,
// unknown pair, interval Kraken does not serve, start after end, too many
// candles) goes to dlq.fetcher with a reason a person can read. Kraken's
// throttling and service errors are retried with exponential backoff while
// the request is kept alive, so it is never lost to them.
package fetcher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/time/rate"

	"github.com/feefifofunds/feefifofunds/pipeline/fillreport"
	"github.com/feefifofunds/feefifofunds/pipeline/jsplumb"
	"github.com/feefifofunds/feefifofunds/pipeline/kraken"
	"github.com/feefifofunds/feefifofunds/pipeline/metrics"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// Stage is the fetcher's name in the DLQ (dlq.fetcher) and in logs.
const Stage = "fetcher"

// Defaults.
const (
	DefaultRate              = 1.0 // calls per second: Kraken's safe pace for public endpoints
	DefaultMaxRequestCandles = 100_000
	DefaultBatchSize         = 8192
	DefaultBackoffInitial    = time.Second
	DefaultBackoffMax        = time.Minute
	// OHLCWindow is how many closed candles Kraken's OHLC endpoint serves.
	OHLCWindow = 720
)

// Backoff bounds the waits between retries of a throttled or failed call;
// each wait doubles from Initial up to Max.
type Backoff struct {
	Initial time.Duration
	Max     time.Duration
}

// Config configures the fetcher stage.
type Config struct {
	JS      jetstream.JetStream // required; the caller ensured the topology
	Log     *slog.Logger
	Metrics *metrics.Registry
	// KrakenURL is the base of Kraken's REST API (default https://api.kraken.com;
	// tests point it at krakentest).
	KrakenURL  string
	HTTPClient *http.Client
	// Rate caps Kraken calls per second across all requests (default 1).
	Rate float64
	// Trades rebuilds candles older than the 720-candle OHLC window from the
	// Trades endpoint. A request's "trades":true enables it for that request.
	Trades bool
	// MaxRequestCandles rejects requests covering more candles (default 100000).
	MaxRequestCandles int64
	// BatchSize is the most candles per published batch (default 8192).
	BatchSize int
	// Now is the clock deciding Kraken's window (default time.Now).
	Now     func() time.Time
	Backoff Backoff
	// KeepAlive is how often a request being served is reported in progress
	// so its AckWait does not expire (default a third of the consumer's AckWait).
	KeepAlive time.Duration
	// ApplyTimeout is how long a fill waits for the writer to report every
	// batch it published queryable in QuestDB; a gap is FILLED only then,
	// FAILED with the reason after (default 2m).
	ApplyTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = metrics.Default
	}
	if c.KrakenURL == "" {
		c.KrakenURL = kraken.DefaultBaseURL
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if c.Rate <= 0 {
		c.Rate = DefaultRate
	}
	if c.MaxRequestCandles <= 0 {
		c.MaxRequestCandles = DefaultMaxRequestCandles
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Backoff.Initial <= 0 {
		c.Backoff.Initial = DefaultBackoffInitial
	}
	if c.Backoff.Max <= 0 {
		c.Backoff.Max = DefaultBackoffMax
	}
	if c.Backoff.Max < c.Backoff.Initial {
		c.Backoff.Max = c.Backoff.Initial
	}
	if c.ApplyTimeout <= 0 {
		c.ApplyTimeout = fillreport.DefaultTimeout
	}
	if c.KeepAlive <= 0 {
		c.KeepAlive = topology.FetcherConsumer(topology.SourceKraken).AckWait / 3
	}
	return c
}

type fetcher struct {
	cfg     Config
	log     *slog.Logger
	js      jetstream.JetStream
	gaps    jetstream.KeyValue
	client  *kraken.Client
	limiter *rate.Limiter

	pairsMu  sync.Mutex
	resolver *kraken.Resolver
	loadedAt time.Time

	m struct {
		calls     func(endpoint string) *metrics.Value
		callSecs  func(endpoint string) *metrics.Histogram
		requests  func(outcome string) *metrics.Value
		candles   func(origin string) *metrics.Value
		throttled *metrics.Value
		retries   *metrics.Value
	}
}

// Run serves fill requests until ctx is cancelled; it returns nil then.
func Run(ctx context.Context, cfg Config) error {
	cfg = cfg.withDefaults()
	log := cfg.Log.With("stage", Stage)
	js := cfg.JS
	if js == nil {
		return errors.New("fetcher: Config.JS is required")
	}
	cons, err := topology.WaitConsumer(ctx, js, topology.StreamFills, topology.FetcherConsumer(topology.SourceKraken), log)
	if err != nil {
		return err
	}
	gaps, err := js.KeyValue(ctx, topology.BucketGaps)
	if err != nil {
		return fmt.Errorf("open bucket %s: %w", topology.BucketGaps, err)
	}
	f := &fetcher{
		cfg:     cfg,
		log:     log,
		js:      js,
		gaps:    gaps,
		client:  kraken.NewClient(cfg.KrakenURL, cfg.HTTPClient),
		limiter: rate.NewLimiter(rate.Limit(cfg.Rate), 1),
	}
	reg := cfg.Metrics
	f.m.calls = func(ep string) *metrics.Value {
		return reg.Counter("fff_fetcher_kraken_calls_total", "Calls made to Kraken's REST API", "endpoint", ep)
	}
	f.m.callSecs = func(ep string) *metrics.Histogram {
		return reg.Histogram("fff_fetcher_kraken_call_seconds", "Duration of calls to Kraken's REST API, each attempt, without the rate limit's wait",
			krakenCallBuckets, "endpoint", ep)
	}
	f.m.requests = func(outcome string) *metrics.Value {
		return reg.Counter("fff_fetcher_requests_total", "Fill requests finished, by outcome", "outcome", outcome)
	}
	f.m.candles = func(origin string) *metrics.Value {
		return reg.Counter("fff_fetcher_candles_published_total", "Candles published to CANDLES", "origin", origin)
	}
	f.m.throttled = reg.Counter("fff_fetcher_kraken_throttled_total", "Kraken answers saying to slow down")
	f.m.retries = reg.Counter("fff_fetcher_kraken_retries_total", "Kraken calls retried after a temporary error")

	log.Info("fetcher serving fill requests", "subject", topology.FillSubject(topology.SourceKraken),
		"kraken", cfg.KrakenURL, "rate", cfg.Rate, "trades", cfg.Trades, "max_request_candles", cfg.MaxRequestCandles)
	// One request at a time (the default batch of 1): they all share one
	// rate limit, and holding several would only let their AckWaits run.
	_ = jsplumb.Pull(ctx, cons, f.handle,
		jsplumb.WithKeepAlive(cfg.KeepAlive),
		jsplumb.WithRetryDelay(func(jetstream.Msg, error) time.Duration {
			return min(10*cfg.Backoff.Initial, cfg.Backoff.Max)
		}),
		jsplumb.WithDeadLetter(f.deadLetter, cfg.Backoff.Max),
		jsplumb.WithLogger(log))
	log.Info("fetcher stopped")
	return nil
}

// call makes one Kraken call at the rate limit, retrying temporary errors
// (throttling, service unavailable, 5xx, network) with exponential backoff
// until it succeeds, fails for good, or ctx ends.
func (f *fetcher) call(ctx context.Context, endpoint string, fn func(context.Context) error) error {
	wait := f.cfg.Backoff.Initial
	for {
		if err := f.limiter.Wait(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("rate limiter: %w", err)
		}
		f.m.calls(endpoint).Inc()
		start := time.Now()
		err := fn(ctx)
		f.m.callSecs(endpoint).ObserveSince(start)
		if err == nil || !kraken.IsTemporary(err) {
			return err
		}
		if kraken.IsThrottled(err) {
			f.m.throttled.Inc()
		}
		f.m.retries.Inc()
		f.log.Warn("Kraken call failed temporarily; backing off", "endpoint", endpoint, "err", err, "wait", wait)
		if !jsplumb.Sleep(ctx, wait) {
			return ctx.Err()
		}
		wait = min(2*wait, f.cfg.Backoff.Max)
	}
}

// krakenCallBuckets spans a quick answer (50 ms) to the HTTP client's
// 30 s timeout.
var krakenCallBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// pairsMaxAge is how old the AssetPairs list may be before an unknown name
// makes the fetcher look again (Kraken lists new pairs now and then).
const pairsMaxAge = 10 * time.Minute

// resolve maps what the request says (XBTUSD, XBT/USD, XXBTZUSD) to a listed pair.
func (f *fetcher) resolve(ctx context.Context, name string) (kraken.PairInfo, error) {
	f.pairsMu.Lock()
	defer f.pairsMu.Unlock()
	if f.resolver == nil {
		if err := f.loadPairs(ctx); err != nil {
			return kraken.PairInfo{}, err
		}
	}
	p, err := f.resolver.Resolve(name)
	if err != nil && time.Since(f.loadedAt) > pairsMaxAge {
		if err := f.loadPairs(ctx); err != nil {
			return kraken.PairInfo{}, err
		}
		p, err = f.resolver.Resolve(name)
	}
	return p, err
}

func (f *fetcher) loadPairs(ctx context.Context) error {
	var pairs map[string]kraken.PairInfo
	err := f.call(ctx, "AssetPairs", func(ctx context.Context) error {
		var err error
		pairs, err = f.client.AssetPairs(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("list Kraken pairs: %w", err)
	}
	f.resolver = kraken.NewResolver(pairs)
	f.loadedAt = time.Now()
	return nil
}
