package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/feefifofunds/feefifofunds/pipeline/gapscanner"
)

func (a *app) reportCmd() *cobra.Command {
	var (
		f                     filters
		asJSON, toNow, trades bool
	)
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Completeness per tier and interval",
		Long: `report scans like "scan --dry-run" and sums up per tier and interval: how many
assets (pairs) there are, how many have gaps, completeness (present candles /
expected candles from each series' first to last candle, or to now with
--to-now) and the number of fillable and unfillable gaps.`,
		Example: `  gapscanner report
  gapscanner report --tier TIER1 --to-now --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			now, err := a.clock()
			if err != nil {
				return err
			}
			res, err := a.sweep(cmd.Context(), f, now, true, gapscanner.SweepOptions{
				Scan: gapscanner.ScanConfig{ToNow: toNow, Trades: trades}, DryRun: true,
			})
			if err != nil {
				return err
			}
			lines := gapscanner.Completeness(res.Report)
			if asJSON {
				return writeJSON(a.out, lines)
			}
			tw := a.table("TIER", "INTERVAL", "ASSETS", "WITH GAPS", "PRESENT", "EXPECTED", "COMPLETE", "FILLABLE", "FROM TRADES", "UNFILLABLE", "NO TRADES")
			for _, l := range lines {
				fmt.Fprintf(tw, "%s\t%dm\t%d\t%d\t%d\t%d\t%.2f%%\t%d\t%d\t%d\t%d\n", l.Tier, l.Interval, l.Assets, l.AssetsWithGaps,
					l.Present, l.Expected, l.Completeness, l.Fillable, l.FillableFromTrades, l.Unfillable, l.NoTrades)
			}
			return tw.Flush()
		},
	}
	fs := cmd.Flags()
	f.add(fs, "interval", tierUsageLong)
	fs.BoolVar(&asJSON, "json", false, "print JSON")
	fs.BoolVar(&toNow, "to-now", false, "count the candles missing after each series' last candle too")
	fs.BoolVar(&trades, "trades", false, "count gaps older than the 720-candle window as fillable from trades")
	bindEnv(fs)
	return cmd
}

func (a *app) staleCmd() *cobra.Command {
	var (
		f      filters
		hours  float64
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "stale",
		Short: "Series whose newest candle is older than --hours",
		Long: `stale lists the series whose newest candle closed more than --hours ago,
most behind first, with how far behind they are (time and closed candles
missing since).`,
		Example: `  gapscanner stale
  gapscanner stale --hours 48 --tier TIER1 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			now, err := a.clock()
			if err != nil {
				return err
			}
			if hours < 0 {
				return fmt.Errorf("--hours %v: want zero or more", hours)
			}
			db, err := a.connectDB(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			list, err := gapscanner.Stale(ctx, a.scanConfig(db, f, now), time.Duration(hours*float64(time.Hour)))
			if err != nil {
				return err
			}
			if asJSON {
				if list == nil {
					list = []gapscanner.StaleSeries{}
				}
				return writeJSON(a.out, list)
			}
			if len(list) == 0 {
				fmt.Fprintf(a.out, "no series is more than %vh behind\n", hours)
				return nil
			}
			tw := a.table("SERIES", "TIER", "NEWEST CANDLE", "CLOSED AT", "BEHIND", "CANDLES BEHIND")
			for _, s := range list {
				fmt.Fprintf(tw, "%s %dm\t%s\t%s\t%s\t%s\t%d\n", s.Pair, s.Interval, s.Tier, ts(s.Last), ts(s.ClosedAt), s.BehindHuman, s.BehindCandles)
			}
			return tw.Flush()
		},
	}
	fs := cmd.Flags()
	f.add(fs, "interval", tierUsageLong)
	fs.Float64Var(&hours, "hours", 24, "list series whose newest candle closed more than this many hours ago")
	fs.BoolVar(&asJSON, "json", false, "print JSON")
	bindEnv(fs)
	return cmd
}
