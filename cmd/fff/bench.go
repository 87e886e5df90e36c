package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/feefifofunds/feefifofunds/internal/cli"
	"github.com/feefifofunds/feefifofunds/pipeline/benchmark"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/ingest"
	"github.com/feefifofunds/feefifofunds/pipeline/ledger"
	"github.com/feefifofunds/feefifofunds/pipeline/metrics"
	"github.com/feefifofunds/feefifofunds/pipeline/natsembed"
	"github.com/feefifofunds/feefifofunds/pipeline/parser"
	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
	"github.com/feefifofunds/feefifofunds/pipeline/redact"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
	"github.com/feefifofunds/feefifofunds/pipeline/watcher"
	"github.com/feefifofunds/feefifofunds/pipeline/writer"
)

// The bars of the performance issue (docs/PERFORMANCE.md).
const (
	barEndToEnd = 250_000 // candles/s into QuestDB
	barNullSink = 500_000 // candles/s into the null ILP sink
	barRSSMB    = 200     // peak RSS of one stage on a 1 GB file
	barImpRatio = 1.0     // pipeline / QuestDB's /imp (the goal beyond the bars)
)

func init() {
	rootCmd.AddCommand(newBenchCmd(), newBenchStageCmd())
}

type benchOptions struct {
	q                 questdb.Config
	rows              int64
	files             int
	dir               string
	rssSize           string
	skipQuestDB       bool
	jsonOut           bool
	cpuProfile        string
	parsers           int
	writers           int
	flushRows         int
	comparePartitions bool
	verbose           bool
	seed              uint64
}

