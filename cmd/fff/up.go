package main

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/feefifofunds/feefifofunds/pipeline/fetcher"
	"github.com/feefifofunds/feefifofunds/pipeline/ledger"
	"github.com/feefifofunds/feefifofunds/pipeline/metrics"
	"github.com/feefifofunds/feefifofunds/pipeline/natsembed"
	"github.com/feefifofunds/feefifofunds/pipeline/parser"
	"github.com/feefifofunds/feefifofunds/pipeline/settings"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
	"github.com/feefifofunds/feefifofunds/pipeline/watcher"
	"github.com/feefifofunds/feefifofunds/pipeline/writer"
)

func init() {
	var (
		q          settings.QuestDB
		listen     string
		store      string
		inbox      string
		krakenURL  string
		metricsAdr string
		parsers    int
		writers    int
		noFetcher  bool
		settle     time.Duration
	)
	cmd := &cobra.Command{
		Use:   "up --inbox DIR",
		Short: "Run the whole pipeline in one process on an embedded JetStream",
		Long: `up starts an embedded NATS server with JetStream (store under --store,
listening on --listen so the nats CLI can look in) and runs the watcher, the
ledger keeper, parsers, writers and the Kraken fetcher in this process.
Drop Kraken OHLCVT CSV files (or zips of them) into the inbox; publish fill
requests with nats pub fills.kraken '{...}'. Ctrl-C stops everything cleanly.`,
		Example: `  fff up --inbox ./inbox
  fff up --inbox ./inbox --table candles --questdb 'http::addr=127.0.0.1:9000;'
  nats --server nats://127.0.0.1:4222 pub fills.kraken '{"pair":"XBTUSD","interval":60,"start":"2025-01-10T08:00:00Z","end":"2025-01-10T14:00:00Z"}'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if inbox == "" {
				return fmt.Errorf("--inbox is required")
			}
			host, portS, err := net.SplitHostPort(listen)
			if err != nil {
				return fmt.Errorf("--listen %q: want host:port: %w", listen, err)
			}
			port, err := strconv.Atoi(portS)
			if err != nil {
				return fmt.Errorf("--listen %q: port: %w", listen, err)
			}
			srv, err := natsembed.Start(natsembed.Config{Host: host, Port: port, StoreDir: filepath.Join(store, "jetstream")})
			if err != nil {
				return err
			}
			defer srv.Stop()
			logger.Info("embedded JetStream up", "url", srv.URL(), "store", store)
			nc, err := nats.Connect(srv.URL(), nats.Name("fff-up"))
			if err != nil {
				return fmt.Errorf("connect embedded nats: %w", err)
			}
			defer nc.Close()
			js, err := jetstream.New(nc)
			if err != nil {
				return fmt.Errorf("jetstream: %w", err)
			}
			ctx, cancel := settings.SignalContext()
			defer cancel()
			if err := topology.Ensure(ctx, js, topology.DefaultOptions()); err != nil {
				return err
			}
			reg := metrics.Default
			stages := map[string]func(context.Context) error{
				"ledger": func(ctx context.Context) error {
					return ledger.Run(ctx, ledger.Config{JS: js, Log: logger, Metrics: reg})
				},
				"watcher": func(ctx context.Context) error {
					return watcher.Run(ctx, watcher.Config{JS: js, Log: logger, Metrics: reg,
						Inbox: inbox, Settle: settle, NoLedgerKeeper: true})
				},
				"parser": func(ctx context.Context) error {
					return parser.Run(ctx, parser.Config{JS: js, Log: logger, Metrics: reg, Workers: parsers})
				},
				"writer": func(ctx context.Context) error {
					return writer.Run(ctx, writer.Config{JS: js, Log: logger, Metrics: reg,
						QuestDB: q, Workers: writers, Migrate: true})
				},
			}
			if !noFetcher {
				stages["fetcher"] = func(ctx context.Context) error {
					return fetcher.Run(ctx, fetcher.Config{JS: js, Log: logger, Metrics: reg, KrakenURL: krakenURL})
				}
			}
			// Every stage is owned here: the first to fail stops the rest.
			var wg sync.WaitGroup
			errc := make(chan error, len(stages)+1)
			for name, run := range stages {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := run(ctx); err != nil {
						errc <- fmt.Errorf("%s: %w", name, err)
						cancel()
					}
				}()
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := metrics.Serve(ctx, metricsAdr, reg, nil, logger); err != nil {
					errc <- err
					cancel()
				}
			}()
			logger.Info("pipeline running", "inbox", inbox, "table", q.Table)
			wg.Wait()
			close(errc)
			for err := range errc {
				return err
			}
			return nil
		},
	}
	f := cmd.Flags()
	q.AddFlags(f)
	f.StringVar(&inbox, "inbox", "", "folder to watch for Kraken CSV files")
	settings.Bind(f, "inbox", "FFF_INBOX")
	f.StringVar(&listen, "listen", "127.0.0.1:4222", "address of the embedded NATS server")
	settings.Bind(f, "listen", "FFF_LISTEN")
	f.StringVar(&store, "store", "./var", "folder for the embedded JetStream store")
	settings.Bind(f, "store", "FFF_STORE")
	f.StringVar(&krakenURL, "kraken-url", "https://api.kraken.com", "Kraken REST API base URL")
	settings.Bind(f, "kraken-url", "FFF_KRAKEN_URL")
	f.StringVar(&metricsAdr, "metrics-addr", "127.0.0.1:9100", "serve /metrics and /healthz here (empty: off)")
	settings.Bind(f, "metrics-addr", "FFF_METRICS_ADDR")
	f.IntVar(&parsers, "parsers", 2, "parser workers")
	settings.Bind(f, "parsers", "FFF_PARSERS")
	f.IntVar(&writers, "writers", 2, "writer workers (parallel ILP senders)")
	settings.Bind(f, "writers", "FFF_WRITERS")
	f.BoolVar(&noFetcher, "no-fetcher", false, "do not run the Kraken fetcher")
	settings.Bind(f, "no-fetcher", "FFF_NO_FETCHER")
	f.DurationVar(&settle, "settle", 2*time.Second, "how long a file must stop changing before it is taken")
	settings.Bind(f, "settle", "FFF_SETTLE")
	rootCmd.AddCommand(cmd)
}
