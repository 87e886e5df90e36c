package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/feefifofunds/feefifofunds/internal/cli"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/ledger"
	"github.com/feefifofunds/feefifofunds/pipeline/local"
	"github.com/feefifofunds/feefifofunds/pipeline/parser"
	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
	"github.com/feefifofunds/feefifofunds/pipeline/watcher"
	"github.com/feefifofunds/feefifofunds/pipeline/writer"
)

func init() {
	rootCmd.AddCommand(newIngestCmd())
}

// defaultInFlight files are submitted ahead of the commits: enough to keep
// parsers and writers busy with small files.
const defaultInFlight = 64

// errNoTerminal is why ingest refuses to ask for confirmation.
var errNoTerminal = errors.New("stdin is not a terminal: pass --yes to ingest without confirmation")

func newIngestCmd() *cobra.Command {
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
		embedded    bool
		store       string
		q           questdb.Config
		workers     int
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
--force. The exit status is 1 when any file failed or was rejected.`,
		Example: `  fff ingest ./Kraken_OHLCVT --tier TIER1 --intervals 60,1440
  fff ingest ./Kraken_OHLCVT --embedded --yes --table candles
  fff ingest /data/kraken --yes --stop-on-error
  fff ingest ./Kraken_OHLCVT.zip-extracted --yes --nats nats://nats:4222`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			filters, err := watcher.NewFilters(tiers, intervals)
			if err != nil {
				return err
			}
			switch onBadRow {
			case "skip", "reject-file":
			default:
				return fmt.Errorf("--on-bad-row %q: want skip or reject-file", onBadRow)
			}
			dir := args[0]
			cands, skipped, err := watcher.Scan(dir, filters)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			printPlan(out, dir, filters, cands, skipped)
			if len(cands) == 0 {
				fmt.Fprintln(out, "Nothing to ingest.")
				return nil
			}
			if !yes {
				in := cmd.InOrStdin()
				if !isTerminal(in) {
					return errNoTerminal
				}
				ok, err := confirm(in, cmd.ErrOrStderr(), fmt.Sprintf("Ingest %d file(s), %s? [y/N] ", len(cands), humanBytes(totalSize(cands))))
				if err != nil {
					return err
				}
				if !ok {
					fmt.Fprintln(out, "Nothing ingested.")
					return nil
				}
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			ctx, stop := signalAware(ctx)
			defer stop()
			var js jetstream.JetStream
			if embedded {
				p, err := local.Start(ctx, local.Options{Store: store, Log: logger,
					Parser: &parser.Config{Workers: workers},
					Writer: &writer.Config{QuestDB: q, Workers: workers, Migrate: true}})
				if err != nil {
					return err
				}
				defer func() {
					if perr := p.Stop(); perr != nil {
						logger.Warn("embedded pipeline stopped with an error", "err", perr)
					}
				}()
				js = p.JS
			} else {
				nc, j, err := cli.JetStream(ctx, n, "fff-ingest", logger)
				if err != nil {
					return err
				}
				defer nc.Close()
				js = j
			}
			progress := cmd.ErrOrStderr()
			sum, err := runIngest(ctx, js, ingestOptions{
				Candidates: cands, Force: force, OnBadRow: onBadRow, StopOnError: stopOnError,
				Progress: progress, TTY: isTerminal(progress), Every: every, Log: logger, InFlight: inFlight,
			}, out)
			sum.print(out)
			if err != nil {
				return err
			}
			if sum.Failed > 0 {
				return exitError{code: 1, err: fmt.Errorf("%d of %d file(s) failed or were rejected", sum.Failed, sum.Files)}
			}
			return nil
		},
	}
	fs := cmd.Flags()
	n.AddFlags(fs)
	cli.AddQuestDBFlags(fs, &q)
	fs.BoolVar(&embedded, "embedded", false, "run JetStream, parsers and writers in this process (only QuestDB needs to run)")
	cli.Bind(fs, "embedded", "FFF_EMBEDDED")
	fs.StringVar(&store, "store", "./var", "with --embedded: folder for the JetStream store")
	cli.Bind(fs, "store", "FFF_STORE")
	fs.IntVar(&workers, "workers", 2, "with --embedded: parser workers and writer workers")
	cli.Bind(fs, "workers", "FFF_WORKERS")
	fs.StringSliceVar(&tiers, "tier", nil, "only pairs whose base asset is in these tiers, e.g. TIER1,TIER2 (default all)")
	cli.Bind(fs, "tier", "FFF_TIER")
	fs.IntSliceVar(&intervals, "intervals", nil, "only these intervals in minutes, e.g. 60,1440 (default all)")
	cli.Bind(fs, "intervals", "FFF_INTERVALS")
	fs.BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation (required when stdin is not a terminal)")
	fs.BoolVar(&stopOnError, "stop-on-error", false, "submit no more files after the first one fails (those submitted are still waited for)")
	cli.Bind(fs, "stop-on-error", "FFF_STOP_ON_ERROR")
	fs.BoolVar(&force, "force", false, "load again files whose content was already committed")
	cli.Bind(fs, "force", "FFF_FORCE")
	fs.StringVar(&onBadRow, "on-bad-row", "skip", "what the parsers do with a bad row: skip (report it, land the rest) or reject-file")
	cli.Bind(fs, "on-bad-row", "FFF_ON_BAD_ROW")
	fs.DurationVar(&every, "progress-every", 5*time.Second, "how often a progress line is printed when stderr is not a terminal")
	cli.Bind(fs, "progress-every", "FFF_PROGRESS_EVERY")
	fs.IntVar(&inFlight, "in-flight", defaultInFlight, "files submitted ahead of their commits at most")
	cli.Bind(fs, "in-flight", "FFF_INGEST_IN_FLIGHT")
	return cmd
}