func newBenchCmd() *cobra.Command {
	var o benchOptions
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the pipeline: parse, codec, end to end into QuestDB and a null sink, /imp, memory per stage",
		Long: `bench generates a Kraken-like set of one-minute OHLCVT files ({PAIR}_1.csv,
--rows split over --files) and measures, printing one line per step:

  1. generating the set
  2. parse: the parser's CSV reader over the files, one core (candles/s)
  3. codec: encode + decode of the binary candle batch (ns/candle)
  4. end to end into a null ILP sink (an HTTP server answering like QuestDB
     that keeps nothing): embedded JetStream, the real ledger keeper, parsers
     and writers, the files submitted the way the watcher does; the client
     side alone
  5. the same end to end into QuestDB, into a fresh table; timed until every
     row is committed and visible, then the row count is checked and the
     table dropped
  6. QuestDB's own /imp of the same rows into another fresh table, and the
     ratio pipeline / imp
  7. peak RSS of each stage (watcher, parser, writer into the null sink), each
     run as its own process on one file of --rss-file-size

then a summary with the bar each figure is judged against. A figure below
its bar is marked, not an error: the exit status is non-zero only when a step
fails (e.g. a row count does not match).`,
		Example: `  fff bench --rows 5000000
  fff bench --rows 200000 --files 2 --rss-file-size 0 --skip-questdb
  fff bench --json --cpuprofile /tmp/e2e.pprof > bench.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signalAware(cmd.Context())
			defer stop()
			rep, err := runBench(ctx, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if o.jsonOut && rep != nil {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if jerr := enc.Encode(rep); jerr != nil && err == nil {
					err = jerr
				}
			}
			return err
		},
	}
	f := cmd.Flags()
	cli.AddQuestDBFlags(f, &o.q)
	f.Int64Var(&o.rows, "rows", 5_000_000, "rows in the generated set")
	f.IntVar(&o.files, "files", 8, "files the rows are split over (one pair each)")
	f.StringVar(&o.dir, "dir", "", "work folder (default: a temp folder, removed afterwards)")
	f.StringVar(&o.rssSize, "rss-file-size", "1GB", "size of the file the memory of each stage is measured on (0: skip)")
	f.BoolVar(&o.skipQuestDB, "skip-questdb", false, "skip the steps that need QuestDB (end to end, /imp)")
	f.BoolVar(&o.jsonOut, "json", false, "print the figures as one JSON object on stdout (step lines go to stderr)")
	f.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the end-to-end run here (FILE.null for the null-sink run)")
	f.IntVar(&o.parsers, "parsers", parser.DefaultWorkers, "parser workers")
	f.IntVar(&o.writers, "writers", writer.DefaultWorkers, "writer workers (parallel ILP senders)")
	f.IntVar(&o.flushRows, "flush-rows", writer.DefaultFlushRows, "rows per ILP request")
	f.BoolVar(&o.comparePartitions, "compare-partitions", false, "also run end to end into a PARTITION BY DAY copy of the table")
	f.BoolVar(&o.verbose, "verbose", false, "let the stages log at --log-level (default: warnings only)")
	f.Uint64Var(&o.seed, "seed", 1, "seed of the generated rows")
	return cmd
}

// benchReport is every figure of a run (the --json output).
type benchReport struct {
	Date     string       `json:"date"`
	Machine  machineInfo  `json:"machine"`
	Settings benchConfig  `json:"settings"`
	Set      setInfo      `json:"set"`
	Parse    *rateResult  `json:"parse,omitempty"`
	Codec    *codecResult `json:"codec,omitempty"`
	QuestDB  *pipeResult  `json:"end_to_end_questdb,omitempty"`
	Imp      *impResult   `json:"imp,omitempty"`
	// Ratio is the pipeline's rate over /imp's, both until the rows are visible.
	Ratio     float64     `json:"ratio_pipeline_over_imp,omitempty"`
	DayTable  *pipeResult `json:"end_to_end_questdb_partition_by_day,omitempty"`
	Null      *pipeResult `json:"end_to_end_null_sink,omitempty"`
	RSS       *rssResult  `json:"rss,omitempty"`
	Bars      []barCheck  `json:"bars"`
	CPUProf   string      `json:"cpu_profile,omitempty"`
	Failed    []string    `json:"failed,omitempty"`
	TotalSecs float64     `json:"total_seconds"`
}

type machineInfo struct {
	CPUs     int    `json:"cpus"`
	CPUModel string `json:"cpu_model"`
	MemoryMB int64  `json:"memory_mb"`
	Go       string `json:"go"`
	QuestDB  string `json:"questdb,omitempty"`
}

type benchConfig struct {
	Parsers         int    `json:"parsers"`
	ParserBatch     int    `json:"parser_batch_candles"`
	Writers         int    `json:"writers"`
	FlushRows       int    `json:"writer_flush_rows"`
	FlushInterval   string `json:"writer_flush_interval"`
	MaxAckPending   int    `json:"writer_max_ack_pending"`
	PartitionBy     string `json:"partition_by"`
	GOMAXPROCS      int    `json:"gomaxprocs"`
	QuestDBILP      string `json:"questdb_ilp,omitempty"`
	SkippedQuestDB  bool   `json:"skipped_questdb,omitempty"`
	RSSFileSizeByte int64  `json:"rss_file_size_bytes"`
}

type setInfo struct {
	Files   int     `json:"files"`
	Rows    int64   `json:"rows"`
	Bytes   int64   `json:"bytes"`
	GenSecs float64 `json:"generate_seconds"`
}

type rateResult struct {
	Rows          int64   `json:"rows"`
	Seconds       float64 `json:"seconds"`
	CandlesPerSec float64 `json:"candles_per_s"`
}

type codecResult struct {
	Candles     int64   `json:"candles"`
	BatchSize   int     `json:"batch_size"`
	EncodeNs    float64 `json:"encode_ns_per_candle"`
	DecodeNs    float64 `json:"decode_ns_per_candle"`
	NsPerCandle float64 `json:"ns_per_candle"`
}

type pipeResult struct {
	Table string `json:"table,omitempty"`
	Rows  int64  `json:"rows"`
	// CommittedSecs: until the ledger had every file COMMITTED (QuestDB
	// acknowledged every request); VisibleSecs: until the WAL was applied too
	// (count() sees every row). The rate is on VisibleSecs.
	CommittedSecs float64 `json:"committed_seconds"`
	VisibleSecs   float64 `json:"visible_seconds"`
	CandlesPerSec float64 `json:"candles_per_s"`
	CommittedRate float64 `json:"committed_candles_per_s"`
	// CPU seconds used meanwhile by this process (parser, writer, watcher,
	// JetStream) and by QuestDB's process when it runs on this machine.
	PipelineCPU float64 `json:"pipeline_cpu_seconds"`
	QuestDBCPU  float64 `json:"questdb_cpu_seconds,omitempty"`
	// Redelivered messages of the writer's and parser's consumers: each
	// one held the run up for the consumer's AckWait (60s, 30s).
	WriterRedelivered int   `json:"writer_redelivered"`
	ParserRedelivered int   `json:"parser_redelivered"`
	Requests          int64 `json:"requests,omitempty"`
	ILPBytes          int64 `json:"ilp_bytes,omitempty"`
}

type impResult struct {
	Table       string  `json:"table"`
	Rows        int64   `json:"rows"`
	Bytes       int64   `json:"bytes"`
	PostSecs    float64 `json:"post_seconds"`
	VisibleSecs float64 `json:"visible_seconds"`
	RowsPerSec  float64 `json:"rows_per_s"`
}

type rssResult struct {
	FileBytes int64      `json:"file_bytes"`
	FileRows  int64      `json:"file_rows"`
	Stages    []stageRSS `json:"stages"`
}

type stageRSS struct {
	Stage   string  `json:"stage"`
	PeakMB  float64 `json:"peak_rss_mb"`
	Seconds float64 `json:"seconds"`
	What    string  `json:"what"`
}

type barCheck struct {
	Figure string  `json:"figure"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
	Bar    string  `json:"bar"`
	OK     bool    `json:"ok"`
}

// bench carries one run's state.
type bench struct {
	o        benchOptions
	out      io.Writer // step lines
	rep      *benchReport
	stageLog *slog.Logger
	self     string
	work     string
	pool     *pgxpool.Pool
	httpBase string
}

func (b *bench) say(format string, args ...any) {
	fmt.Fprintf(b.out, format+"\n", args...)
}

