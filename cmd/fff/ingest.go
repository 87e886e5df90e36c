package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/feefifofunds/feefifofunds/internal/cli"
	"github.com/feefifofunds/feefifofunds/pipeline/ingest"
	"github.com/feefifofunds/feefifofunds/pipeline/local"
	"github.com/feefifofunds/feefifofunds/pipeline/parser"
	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
	"github.com/feefifofunds/feefifofunds/pipeline/writer"
)

// errNoTerminal is why ingest refuses to ask for confirmation.
var errNoTerminal = errors.New("stdin is not a terminal: pass --yes to ingest without confirmation")

func (a *app) ingestCmd() *cobra.Command {
	var (
		n           cli.NATS
		tiers       []string
		intervals   []int
		yes         bool
		stopOnError bool
		force       bool
		onBadRow    string
		every       time.Duration
		inFlight    int
		group       int
		embedded    bool
		store       string
		q           questdb.Config
		workers     int
		checkTable  bool
		memLimit    bool
	)
	cmd := &cobra.Command{
		Use:   "ingest DIR",
		Short: "Bulk-load a folder of Kraken OHLCVT CSVs (and zips) and wait until every row is committed",
		Long: `ingest loads every {PAIR}_{INTERVAL}.csv (and every such member of a .zip)
directly in DIR into a running pipeline: parsers and writers must run on
--nats (fff up, or the parser and writer binaries). It lists what it found by
tier and interval, asks before it starts (--yes skips the question; without a
terminal, --yes is required), then shows progress until every file is
committed in QuestDB or refused, and a summary. Files are left where they are.

With --embedded nothing else needs to run but QuestDB: ingest starts its own
JetStream (store under --store, the same one fff up uses, so what was loaded
is remembered) with parsers and writers in this process, and stops them when
the load is done.

Content already committed counts as done and is not loaded twice unless
--force. Unless --check-table=false, ingest then checks --table (one query
over the PG wire) for those files' series: when the table holds fewer rows
than the ledger says were committed (the table or a partition was dropped),
the summary names the series and the rows missing instead of calling them
already ingested, and says how to load them again (--force, or fff replay).

With --embedded the process sets itself a soft memory limit from the
stages' settings (see --memory-limit), as fff up does.

Exit status, after the summary:
  0  every file committed, now or by an earlier load (and its rows are in
     the table), or nothing to do
  1  some file was rejected, failed or not submitted, rows of a file
     already ingested are missing from the table, or the load was
     interrupted
  2  the load could not start: a bad flag or argument, an unreadable
     folder, no terminal without --yes, NATS (or, with --embedded, the
     embedded pipeline) not reachable`,
		Example: `  fff ingest ./Kraken_OHLCVT --tier TIER1 --intervals 60,1440
  fff ingest ./Kraken_OHLCVT --embedded --yes --table candles
  fff ingest /data/kraken --yes --stop-on-error
  fff ingest ./Kraken_OHLCVT.zip-extracted --yes --nats nats://nats:4222`,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return cantStart(cmd.Root().PersistentPreRunE(cmd, args))
		},
		Args: func(cmd *cobra.Command, args []string) error {
			return cantStart(cobra.ExactArgs(1)(cmd, args))
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			filters, err := ingest.NewFilters(tiers, intervals)
			if err != nil {
				return cantStart(err)
			}
			if len(filters.Tiers) > 0 && !embedded {
				filters.TierOf = a.storedTiers(cmd, n)
			}
			switch onBadRow {
			case "skip", "reject-file":
			default:
				return cantStart(fmt.Errorf("--on-bad-row %q: want skip or reject-file", onBadRow))
			}
			dir := args[0]
			cands, skipped, err := ingest.Scan(dir, filters)
			if err != nil {
				return cantStart(err)
			}
			out := cmd.OutOrStdout()
			printPlan(out, dir, filters, cands, skipped)
			if len(cands) == 0 {
				fmt.Fprintln(out, "Nothing to ingest.")
				return nil
			}
			if !yes {
				in := cmd.InOrStdin()
				if !cli.IsTerminal(in) {
					return cantStart(errNoTerminal)
				}
				ok, err := confirm(in, cmd.ErrOrStderr(), fmt.Sprintf("Ingest %d file(s), %s? [y/N] ", len(cands), humanBytes(ingest.TotalSize(cands))))
				if err != nil {
					return cantStart(err)
				}
				if !ok {
					fmt.Fprintln(out, "Nothing ingested.")
					return nil
				}
			}
			ctx, stop := signalAware(cmd.Context())
			defer stop()
			var js jetstream.JetStream
			if embedded {
				o := local.Options{Store: store, Log: a.log,
					Parser: &parser.Config{Workers: workers},
					Writer: &writer.Config{QuestDB: q, Workers: workers, Migrate: true}}
				a.limitMemory(memLimit, o)
				p, err := local.Start(ctx, o)
				if err != nil {
					return cantStart(err)
				}
				defer func() {
					if perr := p.Stop(); perr != nil {
						a.log.Warn("embedded pipeline stopped with an error", "err", perr)
					}
				}()
				js = p.JS
			} else {
				nc, j, err := cli.JetStream(ctx, n, "fff-ingest", a.log)
				if err != nil {
					return cantStart(err)
				}
				defer nc.Close()
				js = j
			}
			progress := cmd.ErrOrStderr()
			view := &progressView{out: progress, tty: cli.IsTerminal(progress)}
			lo := ingest.Options{
				Candidates: cands, Force: force, OnBadRow: onBadRow, StopOnError: stopOnError,
				OnProgress: view.draw, ProgressEvery: view.interval(every), Log: a.log, InFlight: inFlight, Group: group,
			}
			if checkTable {
				lo.Table = &ingest.TableCheck{PG: q.PG, Table: q.Table}
			}
			sum, err := ingest.Load(ctx, js, lo)
			printSummary(out, sum, dir, q.Table)
			if err != nil {
				return exitError{code: 1, err: err}
			}
			return incomplete(sum)
		},
	}
	fs := cmd.Flags()
	n.AddFlags(fs)
	cli.AddQuestDBFlags(fs, &q)
	cli.Flag(fs, fs.BoolVar, &embedded, "embedded", false, "run JetStream, parsers and writers in this process (only QuestDB needs to run)", "FFF_EMBEDDED")
	cli.Flag(fs, fs.StringVar, &store, "store", "./var", "with --embedded: folder for the JetStream store", "FFF_STORE")
	cli.Flag(fs, fs.IntVar, &workers, "workers", 2, "with --embedded: parser workers and writer workers", "FFF_WORKERS")
	cli.Flag(fs, fs.StringSliceVar, &tiers, "tier", nil, "only pairs whose base asset is in these tiers, e.g. TIER1,TIER2 (default all)", "FFF_TIER")
	cli.Flag(fs, fs.IntSliceVar, &intervals, "intervals", nil, "only these intervals in minutes, e.g. 60,1440 (default all)", "FFF_INTERVALS")
	fs.BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation (required when stdin is not a terminal)")
	cli.Flag(fs, fs.BoolVar, &stopOnError, "stop-on-error", false, "submit no more files after the first one fails (those submitted are still waited for)", "FFF_STOP_ON_ERROR")
	cli.Flag(fs, fs.BoolVar, &force, "force", false, "load again files whose content was already committed", "FFF_FORCE")
	cli.Flag(fs, fs.StringVar, &onBadRow, "on-bad-row", "skip", "what the parsers do with a bad row: skip (report it, land the rest) or reject-file", "FFF_ON_BAD_ROW")
	cli.Flag(fs, fs.DurationVar, &every, "progress-every", 5*time.Second, "how often a progress line is printed when stderr is not a terminal", "FFF_PROGRESS_EVERY")
	cli.Flag(fs, fs.IntVar, &inFlight, "in-flight", ingest.DefaultInFlight, "files submitted ahead of their commits at most", "FFF_INGEST_IN_FLIGHT")
	fs.IntVar(&group, "group", ingest.DefaultGroup, "files stored, then queued together so the parsers read them side by side in time (1: one by one)")
	cli.Flag(fs, fs.BoolVar, &checkTable, "check-table", true, "check that files already ingested still have their rows in --table (needs QuestDB's PG wire, --questdb-pg)", "FFF_CHECK_TABLE")
	addMemoryLimitFlag(fs, &memLimit)
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cantStart(err) })
	return cmd
}

