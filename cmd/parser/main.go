// Command parser turns accepted Kraken CSV files (FILES work queue) into
// candle batches on the CANDLES stream. Run as many as you like: they share
// one durable consumer.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/feefifofunds/feefifofunds/pipeline/parser"
	"github.com/feefifofunds/feefifofunds/pipeline/settings"
)

func main() {
	var (
		common settings.Common
		cfg    parser.Config
	)
	cmd := &cobra.Command{
		Use:   "parser",
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
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return settings.ApplyEnv(cmd)
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := common.Log.Logger(os.Stderr)
			if err != nil {
				return err
			}
			ctx, stop := settings.SignalContext()
			defer stop()
			cfg.NATS = common.NATS
			cfg.Log = log
			cfg.MetricsAddr = common.Metrics.Addr
			return parser.Run(ctx, cfg)
		},
	}
	fs := cmd.Flags()
	common.AddFlags(fs, "127.0.0.1:9102")
	fs.IntVar(&cfg.Workers, "workers", parser.DefaultWorkers, "files parsed at once by this process")
	settings.Bind(fs, "workers", "FFF_PARSER_WORKERS")
	fs.IntVar(&cfg.BatchSize, "batch-size", parser.DefaultBatchSize,
		fmt.Sprintf("candles per published batch (at most %d)", parser.MaxBatchSize))
	settings.Bind(fs, "batch-size", "FFF_PARSER_BATCH_SIZE")
	fs.StringVar(&cfg.OnBadRow, "on-bad-row", parser.OnBadRowSkip,
		"what a bad row does: skip (report it, land the good rows) or reject-file (land nothing of the file); a file event's own setting wins")
	settings.Bind(fs, "on-bad-row", "FFF_PARSER_ON_BAD_ROW")
	fs.IntVar(&cfg.MaxInFlight, "max-in-flight", parser.DefaultMaxInFlight, "batches per worker published but not yet acknowledged")
	settings.Bind(fs, "max-in-flight", "FFF_PARSER_MAX_IN_FLIGHT")

	if err := cmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "parser:", err)
		os.Exit(1)
	}
}