func runBench(ctx context.Context, o benchOptions, stdout, stderr io.Writer) (*benchReport, error) {
	start := time.Now()
	if o.files <= 0 || o.rows < int64(o.files) {
		return nil, fmt.Errorf("--rows %d --files %d: want at least one row per file", o.rows, o.files)
	}
	rssSize, err := parseSize(o.rssSize)
	if err != nil {
		return nil, fmt.Errorf("--rss-file-size: %w", err)
	}
	b := &bench{o: o, out: stdout}
	if o.jsonOut {
		b.out = stderr
	}
	b.stageLog = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if o.verbose {
		b.stageLog = logger
	}
	if b.self, err = os.Executable(); err != nil {
		return nil, err
	}
	if o.dir == "" {
		d, err := os.MkdirTemp("", "fff-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		b.work = d
	} else {
		b.work = filepath.Join(o.dir, fmt.Sprintf("fff-bench-%d", time.Now().Unix()))
		if err := os.MkdirAll(b.work, 0o755); err != nil {
			return nil, err
		}
		defer os.RemoveAll(b.work)
	}
	rep := &benchReport{
		Date:    time.Now().Format(time.RFC3339),
		Machine: machine(),
		Settings: benchConfig{
			Parsers: o.parsers, ParserBatch: parser.DefaultBatchSize, Writers: o.writers, FlushRows: o.flushRows,
			FlushInterval: writer.DefaultFlushInterval.String(), MaxAckPending: writer.DefaultMaxAckPending,
			PartitionBy: "MONTH", GOMAXPROCS: runtime.GOMAXPROCS(0), SkippedQuestDB: o.skipQuestDB,
			RSSFileSizeByte: rssSize,
		},
	}
	b.rep = rep
	defer func() { rep.TotalSecs = time.Since(start).Seconds() }()

	if !o.skipQuestDB {
		rep.Settings.QuestDBILP = redact.Text(o.q.ILP)
		if err := b.connectQuestDB(ctx); err != nil {
			return rep, err
		}
		defer b.pool.Close()
	}
	m := rep.Machine
	b.say("fff bench: %d CPUs (%s), %d MB RAM, %s%s", m.CPUs, m.CPUModel, m.MemoryMB, m.Go, ifSet(", ", m.QuestDB))
	b.say("settings: parsers %d × batches of %d candles; writers %d, flush %s rows or %s, max ack pending %d; table PARTITION BY MONTH",
		o.parsers, parser.DefaultBatchSize, o.writers, thousands(int64(o.flushRows)), writer.DefaultFlushInterval, writer.DefaultMaxAckPending)

	fail := func(step string, err error) {
		rep.Failed = append(rep.Failed, fmt.Sprintf("%s: %v", step, err))
		b.say("  FAILED: %v", err)
	}

	// 1. the set
	setDir := filepath.Join(b.work, "set")
	t0 := time.Now()
	files, err := benchmark.Generate(benchmark.Spec{Dir: setDir, Rows: o.rows, Files: o.files, Seed: o.seed}, benchmark.Kraken)
	if err != nil {
		return rep, fmt.Errorf("generate: %w", err)
	}
	rep.Set = setInfo{Files: len(files), Rows: o.rows, GenSecs: time.Since(t0).Seconds()}
	for _, f := range files {
		rep.Set.Bytes += f.Bytes
	}
	b.say("1. generated %d files, %s rows, %s in %.1fs (%s … %s, one-minute candles)", len(files), thousands(o.rows),
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
	if o.skipQuestDB {
		b.say("5. end to end into QuestDB: skipped (--skip-questdb)")
		b.say("6. QuestDB /imp: skipped (--skip-questdb)")
	} else {
		table := fmt.Sprintf("fff_bench_%d", time.Now().UnixNano()%1_000_000_000)
		r, err := b.questdbRun(ctx, setDir, table, "MONTH", o.cpuProfile)
		if err != nil {
			fail("end to end into QuestDB", err)
		} else {
			rep.QuestDB = r
			b.say("5. end to end into QuestDB (%s): %s rows committed in %.2fs, visible in %.2fs: %s candles/s%s",
				r.Table, thousands(r.Rows), r.CommittedSecs, r.VisibleSecs, thousands(int64(r.CandlesPerSec)),
				below(r.CandlesPerSec >= barEndToEnd, fmt.Sprintf("bar %s", thousands(barEndToEnd))))
			b.say("   CPU: pipeline process %.1fs, QuestDB %.1fs, of %.1fs × %d cores%s", r.PipelineCPU, r.QuestDBCPU, r.VisibleSecs, runtime.NumCPU(), redeliveries(r))
			if o.cpuProfile != "" {
				rep.CPUProf = o.cpuProfile
				b.say("   CPU profile: %s (go tool pprof -top %s %s)", o.cpuProfile, b.self, o.cpuProfile)
			}
		}
		if ir, err := b.imp(ctx, files); err != nil {
			fail("/imp", err)
		} else {
			rep.Imp = ir
			ratio := ""
			if rep.QuestDB != nil && ir.RowsPerSec > 0 {
				rep.Ratio = rep.QuestDB.CandlesPerSec / ir.RowsPerSec
				ratio = fmt.Sprintf("; pipeline/imp = %.2f%s", rep.Ratio, below(rep.Ratio >= barImpRatio, "goal 1.0"))
			}
			b.say("6. QuestDB /imp (%s, WAL, no DEDUP, same rows with ts in µs and pair as a column): %s rows in %.2fs (posted in %.2fs): %s rows/s%s",
				ir.Table, thousands(ir.Rows), ir.VisibleSecs, ir.PostSecs, thousands(int64(ir.RowsPerSec)), ratio)
		}
		if o.comparePartitions {
			table := fmt.Sprintf("fff_bench_day_%d", time.Now().UnixNano()%1_000_000_000)
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
		b.say("7. peak RSS per stage on a %s file of %s rows: %s", humanBytes(r.FileBytes), thousands(r.FileRows), strings.Join(parts, ", "))
	}

	rep.Bars = bars(rep)
	b.summary()
	if len(rep.Failed) > 0 {
		return rep, fmt.Errorf("%d step(s) failed: %s", len(rep.Failed), strings.Join(rep.Failed, "; "))
	}
	return rep, nil
}

func ifSet(prefix, v string) string {
	if v == "" {
		return ""
	}
	return prefix + v
}

func below(ok bool, bar string) string {
	if ok {
		return ""
	}
	return " [below bar: " + bar + "]"
}

func rateOf(r *pipeResult) float64 {
	if r == nil {
		return 0
	}
	return r.CandlesPerSec
}

func bars(rep *benchReport) []barCheck {
	var out []barCheck
	if rep.QuestDB != nil {
		out = append(out, barCheck{"end to end into QuestDB", rep.QuestDB.CandlesPerSec, "candles/s", "≥ 250,000", rep.QuestDB.CandlesPerSec >= barEndToEnd})
	}
	if rep.Imp != nil && rep.QuestDB != nil {
		out = append(out, barCheck{"pipeline / QuestDB /imp", rep.Ratio, "ratio", "≥ 1.0 (goal)", rep.Ratio >= barImpRatio})
	}
	if rep.Null != nil {
		out = append(out, barCheck{"end to end into the null sink", rep.Null.CandlesPerSec, "candles/s", "≥ 500,000", rep.Null.CandlesPerSec >= barNullSink})
	}
	if rep.RSS != nil {
		for _, s := range rep.RSS.Stages {
			out = append(out, barCheck{"peak RSS " + s.Stage, s.PeakMB, "MB", "≤ 200", s.PeakMB <= barRSSMB})
		}
	}
	return out
}

func (b *bench) summary() {
	rep := b.rep
	b.say("")
	b.say("%-34s %16s  %-12s %s", "figure", "value", "bar", "")
	row := func(name, val, bar, verdict string) {
		b.say("%-34s %16s  %-12s %s", name, val, bar, verdict)
	}
	if rep.Parse != nil {
		row("parse (one core)", thousands(int64(rep.Parse.CandlesPerSec))+" c/s", "", "")
	}
	if rep.Codec != nil {
		row("codec encode+decode", fmt.Sprintf("%.2f ns/c", rep.Codec.NsPerCandle), "", "")
	}
	if rep.Imp != nil {
		row("QuestDB /imp", thousands(int64(rep.Imp.RowsPerSec))+" r/s", "", "")
	}
	if rep.DayTable != nil {
		row("end to end, PARTITION BY DAY", thousands(int64(rep.DayTable.CandlesPerSec))+" c/s", "", "")
	}
	for _, c := range rep.Bars {
		val := ""
		switch c.Unit {
		case "candles/s":
			val = thousands(int64(c.Value)) + " c/s"
		case "ratio":
			val = fmt.Sprintf("%.2f", c.Value)
		case "MB":
			val = fmt.Sprintf("%.0f MB", c.Value)
		}
		verdict := "ok"
		if !c.OK {
			verdict = "BELOW BAR"
		}
		row(c.Figure, val, c.Bar, verdict)
	}
	if len(rep.Failed) > 0 {
		b.say("FAILED steps: %s", strings.Join(rep.Failed, "; "))
	}
}

// machine describes this computer for the report.
func machine() machineInfo {
	m := machineInfo{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(l, "MemTotal:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
				m.MemoryMB = kb / 1024
			}
		}
	}
	return m
}

func parseSize(s string) (int64, error) {
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
	pool, err := questdb.Connect(cctx, b.o.q.PG)
	if err != nil {
		return fmt.Errorf("%w (or pass --skip-questdb)", err)
	}
	b.pool = pool
	if v, err := questdb.ServerVersion(cctx, pool); err == nil {
		b.rep.Machine.QuestDB = v.Raw
		if i := strings.Index(v.Raw, ", Commit"); i > 0 {
			b.rep.Machine.QuestDB = strings.TrimPrefix(v.Raw[:i], "Build Information: ")
		}
	}
	scheme, addr, err := questdb.ILPAddr(b.o.q.ILP)
	if err != nil {
		return err
	}
	b.httpBase = scheme + "://" + addr
	if err := questdb.PingILP(cctx, b.o.q.ILP); err != nil {
		return err
	}
	return nil
}

// parse runs the parser's reader over every file on one goroutine.
func (b *bench) parse(files []benchmark.File) (*rateResult, error) {
	var rows int64
	start := time.Now()
	for _, f := range files {
		fh, err := os.Open(f.Path)
		if err != nil {
			return nil, err
		}
		rd := parser.NewReader(fh, 1)
		var c contract.Candle
		for {
			err := rd.Next(&c)
			if err == io.EOF {
				break
			}
			if err != nil {
				fh.Close()
				return nil, fmt.Errorf("%s: %w", filepath.Base(f.Path), err)
			}
		}
		fh.Close()
		if rd.Rows() != f.Rows {
			return nil, fmt.Errorf("%s: read %d rows, generated %d", filepath.Base(f.Path), rd.Rows(), f.Rows)
		}
		rows += rd.Rows()
	}
	el := time.Since(start).Seconds()
	return &rateResult{Rows: rows, Seconds: el, CandlesPerSec: float64(rows) / el}, nil
}

// codec encodes and decodes a parser-sized batch of real rows until as many
// candles as the set holds went through.
func (b *bench) codec(path string) (*codecResult, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	size := parser.DefaultBatchSize
	batch := contract.Batch{Source: topology.SourceKraken, Pair: "XBTUSD", Base: "BTC", Quote: "USD", IntervalMinutes: 1,
		Origin: contract.OriginCSV, FileID: strings.Repeat("ab", 32), FileName: "XBTUSD_1.csv"}
	rd := parser.NewReader(fh, 1)
	var c contract.Candle
	for len(batch.Candles) < size {
		err := rd.Next(&c)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		batch.Candles = append(batch.Candles, c)
	}
	if len(batch.Candles) == 0 {
		return nil, errors.New("no candles to encode")
	}
	n := len(batch.Candles)
	rounds := max(1, int(b.o.rows)/n)
	var buf []byte
	var dec contract.Batch
	var encT, decT time.Duration
	for range rounds {
		t := time.Now()
		buf, err = contract.AppendBatch(buf[:0], &batch)
		if err != nil {
			return nil, err
		}
		t2 := time.Now()
		if err := contract.DecodeBatch(buf, &dec); err != nil {
			return nil, err
		}
		encT += t2.Sub(t)
		decT += time.Since(t2)
	}
	if len(dec.Candles) != n || dec.Candles[n-1].Time != batch.Candles[n-1].Time || dec.Candles[n-1].Close != batch.Candles[n-1].Close {
		return nil, errors.New("decoded batch differs from the encoded one")
	}
	total := float64(rounds * n)
	r := &codecResult{Candles: int64(total), BatchSize: n, EncodeNs: float64(encT.Nanoseconds()) / total, DecodeNs: float64(decT.Nanoseconds()) / total}
	r.NsPerCandle = r.EncodeNs + r.DecodeNs
	return r, nil
}

// pipelineRun is one run of the real stages on an embedded JetStream.
type pipelineRun struct {
	cpu     *cpuUse
	store   string
	qdb     questdb.Config
	profile string
}

// runPipeline starts an embedded JetStream and the parser and writer stages,
// submits every file of dir the way the watcher does (runIngest, which also
// runs the ledger keeper) and returns when the ledger has every file
// committed. It checks the committed row count against want.
func (b *bench) runPipeline(ctx context.Context, dir string, want int64, p pipelineRun) (time.Duration, error) {
	if p.cpu == nil {
		p.cpu = &cpuUse{}
	}
	srv, err := natsembed.Start(natsembed.Config{StoreDir: p.store})
	if err != nil {
		return 0, err
	}
	defer func() {
		srv.Stop()
		os.RemoveAll(p.store)
	}()
	nc, err := nats.Connect(srv.URL(), nats.Name("fff-bench"))
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return 0, err
	}
	if err := topology.Ensure(ctx, js, topology.DefaultOptions()); err != nil {
		return 0, err
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	reg := metrics.NewRegistry()
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := parser.Run(sctx, parser.Config{JS: js, Log: b.stageLog, Metrics: reg, Workers: b.o.parsers}); err != nil {
			errc <- fmt.Errorf("parser: %w", err)
			stop()
		}
	}()
	go func() {
		defer wg.Done()
		err := writer.Run(sctx, writer.Config{JS: js, Log: b.stageLog, Metrics: reg, QuestDB: p.qdb,
			Workers: b.o.writers, FlushRows: b.o.flushRows, SummaryEvery: time.Hour})
		if err != nil {
			errc <- fmt.Errorf("writer: %w", err)
			stop()
		}
	}()
	defer wg.Wait()
	defer stop()

	if p.profile != "" {
		f, err := os.Create(p.profile)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return 0, err
		}
		defer pprof.StopCPUProfile()
	}
	cpu0, qcpu0 := selfCPU(), questdbCPU()
	defer func() {
		p.cpu.self = selfCPU() - cpu0
		if qcpu0 >= 0 {
			p.cpu.questdb = questdbCPU() - qcpu0
		}
	}()
	start := time.Now()
	sum, err := ingest.Load(sctx, js, ingest.Options{Dir: dir, Log: b.stageLog})
	el := time.Since(start)
	select {
	case serr := <-errc:
		return el, serr
	default:
	}
	if err != nil {
		return el, err
	}
	for _, c := range []struct {
		stream, name string
		n            *int
	}{{topology.StreamCandles, topology.ConsumerWriter, &p.cpu.writerRedelivered}, {topology.StreamFiles, topology.ConsumerParser, &p.cpu.parserRedelivered}} {
		if cons, cerr := js.Consumer(ctx, c.stream, c.name); cerr == nil {
			if info, ierr := cons.Info(ctx); ierr == nil {
				// Every delivery takes a consumer sequence; redeliveries
				// take one without a new stream message.
				*c.n = int(info.Delivered.Consumer) - int(info.Delivered.Stream)
			}
		}
	}
	if sum.Failed > 0 {
		f := sum.Failures[0]
		return el, fmt.Errorf("%d file(s) failed (first: %s: %s: %s)", sum.Failed, f.Name, f.State, f.Reason)
	}
	if sum.Records != want {
		return el, fmt.Errorf("the ledger says %d rows committed, %d were generated", sum.Records, want)
	}
	return el, nil
}

