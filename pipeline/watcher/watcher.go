// Package watcher is the ingest stage's front door: it watches a folder for
// Kraken OHLCVT CSVs (and zips of them), stores each settled file in
// JetStream, queues it for the parsers, and moves it to done/ only once the
// ledger says every candle of it is committed in QuestDB (to rejected/ with
// a reason otherwise). Scan and ingest.Submitter are the same steps for `fff ingest`.
package watcher

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/ingest"
	"github.com/feefifofunds/feefifofunds/pipeline/ledger"
	"github.com/feefifofunds/feefifofunds/pipeline/metrics"
)

// DefaultSettle is how long a file must stay unchanged before it is taken.
// It is short because it need not be safe on its own: a file that changes
// while it is read is noticed (its bytes are hashed as they are stored, and
// checked against the file again) and taken again once it is quiet. It was
// 2 s, most of what a user waited for a small file to be queryable.
const DefaultSettle = 250 * time.Millisecond

// Config configures the watcher.
type Config struct {
	JS      jetstream.JetStream // required; the caller ensured the topology
	Log     *slog.Logger
	Metrics *metrics.Registry

	Inbox    string // folder watched (not recursively)
	Done     string // default Inbox/ingested
	Rejected string // default Inbox/rejected

	Tiers     []string // only these tiers of the pair's base asset (empty: all)
	Intervals []int    // only these intervals in minutes (empty: all)

	// Settle is how long a file's size and modification time must stay the
	// same before it is taken (default 250ms).
	Settle time.Duration
	// Force ingests again content the ledger already has, as a new run
	// (see ingest.SubmitOptions.Force).
	Force bool
	// OnBadRow is passed to the parsers: "skip" (default) or "reject-file".
	OnBadRow string
	// NoLedgerKeeper: do not run the ledger keeper in this process (another
	// process, e.g. `fff up`, runs one). By default the watcher runs it,
	// since without a keeper no file ever leaves the inbox.
	NoLedgerKeeper bool
	// Workers hash and store files in parallel (default 2).
	Workers int
	// Rescan lists the inbox this often as a safety net for missed
	// notifications (default 30s).
	Rescan time.Duration
	// RequeueAfter: a waited-for file whose entry stayed QUEUED this long
	// while the FILES stream is empty has lost its work message (a crash
	// between the ledger write and the publish); it is published again
	// (default 1m). See ingest.Submitter.RequeueLost.
	RequeueAfter time.Duration
}

