// Command gapscanner finds missing candles in QuestDB, explains which ones
// Kraken can still serve, and asks the fetcher (fills.kraken) to fill them.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/feefifofunds/feefifofunds/internal/cli"
	"github.com/feefifofunds/feefifofunds/pipeline/assets"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/gapscanner"
	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

func main() {
	os.Exit(execute(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// isTerminal says whether the confirmation can be asked on in.
var isTerminal = func(in io.Reader) bool {
	f, ok := in.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// app holds what every subcommand shares.
type app struct {
	nats   cli.NATS
	qdb    questdb.Config
	logs   cli.Log
	log    *slog.Logger
	now    string // --now, for what-if runs and tests
	in     io.Reader
	out    io.Writer
	errOut io.Writer
}

func execute(ctx context.Context, args []string, in io.Reader, out, errOut io.Writer) int {
	root := newRoot(in, out, errOut)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(errOut, "gapscanner:", err)
		return 1
	}
	return 0
}

func newRoot(in io.Reader, out, errOut io.Writer) *cobra.Command {
	a := &app{in: in, out: out, errOut: errOut, log: slog.Default()}
	root := &cobra.Command{
		Use:   "gapscanner",
		Short: "Find missing candles in QuestDB and ask the fetcher to fill what Kraken can serve",
		Long: `gapscanner looks for gaps in the candle table: runs of consecutive aligned
open times with no candle inside a series (source, pair, interval), from the
series' first candle to its last (and, with --to-now or in run mode, on to the
newest closed candle).

It works in SQL on QuestDB: per-day counts first, then only the days with
holes in detail, so it never reads a series into memory.

Each gap is classified:
  fillable              its first missing candle is among the newest 720
                        closed candles of the interval (Kraken's OHLC window)
  unfillable            older than that (by OHLC)
  fillable_from_trades  older, but --trades rebuilds it from Kraken's Trades
                        endpoint (with an estimate of the calls it needs)
  no_trades             a fill found Kraken has no trades there: never
                        requested again

Gap records live in the GAPS bucket (nats kv ls GAPS; nats kv get GAPS
kraken.XBTUSD.60.1736496000) with their history: OPEN -> REQUESTED -> FILLED |
FAILED | UNFILLABLE | NO_TRADES. FILLED and FAILED records are purged after
--retention; UNFILLABLE and NO_TRADES are kept.

Every flag can also be set with the environment variable named in its help.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := cli.ApplyEnv(cmd); err != nil {
				return err
			}
			l, err := a.logs.Logger(errOut)
			if err != nil {
				return err
			}
			a.log = l
			return nil
		},
	}
	root.SetIn(in)
	root.SetOut(out)
	root.SetErr(errOut)
	pf := root.PersistentFlags()
	a.nats.AddFlags(pf)
	cli.AddQuestDBFlags(pf, &a.qdb)
	a.logs.AddFlags(pf)
	pf.StringVar(&a.now, "now", "", "pretend it is this time (RFC 3339), for what-if runs: decides what is within Kraken's 720-candle window")
	cli.Bind(pf, "now", "FFF_GAPSCANNER_NOW")

	root.AddCommand(a.scanCmd(), a.runCmd(), a.reportCmd(), a.staleCmd())
	return root
}

func (a *app) clock() (func() time.Time, error) {
	if a.now == "" {
		return time.Now, nil
	}
	t, err := time.Parse(time.RFC3339, a.now)
	if err != nil {
		return nil, fmt.Errorf("--now %q: want RFC 3339 such as 2025-01-31T10:30:00Z", a.now)
	}
	return func() time.Time { return t }, nil
}

func (a *app) connectDB(ctx context.Context) (*pgxpool.Pool, error) {
	if err := questdb.ValidTable(a.qdb.Table); err != nil {
		return nil, err
	}
	return questdb.Connect(ctx, a.qdb.PG)
}

// jetStream connects to NATS for the GAPS bucket and the FILLS stream. With optional set, a NATS
// that cannot be reached is a warning, not an error: the scan then ignores
// what the records say.
func (a *app) jetStream(ctx context.Context, optional bool) (*nats.Conn, jetstream.JetStream, error) {
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	nc, js, err := cli.JetStream(cctx, a.nats, "gapscanner", a.log)
	if err != nil {
		if optional {
			a.log.Warn("NATS not reachable: gap records (NO_TRADES, UNFILLABLE, REQUESTED) are not taken into account", "err", err)
			return nil, nil, nil
		}
		return nil, nil, err
	}
	return nc, js, nil
}

// filters are the selection flags of scan, report and stale.
type filters struct {
	tiers     []string
	pairs     []string
	intervals []int
}

func (f *filters) add(fs *pflag.FlagSet, intervalFlag string) {
	fs.StringSliceVar(&f.tiers, "tier", nil, "only assets of these tiers (TIER1..TIER4 or 1..4, comma separated); the tier of a pair is its base asset's")
	cli.Bind(fs, "tier", "FFF_GAPSCANNER_TIER")
	fs.StringSliceVar(&f.pairs, "pair", nil, "only these Kraken pairs, e.g. XBTUSD,ETHUSD")
	cli.Bind(fs, "pair", "FFF_GAPSCANNER_PAIR")
	fs.IntSliceVar(&f.intervals, intervalFlag, nil, "only these intervals in minutes, e.g. 60,1440")
	cli.Bind(fs, intervalFlag, "FFF_GAPSCANNER_"+strings.ToUpper(intervalFlag))
}

func (a *app) scanConfig(db *pgxpool.Pool, f filters, now func() time.Time) gapscanner.ScanConfig {
	return gapscanner.ScanConfig{
		DB: db, Table: a.qdb.Table, Tiers: f.tiers, Pairs: f.pairs, Intervals: f.intervals, Now: now, Log: a.log,
	}
}

func (a *app) scanCmd() *cobra.Command {
	var (
		f                                                  filters
		dryRun, yes, unfillableOnly, asJSON, trades, toNow bool
		export                                             string
		requeueAfter, retention                            = dayDuration(6 * time.Hour), dayDuration(gapscanner.DefaultRetention)
		maxRequest                                         int
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

--dry-run and --show-unfillable-only only report: nothing is published and no
record is touched.`,
		Example: `  gapscanner scan --dry-run
  gapscanner scan --tier TIER1 --interval 60 --yes
  gapscanner scan --pair XBTUSD --to-now --yes
  gapscanner scan --show-unfillable-only --export-unfillable unfillable.csv
  gapscanner scan --trades --dry-run --json | jq '.gaps[] | select(.class=="fillable_from_trades")'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			now, err := a.clock()
			if err != nil {
				return err
			}
			viewOnly := dryRun || unfillableOnly
			db, err := a.connectDB(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			nc, js, err := a.jetStream(ctx, viewOnly)
			if err != nil {
				return err
			}
			if nc != nil {
				defer nc.Close()
			}
			cfg := a.scanConfig(db, f, now)
			cfg.ToNow, cfg.Trades, cfg.RequeueAfter = toNow, trades, time.Duration(requeueAfter)
			var kv jetstream.KeyValue
			if js != nil {
				if kv, err = js.KeyValue(ctx, topology.BucketGaps); err != nil {
					return fmt.Errorf("open bucket %s: %w", topology.BucketGaps, err)
				}
				cfg.Records = kv
			}
			rep, err := gapscanner.Scan(ctx, cfg)
			if err != nil {
				return err
			}
			if asJSON {
				if err := writeJSON(a.out, rep); err != nil {
					return err
				}
			} else {
				a.printScan(rep, unfillableOnly)
			}
			if export != "" {
				if err := exportCSV(export, rep.Gaps); err != nil {
					return err
				}
			}
			if viewOnly {
				a.note(asJSON, "nothing published, no record touched (%s)", map[bool]string{true: "--dry-run", false: "--show-unfillable-only"}[dryRun])
				return nil
			}
			todo := rep.Requestable()
			if len(todo) > 0 && !yes {
				if !isTerminal(a.in) {
					return fmt.Errorf("refusing to publish %d fill requests without confirmation: stdin is not a terminal; "+
						"pass --yes to publish (or --dry-run to only report); nothing was changed", len(todo))
				}
				fmt.Fprintf(a.errOut, "Publish %d fill requests (%d candles) to %s? [y/N] ", len(todo), candles(todo), topology.FillSubject(topology.SourceKraken))
				answer, _ := bufio.NewReader(a.in).ReadString('\n')
				if ans := strings.ToLower(strings.TrimSpace(answer)); ans != "y" && ans != "yes" {
					a.note(asJSON, "not confirmed: nothing published, no record touched")
					return nil
				}
			}
			st, err := gapscanner.SyncRecords(ctx, kv, rep, gapscanner.SyncOptions{Now: now, Retention: time.Duration(retention)})
			if err != nil {
				return err
			}
			a.note(asJSON, "gap records: %d new, %d updated, %d marked FILLED, %d partly filled, %d purged",
				st.Created, st.Updated, st.Filled, st.Partial, st.Purged)
			if len(todo) == 0 {
				a.note(asJSON, "no fill request published")
				return nil
			}
			sent, err := gapscanner.PublishWith(ctx, js, gapscanner.PublishOptions{Now: now, MaxRequestCandles: maxRequest}, todo...)
			a.note(asJSON, "published %d fill requests for %d gaps on %s", len(sent), len(todo), topology.FillSubject(topology.SourceKraken))
			return err
		},
	}
	fs := cmd.Flags()
	f.add(fs, "interval")
	fs.BoolVar(&dryRun, "dry-run", false, "only report: publish nothing, touch no gap record")
	cli.Bind(fs, "dry-run", "FFF_GAPSCANNER_DRY_RUN")
	fs.BoolVar(&yes, "yes", false, "publish the fill requests without asking")
	cli.Bind(fs, "yes", "FFF_GAPSCANNER_YES")
	fs.BoolVar(&unfillableOnly, "show-unfillable-only", false, "print only the unfillable report (publishes nothing, touches no record)")
	cli.Bind(fs, "show-unfillable-only", "FFF_GAPSCANNER_SHOW_UNFILLABLE_ONLY")
	fs.StringVar(&export, "export-unfillable", "", "write the unfillable gaps to this CSV file ("+strings.Join(gapscanner.UnfillableCSVHeader, ",")+")")
	cli.Bind(fs, "export-unfillable", "FFF_GAPSCANNER_EXPORT_UNFILLABLE")
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON (messages go to stderr)")
	cli.Bind(fs, "json", "FFF_GAPSCANNER_JSON")
	fs.BoolVar(&trades, "trades", false, "class gaps older than the 720-candle window as fillable from trades and request them with trades:true (the fetcher must run with --trades)")
	cli.Bind(fs, "trades", "FFF_GAPSCANNER_TRADES")
	fs.BoolVar(&toNow, "to-now", false, "also report the run from each series' last candle to the newest closed candle")
	cli.Bind(fs, "to-now", "FFF_GAPSCANNER_TO_NOW")
	fs.Var(&requeueAfter, "requeue-after", "request a REQUESTED (or FILLED/FAILED yet still missing) gap again after this long, e.g. 6h, 1d")
	cli.Bind(fs, "requeue-after", "FFF_GAPSCANNER_REQUEUE_AFTER")
	fs.Var(&retention, "retention", "purge FILLED and FAILED gap records older than this, e.g. 90d")
	cli.Bind(fs, "retention", "FFF_GAPSCANNER_RETENTION")
	fs.IntVar(&maxRequest, "max-request-candles", gapscanner.DefaultMaxRequestCandles, "split gaps into fill requests of at most this many candles (keep it at or under the fetcher's)")
	cli.Bind(fs, "max-request-candles", "FFF_GAPSCANNER_MAX_REQUEST_CANDLES")
	return cmd
}

// note prints a message for the person: on stdout with the text report, on
// stderr when stdout carries JSON.
func (a *app) note(asJSON bool, format string, args ...any) {
	w := a.out
	if asJSON {
		w = a.errOut
	}
	fmt.Fprintf(w, format+"\n", args...)
}

func candles(gaps []gapscanner.Gap) int64 {
	var n int64
	for _, g := range gaps {
		n += g.Missing
	}
	return n
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
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

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (a *app) printScan(rep gapscanner.Report, unfillableOnly bool) {
	fmt.Fprintf(a.out, "Scanned %d series (%d candles) of %s in %s; now %s\n",
		len(rep.Series), rep.Candles, rep.Table, rep.Took.Round(time.Millisecond), ts(rep.Now))
	for _, s := range rep.Skipped {
		fmt.Fprintf(a.out, "skipped: %s\n", s)
	}
	if !unfillableOnly {
		a.printGaps("FILLABLE", rep.Fillable())
	}
	a.printGaps("UNFILLABLE", rep.Unfillable())
}

func (a *app) printGaps(title string, gaps []gapscanner.Gap) {
	fmt.Fprintf(a.out, "\n%s: %d gaps, %d missing candles\n", title, len(gaps), candles(gaps))
	if len(gaps) == 0 {
		return
	}
	tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERIES\tTIER\tSTART\tEND\tMISSING\tFROM TODAY\tOVERFLOW\tWHOLE DAYS\tCLASS\tSTATE\tNOTE")
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

// dayDuration is a duration flag that also takes days: 90d, 1d12h, 36h.
type dayDuration time.Duration

func (d *dayDuration) String() string { return formatDays(time.Duration(*d)) }
func (d *dayDuration) Type() string   { return "duration" }
func (d *dayDuration) Set(s string) error {
	v, err := parseDays(s)
	if err != nil {
		return err
	}
	*d = dayDuration(v)
	return nil
}

func parseDays(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q: want a duration such as 90d, 7d, 1d12h or 6h", s)
		}
		days = time.Duration(n) * 24 * time.Hour
		s = s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q: want a duration such as 90d, 7d, 1d12h or 6h", s)
	}
	return days + v, nil
}

func formatDays(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}

func (a *app) runCmd() *cobra.Command {
	var (
		cfg                     gapscanner.Config
		metricsAddr             cli.Metrics
		every                   = dayDuration(time.Hour)
		lookback                = dayDuration(7 * 24 * time.Hour)
		requeueAfter, retention = dayDuration(6 * time.Hour), dayDuration(gapscanner.DefaultRetention)
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
			if _, err := assets.ParseTierList(cfg.Tiers); err != nil {
				return err
			}
			if every <= 0 || lookback <= 0 {
				return errors.New("--every and --lookback must be positive")
			}
			cfg.QuestDB = a.qdb
			cfg.Every, cfg.Lookback = time.Duration(every), time.Duration(lookback)
			cfg.RequeueAfter, cfg.Retention = time.Duration(requeueAfter), time.Duration(retention)
			cfg.Now = now
			common := cli.Common{NATS: a.nats, Log: a.logs, Metrics: metricsAddr}
			return cli.RunStage(cmd.Context(), common, "gapscanner", func(ctx context.Context, s *cli.Stage) error {
				cfg.JS, cfg.Log, cfg.Metrics = s.JS, s.Log, s.Metrics
				return gapscanner.Run(ctx, cfg)
			})
		},
	}
	fs := cmd.Flags()
	fs.Var(&every, "every", "time between rounds, e.g. 1h, 15m, 1d")
	cli.Bind(fs, "every", "FFF_GAPSCANNER_EVERY")
	fs.StringSliceVar(&cfg.Tiers, "tier", nil, "only assets of these tiers (TIER1..TIER4 or 1..4, comma separated)")
	cli.Bind(fs, "tier", "FFF_GAPSCANNER_TIER")
	fs.StringSliceVar(&cfg.Pairs, "pair", nil, "only these Kraken pairs, e.g. XBTUSD,ETHUSD")
	cli.Bind(fs, "pair", "FFF_GAPSCANNER_PAIR")
	fs.IntSliceVar(&cfg.Intervals, "intervals", nil, "only these intervals in minutes, e.g. 60,1440")
	cli.Bind(fs, "intervals", "FFF_GAPSCANNER_INTERVALS")
	fs.Var(&lookback, "lookback", "how far back each round looks for gaps inside series, e.g. 7d")
	cli.Bind(fs, "lookback", "FFF_GAPSCANNER_LOOKBACK")
	fs.IntVar(&cfg.MaxGapsPerAsset, "max-gaps-per-asset", 10, "at most this many fill requests per series per round")
	cli.Bind(fs, "max-gaps-per-asset", "FFF_GAPSCANNER_MAX_GAPS_PER_ASSET")
	fs.BoolVar(&cfg.Trades, "trades", false, "also request gaps older than the 720-candle window, rebuilt from trades (the fetcher must run with --trades)")
	cli.Bind(fs, "trades", "FFF_GAPSCANNER_TRADES")
	fs.Var(&requeueAfter, "requeue-after", "request a REQUESTED (or FILLED/FAILED yet still missing) gap again after this long")
	cli.Bind(fs, "requeue-after", "FFF_GAPSCANNER_REQUEUE_AFTER")
	fs.Var(&retention, "retention", "purge FILLED and FAILED gap records older than this, e.g. 90d")
	cli.Bind(fs, "retention", "FFF_GAPSCANNER_RETENTION")
	fs.IntVar(&cfg.MaxRequestCandles, "max-request-candles", gapscanner.DefaultMaxRequestCandles, "split gaps into fill requests of at most this many candles")
	cli.Bind(fs, "max-request-candles", "FFF_GAPSCANNER_MAX_REQUEST_CANDLES")
	metricsAddr.AddFlags(fs, "127.0.0.1:9106")
	return cmd
}

func (a *app) reportCmd() *cobra.Command {
	var (
		f             filters
		asJSON, toNow bool
		trades        bool
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
			ctx := cmd.Context()
			now, err := a.clock()
			if err != nil {
				return err
			}
			db, err := a.connectDB(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			cfg := a.scanConfig(db, f, now)
			cfg.ToNow, cfg.Trades = toNow, trades
			nc, js, err := a.jetStream(ctx, true)
			if err != nil {
				return err
			}
			if nc != nil {
				defer nc.Close()
				if cfg.Records, err = js.KeyValue(ctx, topology.BucketGaps); err != nil {
					return fmt.Errorf("open bucket %s: %w", topology.BucketGaps, err)
				}
			}
			rep, err := gapscanner.Scan(ctx, cfg)
			if err != nil {
				return err
			}
			lines := gapscanner.Completeness(rep)
			if asJSON {
				return writeJSON(a.out, lines)
			}
			tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TIER\tINTERVAL\tASSETS\tWITH GAPS\tPRESENT\tEXPECTED\tCOMPLETE\tFILLABLE\tFROM TRADES\tUNFILLABLE\tNO TRADES")
			for _, l := range lines {
				fmt.Fprintf(tw, "%s\t%dm\t%d\t%d\t%d\t%d\t%.2f%%\t%d\t%d\t%d\t%d\n", l.Tier, l.Interval, l.Assets, l.AssetsWithGaps,
					l.Present, l.Expected, l.Completeness, l.Fillable, l.FillableFromTrades, l.Unfillable, l.NoTrades)
			}
			return tw.Flush()
		},
	}
	fs := cmd.Flags()
	f.add(fs, "interval")
	fs.BoolVar(&asJSON, "json", false, "print JSON")
	cli.Bind(fs, "json", "FFF_GAPSCANNER_JSON")
	fs.BoolVar(&toNow, "to-now", false, "count the candles missing after each series' last candle too")
	cli.Bind(fs, "to-now", "FFF_GAPSCANNER_TO_NOW")
	fs.BoolVar(&trades, "trades", false, "count gaps older than the 720-candle window as fillable from trades")
	cli.Bind(fs, "trades", "FFF_GAPSCANNER_TRADES")
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
			tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SERIES\tTIER\tNEWEST CANDLE\tCLOSED AT\tBEHIND\tCANDLES BEHIND")
			for _, s := range list {
				fmt.Fprintf(tw, "%s %dm\t%s\t%s\t%s\t%s\t%d\n", s.Pair, s.Interval, s.Tier, ts(s.Last), ts(s.ClosedAt), s.BehindHuman, s.BehindCandles)
			}
			return tw.Flush()
		},
	}
	fs := cmd.Flags()
	f.add(fs, "interval")
	fs.Float64Var(&hours, "hours", 24, "list series whose newest candle closed more than this many hours ago")
	cli.Bind(fs, "hours", "FFF_GAPSCANNER_HOURS")
	fs.BoolVar(&asJSON, "json", false, "print JSON")
	cli.Bind(fs, "json", "FFF_GAPSCANNER_JSON")
	return cmd
}