// questdbRun is step 4: the pipeline into a fresh table of the given
// partitioning, checked by count() and dropped afterwards.
func (b *bench) questdbRun(ctx context.Context, dir, table, partitionBy, profile string) (*pipeResult, error) {
	if err := b.createTable(ctx, table, partitionBy); err != nil {
		return nil, err
	}
	defer b.dropTable(table)
	q := questdb.Config{ILP: b.o.q.ILP, PG: b.o.q.PG, Table: table}
	var visible time.Duration
	var cpu cpuUse
	committed, err := b.runPipeline(ctx, dir, b.o.rows, pipelineRun{cpu: &cpu, store: filepath.Join(b.work, "js-"+table), qdb: q, profile: profile})
	if err != nil {
		return nil, err
	}
	t := time.Now()
	n, err := b.countApplied(ctx, table)
	if err != nil {
		return nil, err
	}
	visible = committed + time.Since(t)
	if n != b.o.rows {
		return nil, fmt.Errorf("table %s holds %d rows, %d were generated", table, n, b.o.rows)
	}
	return &pipeResult{Table: table, Rows: n, CommittedSecs: committed.Seconds(), VisibleSecs: visible.Seconds(),
		CandlesPerSec: float64(n) / visible.Seconds(), CommittedRate: float64(n) / committed.Seconds(),
		PipelineCPU: cpu.self, QuestDBCPU: max(0, cpu.questdb),
		WriterRedelivered: cpu.writerRedelivered, ParserRedelivered: cpu.parserRedelivered}, nil
}

