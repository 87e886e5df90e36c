package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/feefifofunds/feefifofunds/internal/cli"
	"github.com/feefifofunds/feefifofunds/pipeline/assets"
	"github.com/feefifofunds/feefifofunds/pipeline/prices"
	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
)

// pricesCmd is `fff prices load|backfill`: daily stock, fund and crypto
// prices from Massive.com or Finnhub through the pipeline. The plan and
// summary go to the command's output, the progress to its error output.
func (a *app) pricesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "prices",
		Short: "Load daily prices from Massive.com or Finnhub (the old load_prices / backfill_prices)",
		Long: `fff prices publishes price requests on fills.massive or fills.finnhub, waits
for the fetcher of that source (fetcher --source massive|finnhub) to serve
them and for the writer to commit the candles (candles.<source>.<ticker>.1440,
source column massive / finnhub), then shows per asset how many candles were
created and updated. Failed assets are listed at the end with their errors,
and the exit status is 1.

Assets must be in the registry (fff assets create). Stocks and funds follow the
US market calendar: weekends and exchange holidays have no candles.`,
	}
	cmd.AddCommand(a.pricesLoadCmd(), a.pricesBackfillCmd())
	return cmd
}

// pricesFlags are the settings both subcommands share.
type pricesFlags struct {
	nc      cli.NATS
	q       questdb.Config
	source  string
	dryRun  bool
	timeout time.Duration
}

func (f *pricesFlags) add(cmd *cobra.Command) {
	fs := cmd.Flags()
	f.nc.AddFlags(fs)
	cli.AddQuestDBFlags(fs, &f.q)
	fs.StringVar(&f.source, "source", "", "massive or finnhub (required)")
	fs.BoolVar(&f.dryRun, "dry-run", false, "show what would be requested; publish and write nothing")
	fs.DurationVar(&f.timeout, "commit-timeout", 2*time.Minute, "how long to wait for fetched candles to show in QuestDB")
}

func (a *app) pricesLoadCmd() *cobra.Command {
	var (
		f      pricesFlags
		ticker string
		days   int
	)
	c := &cobra.Command{
		Use:   "load --ticker T --source massive|finnhub [--days 7] [--dry-run]",
		Short: "Load the last days of one asset's daily prices",
		Example: `  MASSIVE_API_KEY=... fff prices load --ticker AAPL --source massive
  FINNHUB_API_KEY=... fff prices load --ticker MSFT --source finnhub --days 30
  fff prices load --ticker AAPL --source massive --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if ticker == "" {
				return errors.New("--ticker is required")
			}
			if days <= 0 {
				return fmt.Errorf("--days %d: want a positive number of days", days)
			}
			return a.runPrices(cmd, f, prices.Options{Source: f.source, Ticker: strings.ToUpper(ticker), Days: days})
		},
	}
	f.add(c)
	c.Flags().StringVar(&ticker, "ticker", "", "the asset's ticker in the registry (required)")
	c.Flags().IntVar(&days, "days", 7, "the last N calendar days, today included")
	return c
}

func (a *app) pricesBackfillCmd() *cobra.Command {
	var (
		f                pricesFlags
		ticker, category string
		all, grouped     bool
		days             int
		start, end       string
	)
	c := &cobra.Command{
		Use:   "backfill --source S (--ticker T | --all [--category C]) (--days N | --start D [--end D]) [--grouped] [--dry-run]",
		Short: "Load a range of daily prices for one asset or every active asset",
		Long: `backfill loads daily prices for one asset (--ticker) or for every active asset of
the registry (--all, optionally of one --category: STOCK, CRYPTO, COMMODITY).
Deactivated assets (fff assets deactivate) are left out and named in a note;
currencies are skipped.

--grouped (Massive only, with --all) uses the grouped daily endpoint: one call
per trading day returns every ticker of the market, kept to the registry's
assets (365 days x 100 assets = 252 calls instead of 100 long ones and their
pages). A trading day without results is a market holiday.`,
		Example: `  fff prices backfill --source massive --ticker AAPL --start 2023-01-01 --end 2023-12-31
  fff prices backfill --source massive --all --category STOCK --days 365 --grouped
  fff prices backfill --source finnhub --all --days 30 --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case (ticker == "") == !all:
				return errors.New("give --ticker T or --all, not both or neither")
			case category != "" && !all:
				return errors.New("--category needs --all")
			case grouped && !all:
				return errors.New("--grouped needs --all: it fetches every ticker of a date at once")
			case grouped && f.source != prices.GroupedSource:
				return fmt.Errorf("--grouped is a Massive endpoint: use it with --source %s", prices.GroupedSource)
			case (days > 0) == (start != ""):
				return errors.New("give --days N or --start D [--end D], not both or neither")
			case end != "" && start == "":
				return errors.New("--end needs --start")
			}
			o := prices.Options{Source: f.source, Ticker: strings.ToUpper(ticker), All: all,
				Category: strings.ToUpper(category), Days: days, Grouped: grouped}
			var err error
			if start != "" {
				if o.Start, err = time.Parse(time.DateOnly, start); err != nil {
					return fmt.Errorf("--start %q: want a date such as 2023-01-09", start)
				}
			}
			if end != "" {
				if o.End, err = time.Parse(time.DateOnly, end); err != nil {
					return fmt.Errorf("--end %q: want a date such as 2023-02-10", end)
				}
			}
			return a.runPrices(cmd, f, o)
		},
	}
	f.add(c)
	fs := c.Flags()
	fs.StringVar(&ticker, "ticker", "", "one asset's ticker in the registry")
	fs.BoolVar(&all, "all", false, "every active asset in the registry")
	fs.StringVar(&category, "category", "", "with --all: only assets of this category (STOCK, CRYPTO, COMMODITY)")
	fs.IntVar(&days, "days", 0, "the last N calendar days, today included")
	fs.StringVar(&start, "start", "", "first date (YYYY-MM-DD)")
	fs.StringVar(&end, "end", "", "last date (YYYY-MM-DD, default today)")
	fs.BoolVar(&grouped, "grouped", false, "Massive only, with --all: one grouped daily call per date for every asset")
	return c
}

