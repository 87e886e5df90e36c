// Package ingest submits Kraken OHLCVT files to the pipeline and follows
// them in the ledger until they settle: the bulk-load driver of fff ingest
// and fff bench.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/ledger"
)

// DefaultInFlight files are submitted ahead of the commits: enough to keep
// parsers and writers busy with small files.
const DefaultInFlight = 64

// DefaultGroup files are stored, then queued together: at least as many as
// the parser workers of a usual set-up, so they read the group side by side.
const DefaultGroup = 8

// Options configure Load.
type Options struct {
	Dir         string      // scanned when Candidates is nil
	Filters     Filters     // for the scan
	Candidates  []Candidate // what to load
	Force       bool        // load again content already settled
	OnBadRow    string      // passed to the parsers: "skip" or "reject-file"
	StopOnError bool        // submit nothing more after the first failure
	// NoKeeper: the caller already runs a ledger keeper (fff up).
	NoKeeper bool
	// InFlight caps the files submitted and not settled yet (default
	// DefaultInFlight), so StopOnError stops soon after a failure.
	InFlight int
	// Group is how many files are stored before they are queued together
	// (default DefaultGroup; 1: each file queued as soon as it is stored).
	Group int
	// OnProgress is called every ProgressEvery (default 5s) and once at the
	// end, from Load's goroutine; nil: not called.
	OnProgress    func(Progress)
	ProgressEvery time.Duration
	Log           *slog.Logger
	// Table, when set, is checked at the end for the rows of the files found
	// already ingested (see TableCheck); nil: the ledger's word is taken.
	Table *TableCheck
}

// Progress is a snapshot of a running load.
type Progress struct {
	Files   int   // candidates in the load
	Bytes   int64 // their total size
	Settled int   // candidates settled, refused or not submittable
	Failed  int
	Rows    int64 // rows committed, including those of files still in flight
	// DoneBytes counts settled files whole and files in flight by the share
	// of their parsed rows already committed, so a few big files move the
	// estimate before they settle.
	DoneBytes float64
	Start     time.Time
	Final     bool
}

// Failure is one file that did not commit.
type Failure struct {
	Name   string
	State  string // ledger state, or NotSubmitted
	Reason string
	// Before: an earlier load settled this content without committing it;
	// only Force loads it again.
	Before bool
}

// NotSubmitted is the Failure.State of a file Load could not submit.
const NotSubmitted = "NOT SUBMITTED"

// Summary is what a bulk load did.
type Summary struct {
	Files        int   // found
	Committed    int   // committed by this load
	Already      int   // committed before ("already ingested")
	Failed       int   // rejected, failed, or could not be submitted
	NotSubmitted int   // left out after a failure (StopOnError) or an interruption
	Records      int64 // rows committed by this load
	RowsRejected int64 // bad rows skipped
	Bytes        int64
	Elapsed      time.Duration
	Failures     []Failure
	// Missing are the series of files found already ingested whose rows are
	// no longer all in Options.Table; those files are not counted in Already.
	Missing []Missing
	// Unchecked says why Options.Table could not be checked ("" when it was,
	// or was not asked for).
	Unchecked string
}

// Rate is the rows committed per second on average.
func (s Summary) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Records) / s.Elapsed.Seconds()
}

// tracked is one file id of the load (two candidates with the same content
// share it).
type tracked struct {
	names []string
	size  int64
	cand  Candidate // the first of names: whose bytes a reput puts again
}

type submitted struct {
	cand Candidate
	sub  Submission
	err  error
}