// createTable makes the candle table with the schema migrations, or a copy
// with another partitioning (not recorded as migrated: the writer does not
// migrate in the bench).
func (b *bench) createTable(ctx context.Context, table, partitionBy string) error {
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if partitionBy == "MONTH" {
		_, err := questdb.Up(cctx, b.pool, table)
		return err
	}
	migs, err := questdb.Migrations()
	if err != nil {
		return err
	}
	for _, m := range migs {
		for _, st := range m.Statements(true, table) {
			st = strings.ReplaceAll(st, "PARTITION BY MONTH", "PARTITION BY "+partitionBy)
			if _, err := b.pool.Exec(cctx, st); err != nil {
				return fmt.Errorf("create %s: %w", table, err)
			}
		}
	}
	return nil
}

func (b *bench) dropTable(table string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := b.pool.Exec(ctx, "DROP TABLE IF EXISTS "+table); err != nil {
		b.say("  could not drop %s: %v", table, err)
	}
}

func (b *bench) countApplied(ctx context.Context, table string) (int64, error) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := questdb.WaitApplied(cctx, b.pool, table); err != nil {
		return 0, err
	}
	var n int64
	if err := b.pool.QueryRow(cctx, "SELECT count() FROM "+table).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s: %w", table, err)
	}
	return n, nil
}