// cantStart marks an error that kept the load from starting: exit status 2.
func cantStart(err error) error {
	if err == nil {
		return nil
	}
	return exitError{code: 2, err: err}
}

// incomplete is the exit status 1 error when the load left anything out of
// the table, nil when every file is in.
func incomplete(s ingest.Summary) error {
	var parts []string
	if s.Failed > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d file(s) failed or were rejected", s.Failed, s.Files))
	}
	if s.NotSubmitted > 0 {
		parts = append(parts, fmt.Sprintf("%d not submitted", s.NotSubmitted))
	}
	if n := missingFiles(s); n > 0 {
		parts = append(parts, fmt.Sprintf("%d already ingested but with rows missing from the table", n))
	}
	if len(parts) == 0 {
		return nil
	}
	return exitError{code: 1, err: errors.New(strings.Join(parts, ", "))}
}

func missingFiles(s ingest.Summary) int {
	n := 0
	for _, m := range s.Missing {
		n += len(m.Files)
	}
	return n
}

func confirm(in io.Reader, prompt io.Writer, question string) (bool, error) {
	fmt.Fprint(prompt, question)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("read answer: %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// printPlan shows what was found, by tier and interval.
func printPlan(out io.Writer, dir string, f ingest.Filters, cands []ingest.Candidate, skipped []ingest.Skipped) {
	type key struct {
		tier     string
		interval int
	}
	groups := map[key]struct {
		files int
		size  int64
	}{}
	var keys []key
	for _, c := range cands {
		k := key{c.Tier, c.Interval}
		g, ok := groups[k]
		if !ok {
			keys = append(keys, k)
		}
		g.files++
		g.size += c.Size
		groups[k] = g
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].tier != keys[j].tier {
			return keys[i].tier < keys[j].tier
		}
		return keys[i].interval < keys[j].interval
	})
	fmt.Fprintf(out, "Found %d file(s) to ingest in %s (%s; filters: %s)\n", len(cands), dir, humanBytes(ingest.TotalSize(cands)), f)
	if len(cands) > 0 {
		fmt.Fprintf(out, "  %-6s %9s %7s %10s\n", "tier", "interval", "files", "size")
		for _, k := range keys {
			g := groups[k]
			fmt.Fprintf(out, "  %-6s %9s %7d %10s\n", k.tier, intervalName(k.interval), g.files, humanBytes(g.size))
		}
		fmt.Fprintf(out, "  %-6s %9s %7d %10s\n", "total", "", len(cands), humanBytes(ingest.TotalSize(cands)))
	}
	if len(skipped) > 0 {
		fmt.Fprintf(out, "Not ingested: %d\n", len(skipped))
		const show = 20
		for i, s := range skipped {
			if i == show {
				fmt.Fprintf(out, "  ... and %d more\n", len(skipped)-show)
				break
			}
			fmt.Fprintf(out, "  %s (%s): %s\n", s.Name, s.Kind, s.Reason)
		}
	}
}

