package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/feefifofunds/feefifofunds/internal/cli"
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
		wait            = dayDuration(gapscanner.DefaultRoundWait)
		schedule        string
		jobSpecs        []string
		jobsFile        string
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Scan on a schedule and request fills for the fillable gaps, without asking",
		Long: `run is the continuous mode (the old tool's scheduled tasks). Each fill round
scans the last --lookback of each series plus the run from each series' last
candle up to the newest closed candle, records what it finds in the GAPS
bucket and publishes fill requests on fills.kraken for the fillable gaps: at
most --max-gaps-per-asset per series per round (the run to now first, then
the oldest, which leave Kraken's 720-candle window soonest). It then waits up
to --wait-timeout for the fetcher's answers and logs and publishes one
summary on gapscanner.summary.<job> (tier, intervals, assets_processed,
gaps_detected, gaps_filled, gaps_unfillable, gaps_failed,
total_candles_filled, errors): fff tail 'gapscanner.>'.

Rounds run every --every (the first at once), or at the times of --schedule,
a cron expression in UTC ("0 2 * * *", "*/30 * * * *", @hourly, @daily).

Several jobs, each with its own schedule and parameters, run in one process
with --job (repeatable) or --jobs-file (one job a line, # comments):

  [KIND] [WORDS] @ SCHEDULE

KIND is fill (the default), cleanup, completeness or stale. WORDS are a tier
list (TIER1, TIER1,TIER2, ALL), an interval list (60,1440), "trades", or
key=value: tier, pair, asset, intervals, lookback (7d), max-gaps, wait (10m,
or 0), days (cleanup), hours (stale), name. The other flags of this command
are the defaults of every job. Each job reports on gapscanner.<kind>.<name>;
a stale job also sets fff_gapscanner_stale_seconds{pair,interval}.

It stops on SIGINT/SIGTERM.`,
		Example: `  gapscanner run --every 1h
  gapscanner run --schedule '0 2 * * *' --tier TIER1 --intervals 60,1440
  gapscanner run --every 1h --tier TIER1,TIER2 --intervals 60,1440 --lookback 7d --max-gaps-per-asset 10
  gapscanner run --job 'TIER1 60,1440 @ 0 2 * * *' --job 'TIER2 1440 @ 0 3 * * *' \
    --job 'cleanup days=90 @weekly' --job 'completeness @daily' --job 'stale hours=24 @hourly'
  gapscanner run --jobs-file /etc/fff/gapscanner.jobs
  FFF_NATS_URL=nats://nats:4222 FFF_QUESTDB_PG=postgres://admin:quest@db:8812/qdb gapscanner run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			now, err := a.clock()
			if err != nil {
				return err
			}
			if _, err := gapscanner.ParseTiers(f.tiers); err != nil {
				return err
			}
			if every <= 0 || lookback <= 0 {
				return errors.New("--every and --lookback must be positive")
			}
			fs := cmd.Flags()
			jobs, err := readJobs(jobSpecs, jobsFile)
			if err != nil {
				return err
			}
			var sched gapscanner.Schedule
			switch {
			case len(jobs) > 0 && (fs.Changed("every") || fs.Changed("schedule")):
				return errors.New("--every and --schedule are for the single fill job; with --job or --jobs-file put the schedule in each job")
			case fs.Changed("every") && fs.Changed("schedule"):
				return errors.New("give --every or --schedule, not both")
			case schedule != "":
				if sched, err = gapscanner.ParseSchedule(schedule); err != nil {
					return fmt.Errorf("--schedule: %w", err)
				}
			}
			w := time.Duration(wait)
			if w == 0 {
				w = -1 // --wait-timeout 0: summarise at once
			}
			cfg := gapscanner.Config{
				QuestDB: a.qdb, Tiers: f.tiers, Pairs: f.pairs, Assets: f.assets, Intervals: f.intervals,
				Every: time.Duration(every), Schedule: sched, Jobs: jobs,
				Lookback: time.Duration(lookback), MaxGapsPerAsset: maxGapsPerAsset, Wait: w,
				Trades: req.trades, RequeueAfter: time.Duration(req.requeueAfter), Retention: time.Duration(req.retention),
				MaxRequestCandles: req.maxRequest, Now: now,
			}
			common := cli.Common{NATS: a.nats, Log: a.Logs, Metrics: metricsAddr}
			return cli.RunStage(cmd.Context(), common, "gapscanner", func(ctx context.Context, s *cli.Stage) error {
				cfg.JS, cfg.Log, cfg.Metrics = s.JS, s.Log, s.Metrics
				return gapscanner.Run(ctx, cfg)
			})
		},
	}
	fs := cmd.Flags()
	fs.Var(&every, "every", "time between rounds, e.g. 1h, 15m, 1d")
	fs.StringVar(&schedule, "schedule", "", "run rounds at these times instead: a 5-field cron expression in UTC, e.g. '0 2 * * *', or @hourly, @daily")
	fs.StringArrayVar(&jobSpecs, "job", nil, "a scheduled job, repeatable: '[fill|cleanup|completeness|stale] [TIER] [INTERVALS] [key=value...] @ SCHEDULE'")
	fs.StringVar(&jobsFile, "jobs-file", "", "read jobs from this file, one a line (# comments)")
	f.add(fs, tierUsage)
	fs.Var(&lookback, "lookback", "how far back each round looks for gaps inside series, e.g. 7d")
	fs.IntVar(&maxGapsPerAsset, "max-gaps-per-asset", 10, "at most this many fill requests per series per round")
	fs.Var(&wait, "wait-timeout", "how long a round waits for the fetcher's answers before it summarises (0: at once)")
	req.add(fs, "also request gaps older than the 720-candle window, rebuilt from trades (the fetcher must run with --trades)", "", "")
	metricsAddr.AddFlags(fs, "127.0.0.1:9106")
	bindEnv(fs)
	return cmd
}

// readJobs parses the --job values and the --jobs-file.
func readJobs(specs []string, file string) ([]gapscanner.Job, error) {
	var jobs []gapscanner.Job
	for _, s := range specs {
		j, err := gapscanner.ParseJob(s)
		if err != nil {
			return nil, fmt.Errorf("--job: %w", err)
		}
		jobs = append(jobs, j)
	}
	if file == "" {
		return jobs, nil
	}
	fh, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("--jobs-file: %w", err)
	}
	defer fh.Close()
	more, err := gapscanner.ParseJobs(fh)
	if err != nil {
		return nil, fmt.Errorf("--jobs-file %s: %w", file, err)
	}
	return append(jobs, more...), nil
}