// imp is step 5: the same rows through QuestDB's /imp, one file after the
// other (/imp is single-threaded), into a WAL table partitioned like ours,
// timed until count() sees every row.
func (b *bench) imp(ctx context.Context, files []benchmark.File) (*impResult, error) {
	dir := filepath.Join(b.work, "imp")
	impFiles, err := benchmark.Generate(benchmark.Spec{Dir: dir, Rows: b.o.rows, Files: b.o.files, Seed: b.o.seed}, benchmark.Imp)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	table := fmt.Sprintf("fff_bench_imp_%d", time.Now().UnixNano()%1_000_000_000)
	ddl := "CREATE TABLE " + table + ` (ts TIMESTAMP, pair SYMBOL CAPACITY 4096 CACHE, open DOUBLE, high DOUBLE,
		low DOUBLE, close DOUBLE, volume DOUBLE, trades LONG) TIMESTAMP(ts) PARTITION BY MONTH WAL`
	if _, err := b.pool.Exec(ctx, ddl); err != nil {
		return nil, fmt.Errorf("create %s: %w", table, err)
	}
	defer b.dropTable(table)
	res := &impResult{Table: table}
	client := &http.Client{Timeout: 30 * time.Minute}
	params := url.Values{"timestamp": {"ts"}, "partitionBy": {"MONTH"}, "forceHeader": {"true"}}
	start := time.Now()
	for i, f := range impFiles {
		r, err := benchmark.Import(ctx, client, b.httpBase, table, f.Path, params)
		if err != nil {
			return nil, err
		}
		if r.RowsRejected > 0 || r.RowsImported != files[i].Rows {
			return nil, fmt.Errorf("/imp %s: %d rows imported, %d rejected, want %d", filepath.Base(f.Path), r.RowsImported, r.RowsRejected, files[i].Rows)
		}
		res.Rows += r.RowsImported
		res.Bytes += f.Bytes
	}
	res.PostSecs = time.Since(start).Seconds()
	n, err := b.countApplied(ctx, table)
	if err != nil {
		return nil, err
	}
	res.VisibleSecs = time.Since(start).Seconds()
	if n != b.o.rows {
		return nil, fmt.Errorf("table %s holds %d rows after /imp, %d were generated", table, n, b.o.rows)
	}
	res.RowsPerSec = float64(n) / res.VisibleSecs
	return res, nil
}

