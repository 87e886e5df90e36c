package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/feefifofunds/feefifofunds/internal/cli"
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
assets (pairs) there are, how many have gaps, both completeness figures of
the old tool (present candles / expected candles from each series' first to
last candle, or to now with --to-now; and assets without gaps / assets), the
total number of gaps and how many are fillable and unfillable.`,
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
				return cli.WriteJSON(a.Out, lines)
			}
			tw := a.table("TIER", "INTERVAL", "ASSETS", "WITH GAPS", "PRESENT", "EXPECTED", "COMPLETE", "ASSETS COMPLETE",
				"GAPS", "FILLABLE", "FROM TRADES", "UNFILLABLE", "NO TRADES")
			for _, l := range lines {
				fmt.Fprintf(tw, "%s\t%dm\t%d\t%d\t%d\t%d\t%.2f%%\t%.2f%%\t%d\t%d\t%d\t%d\t%d\n", l.Tier, l.Interval, l.Assets, l.AssetsWithGaps,
					l.Present, l.Expected, l.Completeness, l.AssetsComplete, l.TotalGaps, l.Fillable, l.FillableFromTrades, l.Unfillable, l.NoTrades)
			}
			return tw.Flush()
		},
	}
	fs := cmd.Flags()
	f.add(fs, tierUsageLong)
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
		Short: "Series whose newest candle is older than --hours; exit 1 when any is",
		Long: `stale checks every series and lists those whose newest candle closed more
than --hours ago, most behind first, with how far behind they are (hours,
and closed candles missing since). It says how many assets and series it
checked, and exits 1 when any series is stale, so a cron job or a CI check
can alert on it. In "gapscanner run", a stale job exports how far behind
every series is (in seconds) as fff_gapscanner_stale_seconds{pair,interval}.`,
		Example: `  gapscanner stale
  gapscanner stale --hours 48 --tier TIER1 --json
  gapscanner stale --asset BTC --interval 60 || echo "BTC hourly fell behind"`,
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
			rep, err := gapscanner.CheckStale(ctx, a.scanConfig(db, f, now), time.Duration(hours*float64(time.Hour)))
			if err != nil {
				return err
			}
			if asJSON {
				if err := cli.WriteJSON(a.Out, rep); err != nil {
					return err
				}
			} else {
				a.printStale(rep, hours)
			}
			if n := len(rep.Stale); n > 0 {
				return fmt.Errorf("%d of %d series are more than %vh behind", n, rep.SeriesChecked, hours)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	f.add(fs, tierUsageLong)
	fs.Float64Var(&hours, "hours", 24, "list series whose newest candle closed more than this many hours ago")
	fs.BoolVar(&asJSON, "json", false, "print JSON")
	bindEnv(fs)
	return cmd
}

func (a *app) printStale(rep gapscanner.StaleReport, hours float64) {
	fmt.Fprintf(a.Out, "checked %d assets, %d series\n", rep.AssetsChecked, rep.SeriesChecked)
	if len(rep.Stale) == 0 {
		fmt.Fprintf(a.Out, "no series is more than %vh behind\n", hours)
		return
	}
	tw := a.table("SERIES", "TIER", "NEWEST CANDLE", "CLOSED AT", "BEHIND", "HOURS BEHIND", "CANDLES BEHIND")
	for _, s := range rep.Stale {
		fmt.Fprintf(tw, "%s %dm\t%s\t%s\t%s\t%s\t%.2f\t%d\n", s.Pair, s.Interval, s.Tier, ts(s.Last), ts(s.ClosedAt), s.BehindHuman, s.HoursBehind, s.BehindCandles)
	}
	tw.Flush()
}