// Load loads the candidates into the pipeline reachable through js and
// waits until each is settled in the ledger. It runs a ledger keeper unless
// opts.NoKeeper. It never moves or changes the files. The summary is
// returned also on error, with what was done so far.
func Load(ctx context.Context, js jetstream.JetStream, opts Options) (Summary, error) {
	start := time.Now()
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.ProgressEvery <= 0 {
		opts.ProgressEvery = 5 * time.Second
	}
	if opts.InFlight <= 0 {
		opts.InFlight = DefaultInFlight
	}
	if opts.Group <= 0 {
		opts.Group = DefaultGroup
	}
	opts.Group = min(opts.Group, opts.InFlight)
	cands := opts.Candidates
	if cands == nil && opts.Dir != "" {
		var skipped []Skipped
		var err error
		if cands, skipped, err = Scan(opts.Dir, opts.Filters); err != nil {
			return Summary{}, err
		}
		// Not loaded, so said: a file left out without a word is a file
		// the user believes is in QuestDB.
		for _, s := range skipped {
			opts.Log.Info("not ingested", "file", s.Name, "kind", s.Kind, "why", s.Reason)
		}
	}
	sum := Summary{Files: len(cands), Bytes: TotalSize(cands)}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	sub, err := NewSubmitter(ctx, js, opts.Log)
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
	tr, err := NewTracker[*tracked](ctx, sub.Ledger())
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
		sopts := SubmitOptions{Force: opts.Force, OnBadRow: opts.OnBadRow}
		for lo := 0; lo < len(cands); lo += opts.Group {
			group := cands[lo:min(lo+opts.Group, len(cands))]
			for range group {
				select {
				case slots <- struct{}{}:
				case <-ctx.Done():
					return
				}
			}
			// Store the whole group, then queue it: the parsers take its
			// files together and keep them side by side in time, which
			// QuestDB merges far more cheaply (docs/PERFORMANCE.md).
			prepared := make([]hashed, len(group))
			errs := make([]error, len(group))
			// Stopping, what was stored and not queued is deleted again.
			unprepare := func(from int) {
				for i := from; i < len(group); i++ {
					if errs[i] == nil {
						sub.unprepare(ctx, group[i], prepared[i])
					}
				}
			}
			for i, c := range group {
				if stopSubmitting.Load() || ctx.Err() != nil {
					unprepare(0)
					return
				}
				prepared[i], errs[i] = sub.prepare(ctx, c, sopts)
			}
			for i, c := range group {
				if stopSubmitting.Load() || ctx.Err() != nil {
					unprepare(i)
					return
				}
				var s Submission
				err := errs[i]
				if err == nil {
					s, err = sub.submitHashed(ctx, c, prepared[i].content, prepared[i].size, sopts)
				}
				select {
				case results <- submitted{cand: c, sub: s, err: err}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()

	files := map[string]*tracked{} // by file id, until settled
	var already []ingested         // for the table check
	var (
		handled   int   // candidates submitted (or failed to)
		settled   int   // candidates settled
		doneBytes int64 // bytes of settled candidates
	)
	fail := func(f Failure) {
		sum.Failed++
		sum.Failures = append(sum.Failures, f)
		if opts.StopOnError {
			stopSubmitting.Store(true)
		}
	}
	release := func() {
		settled++
		<-slots
	}
	settle := func(ss []Settlement[*tracked]) {
		for _, s := range ss {
			t, e := s.Ref, s.Entry
			delete(files, e.FileID)
			for _, name := range t.names {
				doneBytes += t.size
				switch e.State {
				case contract.FileCommitted:
					sum.Committed++
				default:
					fail(Failure{Name: name, State: e.State, Reason: Reason(e)})
				}
				release() // after fail, so StopOnError is seen by the next submission
			}
			sum.Records += e.RowsCommitted
			sum.RowsRejected += e.RowsRejected
		}
	}
	onSubmitted := func(r submitted) {
		handled++
		if ue := (*UnconfirmedError)(nil); errors.As(r.err, &ue) {
			// Followed like any queued file: it settles if its work was
			// stored, and RequeueLost (below) publishes it again if not. Told
			// NOT SUBMITTED, a user would load it again while it commits.
			opts.Log.Warn("a file's work was published without an acknowledgement; following it in the ledger", "file", r.cand.Name, "err", ue.Err)
			r.err = nil
		}
		if r.err != nil {
			doneBytes += r.cand.Size
			fail(Failure{Name: r.cand.Name, State: NotSubmitted, Reason: r.err.Error()})
			release()
			return
		}
		e := r.sub.Entry
		if r.sub.Outcome == Settled {
			doneBytes += r.cand.Size
			if e.State == contract.FileCommitted {
				sum.Already++
				already = append(already, ingested{name: r.cand.Name, entry: e})
			} else {
				fail(Failure{Name: r.cand.Name, State: e.State, Reason: "rejected before (" + Reason(e) + ")", Before: true})
			}
			release()
			return
		}
		if t := files[e.FileID]; t != nil {
			t.names = append(t.names, r.cand.Name) // same content twice in the folder
			return
		}
		t := &tracked{names: []string{r.cand.Name}, size: r.cand.Size, cand: r.cand}
		files[e.FileID] = t
		settle(tr.Track(ctx, e, r.sub.Revision, t))
		reput(ctx, sub, tr.Reputs())
	}

	report := func(final bool) {
		if opts.OnProgress == nil {
			return
		}
		p := Progress{Files: len(cands), Bytes: sum.Bytes, Settled: settled, Failed: sum.Failed,
			Rows: sum.Records, DoneBytes: float64(doneBytes), Start: start, Final: final}
		for id, t := range files {
			e, _ := tr.Latest(id)
			p.Rows += e.RowsCommitted
			if e.RowsParsed > 0 {
				p.DoneBytes += float64(t.size) * min(1, float64(e.RowsCommitted)/float64(e.RowsParsed))
			}
		}
		opts.OnProgress(p)
	}
	tick := time.NewTicker(opts.ProgressEvery)
	defer tick.Stop()
	// A load interrupted between a file's ledger write and its publish left
	// it QUEUED with no work: publish that work again (see RequeueLost).
	requeue := time.NewTicker(30 * time.Second)
	defer requeue.Stop()

	for {
		if results == nil && tr.Waiting() == 0 {
			break
		}
		select {
		case <-ctx.Done():
			report(true)
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
		case ev, ok := <-tr.Events():
			if !ok {
				if ctx.Err() != nil {
					continue
				}
				if err := tr.Rewatch(ctx); err != nil {
					return sum, err
				}
				continue
			}
			settle(tr.Apply(ev))
			reput(ctx, sub, tr.Reputs())
		case <-tick.C:
			report(false)
		case <-requeue.C:
			if _, err := sub.RequeueLost(ctx, tr.Queued(), time.Minute, opts.OnBadRow); err != nil && ctx.Err() == nil {
				opts.Log.Warn("could not requeue a file whose work was lost", "err", err)
			}
		}
	}
	sum.NotSubmitted = len(cands) - handled
	if opts.Table != nil {
		checkTable(ctx, *opts.Table, already, &sum, opts.Log)
	}
	sum.Elapsed = time.Since(start)
	report(true)
	return sum, nil
}

// checkTable moves the files of series whose rows are gone from the table
// out of sum.Already into sum.Missing. A check that cannot be made is noted
// in sum.Unchecked, not an error: the load itself went through.
func checkTable(ctx context.Context, c TableCheck, already []ingested, sum *Summary, log *slog.Logger) {
	missing, err := c.missingRows(ctx, already)
	if err != nil {
		sum.Unchecked = err.Error()
		log.Warn("could not check that the files already ingested still have their rows in the table", "table", c.Table, "err", err)
		return
	}
	sum.Missing = missing
	for _, m := range missing {
		sum.Already -= len(m.Files)
	}
}

// Reason is why the ledger entry settled as it did.
func Reason(e contract.LedgerEntry) string {
	if e.Reason != "" {
		return e.Reason
	}
	return "no reason recorded"
}