func intervalName(m int) string {
	switch {
	case m%1440 == 0:
		return fmt.Sprintf("%dd", m/1440)
	case m%60 == 0:
		return fmt.Sprintf("%dh", m/60)
	}
	return fmt.Sprintf("%dm", m)
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// printSummary shows what the load did; a refusal by an earlier load, and
// rows gone from table since an earlier load, say how to try again.
func printSummary(out io.Writer, s ingest.Summary, dir, table string) {
	fmt.Fprintf(out, "\nSummary: %d file(s) in %s: %d committed, %d already ingested, %d failed",
		s.Files, s.Elapsed.Round(time.Millisecond), s.Committed, s.Already, s.Failed)
	if s.NotSubmitted > 0 {
		fmt.Fprintf(out, ", %d not submitted", s.NotSubmitted)
	}
	if n := missingFiles(s); n > 0 {
		fmt.Fprintf(out, ", %d with rows missing from the table", n)
	}
	fmt.Fprintln(out)
	fmt.Fprintf(out, "Records committed: %s (%s rows/s on average)\n", thousands(s.Records), thousands(int64(s.Rate())))
	if s.RowsRejected > 0 {
		fmt.Fprintf(out, "Rows rejected: %s (bad lines are listed in the ledger: fff tail or the LEDGER bucket)\n", thousands(s.RowsRejected))
	}
	if len(s.Failures) > 0 {
		fmt.Fprintln(out, "Failures:")
		for _, f := range s.Failures {
			reason := f.Reason
			if f.Before {
				reason += "; use --force to try again"
			}
			fmt.Fprintf(out, "  %s: %s: %s\n", f.Name, f.State, reason)
		}
	}
	printMissing(out, s, dir, table)
}

// printMissing names the series whose rows an earlier load committed and
// the table no longer holds, and the two ways to bring them back.
func printMissing(out io.Writer, s ingest.Summary, dir, table string) {
	if s.Unchecked != "" {
		fmt.Fprintf(out, "Could not check that the files already ingested still have their rows in %s: %s\n", table, s.Unchecked)
	}
	if len(s.Missing) == 0 {
		return
	}
	fmt.Fprintf(out, "Rows missing from %s: the ledger says these files were committed, but the table no longer holds their rows (was it or a partition dropped?):\n", table)
	for _, m := range s.Missing {
		fmt.Fprintf(out, "  %s %s (%s): %s of %s rows missing, %s in the table\n", m.Pair, intervalName(m.Interval),
			strings.Join(m.Files, ", "), thousands(m.Committed-m.InTable), thousands(m.Committed), thousands(m.InTable))
	}
	fmt.Fprintf(out, "Load them again with fff ingest %s --force (the table deduplicates, so rows still there are not doubled),\n", dir)
	m := s.Missing[0]
	fmt.Fprintf(out, "or rebuild them from the CANDLES stream with fff replay --table %s (e.g. --pair %s --interval %d).\n", table, m.Pair, m.Interval)
}

func thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// progressView draws progress: two redrawn bars on a terminal, otherwise
// one line at a time.
type progressView struct {
	out   io.Writer
	tty   bool
	drawn bool
}

func (p *progressView) interval(every time.Duration) time.Duration {
	if p.tty {
		return 200 * time.Millisecond
	}
	return every
}

func (p *progressView) draw(s ingest.Progress) {
	if p.out == nil {
		return
	}
	elapsed := time.Since(s.Start)
	rate := 0.0
	if elapsed > 0 {
		rate = float64(s.Rows) / elapsed.Seconds()
	}
	frac := 1.0
	if s.Bytes > 0 {
		frac = min(1, s.DoneBytes/float64(s.Bytes))
	}
	eta := "?"
	switch {
	case s.Final || frac >= 1:
		eta = "0s"
	case frac > 0:
		eta = (time.Duration(float64(elapsed) * (1 - frac) / frac)).Round(time.Second).String()
	}
	failedNote := ""
	if s.Failed > 0 {
		failedNote = fmt.Sprintf(", %d failed", s.Failed)
	}
	if !p.tty {
		fmt.Fprintf(p.out, "ingest: %d/%d files%s, %s rows committed, %s rows/s, %.0f%% of the data, ETA %s\n",
			s.Settled, s.Files, failedNote, thousands(s.Rows), thousands(int64(rate)), frac*100, eta)
		return
	}
	fileFrac := 1.0
	if s.Files > 0 {
		fileFrac = float64(s.Settled) / float64(s.Files)
	}
	if p.drawn {
		fmt.Fprint(p.out, "\033[2A")
	}
	fmt.Fprintf(p.out, "\r\033[Kfiles %s %d/%d%s\n", bar(fileFrac, 30), s.Settled, s.Files, failedNote)
	fmt.Fprintf(p.out, "\r\033[Kdata  %s %3.0f%%  %s rows committed  %s rows/s  ETA %s\n",
		bar(frac, 30), frac*100, thousands(s.Rows), thousands(int64(rate)), eta)
	p.drawn = true
}

func bar(frac float64, width int) string {
	n := int(frac * float64(width))
	n = max(0, min(width, n))
	return "[" + strings.Repeat("#", n) + strings.Repeat("-", width-n) + "]"
}
