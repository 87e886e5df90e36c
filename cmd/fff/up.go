package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/feefifofunds/feefifofunds/internal/cli"
	"github.com/feefifofunds/feefifofunds/pipeline/fetcher"
	"github.com/feefifofunds/feefifofunds/pipeline/finnhub"
	"github.com/feefifofunds/feefifofunds/pipeline/gapscanner"
	"github.com/feefifofunds/feefifofunds/pipeline/ledger"
	"github.com/feefifofunds/feefifofunds/pipeline/local"
	"github.com/feefifofunds/feefifofunds/pipeline/massive"
	"github.com/feefifofunds/feefifofunds/pipeline/metrics"
	"github.com/feefifofunds/feefifofunds/pipeline/parser"
	"github.com/feefifofunds/feefifofunds/pipeline/pricefetch"
	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
	"github.com/feefifofunds/feefifofunds/pipeline/watcher"
	"github.com/feefifofunds/feefifofunds/pipeline/writer"
)

func (a *app) upCmd() *cobra.Command {
	var (
		q          questdb.Config
		listen     string
		store      string
		inbox      string
		krakenURL  string
		metricsAdr string
		parsers    int
		writers    int
		noFetcher  bool
		noScanner  bool
		jobSpecs   []string
		priceURLs  = map[string]*string{}
		settle     time.Duration
		memLimit   bool
	)
	cmd := &cobra.Command{
		Use:   "up --inbox DIR",
		Short: "Run the whole pipeline in one process on an embedded JetStream",
		Long: `up starts an embedded NATS server with JetStream (store under --store,
listening on --listen so the nats CLI can look in) and runs the watcher, the
ledger keeper, parsers, writers, the Kraken fetcher, the price fetchers and
the gap scanner's scheduled jobs in this process: one command is the whole
system. Drop Kraken OHLCVT CSV files (or zips of them) into the inbox; publish
fill requests with nats pub fills.kraken '{...}'. Ctrl-C stops everything
cleanly.

A price fetcher (fills.massive, fills.finnhub) runs when its key is set
(MASSIVE_API_KEY, FINNHUB_API_KEY); without it one line says it is off.

The gap scanner runs the jobs of --job (repeatable, as gapscanner run --job:
'[fill|cleanup|completeness|stale] [TIER] [INTERVALS] [key=value...] @
SCHEDULE'), by default the old tool's schedule: TIER1 60,1440 at 02:00, TIER2
1440 at 03:00, cleanup weekly, completeness daily, stale hourly (UTC).
--no-scanner turns it off.

The process sets itself a soft memory limit from the stages' settings (see
--memory-limit), as the writer binary does, so one big file does not take it
to twice its working set.`,
		Example: `  fff up --inbox ./inbox
  fff up --inbox ./inbox --table candles --questdb 'http::addr=127.0.0.1:9000;'
  fff up --inbox ./inbox --job 'TIER1 60 @every 1h' --job 'stale hours=24 @hourly'
  MASSIVE_API_KEY=... fff up --inbox ./inbox --no-scanner
  nats --server nats://127.0.0.1:4222 pub fills.kraken '{"pair":"XBTUSD","interval":60,"start":"2025-01-10T08:00:00Z","end":"2025-01-10T14:00:00Z"}'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if inbox == "" {
				return fmt.Errorf("--inbox is required")
			}
			jobs := gapscanner.DefaultJobs()
			if len(jobSpecs) > 0 {
				jobs = jobs[:0]
				for _, spec := range jobSpecs {
					j, err := gapscanner.ParseJob(spec)
					if err != nil {
						return fmt.Errorf("--job: %w", err)
					}
					jobs = append(jobs, j)
				}
			}
			ctx, cancel := signalAware(cmd.Context())
			defer cancel()
			o := local.Options{
				Store: store, Listen: listen, Log: a.log, Metrics: metrics.Default,
				Keeper:  &ledger.Config{},
				Watcher: &watcher.Config{Inbox: inbox, Settle: settle, NoLedgerKeeper: true},
				Parser:  &parser.Config{Workers: parsers},
				Writer:  &writer.Config{QuestDB: q, Workers: writers, Migrate: true},
			}
			if !noFetcher {
				o.Fetcher = &fetcher.Config{KrakenURL: krakenURL}
			}
			sources, err := a.priceSources(priceURLs)
			if err != nil {
				return err
			}
			o.PriceSources = sources
			if !noScanner {
				o.Scanner = &gapscanner.Config{QuestDB: q, Jobs: jobs}
			}
			a.limitMemory(memLimit, o)
			p, err := local.Start(ctx, o)
			if err != nil {
				return err
			}
			p.Go("metrics", func(ctx context.Context) error {
				return metrics.Serve(ctx, metricsAdr, metrics.Default, nil, a.log)
			})
			p.Go("consumer-lag", func(ctx context.Context) error {
				return metrics.WatchConsumers(ctx, p.JS, metrics.Default, 0, a.log)
			})
			a.log.Info("pipeline running", "inbox", inbox, "table", q.Table, "nats", p.URL)
			<-p.Done()
			return p.Stop()
		},
	}
	f := cmd.Flags()
	cli.AddQuestDBFlags(f, &q)
	cli.Flag(f, f.StringVar, &inbox, "inbox", "", "folder to watch for Kraken CSV files", "FFF_INBOX")
	cli.Flag(f, f.StringVar, &listen, "listen", "127.0.0.1:4222", "address of the embedded NATS server", "FFF_LISTEN")
	cli.Flag(f, f.StringVar, &store, "store", "./var", "folder for the embedded JetStream store", "FFF_STORE")
	cli.Flag(f, f.StringVar, &krakenURL, "kraken-url", "https://api.kraken.com", "Kraken REST API base URL", "FFF_KRAKEN_URL")
	cli.Flag(f, f.StringVar, &metricsAdr, "metrics-addr", "127.0.0.1:9100", "serve /metrics and /healthz here (empty: off)", "FFF_METRICS_ADDR")
	cli.Flag(f, f.IntVar, &parsers, "parsers", 2, "parser workers", "FFF_PARSERS")
	cli.Flag(f, f.IntVar, &writers, "writers", 2, "writer workers (parallel ILP senders)", "FFF_WRITERS")
	cli.Flag(f, f.BoolVar, &noFetcher, "no-fetcher", false, "do not run the Kraken fetcher", "FFF_NO_FETCHER")
	cli.Flag(f, f.BoolVar, &noScanner, "no-scanner", false, "do not run the gap scanner's scheduled jobs", "FFF_NO_SCANNER")
	f.StringArrayVar(&jobSpecs, "job", nil, "a gap scanner job, repeatable (as gapscanner run --job; default the old tool's schedule)")
	for _, src := range []struct{ name, def string }{{massive.Name, massive.DefaultBaseURL}, {finnhub.Name, finnhub.DefaultBaseURL}} {
		priceURLs[src.name] = f.String(src.name+"-url", src.def, "base URL of "+src.name+"'s REST API")
		cli.Bind(f, src.name+"-url", "FFF_"+strings.ToUpper(src.name)+"_URL")
	}
	cli.Flag(f, f.DurationVar, &settle, "settle", watcher.DefaultSettle, "how long a file must stop changing before it is taken", "FFF_SETTLE")
	addMemoryLimitFlag(f, &memLimit)
	return cmd
}

// priceSources are the price fetchers fff up runs: each source whose key is
// set. An unset key is no error here, since most users have one source or
// none: one line says that source is off.
func (a *app) priceSources(urls map[string]*string) ([]pricefetch.Source, error) {
	keys := map[string]func() (string, error){massive.Name: massive.KeyFromEnv, finnhub.Name: finnhub.KeyFromEnv}
	var out []pricefetch.Source
	for _, name := range pricefetch.SourceNames {
		if _, err := keys[name](); err != nil {
			a.log.Info("price fetcher off", "source", name, "why", err.Error())
			continue
		}
		src, err := pricefetch.NewSource(name, pricefetch.SourceOptions{BaseURL: *urls[name], Log: a.log})
		if err != nil {
			return nil, err
		}
		out = append(out, src)
	}
	return out, nil
}
