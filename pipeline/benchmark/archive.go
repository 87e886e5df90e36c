package benchmark

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/ingest"
	"github.com/feefifofunds/feefifofunds/pipeline/ledger"
	"github.com/feefifofunds/feefifofunds/pipeline/local"
	"github.com/feefifofunds/feefifofunds/pipeline/parser"
	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
	"github.com/feefifofunds/feefifofunds/pipeline/watcher"
	"github.com/feefifofunds/feefifofunds/pipeline/writer"
)

// ArchiveSettle is the watcher's settle delay in the archive step: the
// zip is renamed into the inbox whole, so the default 2 s would only add
// a constant wait to the figure.
const ArchiveSettle = 250 * time.Millisecond

// smallArchiveName is the zip of the archive's small members alone.
const smallArchiveName = "Kraken_OHLCVT_small.zip"

// ArchiveResult is the archive step (--json "archive").
type ArchiveResult struct {
	Zip           string  `json:"zip"`
	Members       int     `json:"members"`
	Pairs         int     `json:"pairs"`
	Intervals     []int   `json:"intervals"`
	Rows          int64   `json:"rows"`
	CSVBytes      int64   `json:"csv_bytes"`
	ZipBytes      int64   `json:"zip_bytes"`
	LargestMember string  `json:"largest_member"`
	LargestRows   int64   `json:"largest_member_rows"`
	SmallFiles    int     `json:"small_files"` // members under SmallFileRows rows
	SmallRows     int64   `json:"small_files_rows"`
	GenSecs       float64 `json:"generate_seconds"`

	// The load: the zip renamed into the inbox of the embedded pipeline
	// (watcher, ledger keeper, parsers, writers; local.Start) writing into a
	// fresh table. Nil with --skip-questdb.
	Load *ArchiveLoad `json:"load,omitempty"`
	// Small is the same for a zip of only the members under SmallFileRows
	// rows (the same bytes), into another fresh table: its FilesPerSec is
	// the small-file figure.
	Small *ArchiveLoad `json:"small_files_load,omitempty"`
	// Stages: peak RSS of each stage as its own process on the whole
	// archive (watcher: submit every member; parser; writer into the null
	// ILP sink), one after the other.
	Stages []StageRSS `json:"stages,omitempty"`
}

// ArchiveLoad is the timed drop of the archive into the watcher's inbox.
type ArchiveLoad struct {
	Zip     string `json:"zip"`
	Members int    `json:"members"`
	Rows    int64  `json:"rows"`
	Table   string `json:"table"`
	Settle  string `json:"watcher_settle"`
	// MovedSecs: from the rename into the inbox until the watcher moved the
	// zip to ingested/ (every member COMMITTED); VisibleSecs: until count()
	// saw every row. The candle rate is on VisibleSecs.
	MovedSecs     float64 `json:"moved_seconds"`
	VisibleSecs   float64 `json:"visible_seconds"`
	CandlesPerSec float64 `json:"candles_per_s"`
	FilesPerSec   float64 `json:"files_per_s"` // members over VisibleSecs
	// LastSmallSecs: from the drop until the last member under
	// SmallFileRows rows was COMMITTED in the ledger.
	LastSmallSecs float64 `json:"last_small_file_seconds"`
	PipelineCPU   float64 `json:"pipeline_cpu_seconds"`
	// QuestDBCPU is the QuestDB process's, whoever else uses it meanwhile.
	QuestDBCPU float64 `json:"questdb_cpu_seconds,omitempty"`
	// ProcessPeakMB is the peak RSS of the process running the load (the
	// embedded server and every stage), reset just before the drop when
	// Linux allows (PeakReset); MemoryLimitMB the soft memory limit it ran
	// under, as `fff up` sets it (0: GOMEMLIMIT's).
	ProcessPeakMB     float64 `json:"process_peak_rss_mb"`
	PeakReset         bool    `json:"process_peak_reset"`
	MemoryLimitMB     float64 `json:"process_memory_limit_mb,omitempty"`
	WriterRedelivered int     `json:"writer_redelivered"`
	ParserRedelivered int     `json:"parser_redelivered"`
}

