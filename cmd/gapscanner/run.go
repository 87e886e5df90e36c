package main

import (
	"context"
	"errors"
	"time"

	"github.com/spf13/cobra"

	"github.com/feefifofunds/feefifofunds/internal/cli"
	"github.com/feefifofunds/feefifofunds/pipeline/assets"
	"github.com/feefifofunds/feefifofunds/pipeline/gapscanner"
)

func (a *app) runCmd() *cobra.Command {
	var (
		f               filters
		req             requestFlags
		maxGapsPerAsset int
		metricsAddr     cli.Metrics
		every           = dayDuration(time.Hour)
		lookback        = dayDuration(7 * 24 * time.Hour)
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Scan every period and request fills for the fillable gaps, without asking",
		Long: `run is the continuous mode. Every --every it scans the last --lookback of
each series plus the run from each series' last candle up to the newest closed
candle, records what it finds in the GAPS bucket and publishes fill requests
on fills.kraken for the fillable gaps: at most --max-gaps-per-asset per series
per round (the run to now first, then the oldest, which leave Kraken's
720-candle window soonest). It stops on SIGINT/SIGTERM.`,
		Example: `  gapscanner run --every 1h
  gapscanner run --every 1h --tier TIER1,TIER2 --intervals 60,1440 --lookback 7d --max-gaps-per-asset 10
  FFF_NATS_URL=nats://nats:4222 FFF_QUESTDB_PG=postgres://admin:quest@db:8812/qdb gapscanner run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			now, err := a.clock()
			if err != nil {
				return err
			}
			if _, err := assets.ParseTierList(f.tiers); err != nil {
				return err
			}
			if every <= 0 || lookback <= 0 {
				return errors.New("--every and --lookback must be positive")
			}
			cfg := gapscanner.Config{
				QuestDB: a.qdb, Tiers: f.tiers, Pairs: f.pairs, Intervals: f.intervals,
				Every: time.Duration(every), Lookback: time.Duration(lookback), MaxGapsPerAsset: maxGapsPerAsset,
				Trades: req.trades, RequeueAfter: time.Duration(req.requeueAfter), Retention: time.Duration(req.retention),
				MaxRequestCandles: req.maxRequest, Now: now,
			}
			common := cli.Common{NATS: a.nats, Log: a.logs, Metrics: metricsAddr}
			return cli.RunStage(cmd.Context(), common, "gapscanner", func(ctx context.Context, s *cli.Stage) error {
				cfg.JS, cfg.Log, cfg.Metrics = s.JS, s.Log, s.Metrics
				return gapscanner.Run(ctx, cfg)
			})
		},
	}
	fs := cmd.Flags()
	fs.Var(&every, "every", "time between rounds, e.g. 1h, 15m, 1d")
	f.add(fs, "intervals", tierUsage)
	fs.Var(&lookback, "lookback", "how far back each round looks for gaps inside series, e.g. 7d")
	fs.IntVar(&maxGapsPerAsset, "max-gaps-per-asset", 10, "at most this many fill requests per series per round")
	req.add(fs, "also request gaps older than the 720-candle window, rebuilt from trades (the fetcher must run with --trades)", "", "")
	metricsAddr.AddFlags(fs, "127.0.0.1:9106")
	bindEnv(fs)
	return cmd
}