func (a *app) runPrices(cmd *cobra.Command, f pricesFlags, o prices.Options) error {
	if f.source == "" {
		return errors.New("--source is required: massive or finnhub")
	}
	// A backfill waits long for commits: Ctrl-C ends it as the other
	// long-running commands do, and so does the command's own context.
	ctx, stop := signalAware(cmd.Context())
	defer stop()
	nc, js, err := cli.JetStream(ctx, f.nc, "fff-prices", a.log)
	if err != nil {
		return err
	}
	defer nc.Close()
	reg, err := assets.Open(ctx, js)
	if err != nil {
		return err
	}
	plan, err := prices.MakePlan(ctx, reg, o)
	if err != nil {
		return err
	}
	out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
	for _, l := range plan.Describe() {
		fmt.Fprintln(out, l)
	}
	if f.dryRun {
		fmt.Fprintln(out, "dry run: nothing was published or written")
		return nil
	}
	q := f.q.WithDefaults()
	pool, err := questdb.Connect(ctx, q.PG)
	if err != nil {
		return err
	}
	defer pool.Close()
	sum, err := prices.Run(ctx, prices.RunConfig{JS: js, DB: pool, Table: q.Table, Log: a.log, CommitTimeout: f.timeout,
		Progress: func(p prices.Progress) {
			what := p.Request.Ticker
			if p.Request.Grouped {
				what = p.Request.Market + " " + p.Request.Start.Format(time.DateOnly)
			}
			fmt.Fprintf(errOut, "[%d/%d %3.0f%% ETA %s] %s %s: %s\n", p.Done, p.Total, p.Percent(),
				p.ETA.Round(time.Second), what, p.State, p.Detail)
		}}, plan)
	if err != nil {
		return err
	}
	printPriceSummary(out, sum)
	if !sum.OK() {
		return exitError{code: 1, err: fmt.Errorf("%d assets and %d requests failed", len(sum.Failed()), len(sum.FailedRequests))}
	}
	return nil
}

func printPriceSummary(w io.Writer, sum *prices.Summary) {
	tw := table(w, "TICKER", "CANDLES", "CREATED", "UPDATED", "STATE")
	for _, a := range sum.Assets {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\n", a.Ticker, a.Candles, a.Created, a.Updated, a.State)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "%s: %d assets in %s\n", sum.Source, len(sum.Assets), sum.Elapsed.Round(time.Millisecond))
	if failed := sum.Failed(); len(failed) > 0 {
		fmt.Fprintf(w, "failed assets (%d):\n", len(failed))
		for _, a := range failed {
			fmt.Fprintf(w, "  %s: %s\n", a.Ticker, a.Err)
		}
	}
	if len(sum.FailedRequests) > 0 {
		fmt.Fprintf(w, "failed dates (%d):\n", len(sum.FailedRequests))
		for _, r := range sum.FailedRequests {
			fmt.Fprintf(w, "  %s: %s\n", r.Date.Format(time.DateOnly), r.Detail)
		}
	}
}