func (cfg *Config) defaults() error {
	if cfg.Inbox == "" {
		return errors.New("watcher: an inbox folder is required (--inbox)")
	}
	var err error
	if cfg.Inbox, err = filepath.Abs(cfg.Inbox); err != nil {
		return fmt.Errorf("inbox %s: %w", cfg.Inbox, err)
	}
	fi, err := os.Stat(cfg.Inbox)
	if err != nil {
		return fmt.Errorf("inbox: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("inbox %s is not a folder", cfg.Inbox)
	}
	if cfg.Done == "" {
		cfg.Done = filepath.Join(cfg.Inbox, "ingested")
	}
	if cfg.Rejected == "" {
		cfg.Rejected = filepath.Join(cfg.Inbox, "rejected")
	}
	if cfg.Done, err = filepath.Abs(cfg.Done); err != nil {
		return err
	}
	if cfg.Rejected, err = filepath.Abs(cfg.Rejected); err != nil {
		return err
	}
	if cfg.Done == cfg.Inbox || cfg.Rejected == cfg.Inbox {
		return fmt.Errorf("the done and rejected folders must differ from the inbox %s", cfg.Inbox)
	}
	for _, d := range []string{cfg.Done, cfg.Rejected} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	switch cfg.OnBadRow {
	case "", "skip", "reject-file":
	default:
		return fmt.Errorf("--on-bad-row %q: want skip or reject-file", cfg.OnBadRow)
	}
	if cfg.Settle <= 0 {
		cfg.Settle = DefaultSettle
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.RequeueAfter <= 0 {
		cfg.RequeueAfter = time.Minute
	}
	if cfg.Rescan <= 0 {
		cfg.Rescan = 30 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.Default
	}
	return nil
}

// Run watches the inbox until ctx ends, then returns nil.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.defaults(); err != nil {
		return err
	}
	filters, err := ingest.NewFilters(cfg.Tiers, cfg.Intervals)
	if err != nil {
		return err
	}
	log := cfg.Log.With("stage", "watcher")

	js := cfg.JS
	if js == nil {
		return errors.New("watcher: Config.JS is required")
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()

	sub, err := ingest.NewSubmitter(ctx, js, log)
	if err != nil {
		return err
	}
	if len(filters.Tiers) > 0 {
		if filters.TierOf, err = liveTiers(ctx, js, log); err != nil {
			return err
		}
	}
	keeperErr := make(chan error, 1)
	if !cfg.NoLedgerKeeper {
		wg.Add(1)
		go func() {
			defer wg.Done()
			keeperErr <- ledger.Run(ctx, ledger.Config{JS: js, Log: cfg.Log, Metrics: cfg.Metrics})
		}()
	}
	// The watch starts before anything is submitted, so no state change of
	// a file we wait for can slip by.
	tr, err := ingest.NewTracker[*item](ctx, sub.Ledger())
	if err != nil {
		return err
	}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch %s: %w", cfg.Inbox, err)
	}
	defer fsw.Close()
	if err := fsw.Add(cfg.Inbox); err != nil {
		return fmt.Errorf("watch %s: %w", cfg.Inbox, err)
	}

	w := &run{
		cfg: cfg, filters: filters, log: log, sub: sub, tr: tr,
		obs:     map[string]*observation{},
		handled: map[string]handledKind{},
		notes:   map[string]string{},
		dirs:    map[string]bool{},
		jobs:    make(chan job),
		results: make(chan result),
		m:       newCounters(cfg.Metrics),
	}
	for range cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.worker(ctx)
		}()
	}
	log.Info("watching", "inbox", cfg.Inbox, "done", cfg.Done, "rejected", cfg.Rejected,
		"filters", filters.String(), "settle", cfg.Settle, "force", cfg.Force)
	w.rescan()

	tick := time.NewTicker(max(min(cfg.Settle/4, time.Second), 20*time.Millisecond))
	defer tick.Stop()
	rescan := time.NewTicker(cfg.Rescan)
	defer rescan.Stop()
	requeue := time.NewTicker(max(cfg.RequeueAfter/2, 10*time.Millisecond))
	defer requeue.Stop()
	for {
		var jobs chan job
		var next job
		if len(w.queue) > 0 {
			jobs, next = w.jobs, w.queue[0]
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-keeperErr:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("ledger keeper: %w", err)
		case jobs <- next:
			w.queue = w.queue[1:]
		case r := <-w.results:
			w.result(ctx, r)
		case ev, ok := <-tr.Events():
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				log.Warn("ledger watch ended; starting it again")
				if err := tr.Rewatch(ctx); err != nil {
					return err
				}
				continue
			}
			w.settleAll(tr.Apply(ev))
			w.queueReputs()
		case ev, ok := <-fsw.Events:
			if !ok {
				return nil
			}
			w.fsEvent(ev)
		case err, ok := <-fsw.Errors:
			if !ok {
				return nil
			}
			log.Warn("file notifications", "err", err)
			w.rescan() // events may have been lost (overflow)
		case <-tick.C:
			w.checkSettled()
		case <-rescan.C:
			w.rescan()
		case <-requeue.C:
			w.requeueLost(ctx)
		}
	}
}

// observation tracks a file until it has stopped changing.
type observation struct {
	size      int64
	mtime     time.Time
	since     time.Time // last change seen
	notBefore time.Time // retry delay after a failed attempt
}

type handledKind int

const (
	handledWaiting  handledKind = iota + 1 // submitted, waiting for the ledger
	handledFiltered                        // outside the filters, stays
	handledBusy                            // being hashed and stored
)

// item is a file (or zip member) waiting for its ledger entry to settle.
type item struct {
	path   string
	fi     fs.FileInfo      // to check the path still is that file when moving
	cand   ingest.Candidate // to put its bytes again when the parser asks
	zip    *zipTrack
	member *memberState
}

type zipTrack struct {
	path    string
	fi      fs.FileInfo
	members []*memberState
	skipped []ingest.Skipped
	pending int
}

type memberState struct {
	name    string
	entry   contract.LedgerEntry
	settled bool
	note    string
}

type job struct {
	path string
	fi   fs.FileInfo
	cand ingest.Candidate
	zip  bool
	// reput, when set, puts cand's bytes again for this entry (no result).
	reput *contract.LedgerEntry
}

type result struct {
	job
	sub ingest.Submission
	err error
	// zips
	members []memberResult
	skipped []ingest.Skipped
}

type memberResult struct {
	cand ingest.Candidate
	sub  ingest.Submission
}

type run struct {
	cfg     Config
	filters ingest.Filters
	log     *slog.Logger
	sub     *ingest.Submitter
	tr      *ingest.Tracker[*item]
	obs     map[string]*observation
	handled map[string]handledKind
	queue   []job
	notes   map[string]string // by path: an earlier content replaced while in flight
	dirs    map[string]bool   // sub-folders already logged as not read
	jobs    chan job
	results chan result
	m       counters
}

type counters struct {
	seen, accepted, rejected, done, filtered, bytes, waiting *metrics.Value
}

func newCounters(r *metrics.Registry) counters {
	return counters{
		seen:     r.Counter("fff_watcher_files_seen_total", "Files the watcher looked at after they settled"),
		accepted: r.Counter("fff_watcher_files_accepted_total", "Files (and zip members) stored and queued for the parsers"),
		rejected: r.Counter("fff_watcher_files_rejected_total", "Files moved to the rejected folder"),
		done:     r.Counter("fff_watcher_files_done_total", "Files moved to the done folder"),
		filtered: r.Counter("fff_watcher_files_filtered_total", "Files left in the inbox by the tier/interval filters"),
		bytes:    r.Counter("fff_watcher_bytes_accepted_total", "Bytes of files stored and queued"),
		waiting:  r.Gauge("fff_watcher_files_waiting", "Files in the inbox waiting for their rows to be committed"),
	}
}

func (w *run) fsEvent(ev fsnotify.Event) {
	if filepath.Dir(ev.Name) != w.cfg.Inbox {
		return
	}
	switch {
	case ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename):
		delete(w.obs, ev.Name)
		delete(w.dirs, ev.Name)
		if w.handled[ev.Name] == handledFiltered {
			delete(w.handled, ev.Name)
		}
	default:
		w.observe(ev.Name)
	}
}

// observe starts tracking a path until it settles.
func (w *run) observe(path string) {
	if _, ok := w.handled[path]; ok {
		return
	}
	if ingest.Ignored(path) {
		return
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return
	}
	if fi.IsDir() {
		w.subFolder(path)
		return
	}
	if o, ok := w.obs[path]; ok {
		if o.size != fi.Size() || !o.mtime.Equal(fi.ModTime()) {
			o.size, o.mtime, o.since = fi.Size(), fi.ModTime(), time.Now()
		}
		return
	}
	w.obs[path] = &observation{size: fi.Size(), mtime: fi.ModTime(), since: time.Now()}
}

func (w *run) rescan() {
	entries, err := os.ReadDir(w.cfg.Inbox)
	if err != nil {
		w.log.Error("list inbox", "inbox", w.cfg.Inbox, "err", err)
		return
	}
	present := map[string]bool{}
	for _, de := range entries {
		p := filepath.Join(w.cfg.Inbox, de.Name())
		present[p] = true
		w.observe(p)
	}
	for p, k := range w.handled {
		if k == handledFiltered && !present[p] {
			delete(w.handled, p)
		}
	}
}

// subFolder says once per folder that it is not read: files dropped in a
// folder would otherwise wait there without a word.
func (w *run) subFolder(path string) {
	if w.dirs[path] || path == w.cfg.Done || path == w.cfg.Rejected {
		return
	}
	w.dirs[path] = true
	w.log.Warn("sub-folders are not read: move the files themselves into the inbox", "folder", filepath.Base(path), "inbox", w.cfg.Inbox)
}

// checkSettled takes the files that have not changed for Settle.
func (w *run) checkSettled() {
	now := time.Now()
	var ready []string
	for path, o := range w.obs {
		fi, err := os.Lstat(path)
		if err != nil {
			delete(w.obs, path)
			continue
		}
		if fi.Size() != o.size || !fi.ModTime().Equal(o.mtime) {
			o.size, o.mtime, o.since = fi.Size(), fi.ModTime(), now
			continue
		}
		if now.Sub(o.since) >= w.cfg.Settle && !now.Before(o.notBefore) {
			ready = append(ready, path)
		}
	}
	sort.Strings(ready)
	for _, path := range ready {
		delete(w.obs, path)
		w.take(path)
	}
}

// take decides about a settled file.
func (w *run) take(path string) {
	fi, err := os.Lstat(path)
	if err != nil {
		return
	}
	w.m.seen.Inc()
	if fi.Mode().IsRegular() && ingest.IsZip(fi.Name()) {
		w.handled[path] = handledBusy
		w.queue = append(w.queue, job{path: path, fi: fi, zip: true})
		return
	}
	c, skip, ignored := ingest.JudgeFile(path, fi, w.filters)
	switch {
	case ignored:
	case skip != nil && skip.Kind == ingest.SkipFiltered:
		w.handled[path] = handledFiltered
		w.m.filtered.Inc()
		w.log.Info("left in the inbox: outside the filters", "file", fi.Name(), "why", skip.Reason)
	case skip != nil:
		w.reject(path, fi, skip.Reason, nil)
	default:
		w.handled[path] = handledBusy
		w.queue = append(w.queue, job{path: path, fi: fi, cand: c})
	}
}

func (w *run) worker(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-w.jobs:
			if j.reput != nil {
				w.sub.AnswerReput(ctx, j.cand, *j.reput)
				continue
			}
			r := result{job: j}
			opts := ingest.SubmitOptions{Force: w.cfg.Force, OnBadRow: w.cfg.OnBadRow}
			if j.zip {
				r.members, r.skipped, r.err = w.submitZip(ctx, j.path, opts)
			} else {
				r.sub, r.err = w.sub.Submit(ctx, j.cand, opts)
			}
			select {
			case w.results <- r:
			case <-ctx.Done():
				return
			}
		}
	}
}

func (w *run) submitZip(ctx context.Context, path string, opts ingest.SubmitOptions) ([]memberResult, []ingest.Skipped, error) {
	cands, skipped, err := ingest.ZipMembers(path, w.filters)
	if err != nil {
		return nil, nil, err
	}
	var out []memberResult
	// Members go in groups, stored then queued together, as a bulk load
	// does: the parsers read a group side by side in time.
	for lo := 0; lo < len(cands); lo += ingest.DefaultGroup {
		group := cands[lo:min(lo+ingest.DefaultGroup, len(cands))]
		subs, errs := w.sub.SubmitGroup(ctx, group, opts)
		for i, c := range group {
			err := errs[i]
			var fe *ingest.FileError
			if errors.As(err, &fe) {
				skipped = append(skipped, ingest.Skipped{Path: path, Member: c.Member, Name: c.Name, Kind: ingest.SkipRejected, Reason: err.Error()})
				continue
			}
			if err != nil {
				return nil, nil, err
			}
			out = append(out, memberResult{cand: c, sub: subs[i]})
		}
	}
	return out, skipped, nil
}

// result registers what a worker did.
func (w *run) result(ctx context.Context, r result) {
	if r.err != nil {
		if ctx.Err() != nil {
			return
		}
		var fe *ingest.FileError
		if errors.As(r.err, &fe) {
			w.reject(r.path, r.fi, r.err.Error(), nil)
			return
		}
		retry := time.Now().Add(max(5*time.Second, w.cfg.Settle))
		w.log.Warn("could not queue the file; will try again", "file", filepath.Base(r.path), "at", retry.Format(time.RFC3339), "err", r.err)
		delete(w.handled, r.path)
		w.obs[r.path] = &observation{size: -1, since: time.Now(), notBefore: retry}
		return
	}
	if r.zip {
		w.zipResult(r)
		return
	}
	w.handled[r.path] = handledWaiting
	name := filepath.Base(r.path)
	switch r.sub.Outcome {
	case ingest.Queued:
		w.m.accepted.Inc()
		w.m.bytes.Add(float64(r.sub.Entry.Size))
		w.log.Info("queued", "file", name, "file_id", ingest.ShortID(r.sub.Entry.FileID), "bytes", r.sub.Entry.Size)
	case ingest.InFlight:
		w.log.Info("same content already in flight; waiting for it", "file", name, "file_id", ingest.ShortID(r.sub.Entry.FileID), "state", r.sub.Entry.State)
	case ingest.Settled:
		if !sameDrop(r.path, r.fi, r.sub.Entry) {
			w.settledBefore(r.path, r.fi, r.sub.Entry)
			return
		}
		// Settled while this watcher was down: finish normally.
	}
	w.wait(r.sub, &item{path: r.path, fi: r.fi, cand: r.cand})
}

// sameDrop tells the file the entry was made for, still in the inbox after
// a restart, from the same content dropped again: same path and not
// modified since the entry was made.
func sameDrop(path string, fi fs.FileInfo, e contract.LedgerEntry) bool {
	return e.Path == path && fi != nil && !fi.ModTime().After(e.Created)
}

// settledBefore handles a file whose content the ledger settled earlier.
func (w *run) settledBefore(path string, fi fs.FileInfo, e contract.LedgerEntry) {
	name := filepath.Base(path)
	if e.State == contract.FileCommitted {
		w.log.Info("already ingested; not ingested again", "file", name, "file_id", ingest.ShortID(e.FileID), "rows", e.RowsCommitted)
		w.moveDone(path, fi, alreadyReport(name, e))
		return
	}
	reason := fmt.Sprintf("the same content was %s on %s: %s (drop it with --force to try again)",
		strings.ToLower(e.State), e.Updated.UTC().Format(timeFmt), entryReason(e))
	w.reject(path, fi, reason, &e)
}

func (w *run) zipResult(r result) {
	z := &zipTrack{path: r.path, fi: r.fi, skipped: r.skipped}
	name := filepath.Base(r.path)
	if len(r.members) == 0 {
		w.reject(r.path, r.fi, "no member of the zip was accepted", nil, zipReport(z)...)
		return
	}
	w.handled[r.path] = handledWaiting
	w.log.Info("zip queued", "file", name, "members", len(r.members), "skipped", len(r.skipped))
	for _, s := range r.skipped {
		w.log.Info("zip member not ingested", "file", name, "member", s.Member, "kind", s.Kind, "why", s.Reason)
	}
	type waited struct {
		sub ingest.Submission
		it  *item
	}
	var items []waited
	for _, mr := range r.members {
		ms := &memberState{name: mr.cand.Name, entry: mr.sub.Entry}
		z.members = append(z.members, ms)
		switch mr.sub.Outcome {
		case ingest.Queued:
			w.m.accepted.Inc()
			w.m.bytes.Add(float64(mr.sub.Entry.Size))
		case ingest.Settled:
			if !sameDrop(r.path, r.fi, mr.sub.Entry) {
				ms.settled = true
				ms.note = "already ingested before as " + mr.sub.Entry.Name
				continue
			}
		}
		z.pending++
		items = append(items, waited{mr.sub, &item{path: r.path, cand: mr.cand, zip: z, member: ms}})
	}
	if z.pending == 0 {
		w.finishZip(z)
		return
	}
	for _, it := range items {
		w.wait(it.sub, it.it)
	}
}

// requeueLost publishes again the work of waited-for files left QUEUED
// without it.
func (w *run) requeueLost(ctx context.Context) {
	ids := w.tr.Queued()
	if len(ids) == 0 {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := w.sub.RequeueLost(rctx, ids, w.cfg.RequeueAfter, w.cfg.OnBadRow); err != nil && ctx.Err() == nil {
		w.log.Warn("could not requeue a file whose work was lost", "err", err)
	}
}

// wait tracks a submitted item until its ledger entry settles.
func (w *run) wait(sub ingest.Submission, it *item) {
	ss := w.tr.Track(context.Background(), sub.Entry, sub.Revision, it)
	w.m.waiting.Set(float64(w.tr.Waiting()))
	w.settleAll(ss)
	w.queueReputs()
}

func (w *run) settleAll(ss []ingest.Settlement[*item]) {
	for _, s := range ss {
		w.settle(s.Ref, s.Entry)
	}
	if len(ss) > 0 {
		w.m.waiting.Set(float64(w.tr.Waiting()))
	}
}

func (w *run) settle(it *item, e contract.LedgerEntry) {
	if it.zip != nil {
		it.member.entry, it.member.settled = e, true
		it.zip.pending--
		if it.zip.pending == 0 {
			w.finishZip(it.zip)
		}
		return
	}
	name := filepath.Base(it.path)
	if replaced(it.path, it.fi) {
		w.retake(it.path, entryOutcome(e))
		return
	}
	switch e.State {
	case contract.FileCommitted:
		w.log.Info("committed", "file", name, "rows", e.RowsCommitted, "rows_rejected", e.RowsRejected)
		report := ""
		if e.RowsRejected > 0 {
			report = committedReport(e)
		}
		w.moveDone(it.path, it.fi, report)
	default:
		w.reject(it.path, it.fi, entryReason(e), &e)
	}
}

func (w *run) finishZip(z *zipTrack) {
	if replaced(z.path, z.fi) {
		w.retake(z.path, zipOutcome(z))
		return
	}
	committed := 0
	for _, m := range z.members {
		if m.entry.State == contract.FileCommitted {
			committed++
		}
	}
	if committed == 0 {
		w.reject(z.path, z.fi, "no member of the zip was committed", nil, zipReport(z)...)
		return
	}
	w.log.Info("zip done", "file", filepath.Base(z.path), "members", len(z.members), "committed", committed)
	w.moveDone(z.path, z.fi, strings.Join(zipReport(z), ""))
}

// zipReport lists every member of a zip and what became of it.
func zipReport(z *zipTrack) []string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d member(s) accepted, %d skipped\n\n", filepath.Base(z.path), len(z.members), len(z.skipped))
	for _, m := range z.members {
		fmt.Fprintf(&b, "  %-40s %-9s rows committed %d, rejected %d", m.name, m.entry.State, m.entry.RowsCommitted, m.entry.RowsRejected)
		if m.entry.Reason != "" && m.entry.State != contract.FileCommitted {
			fmt.Fprintf(&b, " (%s)", m.entry.Reason)
		}
		if m.note != "" {
			fmt.Fprintf(&b, " (%s)", m.note)
		}
		b.WriteString("\n")
	}
	for _, s := range z.skipped {
		kind := "SKIPPED"
		if s.Kind == ingest.SkipFiltered {
			kind = "FILTERED"
		}
		fmt.Fprintf(&b, "  %-40s %-9s %s\n", s.Name, kind, s.Reason)
	}
	for _, m := range z.members {
		if len(m.entry.Errors) > 0 {
			fmt.Fprintf(&b, "\n%s:", m.name)
			badRows(&b, m.entry)
		}
	}
	return []string{b.String()}
}

// stillThere says whether path is still the file that was taken.
func stillThere(path string, fi fs.FileInfo) bool {
	now, err := os.Lstat(path)
	if err != nil {
		return false
	}
	return fi == nil || os.SameFile(fi, now)
}

func (w *run) moveDone(path string, fi fs.FileInfo, report string) {
	defer delete(w.handled, path)
	if !stillThere(path, fi) {
		w.log.Warn("file left the inbox before it could be moved", "file", filepath.Base(path))
		return
	}
	to, err := moveInto(w.cfg.Done, path)
	if err != nil {
		w.log.Error("move to done", "file", path, "err", err)
		return
	}
	w.m.done.Inc()
	if n := w.takeNote(path); n != "" {
		report = n + "\n" + report
	}
	if report != "" {
		if _, err := writeNote(to+".report.txt", report); err != nil {
			w.log.Error("write report", "file", to, "err", err)
		}
	}
}

// reject moves a file to the rejected folder with a reason beside it.
// extra replaces the standard reason note (zips).
func (w *run) reject(path string, fi fs.FileInfo, reason string, e *contract.LedgerEntry, extra ...string) {
	defer delete(w.handled, path)
	name := filepath.Base(path)
	w.log.Warn("rejected", "file", name, "reason", reason)
	if !stillThere(path, fi) {
		return
	}
	to, err := moveInto(w.cfg.Rejected, path)
	if err != nil {
		w.log.Error("move to rejected", "file", path, "err", err)
		return
	}
	w.m.rejected.Inc()
	note := reasonNote(name, reason, e)
	if len(extra) > 0 {
		note = name + ": rejected: " + reason + "\n\n" + strings.Join(extra, "")
	}
	if n := w.takeNote(path); n != "" {
		note += "\n" + n
	}
	if _, err := writeNote(to+".reason.txt", note); err != nil {
		w.log.Error("write reason", "file", to, "err", err)
	}
}
