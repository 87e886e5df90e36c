package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/feefifofunds/feefifofunds/internal/cli"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/gapscanner"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

func (a *app) scanCmd() *cobra.Command {
	var (
		f                                          filters
		req                                        requestFlags
		dryRun, yes, unfillableOnly, asJSON, toNow bool
		noWait                                     bool
		waitTimeout                                = dayDuration(30 * time.Minute)
		export                                     string
	)
	cmd := &cobra.Command{
		Use:   "scan",
		Short: "Report the gaps (fillable and unfillable) and request fills for the fillable ones",
		Long: `scan prints two reports, fillable and unfillable gaps, one line per gap:
series, start and end (first and last missing open time), missing candles,
candles from today (intervals between the gap start and now), overflow beyond
Kraken's 720-candle window, and the whole UTC days the gap covers.

Then it records the gaps in the GAPS bucket and publishes one fill request per
fillable gap on fills.kraken, after asking on the terminal (or with --yes).
Without a terminal and without --yes it refuses and changes nothing. Gaps
whose record says NO_TRADES or UNFILLABLE are never requested again; a
REQUESTED one only after --requeue-after.

Having published, it waits (up to --wait-timeout; --no-wait returns at once)
until the fetcher answered every request: FILLED, FAILED, NO_TRADES or
UNFILLABLE, as the gap records say, with a progress bar on a terminal. Then it
prints each gap's outcome, the failed gaps with their errors, and the totals
(detected, requested, filled, unfillable, no trades, failed, candles filled),
and exits 1 when a gap failed or was not answered in time. With --json the
report, the outcomes and the totals come as one object.

--dry-run and --show-unfillable-only only report: nothing is published and no
record is touched.`,
		Example: `  gapscanner scan --dry-run
  gapscanner scan --tier TIER1 --interval 60 --yes
  gapscanner scan --pair XBTUSD --to-now --yes
  gapscanner scan --show-unfillable-only --export-unfillable unfillable.csv
  gapscanner scan --trades --dry-run --json | jq '.gaps[] | select(.class=="fillable_from_trades")'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			now, err := a.clock()
			if err != nil {
				return err
			}
			viewOnly := dryRun || unfillableOnly
			res, err := a.sweep(cmd.Context(), f, now, viewOnly, gapscanner.SweepOptions{
				Scan:   gapscanner.ScanConfig{ToNow: toNow, Trades: req.trades, RequeueAfter: time.Duration(req.requeueAfter)},
				DryRun: viewOnly, Retention: time.Duration(req.retention), MaxRequestCandles: req.maxRequest,
				Review: func(rep gapscanner.Report, todo []gapscanner.Gap) (bool, error) {
					// With --json a publishing scan prints one object at the end.
					if err := a.showScan(rep, asJSON && !viewOnly, asJSON, unfillableOnly, export); err != nil {
						return false, err
					}
					if viewOnly {
						a.note(asJSON, "nothing published, no record touched (%s)", map[bool]string{true: "--dry-run", false: "--show-unfillable-only"}[dryRun])
						return false, nil
					}
					if len(todo) == 0 || yes {
						return true, nil
					}
					return a.confirm(todo, asJSON)
				},
			})
			if !res.Synced {
				if asJSON && !viewOnly && res.Report.Table != "" {
					_ = cli.WriteJSON(a.Out, res.Report)
				}
				return err
			}
			st := res.Sync
			a.note(asJSON, "gap records: %d new, %d updated, %d marked FILLED, %d partly filled, %d purged",
				st.Created, st.Updated, st.Filled, st.Partial, st.Purged)
			if len(res.Todo) == 0 {
				a.note(asJSON, "no fill request published")
			} else {
				a.note(asJSON, "published %d fill requests for %d gaps on %s", len(res.Requested), len(res.Todo), topology.FillSubject(topology.SourceKraken))
			}
			if err != nil {
				return err
			}
			return a.settle(cmd.Context(), res, settleOptions{
				wait: !noWait, timeout: time.Duration(waitTimeout), asJSON: asJSON, maxRequest: req.maxRequest,
			})
		},
	}
	fs := cmd.Flags()
	f.add(fs, tierUsageLong)
	req.add(fs, "class gaps older than the 720-candle window as fillable from trades and request them with trades:true (the fetcher must run with --trades)",
		", e.g. 6h, 1d", " (keep it at or under the fetcher's)")
	fs.BoolVar(&dryRun, "dry-run", false, "only report: publish nothing, touch no gap record")
	fs.BoolVarP(&yes, "yes", "y", false, "publish the fill requests without asking")
	fs.BoolVar(&noWait, "no-wait", false, "return once the requests are published, without waiting for the fetcher's answers")
	fs.Var(&waitTimeout, "wait-timeout", "give up waiting for the fetcher's answers after this long, e.g. 30m, 2h")
	fs.BoolVar(&unfillableOnly, "show-unfillable-only", false, "print only the unfillable report (publishes nothing, touches no record)")
	fs.StringVar(&export, "export-unfillable", "", "write the unfillable gaps to this CSV file ("+strings.Join(gapscanner.UnfillableCSVHeader, ",")+")")
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON (messages go to stderr)")
	fs.BoolVar(&toNow, "to-now", false, "also report the run from each series' last candle to the newest closed candle")
	bindEnv(fs)
	return cmd
}

// showScan prints the report (as text or JSON; neither with hold) and
// writes the CSV export.
func (a *app) showScan(rep gapscanner.Report, hold, asJSON, unfillableOnly bool, export string) error {
	switch {
	case hold: // printed with the outcomes, as one object
	case asJSON:
		if err := cli.WriteJSON(a.Out, rep); err != nil {
			return err
		}
	default:
		a.printScan(rep, unfillableOnly)
	}
	if export != "" {
		return exportCSV(export, rep.Gaps)
	}
	return nil
}

// confirm asks on the terminal whether to publish the fill requests for
// todo. Without a terminal it refuses: that is an error, nothing changed.
func (a *app) confirm(todo []gapscanner.Gap, asJSON bool) (bool, error) {
	if !cli.IsTerminal(a.In) {
		return false, fmt.Errorf("refusing to publish %d fill requests without confirmation: stdin is not a terminal; "+
			"pass --yes to publish (or --dry-run to only report); nothing was changed", len(todo))
	}
	fmt.Fprintf(a.ErrOut, "Publish %d fill requests (%d candles) to %s? [y/N] ", len(todo), candles(todo), topology.FillSubject(topology.SourceKraken))
	answer, _ := bufio.NewReader(a.In).ReadString('\n')
	if ans := strings.ToLower(strings.TrimSpace(answer)); ans != "y" && ans != "yes" {
		a.note(asJSON, "not confirmed: nothing published, no record touched")
		return false, nil
	}
	return true, nil
}

func exportCSV(path string, gaps []gapscanner.Gap) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--export-unfillable: %w", err)
	}
	if _, err := gapscanner.WriteUnfillableCSV(f, gaps); err != nil {
		f.Close()
		return fmt.Errorf("--export-unfillable %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("--export-unfillable %s: %w", path, err)
	}
	return nil
}

func (a *app) printScan(rep gapscanner.Report, unfillableOnly bool) {
	fmt.Fprintf(a.Out, "Scanned %d series (%d candles) of %s in %s; now %s\n",
		len(rep.Series), rep.Candles, rep.Table, rep.Took.Round(time.Millisecond), ts(rep.Now))
	for _, s := range rep.Skipped {
		fmt.Fprintf(a.Out, "skipped: %s\n", s)
	}
	if !unfillableOnly {
		a.printGaps("FILLABLE", rep.Fillable())
	}
	a.printGaps("UNFILLABLE", rep.Unfillable())
}

func (a *app) printGaps(title string, gaps []gapscanner.Gap) {
	fmt.Fprintf(a.Out, "\n%s: %d gaps, %d missing candles\n", title, len(gaps), candles(gaps))
	if len(gaps) == 0 {
		return
	}
	tw := a.table("SERIES", "TIER", "START", "END", "MISSING", "FROM TODAY", "OVERFLOW", "WHOLE DAYS", "CLASS", "STATE", "NOTE")
	for _, g := range gaps {
		note := g.Hold
		if g.Class == contract.ClassFillableFromTrades {
			note = strings.TrimSpace(fmt.Sprintf("~%d Trades calls %s", g.TradeCalls, note))
		}
		if g.Trailing {
			note = strings.TrimSpace("to now " + note)
		}
		state := g.State
		if state == "" {
			state = "-"
		}
		fmt.Fprintf(tw, "%s %dm\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\n",
			g.Pair, g.Interval, g.Tier, ts(g.Start), ts(g.End), g.Missing, g.CandlesFromToday, g.Overflow, g.MissingDays,
			g.Class, state, note)
	}
	tw.Flush()
}

// candles is how many candles the gaps miss.
func candles(gaps []gapscanner.Gap) int64 {
	var n int64
	for _, g := range gaps {
		n += g.Missing
	}
	return n
}