// nullRun is step 6.
func (b *bench) nullRun(ctx context.Context, dir string) (*pipeResult, error) {
	sink, err := benchmark.StartNullSink()
	if err != nil {
		return nil, err
	}
	defer sink.Close()
	q := questdb.Config{ILP: sink.ILP(), PG: b.o.q.PG, Table: "fff_bench_null"}
	profile := ""
	if b.o.cpuProfile != "" {
		profile = b.o.cpuProfile + ".null"
	}
	var cpu cpuUse
	el, err := b.runPipeline(ctx, dir, b.o.rows, pipelineRun{cpu: &cpu, store: filepath.Join(b.work, "js-null"), qdb: q, profile: profile})
	if err != nil {
		return nil, err
	}
	return &pipeResult{Rows: b.o.rows, CommittedSecs: el.Seconds(), VisibleSecs: el.Seconds(),
		CandlesPerSec: float64(b.o.rows) / el.Seconds(), CommittedRate: float64(b.o.rows) / el.Seconds(),
		PipelineCPU: cpu.self, Requests: sink.Requests.Load(), ILPBytes: sink.Bytes.Load(),
		WriterRedelivered: cpu.writerRedelivered, ParserRedelivered: cpu.parserRedelivered}, nil
}

// rss is step 7: one file of about size bytes through each stage, each in
// its own process (fff bench-stage), peak RSS from getrusage.
func (b *bench) rss(ctx context.Context, size int64) (*rssResult, error) {
	dir := filepath.Join(b.work, "rss")
	defer os.RemoveAll(dir)
	f, err := benchmark.GenerateSize(filepath.Join(dir, "in"), size, b.o.seed+1000)
	if err != nil {
		return nil, err
	}
	res := &rssResult{FileBytes: f.Bytes, FileRows: f.Rows}
	srv, err := natsembed.Start(natsembed.Config{StoreDir: filepath.Join(dir, "js")})
	if err != nil {
		return res, err
	}
	defer srv.Stop()
	nc, err := nats.Connect(srv.URL(), nats.Name("fff-bench-rss"))
	if err != nil {
		return res, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return res, err
	}
	if err := topology.Ensure(ctx, js, topology.DefaultOptions()); err != nil {
		return res, err
	}
	led, err := ledger.Open(ctx, js)
	if err != nil {
		return res, err
	}
	kctx, stopKeeper := context.WithCancel(ctx)
	keeperDone := make(chan struct{})
	go func() {
		defer close(keeperDone)
		_ = ledger.Run(kctx, ledger.Config{JS: js, Log: b.stageLog, Metrics: metrics.NewRegistry()})
	}()
	defer func() { stopKeeper(); <-keeperDone }()
	sink, err := benchmark.StartNullSink()
	if err != nil {
		return res, err
	}
	defer sink.Close()

	// watcher: hash the file and store it in the object store, queue it.
	var sub struct {
		FileID string `json:"file_id"`
		Rows   int64  `json:"rows"`
	}
	st, out, err := b.stage(ctx, "watcher", []string{"--nats", srv.URL(), "--file", f.Path}, nil)
	if err != nil {
		return res, err
	}
	if err := json.Unmarshal(out, &sub); err != nil || sub.FileID == "" {
		return res, fmt.Errorf("watcher stage said %q: %v", out, err)
	}
	st.What = "hash the file, store it in the object store, queue it"
	res.Stages = append(res.Stages, st)

	waitState := func(states ...string) func() (bool, error) {
		return func() (bool, error) {
			e, _, err := led.Get(ctx, sub.FileID)
			if err != nil {
				if errors.Is(err, ledger.ErrNotFound) {
					return false, nil
				}
				return false, err
			}
			for _, s := range states {
				if e.State == s {
					return true, nil
				}
			}
			if ledger.Terminal(e.State) {
				return false, fmt.Errorf("file is %s: %s", e.State, e.Reason)
			}
			return false, nil
		}
	}
	st, _, err = b.stage(ctx, "parser", []string{"--nats", srv.URL()}, waitState(contract.FileParsed, contract.FileCommitted))
	if err != nil {
		return res, err
	}
	st.What = "read the object, parse, publish the batches"
	res.Stages = append(res.Stages, st)
	st, _, err = b.stage(ctx, "writer", []string{"--nats", srv.URL(), "--questdb", sink.ILP(),
		"--writers", strconv.Itoa(b.o.writers), "--flush-rows", strconv.Itoa(b.o.flushRows)}, waitState(contract.FileCommitted))
	if err != nil {
		return res, err
	}
	st.What = "consume the batches, send them to the null ILP sink"
	res.Stages = append(res.Stages, st)
	e, _, err := led.Get(ctx, sub.FileID)
	if err != nil {
		return res, err
	}
	if e.RowsCommitted != f.Rows {
		return res, fmt.Errorf("%d rows committed, the file has %d", e.RowsCommitted, f.Rows)
	}
	return res, nil
}

