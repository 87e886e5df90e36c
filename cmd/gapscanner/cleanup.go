package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/feefifofunds/feefifofunds/internal/cli"
	"github.com/feefifofunds/feefifofunds/pipeline/gapscanner"
)

func (a *app) cleanupCmd() *cobra.Command {
	var (
		days           float64
		dryRun, asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "cleanup",
		Short: "Purge FILLED and FAILED gap records older than --days (UNFILLABLE and NO_TRADES stay)",
		Long: `cleanup purges the gap records (GAPS bucket) that are FILLED or FAILED and
whose last state change is more than --days ago, and says how many of each
went. UNFILLABLE and NO_TRADES records are kept: they stop the scanner from
asking Kraken for what it cannot serve. scan and run also purge past their
--retention; this is the old tool's cleanup_old_gaps as its own command.`,
		Example: `  gapscanner cleanup --days 90
  gapscanner cleanup --days 30 --dry-run --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if days <= 0 {
				return fmt.Errorf("--days %v: want more than zero", days)
			}
			now, err := a.clock()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			kv, closeNATS, err := a.gapRecords(ctx)
			if err != nil {
				return err
			}
			defer closeNATS()
			st, err := gapscanner.Cleanup(ctx, kv, gapscanner.CleanupOptions{
				OlderThan: time.Duration(days * 24 * float64(time.Hour)), Now: now, DryRun: dryRun,
			})
			if err != nil {
				return err
			}
			if asJSON {
				return cli.WriteJSON(a.Out, st)
			}
			verb := "purged"
			if dryRun {
				verb = "would purge (--dry-run)"
			}
			fmt.Fprintf(a.Out, "%s %d FILLED and %d FAILED gap records older than %vd; kept %d UNFILLABLE and %d NO_TRADES; %d records remain\n",
				verb, st.FilledPurged, st.FailedPurged, days, st.UnfillableKept, st.NoTradesKept, st.Remaining)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.Float64Var(&days, "days", 90, "purge FILLED and FAILED records whose last change is older than this many days")
	fs.BoolVar(&dryRun, "dry-run", false, "only count what would be purged")
	fs.BoolVar(&asJSON, "json", false, "print JSON")
	bindEnv(fs)
	return cmd
}