// signalAware stops on Ctrl-C as well as with the parent context.
func signalAware(parent context.Context) (context.Context, context.CancelFunc) {
	sctx, sstop := cli.SignalContext()
	ctx, cancel := context.WithCancel(parent)
	go func() {
		select {
		case <-sctx.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, func() { cancel(); sstop() }
}

// isTerminal: a character device other than /dev/null (which is one too).
func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	if !ok || f == nil {
		return false
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	if null, err := os.Stat(os.DevNull); err == nil && os.SameFile(fi, null) {
		return false
	}
	return true
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

func totalSize(cs []watcher.Candidate) int64 {
	var n int64
	for _, c := range cs {
		n += c.Size
	}
	return n
}

// printPlan shows what was found, by tier and interval.
func printPlan(out io.Writer, dir string, f watcher.Filters, cands []watcher.Candidate, skipped []watcher.Skipped) {
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
	fmt.Fprintf(out, "Found %d file(s) to ingest in %s (%s; filters: %s)\n", len(cands), dir, humanBytes(totalSize(cands)), f)
	if len(cands) > 0 {
		fmt.Fprintf(out, "  %-6s %9s %7s %10s\n", "tier", "interval", "files", "size")
		for _, k := range keys {
			g := groups[k]
			fmt.Fprintf(out, "  %-6s %9s %7d %10s\n", k.tier, intervalName(k.interval), g.files, humanBytes(g.size))
		}
		fmt.Fprintf(out, "  %-6s %9s %7d %10s\n", "total", "", len(cands), humanBytes(totalSize(cands)))
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

// ingestOptions configure runIngest.
type ingestOptions struct {
	Dir         string              // scanned when Candidates is nil
	Filters     watcher.Filters     // for the scan
	Candidates  []watcher.Candidate // what to load
	Force       bool
	OnBadRow    string
	StopOnError bool
	// NoKeeper: the caller already runs a ledger keeper (fff up).
	NoKeeper bool
	// InFlight caps the files submitted and not settled yet (default 64),
	// so --stop-on-error stops soon after a failure.
	InFlight int
	Progress io.Writer     // progress display (nil: none)
	TTY      bool          // redraw bars instead of printing lines
	Every    time.Duration // line interval when not a TTY (default 5s)
	Log      *slog.Logger
}

type ingestFailure struct {
	Name   string
	State  string
	Reason string
}

// ingestSummary is what a bulk load did.
type ingestSummary struct {
	Files        int   // found
	Committed    int   // committed by this load
	Already      int   // committed before ("already ingested")
	Failed       int   // rejected, failed, or could not be submitted
	NotSubmitted int   // left out after a failure (--stop-on-error) or an interruption
	Records      int64 // rows committed by this load
	RowsRejected int64 // bad rows skipped
	Bytes        int64
	Elapsed      time.Duration
	Failures     []ingestFailure
}

func (s ingestSummary) rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Records) / s.Elapsed.Seconds()
}

func (s ingestSummary) print(out io.Writer) {
	fmt.Fprintf(out, "\nSummary: %d file(s) in %s: %d committed, %d already ingested, %d failed",
		s.Files, s.Elapsed.Round(time.Millisecond), s.Committed, s.Already, s.Failed)
	if s.NotSubmitted > 0 {
		fmt.Fprintf(out, ", %d not submitted", s.NotSubmitted)
	}
	fmt.Fprintln(out)
	fmt.Fprintf(out, "Records committed: %s (%s rows/s on average)\n", thousands(s.Records), thousands(int64(s.rate())))
	if s.RowsRejected > 0 {
		fmt.Fprintf(out, "Rows rejected: %s (bad lines are listed in the ledger: fff tail or the LEDGER bucket)\n", thousands(s.RowsRejected))
	}
	if len(s.Failures) > 0 {
		fmt.Fprintln(out, "Failures:")
		for _, f := range s.Failures {
			fmt.Fprintf(out, "  %s: %s: %s\n", f.Name, f.State, f.Reason)
		}
	}
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

// tracked is one file id of the load (two candidates with the same content
// share it).
type tracked struct {
	names  []string
	size   int64
	minRev uint64
	entry  contract.LedgerEntry
	done   bool
}

type submitted struct {
	cand watcher.Candidate
	sub  watcher.Submission
	err  error
}

// runIngest loads the candidates into the pipeline reachable through js and
// waits until each is settled in the ledger. It runs a ledger keeper unless
// opts.NoKeeper. It never moves or changes the files. The summary is
// returned (also on error, with what was done so far); printing it is up to
// the caller.
func runIngest(ctx context.Context, js jetstream.JetStream, opts ingestOptions, out io.Writer) (ingestSummary, error) {
	start := time.Now()
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Every <= 0 {
		opts.Every = 5 * time.Second
	}
	if opts.InFlight <= 0 {
		opts.InFlight = defaultInFlight
	}
	cands := opts.Candidates
	if cands == nil && opts.Dir != "" {
		var err error
		if cands, _, err = watcher.Scan(opts.Dir, opts.Filters); err != nil {
			return ingestSummary{}, err
		}
	}
	sum := ingestSummary{Files: len(cands), Bytes: totalSize(cands)}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	sub, err := watcher.NewSubmitter(ctx, js, opts.Log)
	if err != nil {
		return sum, err
	}
	keeperErr := make(chan error, 1)
	if !opts.NoKeeper {
		wg.Add(1)
		go func() {
			defer wg.Done()
			keeperErr <- ledger.Run(ctx, ledger.Config{JS: js, Log: opts.Log})
		}()
	}
	events, err := sub.Ledger().Watch(ctx)
	if err != nil {
		return sum, err
	}

	var stopSubmitting atomic.Bool
	results := make(chan submitted)
	slots := make(chan struct{}, opts.InFlight) // one per candidate submitted and not settled
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(results)
		for _, c := range cands {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			if stopSubmitting.Load() || ctx.Err() != nil {
				return
			}
			s, err := sub.Submit(ctx, c, watcher.SubmitOptions{Force: opts.Force, OnBadRow: opts.OnBadRow})
			select {
			case results <- submitted{cand: c, sub: s, err: err}:
			case <-ctx.Done():
				return
			}
		}
	}()

	files := map[string]*tracked{}
	var (
		handled   int   // candidates submitted (or failed to)
		settled   int   // candidates settled
		doneBytes int64 // bytes of settled candidates
		waiting   int   // file ids not settled
	)
	fail := func(name, state, reason string) {
		sum.Failed++
		sum.Failures = append(sum.Failures, ingestFailure{Name: name, State: state, Reason: reason})
		if opts.StopOnError {
			stopSubmitting.Store(true)
		}
	}
	release := func() {
		settled++
		<-slots
	}
	settle := func(t *tracked) {
		t.done = true
		waiting--
		e := t.entry
		for _, name := range t.names {
			doneBytes += t.size
			switch e.State {
			case contract.FileCommitted:
				sum.Committed++
			default:
				fail(name, e.State, ledgerReason(e))
			}
			release() // after fail, so --stop-on-error is seen by the next submission
		}
		sum.Records += e.RowsCommitted
		sum.RowsRejected += e.RowsRejected
	}
	onEvent := func(ev ledger.Event) {
		t := files[ev.Entry.FileID]
		if t == nil || t.done || ev.Revision < t.minRev {
			return
		}
		t.entry = ev.Entry
		if ledger.Terminal(ev.Entry.State) {
			settle(t)
		}
	}
	onSubmitted := func(r submitted) {
		handled++
		if r.err != nil {
			doneBytes += r.cand.Size
			fail(r.cand.Name, "NOT SUBMITTED", r.err.Error())
			release()
			return
		}
		e := r.sub.Entry
		if r.sub.Outcome == watcher.Settled {
			doneBytes += r.cand.Size
			if e.State == contract.FileCommitted {
				sum.Already++
			} else {
				fail(r.cand.Name, e.State, "rejected before ("+ledgerReason(e)+"); use --force to try again")
			}
			release()
			return
		}
		if t := files[e.FileID]; t != nil && !t.done {
			t.names = append(t.names, r.cand.Name) // same content twice in the folder
			return
		}
		t := &tracked{names: []string{r.cand.Name}, size: r.cand.Size, minRev: r.sub.Revision, entry: e}
		files[e.FileID] = t
		waiting++
		// Catch up with what happened between the submission and now.
		if cur, rev, err := sub.Ledger().Get(ctx, e.FileID); err == nil {
			onEvent(ledger.Event{Entry: cur, Revision: rev})
		}
	}

	bar := &progressView{out: opts.Progress, tty: opts.TTY, start: start, total: len(cands), totalBytes: sum.Bytes}
	draw := func(final bool) {
		var rows int64
		partial := float64(doneBytes)
		for _, t := range files {
			if t.done {
				continue
			}
			rows += t.entry.RowsCommitted
			if t.entry.RowsParsed > 0 {
				partial += float64(t.size) * min(1, float64(t.entry.RowsCommitted)/float64(t.entry.RowsParsed))
			}
		}
		bar.draw(settled, sum.Failed, sum.Records+rows, partial, final)
	}
	tick := time.NewTicker(bar.interval(opts.Every))
	defer tick.Stop()
	// A load interrupted between a file's ledger write and its publish left
	// it QUEUED with no work: publish that work again (see RequeueLost).
	requeue := time.NewTicker(30 * time.Second)
	defer requeue.Stop()

	for {
		if results == nil && waiting == 0 {
			break
		}
		select {
		case <-ctx.Done():
			draw(true)
			sum.NotSubmitted = len(cands) - handled
			sum.Elapsed = time.Since(start)
			return sum, fmt.Errorf("interrupted: %d file(s) not settled yet (those queued still go through the pipeline)", len(cands)-settled)
		case err := <-keeperErr:
			if err != nil && ctx.Err() == nil {
				sum.Elapsed = time.Since(start)
				return sum, fmt.Errorf("ledger keeper: %w", err)
			}
		case r, ok := <-results:
			if !ok {
				results = nil
				continue
			}
			onSubmitted(r)
		case ev, ok := <-events:
			if !ok {
				if ctx.Err() != nil {
					continue
				}
				if events, err = sub.Ledger().Watch(ctx); err != nil {
					return sum, err
				}
				continue
			}
			onEvent(ev)
		case <-tick.C:
			draw(false)
		case <-requeue.C:
			var ids []string
			for id, t := range files {
				if !t.done && t.entry.State == contract.FileQueued {
					ids = append(ids, id)
				}
			}
			if _, err := sub.RequeueLost(ctx, ids, time.Minute, opts.OnBadRow); err != nil && ctx.Err() == nil {
				opts.Log.Warn("could not requeue a file whose work was lost", "err", err)
			}
		}
	}
	sum.NotSubmitted = len(cands) - handled
	sum.Elapsed = time.Since(start)
	draw(true)
	return sum, nil
}

func ledgerReason(e contract.LedgerEntry) string {
	if e.Reason != "" {
		return e.Reason
	}
	return "no reason recorded"
}

// progressView draws progress: two redrawn bars on a terminal, otherwise
// one line at a time.
type progressView struct {
	out        io.Writer
	tty        bool
	start      time.Time
	total      int
	totalBytes int64
	drawn      bool
}

func (p *progressView) interval(every time.Duration) time.Duration {
	if p.tty {
		return 200 * time.Millisecond
	}
	return every
}

func (p *progressView) draw(settled, failed int, rows int64, doneBytes float64, final bool) {
	if p.out == nil {
		return
	}
	elapsed := time.Since(p.start)
	rate := 0.0
	if elapsed > 0 {
		rate = float64(rows) / elapsed.Seconds()
	}
	frac := 1.0
	if p.totalBytes > 0 {
		frac = min(1, doneBytes/float64(p.totalBytes))
	}
	eta := "?"
	switch {
	case final || frac >= 1:
		eta = "0s"
	case frac > 0:
		eta = (time.Duration(float64(elapsed) * (1 - frac) / frac)).Round(time.Second).String()
	}
	failedNote := ""
	if failed > 0 {
		failedNote = fmt.Sprintf(", %d failed", failed)
	}
	if !p.tty {
		fmt.Fprintf(p.out, "ingest: %d/%d files%s, %s rows committed, %s rows/s, %.0f%% of the data, ETA %s\n",
			settled, p.total, failedNote, thousands(rows), thousands(int64(rate)), frac*100, eta)
		return
	}
	fileFrac := 1.0
	if p.total > 0 {
		fileFrac = float64(settled) / float64(p.total)
	}
	if p.drawn {
		fmt.Fprint(p.out, "\033[2A")
	}
	fmt.Fprintf(p.out, "\r\033[Kfiles %s %d/%d%s\n", bar(fileFrac, 30), settled, p.total, failedNote)
	fmt.Fprintf(p.out, "\r\033[Kdata  %s %3.0f%%  %s rows committed  %s rows/s  ETA %s\n",
		bar(frac, 30), frac*100, thousands(rows), thousands(int64(rate)), eta)
	p.drawn = true
}

func bar(frac float64, width int) string {
	n := int(frac * float64(width))
	n = max(0, min(width, n))
	return "[" + strings.Repeat("#", n) + strings.Repeat("-", width-n) + "]"
}