// stage runs `fff bench-stage NAME args` and, when done is given, stops it
// with SIGTERM once done reports true. It returns the peak RSS.
func (b *bench) stage(ctx context.Context, name string, args []string, done func() (bool, error)) (stageRSS, []byte, error) {
	cmd := exec.Command(b.self, append([]string{"bench-stage", name}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return stageRSS{}, nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	fail := func(err error) (stageRSS, []byte, error) {
		_ = cmd.Process.Kill()
		<-exited
		return stageRSS{}, nil, fmt.Errorf("%s stage: %w\n%s", name, err, tail(stderr.Bytes(), 2000))
	}
	var werr error
	if done == nil {
		werr = <-exited
	} else {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
	loop:
		for {
			select {
			case <-ctx.Done():
				return fail(ctx.Err())
			case err := <-exited:
				return fail(fmt.Errorf("exited before it was done: %v", err))
			case <-tick.C:
				ok, err := done()
				if err != nil {
					return fail(err)
				}
				if ok {
					break loop
				}
			}
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case werr = <-exited:
		case <-time.After(30 * time.Second):
			return fail(errors.New("did not stop within 30s of SIGTERM"))
		}
	}
	el := time.Since(start)
	if werr != nil {
		return stageRSS{}, nil, fmt.Errorf("%s stage: %w\n%s", name, werr, tail(stderr.Bytes(), 2000))
	}
	// The child reports its own VmHWM as its last stdout line. getrusage's
	// ru_maxrss is no use here: Linux carries the parent's high-water mark
	// over the fork and exec into the child's.
	out := bytes.TrimSpace(stdout.Bytes())
	last := out
	if i := bytes.LastIndexByte(out, '\n'); i >= 0 {
		out, last = out[:i], out[i+1:]
	} else {
		out = nil
	}
	var hwm struct {
		VmHWMKB int64 `json:"vm_hwm_kb"`
	}
	if err := json.Unmarshal(last, &hwm); err != nil || hwm.VmHWMKB <= 0 {
		return stageRSS{}, nil, fmt.Errorf("%s stage did not report its peak RSS (%q)", name, last)
	}
	return stageRSS{Stage: name, Seconds: el.Seconds(), PeakMB: float64(hwm.VmHWMKB) / 1024}, out, nil
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// newBenchStageCmd is the hidden command bench runs each stage in, so that
// each stage's memory is its own process's.
func newBenchStageCmd() *cobra.Command {
	var (
		n         cli.NATS
		q         questdb.Config
		file      string
		workers   int
		flushRows int
	)
	cmd := &cobra.Command{
		Use:    "bench-stage watcher|parser|writer",
		Short:  "One stage of fff bench in a process of its own (internal)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := runBenchStage(cmd, args[0], n, q, file, workers, flushRows); err != nil {
				return err
			}
			kb, err := vmHWM()
			if err != nil {
				return err
			}
			return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]int64{"vm_hwm_kb": kb})
		},
	}
	n.AddFlags(cmd.Flags())
	cli.AddQuestDBFlags(cmd.Flags(), &q)
	cmd.Flags().StringVar(&file, "file", "", "file the watcher stage submits")
	cmd.Flags().IntVar(&workers, "writers", writer.DefaultWorkers, "writer workers")
	cmd.Flags().IntVar(&flushRows, "flush-rows", writer.DefaultFlushRows, "rows per ILP request")
	return cmd
}

// vmHWM is this process's peak resident set in KB (Linux).
func vmHWM() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		}
	}
	return 0, errors.New("no VmHWM in /proc/self/status")
}

func runBenchStage(cmd *cobra.Command, stage string, n cli.NATS, q questdb.Config, file string, workers, flushRows int) error {
	ctx, stop := cli.SignalContext()
	defer stop()
	log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	switch stage {
	case "watcher":
		nc, js, err := cli.JetStream(ctx, n, "fff-bench-watcher", log)
		if err != nil {
			return err
		}
		defer nc.Close()
		s, err := watcher.Submit(ctx, js, file, watcher.SubmitOptions{})
		if err != nil {
			return err
		}
		return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]any{"file_id": s.Entry.FileID, "outcome": s.Outcome})
	case "parser":
		return cli.RunStage(ctx, cli.Common{NATS: n, Log: cli.Log{Level: "warn"}}, "parser", func(ctx context.Context, s *cli.Stage) error {
			return parser.Run(ctx, parser.Config{JS: s.JS, Log: s.Log, Metrics: metrics.NewRegistry()})
		})
	case "writer":
		writer.LimitMemory(workers, flushRows) // as cmd/writer runs it
		q.Table = "fff_bench_null"
		return cli.RunStage(ctx, cli.Common{NATS: n, Log: cli.Log{Level: "warn"}}, "writer", func(ctx context.Context, s *cli.Stage) error {
			return writer.Run(ctx, writer.Config{JS: s.JS, Log: s.Log, Metrics: metrics.NewRegistry(), QuestDB: q, SummaryEvery: time.Hour,
				Workers: workers, FlushRows: flushRows})
		})
	}
	return fmt.Errorf("unknown stage %q", stage)
}

type cpuUse struct {
	self, questdb float64
	// redelivered: messages the writer and parser consumers delivered
	// again (after their AckWait) during the run.
	writerRedelivered, parserRedelivered int
}

// selfCPU is the CPU time (user + system) this process used so far.
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// questdbCPU is the CPU time of a local QuestDB process (a java process
// whose command line names questdb), or -1 when there is none.
func questdbCPU() float64 {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return -1
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cl, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || !bytes.Contains(cl, []byte("java")) || !bytes.Contains(bytes.ToLower(cl), []byte("questdb")) {
			continue
		}
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// Fields after the command (which may hold spaces) start after ')'.
		i := bytes.LastIndexByte(st, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(st[i+1:]))
		if len(f) < 13 {
			continue
		}
		ut, _ := strconv.ParseFloat(f[11], 64)
		stt, _ := strconv.ParseFloat(f[12], 64)
		return (ut + stt) / 100 // clock ticks; 100 a second on Linux
	}
	return -1
}

func redeliveries(r *pipeResult) string {
	if r.WriterRedelivered == 0 && r.ParserRedelivered == 0 {
		return ""
	}
	return fmt.Sprintf("; STALLED: %d writer and %d parser message(s) redelivered after their AckWait", r.WriterRedelivered, r.ParserRedelivered)
}