// archive is step 11.
func (b *bench) archive(ctx context.Context) (*ArchiveResult, error) {
	dir := filepath.Join(b.work, "archive")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	defer os.RemoveAll(dir)
	t0 := time.Now()
	a, err := GenerateArchive(ctx, ArchiveSpec{Path: filepath.Join(dir, ArchiveName), Rows: b.o.ArchiveRows, Seed: b.o.Seed + 2000})
	if err != nil {
		return nil, fmt.Errorf("generate the archive: %w", err)
	}
	res := &ArchiveResult{Zip: ArchiveName, Members: len(a.Members), Pairs: DefaultArchivePairs, Rows: a.Rows,
		CSVBytes: a.Bytes, ZipBytes: a.ZipBytes, GenSecs: time.Since(t0).Seconds()}
	for _, iv := range contract.CSVIntervals {
		res.Intervals = append(res.Intervals, int(iv))
	}
	l := a.Largest()
	res.LargestMember, res.LargestRows = filepath.Base(l.Name), l.Rows
	res.SmallFiles, res.SmallRows = a.Small()
	b.say("11. archive %s: %s members (%d pairs × intervals %s), %s rows, %s of CSV in a %s zip, generated in %.1fs; largest %s (%s rows), %s members under %s rows (%s rows)",
		ArchiveName, thousands(int64(res.Members)), res.Pairs, intList(res.Intervals), thousands(res.Rows), humanBytes(res.CSVBytes), humanBytes(res.ZipBytes),
		res.GenSecs, res.LargestMember, thousands(res.LargestRows), thousands(int64(res.SmallFiles)), thousands(SmallFileRows), thousands(res.SmallRows))

	// Memory first, into the null sink: QuestDB's background work after a
	// big load would slow the stages' JetStream disk writes.
	stages, err := b.archiveStages(ctx, a)
	res.Stages = stages
	if err != nil {
		return res, fmt.Errorf("per-stage memory: %w", err)
	}
	parts := make([]string, 0, len(stages))
	for _, s := range stages {
		parts = append(parts, fmt.Sprintf("%s %.0f MB (%.1fs)%s", s.Stage, s.PeakMB, s.Seconds, below(s.PeakMB <= barRSSMB, fmt.Sprintf("bar %d MB", barRSSMB))))
	}
	b.say("   peak RSS per stage, each its own process on the whole archive (writer into the null sink): %s", strings.Join(parts, ", "))

	if b.o.SkipQuestDB {
		b.say("   dropped into the watcher's inbox: skipped (--skip-questdb)")
		return res, nil
	}
	ld, err := b.archiveLoad(ctx, a)
	if err != nil {
		return res, fmt.Errorf("load: %w", err)
	}
	res.Load = ld
	limit := "GOMEMLIMIT's memory limit"
	if ld.MemoryLimitMB > 0 {
		limit = fmt.Sprintf("memory limit %.0f MB as fff up sets it", ld.MemoryLimitMB)
	}
	since := "since the drop"
	if !ld.PeakReset {
		since = "since the process started (Linux did not let it reset)"
	}
	b.say("   dropped into the watcher's inbox (%s, settle %s): in ingested/ after %.2fs, every row visible by count() in %.2fs: %s candles/s, %.1f files/s (the last small member COMMITTED after %.2fs)",
		ld.Table, ld.Settle, ld.MovedSecs, ld.VisibleSecs, thousands(int64(ld.CandlesPerSec)), ld.FilesPerSec, ld.LastSmallSecs)
	b.say("   peak RSS of this process (embedded server, watcher, keeper, parsers, writers; %s) %s: %.0f MB; CPU: pipeline process %.1fs, QuestDB %.1fs, of %.1fs × %d cores%s",
		limit, since, ld.ProcessPeakMB, ld.PipelineCPU, ld.QuestDBCPU, ld.VisibleSecs, runtime.NumCPU(),
		redeliveries(&PipelineResult{WriterRedelivered: ld.WriterRedelivered, ParserRedelivered: ld.ParserRedelivered}))

	// The small members alone: what a file costs when no big one hides it.
	t0 = time.Now()
	sa, err := GenerateArchive(ctx, ArchiveSpec{Path: filepath.Join(dir, smallArchiveName), Rows: b.o.ArchiveRows, Seed: b.o.Seed + 2000, SmallOnly: true})
	if err != nil {
		return res, fmt.Errorf("generate the small members' archive: %w", err)
	}
	gen := time.Since(t0)
	sl, err := b.archiveLoad(ctx, sa)
	if err != nil {
		return res, fmt.Errorf("load of the small members: %w", err)
	}
	res.Small = sl
	b.say("   the %s members under %s rows alone (%s, %s rows, generated in %.1fs), dropped the same way (%s): every row visible in %.2fs: %.1f files/s, %s candles/s",
		thousands(int64(sl.Members)), thousands(SmallFileRows), smallArchiveName, thousands(sl.Rows), gen.Seconds(), sl.Table, sl.VisibleSecs,
		sl.FilesPerSec, thousands(int64(sl.CandlesPerSec)))
	return res, nil
}

