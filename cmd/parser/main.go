// Command parser turns accepted Kraken CSV files (FILES work queue) into
// candle batches on the CANDLES stream. Run as many as you like: they share
// one durable consumer.
package main

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/feefifofunds/feefifofunds/internal/cli"
	"github.com/feefifofunds/feefifofunds/pipeline/parser"
)

func main() {
	var (
		cfg   parser.Config
		tiers cli.TiersFile // tiers of the assets it registers
	)
	cli.Main(cli.StageCommand(cli.StageSpec{
		Name:  "parser",
		Short: "Parse Kraken OHLCVT CSV files from NATS JetStream into candle batches",
		Long: `parser takes accepted files off the FILES work queue (durable consumer "parser"),
streams each file's bytes from the FILEDATA object store with bounded memory,
validates every row and publishes the good ones as candle batches on
candles.kraken.<pair>.<interval>. Bad rows are reported with their line number
and reason; with --on-bad-row reject-file a file with any bad row publishes
nothing. Each file ends with a "parsed" or "rejected" report on
progress.file.<file_id>; assets seen for the first time are added to the
asset registry.

Any number of parsers may run against the same NATS: they share the files.`,
		Example: `  parser
  parser --workers 4 --batch-size 16384
  parser --on-bad-row reject-file
  FFF_NATS_URL=nats://nats:4222 parser`,
		MetricsAddr: "127.0.0.1:9102",
		Flags: func(fs *pflag.FlagSet) {
			fs.IntVar(&cfg.Workers, "workers", parser.DefaultWorkers, "files parsed at once by this process")
			cli.Bind(fs, "workers", "FFF_PARSER_WORKERS")
			fs.IntVar(&cfg.BatchSize, "batch-size", parser.DefaultBatchSize,
				fmt.Sprintf("candles per published batch (at most %d)", parser.MaxBatchSize))
			cli.Bind(fs, "batch-size", "FFF_PARSER_BATCH_SIZE")
			fs.StringVar(&cfg.OnBadRow, "on-bad-row", parser.OnBadRowSkip,
				"what a bad row does: skip (report it, land the good rows) or reject-file (land nothing of the file); a file event's own setting wins")
			cli.Bind(fs, "on-bad-row", "FFF_PARSER_ON_BAD_ROW")
			fs.IntVar(&cfg.MaxInFlight, "max-in-flight", parser.DefaultMaxInFlight, "batches per worker published but not yet acknowledged")
			cli.Bind(fs, "max-in-flight", "FFF_PARSER_MAX_IN_FLIGHT")
			fs.DurationVar(&cfg.AlignWindow, "align-window", parser.DefaultAlignWindow,
				"how far in open time one file may run ahead of the slowest file this process parses (negative: off)")
			cli.Bind(fs, "align-window", "FFF_PARSER_ALIGN_WINDOW")
			tiers.AddFlags(fs)
		},
		Check: func() error { return tiers.Apply() },
		Run: func(ctx context.Context, s *cli.Stage) error {
			cfg.JS, cfg.Log, cfg.Metrics = s.JS, s.Log, s.Metrics
			return parser.Run(ctx, cfg)
		},
	}))
}
