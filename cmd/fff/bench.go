package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/feefifofunds/feefifofunds/internal/cli"
	"github.com/feefifofunds/feefifofunds/pipeline/benchmark"
	"github.com/feefifofunds/feefifofunds/pipeline/ingest"
	"github.com/feefifofunds/feefifofunds/pipeline/metrics"
	"github.com/feefifofunds/feefifofunds/pipeline/parser"
	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
	"github.com/feefifofunds/feefifofunds/pipeline/writer"
)

func (a *app) benchCmd() *cobra.Command {
	var (
		o       benchmark.Options
		rssSize string
		jsonOut bool
		verbose bool
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the pipeline: parse, codec, end to end, /imp, memory per stage, latency, gap scan, replay",
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
  6. QuestDB's own /imp of the same rows into another fresh table, without
     DEDUP and then with DEDUP UPSERT KEYS(ts, pair), and the ratio
     pipeline / imp for each
  7. peak RSS of each stage (watcher, parser, writer into the null sink), each
     run as its own process on one file of --rss-file-size
  8. continuous mode latency: --latency-files files of 1,000 rows renamed one
     after another into the inbox of a running pipeline (as fff up runs it),
     each timed until it is in ingested/ and count() sees it (p50, p99)
  9. the gap scanner's scan of a table of --gapscan-rows candles with known
     holes, loaded server-side; the scan must find exactly them
 10. fff replay of the set from a CANDLES stream into a fresh table (candles/s)
  11. an archive shaped like Kraken's Kraken_OHLCVT.zip (--archive-rows over
      200 pairs × 8 intervals, a few one-minute members of millions of rows,
      mostly members of hundreds to thousands): peak RSS of each stage on it,
      then dropped into the inbox of the embedded pipeline and timed until
      count() sees every row of a fresh table (candles/s, files/s)

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
			if o.Files <= 0 || o.Rows < int64(o.Files) {
				return fmt.Errorf("--rows %d --files %d: want at least one row per file", o.Rows, o.Files)
			}
			var err error
			if o.RSSFileSize, err = benchmark.ParseSize(rssSize); err != nil {
				return fmt.Errorf("--rss-file-size: %w", err)
			}
			o.Out = cmd.OutOrStdout()
			if jsonOut {
				o.Out = cmd.ErrOrStderr()
			}
			o.StageLog = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
			if verbose {
				o.StageLog = a.log
			}
			rep, err := benchmark.Run(ctx, o)
			var qerr *benchmark.QuestDBError
			if errors.As(err, &qerr) {
				err = fmt.Errorf("%w (or pass --skip-questdb)", err)
			}
			if jsonOut && rep != nil {
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
	cli.AddQuestDBFlags(f, &o.QuestDB)
	f.Int64Var(&o.Rows, "rows", 5_000_000, "rows in the generated set")
	f.IntVar(&o.Files, "files", 8, "files the rows are split over (one pair each)")
	f.StringVar(&o.Dir, "dir", "", "work folder (default: a temp folder, removed afterwards)")
	f.StringVar(&rssSize, "rss-file-size", "1GB", "size of the file the memory of each stage is measured on (0: skip; at most one row a minute since 2009, about 520 MB)")
	f.BoolVar(&o.SkipQuestDB, "skip-questdb", false, "skip the steps that need QuestDB (end to end, /imp)")
	f.BoolVar(&jsonOut, "json", false, "print the figures as one JSON object on stdout (step lines go to stderr)")
	f.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the end-to-end run here (FILE.null for the null-sink run)")
	f.IntVar(&o.Parsers, "parsers", parser.DefaultWorkers, "parser workers")
	f.IntVar(&o.Writers, "writers", writer.DefaultWorkers, "writer workers (parallel ILP senders)")
	f.IntVar(&o.FlushRows, "flush-rows", writer.DefaultFlushRows, "rows per ILP request")
	f.IntVar(&o.ApplyQueue, "apply-queue", 0, "writer requests queued behind the one waiting for its WAL apply (lever)")
	f.DurationVar(&o.AlignWindow, "align-window", parser.DefaultAlignWindow, "parsers keep files this close in open time (negative: off) (lever)")
	f.StringVar(&o.QuestDBMetrics, "questdb-metrics", "", "QuestDB Prometheus endpoint, for the write amplification (default: port 9003 of the ILP host)")
	f.BoolVar(&o.WithoutPairColumns, "without-pair-columns", false, "leave base, quote, origin NULL, to measure what they cost (lever)")
	f.BoolVar(&o.ComparePartitions, "compare-partitions", false, "also run end to end into a PARTITION BY DAY copy of the table")
	f.BoolVar(&verbose, "verbose", false, "let the stages log at --log-level (default: warnings only)")
	f.Uint64Var(&o.Seed, "seed", 1, "seed of the generated rows")
	f.Int64Var(&o.ArchiveRows, "archive-rows", 20_000_000, "rows of the generated Kraken_OHLCVT.zip (0: skip the archive step)")
	f.IntVar(&o.LatencyFiles, "latency-files", 50, "files dropped one by one for the latency step (0: skip)")
	f.DurationVar(&o.LatencySettle, "latency-settle", 0, "the watcher's settle delay in the latency step (default: the watcher's, 250ms)")
	f.Int64Var(&o.GapScanRows, "gapscan-rows", 50_000_000, "candles in the gap scan's table (0: skip)")
	f.BoolVar(&o.SkipReplay, "skip-replay", false, "skip the fff replay step")
	return cmd
}

// benchStageCmd is the hidden command bench runs each stage in, so that
// each stage's memory is its own process's.
func (a *app) benchStageCmd() *cobra.Command {
	var (
		n         cli.NATS
		q         questdb.Config
		file      string
		workers   int
		flushRows int
	)
	cmd := &cobra.Command{
		Use:    "bench-stage watcher|archive-watcher|parser|writer",
		Short:  "One stage of fff bench in a process of its own (internal)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := runBenchStage(cmd, args[0], n, q, file, workers, flushRows); err != nil {
				return err
			}
			return benchmark.ReportPeakRSS(cmd.OutOrStdout())
		},
	}
	n.AddFlags(cmd.Flags())
	cli.AddQuestDBFlags(cmd.Flags(), &q)
	cmd.Flags().StringVar(&file, "file", "", "file the watcher stage submits")
	cmd.Flags().IntVar(&workers, "writers", writer.DefaultWorkers, "writer workers")
	cmd.Flags().IntVar(&flushRows, "flush-rows", writer.DefaultFlushRows, "rows per ILP request")
	return cmd
}

func runBenchStage(cmd *cobra.Command, stage string, n cli.NATS, q questdb.Config, file string, workers, flushRows int) error {
	ctx, stop := cli.SignalContext()
	defer stop()
	log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	switch stage {
	case "watcher", "archive-watcher":
		nc, js, err := cli.JetStream(ctx, n, "fff-bench-watcher", log)
		if err != nil {
			return err
		}
		defer nc.Close()
		if stage == "archive-watcher" {
			return benchmark.SubmitArchive(ctx, js, file, cmd.OutOrStdout())
		}
		s, err := ingest.Submit(ctx, js, file, ingest.SubmitOptions{})
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