// archiveLoad drops the zip into the inbox of the embedded pipeline the way
// a user does (a rename into the folder `fff up` watches) and times it
// until count() sees every row of a fresh table, which it then checks and
// drops.
func (b *bench) archiveLoad(ctx context.Context, a *Archive) (ld *ArchiveLoad, err error) {
	table := tableName("fff_bench_archive")
	if err := b.createTable(ctx, table, "MONTH"); err != nil {
		return nil, err
	}
	defer b.dropTable(table)
	dir := filepath.Join(filepath.Dir(a.Path), "load-"+table)
	inbox := filepath.Join(dir, "inbox")
	if err := os.MkdirAll(inbox, 0o755); err != nil {
		return nil, fmt.Errorf("inbox: %w", err)
	}
	defer os.RemoveAll(dir)
	name := filepath.Base(a.Path)
	ld = &ArchiveLoad{Zip: name, Members: len(a.Members), Rows: a.Rows, Table: table, Settle: ArchiveSettle.String()}
	o := local.Options{Store: filepath.Join(dir, "store"), Name: "fff-bench-archive", Log: b.stageLog,
		Watcher: &watcher.Config{Inbox: inbox, Settle: ArchiveSettle},
		Parser:  &parser.Config{Workers: b.o.Parsers, AlignWindow: b.o.AlignWindow},
		Writer: &writer.Config{QuestDB: questdb.Config{ILP: b.o.QuestDB.ILP, PG: b.o.QuestDB.PG, Table: table},
			Workers: b.o.Writers, FlushRows: b.o.FlushRows, SummaryEvery: time.Hour,
			ApplyQueue: b.o.ApplyQueue, WithoutPairColumns: b.o.WithoutPairColumns}}
	if _, env := os.LookupEnv("GOMEMLIMIT"); !env {
		limit := local.SoftMemoryLimit(o)
		prev := debug.SetMemoryLimit(limit)
		defer debug.SetMemoryLimit(prev)
		ld.MemoryLimitMB = float64(limit) / (1 << 20)
	}
	// What the earlier steps left on the heap is not the load's.
	runtime.GC()
	debug.FreeOSMemory()
	ld.PeakReset = resetPeakRSS() == nil

	lp, err := local.Start(ctx, o)
	if err != nil {
		return nil, err
	}
	if b.o.CPUProfile != "" && filepath.Base(a.Path) == ArchiveName {
		f, err := os.Create(b.o.CPUProfile + ".archive")
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
		defer pprof.StopCPUProfile()
	}
	defer stopPipeline(lp, &err)
	view, stopView, err := watchLedger(lp.Context(), lp.JS)
	if err != nil {
		return nil, err
	}
	defer stopView()

	cpu0, qcpu0 := selfCPU(), questdbCPU(b.o.QuestDB.ILP)
	start := time.Now()
	if err := os.Rename(a.Path, filepath.Join(inbox, name)); err != nil {
		return nil, fmt.Errorf("drop the archive into the inbox: %w", err)
	}
	if err := waitMoved(ctx, lp, inbox, name); err != nil {
		return nil, err
	}
	moved := time.Since(start)
	n, err := b.countApplied(ctx, table)
	if err != nil {
		return nil, err
	}
	visible := time.Since(start)
	if kb, err := procKB("/proc/self/status", "VmHWM"); err == nil {
		ld.ProcessPeakMB = float64(kb) / 1024
	}
	ld.PipelineCPU = selfCPU() - cpu0
	if qcpu0 >= 0 {
		ld.QuestDBCPU = max(0, questdbCPU(b.o.QuestDB.ILP)-qcpu0)
	}
	ld.WriterRedelivered, ld.ParserRedelivered = redelivered(ctx, lp.JS)
	ld.MovedSecs, ld.VisibleSecs = moved.Seconds(), visible.Seconds()
	ld.CandlesPerSec = float64(n) / visible.Seconds()
	ld.FilesPerSec = float64(len(a.Members)) / visible.Seconds()
	if n != a.Rows {
		return ld, fmt.Errorf("table %s holds %d rows, the archive has %d", table, n, a.Rows)
	}

	// The ledger: every member committed with its rows, and when the last
	// small one was.
	entries, err := view.settled(ctx, len(a.Members), 30*time.Second)
	if err != nil {
		return ld, err
	}
	var committed int64
	var lastSmall time.Time
	for _, e := range entries {
		if e.State != contract.FileCommitted {
			return ld, fmt.Errorf("member %s is %s: %s", e.Name, e.State, e.Reason)
		}
		committed += e.RowsCommitted
		if e.RowsCommitted < SmallFileRows && e.Updated.After(lastSmall) {
			lastSmall = e.Updated
		}
	}
	if committed != a.Rows {
		return ld, fmt.Errorf("the ledger says %d rows committed, the archive has %d", committed, a.Rows)
	}
	if !lastSmall.IsZero() {
		ld.LastSmallSecs = lastSmall.Sub(start).Seconds()
	}
	return ld, nil
}

