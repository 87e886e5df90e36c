// Command gapscanner finds missing candles in QuestDB, explains which ones
// Kraken can still serve, and asks the fetcher (fills.kraken) to fill them.
//
// It is the only code of the scanner that knows flags, the terminal and the
// printed reports; what a command does is in pipeline/gapscanner.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/feefifofunds/feefifofunds/internal/cli"
	"github.com/feefifofunds/feefifofunds/pipeline/gaps"
	"github.com/feefifofunds/feefifofunds/pipeline/gapscanner"
	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
)

func main() {
	os.Exit(execute(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// app holds what every subcommand shares.
type app struct {
	cli.Tool
	nats cli.NATS
	qdb  questdb.Config
	log  *slog.Logger
	now  string // --now, for what-if runs and tests
}

// execute runs gapscanner with args and returns the exit status, as fff's
// does (cli.Execute), so that both tools report errors alike.
func execute(ctx context.Context, args []string, in io.Reader, out, errOut io.Writer) int {
	return cli.Execute(ctx, newRoot(in, out, errOut), args)
}

func newRoot(in io.Reader, out, errOut io.Writer) *cobra.Command {
	a := &app{Tool: cli.Tool{In: in, Out: out, ErrOut: errOut}, log: slog.Default()}
	root := a.Root(&cobra.Command{
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
--retention (or by "gapscanner cleanup"); UNFILLABLE and NO_TRADES are kept.

Every flag can also be set with the environment variable named in its help.`,
	}, func(l *slog.Logger) { a.log = l })
	pf := root.PersistentFlags()
	a.nats.AddFlags(pf)
	cli.AddQuestDBFlags(pf, &a.qdb)
	pf.StringVar(&a.now, "now", "", "pretend it is this time (RFC 3339), for what-if runs: decides what is within Kraken's 720-candle window")
	bindEnv(pf)

	root.AddCommand(a.scanCmd(), a.runCmd(), a.reportCmd(), a.staleCmd(), a.cleanupCmd())
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

// gapRecords connects to NATS and opens the GAPS bucket; closeNATS ends
// the connection.
func (a *app) gapRecords(ctx context.Context) (kv jetstream.KeyValue, closeNATS func(), err error) {
	nc, js, err := a.jetStream(ctx, false)
	if err != nil {
		return nil, nil, err
	}
	if kv, err = gaps.Open(ctx, js); err != nil {
		nc.Close()
		return nil, nil, err
	}
	return kv, nc.Close, nil
}

// scanConfig is the scan of the series f selects.
func (a *app) scanConfig(db *pgxpool.Pool, f filters, now func() time.Time) gapscanner.ScanConfig {
	return gapscanner.ScanConfig{
		DB: db, Table: a.qdb.Table, Tiers: f.tiers, Pairs: f.pairs, Assets: f.assets, Intervals: f.intervals, Now: now, Log: a.log,
	}
}

// sweep connects to QuestDB and NATS and runs gapscanner.Sweep over the
// series f selects; o.Scan brings what the command adds to the scan (ToNow,
// Trades, RequeueAfter). With natsOptional, a NATS that cannot be reached
// only warns (a dry run then ignores the records).
func (a *app) sweep(ctx context.Context, f filters, now func() time.Time, natsOptional bool, o gapscanner.SweepOptions) (gapscanner.SweepResult, error) {
	db, err := a.connectDB(ctx)
	if err != nil {
		return gapscanner.SweepResult{}, err
	}
	defer db.Close()
	nc, js, err := a.jetStream(ctx, natsOptional)
	if err != nil {
		return gapscanner.SweepResult{}, err
	}
	if nc != nil {
		defer nc.Close()
	}
	scan := a.scanConfig(db, f, now)
	scan.ToNow, scan.Trades, scan.RequeueAfter = o.Scan.ToNow, o.Scan.Trades, o.Scan.RequeueAfter
	o.Scan, o.JS = scan, js
	return gapscanner.Sweep(ctx, o)
}

// note prints a message for the person: on stdout with the text report, on
// stderr when stdout carries JSON.
func (a *app) note(asJSON bool, format string, args ...any) {
	w := a.Out
	if asJSON {
		w = a.ErrOut
	}
	fmt.Fprintf(w, format+"\n", args...)
}

// table starts a text table on stdout with its header row; write the rows
// tab separated, then Flush.
func (a *app) table(header ...string) *tabwriter.Writer {
	tw := tabwriter.NewWriter(a.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	return tw
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }
