package benchmark

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/feefifofunds/feefifofunds/pipeline/parser"
	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
	"github.com/feefifofunds/feefifofunds/pipeline/redact"
	"github.com/feefifofunds/feefifofunds/pipeline/writer"
)

// Options configure a benchmark run.
type Options struct {
	// QuestDB is where the end-to-end and /imp steps write (ILP and PG; the
	// tables are the benchmark's own).
	QuestDB     questdb.Config
	Rows        int64  // rows in the generated set
	Files       int    // files the rows are split over (one pair each)
	Dir         string // parent of the work folder ("": a temp folder); the work folder is removed afterwards
	RSSFileSize int64  // size of the file each stage's memory is measured on (0: skip that step)
	SkipQuestDB bool   // skip the steps that need QuestDB (end to end, /imp)
	// CPUProfile is where the CPU profile of the end-to-end run goes
	// (CPUProfile.null for the null-sink run; "": none).
	CPUProfile        string
	Parsers           int
	Writers           int
	FlushRows         int
	ComparePartitions bool // also run end to end into a PARTITION BY DAY table
	// Writer levers (writer.Config): ApplyQueue and
	// WithoutPairColumns, to measure each against the defaults.
	ApplyQueue         int
	WithoutPairColumns bool
	// AlignWindow is the parsers' (parser.Config.AlignWindow; 0: default).
	AlignWindow time.Duration
	// QuestDBMetrics is QuestDB's Prometheus endpoint (default: port 9003 of
	// the ILP host), read for the write amplification of each load.
	QuestDBMetrics string
	Seed           uint64
	// Out gets one line per step and the summary (nil: discarded).
	Out io.Writer
	// StageLog is the stages' logger (nil: warnings to stderr).
	StageLog *slog.Logger
	// Executable is the binary whose hidden bench-stage command runs one
	// stage for the memory step (default: this process's; see RunStage).
	Executable string
	// ArchiveRows is the size of the generated Kraken_OHLCVT.zip of step 8
	// (0: skip that step; see archive.go).
	ArchiveRows int64
	// Continuous mode (steps 8–10, continuous.go): files dropped one by one
	// (0: skip), the watcher's settle delay (0: its default), candles in the
	// gap scan's table (0: skip), and whether to skip the replay.
	LatencyFiles  int
	LatencySettle time.Duration
	GapScanRows   int64
	SkipReplay    bool
}

// QuestDBError is a failure to reach QuestDB before the first step: the
// caller may suggest skipping the QuestDB steps.
type QuestDBError struct{ Err error }

func (e *QuestDBError) Error() string { return e.Err.Error() }
func (e *QuestDBError) Unwrap() error { return e.Err }

// bench carries one run's state.
type bench struct {
	o        Options
	out      io.Writer // step lines
	rep      *Report
	stageLog *slog.Logger
	self     string
	work     string
	pool     *pgxpool.Pool
	httpBase string
}

func (b *bench) say(format string, args ...any) {
	fmt.Fprintf(b.out, format+"\n", args...)
}