// waitMoved waits until the watcher moved the zip out of the inbox: into
// ingested/ is done, into rejected/ is an error with the watcher's reason.
func waitMoved(ctx context.Context, lp *local.Pipeline, inbox, name string) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-lp.Done():
			if err := lp.Err(); err != nil {
				return err
			}
			return errors.New("the pipeline stopped before the archive was in")
		case <-tick.C:
		}
		if _, err := os.Stat(filepath.Join(inbox, "ingested", name)); err == nil {
			return nil
		}
		rejected := filepath.Join(inbox, "rejected", name)
		if _, err := os.Stat(rejected); err == nil {
			time.Sleep(100 * time.Millisecond) // the reason is written after the move
			why, _ := os.ReadFile(rejected + ".reason.txt")
			return fmt.Errorf("the watcher rejected the archive: %s", tail(why, 2000))
		}
	}
}

// archiveStages runs each stage as its own process on the whole archive
// (the memory machinery of step 7): the watcher's submit of every member,
// then the parser, then the writer into the null ILP sink.
func (b *bench) archiveStages(ctx context.Context, a *Archive) (stages []StageRSS, err error) {
	dir := filepath.Join(filepath.Dir(a.Path), "stages")
	defer os.RemoveAll(dir)
	lp, err := local.Start(ctx, local.Options{Store: filepath.Join(dir, "store"), Name: "fff-bench-archive-rss", Log: b.stageLog,
		Keeper: &ledger.Config{}})
	if err != nil {
		return nil, err
	}
	defer stopPipeline(lp, &err)
	view, stopView, err := watchLedger(lp.Context(), lp.JS)
	if err != nil {
		return nil, err
	}
	defer stopView()
	sink, err := questdb.StartNullServer()
	if err != nil {
		return nil, err
	}
	defer sink.Close()

	st, out, err := b.stage(ctx, "archive-watcher", []string{"--nats", lp.URL, "--file", a.Path}, nil)
	if err != nil {
		return nil, err
	}
	var sub archiveSubmission
	if err := json.Unmarshal(out, &sub); err != nil || sub.Members != len(a.Members) || sub.Queued != len(a.Members) {
		return nil, fmt.Errorf("watcher stage said %q (want %d members queued): %v", out, len(a.Members), err)
	}
	st.Stage, st.What = "watcher", "hash every member, store it in the object store, queue it"
	stages = append(stages, st)
	until := func(states ...string) func() (bool, error) {
		return func() (bool, error) {
			n, err := view.count(states...)
			return n == len(a.Members), err
		}
	}
	st, _, err = b.stage(ctx, "parser", []string{"--nats", lp.URL}, until(contract.FileParsed, contract.FileCommitted))
	if err != nil {
		return stages, err
	}
	st.What = "read every member from the object store, parse, publish the batches"
	stages = append(stages, st)
	st, _, err = b.stage(ctx, "writer", []string{"--nats", lp.URL, "--questdb", sink.ILP(),
		"--writers", strconv.Itoa(b.o.Writers), "--flush-rows", strconv.Itoa(b.o.FlushRows)}, until(contract.FileCommitted))
	if err != nil {
		return stages, err
	}
	st.What = "consume the batches, send them to the null ILP sink"
	stages = append(stages, st)
	entries, err := view.settled(ctx, len(a.Members), 30*time.Second)
	if err != nil {
		return stages, err
	}
	var rows int64
	for _, e := range entries {
		rows += e.RowsCommitted
	}
	if rows != a.Rows {
		return stages, fmt.Errorf("%d rows committed, the archive has %d", rows, a.Rows)
	}
	return stages, nil
}

