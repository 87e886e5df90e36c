// Command fetcher serves fill requests (fills.kraken) from Kraken's REST API
// and publishes the candles to the CANDLES stream for the writer.
package main

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/feefifofunds/feefifofunds/internal/cli"
	"github.com/feefifofunds/feefifofunds/pipeline/fetcher"
	"github.com/feefifofunds/feefifofunds/pipeline/finnhub"
	"github.com/feefifofunds/feefifofunds/pipeline/kraken"
	"github.com/feefifofunds/feefifofunds/pipeline/massive"
	"github.com/feefifofunds/feefifofunds/pipeline/pricefetch"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

func main() {
	var (
		cfg        fetcher.Config
		finnhubURL string
		source     = topology.SourceKraken
		pcfg       pricefetch.Config
		popts      pricefetch.SourceOptions
	)
	cli.Main(cli.StageCommand(cli.StageSpec{
		Name:  "fetcher",
		Short: "Fill candle gaps from Kraken's REST API, or daily prices from Massive.com or Finnhub, on request",
		Long: `fetcher consumes fill requests from fills.kraken (FILLS stream, durable
consumer "fetcher-kraken"), published by the gap scanner or by hand, fetches
the candles from Kraken and publishes them to candles.kraken.<pair>.<interval>
(origin "api", or "trades" when rebuilt from trades). The outcome lands on the
request's gap record in the GAPS bucket (nats kv get GAPS <key>):
FILLED, NO_TRADES, UNFILLABLE (with the reason) or FAILED.

Kraken's OHLC endpoint serves only the newest 720 closed candles of an
interval. Older candles are rebuilt from the Trades endpoint with --trades (or
"trades":true in a request); otherwise they are recorded as UNFILLABLE.

Calls are rate-limited (--rate); throttling and service errors are retried
with backoff without losing the request. A request that can never be served
(bad JSON, unknown field or pair, interval Kraken does not serve, start after
end, more than --max-request-candles) goes to dlq.fetcher with the reason.

With --source massive or --source finnhub it serves daily price requests
from fills.massive / fills.finnhub instead (durable fetcher-<source>) and
publishes candles.<source>.<ticker>.1440. The API key comes from
MASSIVE_API_KEY / FINNHUB_API_KEY (never logged); calls are paced at the
plan's rate (--rate-per-minute, default the free plans': Massive 5,
Finnhub 60), 429s are retried with backoff, other refusals are recorded on
the request's gap record with the API's own message (FAILED). Bad requests
go to dlq.fetcher-<source>.`,
		Example: `  fetcher
  fetcher --trades --rate 0.5
  FFF_NATS_URL=nats://nats:4222 fetcher --kraken-url http://127.0.0.1:8080

  # ask for a range by hand:
  nats pub fills.kraken '{"pair":"XBTUSD","interval":60,"start":"2025-01-10T08:00:00Z","end":"2025-01-10T14:00:00Z"}'
  nats kv get GAPS kraken.XBTUSD.60.1736496000

  # daily stock prices:
  MASSIVE_API_KEY=... fetcher --source massive --metrics-addr 127.0.0.1:9107
  FINNHUB_API_KEY=... fetcher --source finnhub --rate-per-minute 300 --metrics-addr 127.0.0.1:9108
  nats pub fills.massive '{"ticker":"AAPL","start":"2023-01-09","end":"2023-02-10"}'
  nats kv get GAPS massive.AAPL.1440.1673222400`,
		MetricsAddr: "127.0.0.1:9105",
		Flags: func(fs *pflag.FlagSet) {
			fs.StringVar(&source, "source", topology.SourceKraken, "what to serve: kraken (fills.kraken), massive (fills.massive) or finnhub (fills.finnhub)")
			cli.Bind(fs, "source", "FFF_FETCHER_SOURCE")
			fs.StringVar(&popts.BaseURL, "massive-url", massive.DefaultBaseURL, "base URL of Massive.com's REST API (with --source massive)")
			cli.Bind(fs, "massive-url", "FFF_MASSIVE_URL")
			fs.StringVar(&finnhubURL, "finnhub-url", finnhub.DefaultBaseURL, "base URL of Finnhub's REST API (with --source finnhub)")
			cli.Bind(fs, "finnhub-url", "FFF_FINNHUB_URL")
			fs.Float64Var(&popts.PerMinute, "rate-per-minute", 0, "price source calls a minute, your plan's limit (default: Massive 5, Finnhub 60)")
			cli.Bind(fs, "rate-per-minute", "FFF_FETCHER_RATE_PER_MINUTE")
			fs.StringVar(&cfg.KrakenURL, "kraken-url", kraken.DefaultBaseURL, "base URL of Kraken's REST API (point it at a fake Kraken for tests)")
			cli.Bind(fs, "kraken-url", "FFF_KRAKEN_URL")
			fs.Float64Var(&cfg.Rate, "rate", fetcher.DefaultRate, "Kraken calls per second, across all requests (about 1 is safe)")
			cli.Bind(fs, "rate", "FFF_FETCHER_RATE")
			fs.BoolVar(&cfg.Trades, "trades", false, "rebuild candles older than Kraken's 720-candle OHLC window from the Trades endpoint (1000 trades a call: slow for busy pairs)")
			cli.Bind(fs, "trades", "FFF_FETCHER_TRADES")
			fs.Int64Var(&cfg.MaxRequestCandles, "max-request-candles", fetcher.DefaultMaxRequestCandles, "dead-letter requests covering more candles than this")
			cli.Bind(fs, "max-request-candles", "FFF_FETCHER_MAX_REQUEST_CANDLES")
			fs.IntVar(&cfg.BatchSize, "batch-size", fetcher.DefaultBatchSize, "candles per published batch")
			cli.Bind(fs, "batch-size", "FFF_FETCHER_BATCH_SIZE")
			fs.DurationVar(&cfg.Backoff.Initial, "backoff", fetcher.DefaultBackoffInitial, "first wait after a throttled or failed Kraken call (doubles each time)")
			cli.Bind(fs, "backoff", "FFF_FETCHER_BACKOFF")
			fs.DurationVar(&cfg.Backoff.Max, "max-backoff", fetcher.DefaultBackoffMax, "longest wait between retries of a Kraken call")
			cli.Bind(fs, "max-backoff", "FFF_FETCHER_MAX_BACKOFF")
		},
		Check: func() error {
			switch source {
			case topology.SourceKraken:
			case massive.Name, finnhub.Name:
				if source == finnhub.Name {
					popts.BaseURL = finnhubURL
				}
				popts.Backoff, popts.MaxBackoff = cfg.Backoff.Initial, cfg.Backoff.Max
				src, err := pricefetch.NewSource(source, popts)
				if err != nil {
					return err
				}
				pcfg.Source, pcfg.BatchSize = src, cfg.BatchSize
				return nil
			default:
				return fmt.Errorf("--source %q: want kraken, massive or finnhub", source)
			}
			if cfg.Rate <= 0 {
				return fmt.Errorf("--rate %v: want a positive number of calls per second", cfg.Rate)
			}
			if cfg.MaxRequestCandles <= 0 {
				return fmt.Errorf("--max-request-candles %d: want a positive number", cfg.MaxRequestCandles)
			}
			return nil
		},
		Run: func(ctx context.Context, s *cli.Stage) error {
			if pcfg.Source != nil {
				pcfg.JS, pcfg.Log, pcfg.Metrics = s.JS, s.Log, s.Metrics
				return pricefetch.Run(ctx, pcfg)
			}
			cfg.JS, cfg.Log, cfg.Metrics = s.JS, s.Log, s.Metrics
			return fetcher.Run(ctx, cfg)
		},
	}))
}