// Run generates the set and measures every step, printing a line per step
// to o.Out and a summary with the bars. A figure below its bar is marked in
// the report, not an error; the error says which steps failed. The report
// is returned with what was measured, also on error (unless the options are
// wrong).
func Run(ctx context.Context, o Options) (*Report, error) {
	start := time.Now()
	if o.Files <= 0 || o.Rows < int64(o.Files) {
		return nil, fmt.Errorf("%d rows over %d files: want at least one row per file", o.Rows, o.Files)
	}
	rssSize := o.RSSFileSize
	b := &bench{o: o, out: o.Out, stageLog: o.StageLog, self: o.Executable}
	if b.out == nil {
		b.out = io.Discard
	}
	if b.stageLog == nil {
		b.stageLog = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if b.self == "" {
		var err error
		if b.self, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("benchmark executable: %w", err)
		}
	}
	if o.Dir != "" {
		if err := os.MkdirAll(o.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("benchmark work folder: %w", err)
		}
	}
	work, err := os.MkdirTemp(o.Dir, "fff-bench-")
	if err != nil {
		return nil, fmt.Errorf("benchmark work folder: %w", err)
	}
	defer os.RemoveAll(work)
	b.work = work
	rep := &Report{
		Date:    time.Now().Format(time.RFC3339),
		Machine: machine(),
		Settings: Settings{
			Parsers: o.Parsers, ParserBatch: parser.DefaultBatchSize, Writers: o.Writers, FlushRows: o.FlushRows,
			FlushInterval: writer.DefaultFlushInterval.String(), MaxAckPending: writer.DefaultMaxAckPending,
			PartitionBy: "MONTH", GOMAXPROCS: runtime.GOMAXPROCS(0), SkippedQuestDB: o.SkipQuestDB,
			RSSFileSizeByte: rssSize, ArchiveRows: o.ArchiveRows,
		},
	}
	b.rep = rep
	defer func() { rep.TotalSecs = time.Since(start).Seconds() }()

	if !o.SkipQuestDB {
		rep.Settings.QuestDBILP = redact.Text(o.QuestDB.ILP)
		if err := b.connectQuestDB(ctx); err != nil {
			return rep, err
		}
		defer b.pool.Close()
	}
	m := rep.Machine
	b.say("fff bench: %d CPUs (%s), %d MB RAM, %s%s", m.CPUs, m.CPUModel, m.MemoryMB, m.Go, ifSet(", ", m.QuestDB))
	align := "files aligned within " + o.AlignWindow.String()
	if o.AlignWindow < 0 {
		align = "files not aligned"
	} else if o.AlignWindow == 0 {
		align = "files aligned within " + parser.DefaultAlignWindow.String()
	}
	b.say("settings: parsers %d × batches of %d candles, %s; writers %d, flush %s rows or %s, apply queue %d, max ack pending %d; table PARTITION BY MONTH%s",
		o.Parsers, parser.DefaultBatchSize, align, o.Writers, thousands(int64(o.FlushRows)), writer.DefaultFlushInterval, o.ApplyQueue,
		writer.DefaultMaxAckPending, ifSet("; ", map[bool]string{true: "base, quote, origin left out"}[o.WithoutPairColumns]))

	fail := func(step string, err error) {
		rep.Failed = append(rep.Failed, fmt.Sprintf("%s: %v", step, err))
		b.say("  FAILED: %v", err)
	}

	// 1. the set
	setDir := filepath.Join(b.work, "set")
	t0 := time.Now()
	files, err := Generate(Spec{Dir: setDir, Rows: o.Rows, Files: o.Files, Seed: o.Seed}, Kraken)
	if err != nil {
		return rep, fmt.Errorf("generate: %w", err)
	}
	rep.Set = SetInfo{Files: len(files), Rows: o.Rows, GenSecs: time.Since(t0).Seconds()}
	for _, f := range files {
		rep.Set.Bytes += f.Bytes
	}
	b.say("1. generated %d files, %s rows, %s in %.1fs (%s … %s, one-minute candles)", len(files), thousands(o.Rows),
		humanBytes(rep.Set.Bytes), rep.Set.GenSecs, filepath.Base(files[0].Path), filepath.Base(files[len(files)-1].Path))

	// 2. parse
	if r, err := b.parse(files); err != nil {
		fail("parse", err)
	} else {
		rep.Parse = r
		b.say("2. parse: %s candles in %.2fs: %s candles/s (one core, the parser's CSV reader)",
			thousands(r.Rows), r.Seconds, thousands(int64(r.CandlesPerSec)))
	}

	// 3. codec
	if r, err := b.codec(files[0].Path); err != nil {
		fail("codec", err)
	} else {
		rep.Codec = r
		b.say("3. codec: encode %.2f + decode %.2f = %.2f ns/candle (batches of %d)", r.EncodeNs, r.DecodeNs, r.NsPerCandle, r.BatchSize)
	}

	// 6. null sink (before QuestDB is busy with steps 4 and 5: its background
	// work after a big load slows the disk writes of JetStream)
	if r, err := b.nullRun(ctx, setDir); err != nil {
		fail("end to end into the null sink", err)
	} else {
		rep.Null = r
		b.say("4. end to end into a null ILP sink: %s rows committed in %.2fs: %s candles/s (%d requests, %s of ILP)%s",
			thousands(r.Rows), r.CommittedSecs, thousands(int64(r.CandlesPerSec)), r.Requests, humanBytes(r.ILPBytes),
			below(r.CandlesPerSec >= barNullSink, fmt.Sprintf("bar %s", thousands(barNullSink))))
		b.say("   CPU: pipeline process %.1fs of %.1fs × %d cores%s", r.PipelineCPU, r.CommittedSecs, runtime.NumCPU(), redeliveries(r))
	}

	// 4. end to end into QuestDB, 5. /imp
	if o.SkipQuestDB {
		b.say("5. end to end into QuestDB: skipped (--skip-questdb)")
		b.say("6. QuestDB /imp: skipped (--skip-questdb)")
	} else {
		table := tableName("fff_bench")
		r, err := b.questdbRun(ctx, setDir, table, "MONTH", o.CPUProfile)
		if err != nil {
			fail("end to end into QuestDB", err)
		} else {
			rep.QuestDB = r
			b.say("5. end to end into QuestDB (%s): %s rows committed in %.2fs, visible in %.2fs: %s candles/s%s",
				r.Table, thousands(r.Rows), r.CommittedSecs, r.VisibleSecs, thousands(int64(r.CandlesPerSec)),
				below(r.CandlesPerSec >= barEndToEnd, fmt.Sprintf("bar %s", thousands(barEndToEnd))))
			b.say("   CPU: pipeline process %.1fs, QuestDB %.1fs, of %.1fs × %d cores%s%s", r.PipelineCPU, r.QuestDBCPU, r.VisibleSecs, runtime.NumCPU(),
				amplificationNote(r.WriteAmplification), redeliveries(r))
			if o.CPUProfile != "" {
				rep.CPUProf = o.CPUProfile
				b.say("   CPU profile: %s (go tool pprof -top %s %s)", o.CPUProfile, b.self, o.CPUProfile)
			}
		}
		irs, errs := b.imp(ctx, files)
		rep.Imp, rep.ImpDedup = irs[0], irs[1]
		for i, st := range []struct {
			fail, line, bar string
			ratio           *float64
			min             float64
		}{
			{"/imp", "6. QuestDB /imp (%s, WAL, no DEDUP, same rows with ts in µs and pair as a column)", "bar 0.5", &rep.Ratio, barImpRatio},
			{"/imp with DEDUP", "   /imp again into a table with DEDUP UPSERT KEYS(ts, pair) (%s)", "bar 2.0", &rep.DedupRatio, barImpDedupRatio},
		} {
			ir := irs[i]
			if errs[i] != nil {
				fail(st.fail, errs[i])
				continue
			}
			ratio := ""
			if rep.QuestDB != nil && ir.RowsPerSec > 0 {
				*st.ratio = rep.QuestDB.CandlesPerSec / ir.RowsPerSec
				ratio = fmt.Sprintf("; pipeline/imp = %.2f%s", *st.ratio, below(*st.ratio >= st.min, st.bar))
			}
			b.say(st.line+": %s rows in %.2fs (posted in %.2fs): %s rows/s%s", ir.Table,
				thousands(ir.Rows), ir.VisibleSecs, ir.PostSecs, thousands(int64(ir.RowsPerSec)), ratio)
		}
		if o.ComparePartitions {
			table := tableName("fff_bench_day")
			r, err := b.questdbRun(ctx, setDir, table, "DAY", "")
			if err != nil {
				fail("end to end into a DAY table", err)
			} else {
				rep.DayTable = r
				b.say("   same into PARTITION BY DAY (%s): visible in %.2fs: %s candles/s (MONTH: %s)%s", r.Table, r.VisibleSecs,
					thousands(int64(r.CandlesPerSec)), thousands(int64(rateOf(rep.QuestDB))), redeliveries(r))
			}
		}
	}

	// 7. memory
	if rssSize <= 0 {
		b.say("7. peak RSS per stage: skipped (--rss-file-size 0)")
	} else if r, err := b.rss(ctx, rssSize); err != nil {
		fail("peak RSS", err)
		rep.RSS = r
	} else {
		rep.RSS = r
		parts := make([]string, 0, len(r.Stages))
		for _, s := range r.Stages {
			parts = append(parts, fmt.Sprintf("%s %.0f MB (%.1fs)%s", s.Stage, s.PeakMB, s.Seconds, below(s.PeakMB <= barRSSMB, fmt.Sprintf("bar %d MB", barRSSMB))))
		}
		fit := ""
		if r.FileBytes < rssSize*9/10 {
			fit = fmt.Sprintf(" (%s asked: a one-minute file holds one row per minute since 2009 at most)", humanBytes(rssSize))
		}
		b.say("7. peak RSS per stage on a %s file of %s rows%s: %s", humanBytes(r.FileBytes), thousands(r.FileRows), fit, strings.Join(parts, ", "))
	}

	// 8. latency, 9. gap scan, 10. replay
	b.continuous(ctx, files, fail)

	// 11. the archive
	if o.ArchiveRows <= 0 {
		b.say("11. archive %s: skipped (--archive-rows 0)", ArchiveName)
	} else if r, err := b.archive(ctx); err != nil {
		fail("archive", err)
		rep.Archive = r
	} else {
		rep.Archive = r
	}

	rep.Bars = bars(rep)
	b.summary()
	if len(rep.Failed) > 0 {
		return rep, fmt.Errorf("%d step(s) failed: %s", len(rep.Failed), strings.Join(rep.Failed, "; "))
	}
	return rep, nil
}

// ParseSize reads a size such as 1GB, 200MB, 1.5k or 0 (bytes).
func ParseSize(s string) (int64, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(s, u.suf) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suf)), u.m
			break
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("%q: want a size such as 1GB, 200MB or 0", s)
	}
	return int64(f * float64(mult)), nil
}

func (b *bench) connectQuestDB(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	pool, err := questdb.Connect(cctx, b.o.QuestDB.PG)
	if err != nil {
		return &QuestDBError{Err: err}
	}
	b.pool = pool
	if v, err := questdb.ServerVersion(cctx, pool); err == nil {
		b.rep.Machine.QuestDB = v.Raw
		if i := strings.Index(v.Raw, ", Commit"); i > 0 {
			b.rep.Machine.QuestDB = strings.TrimPrefix(v.Raw[:i], "Build Information: ")
		}
	}
	scheme, addr, err := questdb.ILPAddr(b.o.QuestDB.ILP)
	if err != nil {
		return err
	}
	b.httpBase = scheme + "://" + addr
	if err := questdb.PingILP(cctx, b.o.QuestDB.ILP); err != nil {
		return err
	}
	return nil
}