type archiveSubmission struct {
	Members int `json:"members"`
	Queued  int `json:"queued"`
}

// SubmitArchive is the archive step's watcher stage (fff bench-stage
// archive-watcher): every member of the zip hashed, stored and queued, one
// after the other, as the watcher does with a zip dropped into its inbox.
// It writes {"members": N, "queued": N} to out.
func SubmitArchive(ctx context.Context, js jetstream.JetStream, path string, out io.Writer) error {
	path, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	sub, err := ingest.NewSubmitter(ctx, js, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	cands, skipped, err := ingest.ZipMembers(path, ingest.Filters{})
	if err != nil {
		return err
	}
	if len(skipped) > 0 {
		return fmt.Errorf("%d member(s) of %s skipped (first: %s: %s)", len(skipped), path, skipped[0].Name, skipped[0].Reason)
	}
	res := archiveSubmission{Members: len(cands)}
	for _, c := range cands {
		s, err := sub.Submit(ctx, c, ingest.SubmitOptions{})
		if err != nil {
			return fmt.Errorf("submit %s: %w", c.Name, err)
		}
		if s.Outcome == ingest.Queued {
			res.Queued++
		}
	}
	return json.NewEncoder(out).Encode(res)
}

// ledgerView follows every LEDGER entry (ledger.Watch) for the steps'
// waits: the last entry of each file, and when each file name was first
// seen in each state (the latency step's phases).
type ledgerView struct {
	mu      sync.Mutex
	entries map[string]contract.LedgerEntry
	at      map[string]map[string]time.Time // name → state → first seen
	done    chan struct{}                   // closed when the watch ended
}

// watchLedger starts the view; stop ends its goroutine and waits for it.
func watchLedger(ctx context.Context, js jetstream.JetStream) (v *ledgerView, stop func(), err error) {
	led, err := ledger.Open(ctx, js)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	events, err := led.Watch(ctx)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	v = &ledgerView{entries: map[string]contract.LedgerEntry{}, at: map[string]map[string]time.Time{}, done: make(chan struct{})}
	go func() {
		defer close(v.done)
		for ev := range events {
			now := time.Now()
			v.mu.Lock()
			v.entries[ev.Entry.FileID] = ev.Entry
			m := v.at[ev.Entry.Name]
			if m == nil {
				m = map[string]time.Time{}
				v.at[ev.Entry.Name] = m
			}
			if _, ok := m[ev.Entry.State]; !ok {
				m[ev.Entry.State] = now
			}
			v.mu.Unlock()
		}
	}()
	return v, func() { cancel(); <-v.done }, nil
}

// times is when the file name was first seen in each state.
func (v *ledgerView) times(name string) map[string]time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return maps.Clone(v.at[name])
}

// count is how many entries are in one of states; an error when one was
// REJECTED or FAILED, or when the watch ended.
func (v *ledgerView) count(states ...string) (int, error) {
	select {
	case <-v.done:
		return 0, errors.New("the ledger watch ended")
	default:
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	n := 0
	for _, e := range v.entries {
		switch {
		case e.State == contract.FileRejected || e.State == contract.FileFailed:
			return n, fmt.Errorf("member %s is %s: %s", e.Name, e.State, e.Reason)
		case containsString(states, e.State):
			n++
		}
	}
	return n, nil
}

// settled waits (at most wait) until the view has want entries, each
// COMMITTED, REJECTED or FAILED, and returns them.
func (v *ledgerView) settled(ctx context.Context, want int, wait time.Duration) ([]contract.LedgerEntry, error) {
	deadline := time.Now().Add(wait)
	for {
		v.mu.Lock()
		var out []contract.LedgerEntry
		for _, e := range v.entries {
			if ledger.Terminal(e.State) {
				out = append(out, e)
			}
		}
		have := len(v.entries)
		v.mu.Unlock()
		if len(out) == want {
			return out, nil
		}
		if time.Now().After(deadline) {
			return out, fmt.Errorf("the ledger has %d entries, %d settled, want %d settled", have, len(out), want)
		}
		select {
		case <-ctx.Done():
			return out, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// redelivered counts the writer's and parser's redeliveries (see runPipeline).
func redelivered(ctx context.Context, js jetstream.JetStream) (writerN, parserN int) {
	count := func(stream, name string) int {
		cons, err := js.Consumer(ctx, stream, name)
		if err != nil {
			return 0
		}
		info, err := cons.Info(ctx)
		if err != nil {
			return 0
		}
		return int(info.Delivered.Consumer) - int(info.Delivered.Stream)
	}
	return count(topology.StreamCandles, topology.ConsumerWriter), count(topology.StreamFiles, topology.ConsumerParser)
}

// resetPeakRSS resets this process's VmHWM to its current RSS (Linux:
// "5" into /proc/self/clear_refs).
func resetPeakRSS() error {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

func intList(ns []int) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ", ")
}

// archiveBars are the archive step's bars: peak RSS of each stage.
func archiveBars(rep *Report) []Bar {
	if rep.Archive == nil {
		return nil
	}
	var out []Bar
	for _, s := range rep.Archive.Stages {
		out = append(out, Bar{"archive: peak RSS " + s.Stage, s.PeakMB, "MB", "≤ 200", s.PeakMB <= barRSSMB})
	}
	return out
}

// archiveSummary adds the archive's figures without a bar to the summary.
func archiveSummary(rep *Report, row func(name, val, bar, verdict string)) {
	if rep.Archive == nil {
		return
	}
	if ld := rep.Archive.Load; ld != nil {
		row("archive: drop to queryable", fmt.Sprintf("%.1f s", ld.VisibleSecs), "", "")
		row("archive: end to end", thousands(int64(ld.CandlesPerSec))+" c/s", "", "")
		row("archive: peak RSS, one process", fmt.Sprintf("%.0f MB", ld.ProcessPeakMB), "", "")
	}
	if sl := rep.Archive.Small; sl != nil {
		row(fmt.Sprintf("archive: files < %s rows", thousands(SmallFileRows)), fmt.Sprintf("%.1f files/s", sl.FilesPerSec), "", "")
	}
}
