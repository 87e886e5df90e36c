// Command writer commits candle batches from the CANDLES stream to QuestDB.
// Run as many as you like: they share one durable consumer.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/feefifofunds/feefifofunds/pipeline/settings"
	"github.com/feefifofunds/feefifofunds/pipeline/writer"
)

func main() {
	var (
		common   settings.Common
		cfg      writer.Config
		memLimit bool
	)
	cmd := &cobra.Command{
		Use:   "writer",
		Short: "Commit candle batches from NATS JetStream to QuestDB over ILP/HTTP",
		Long: `writer consumes candle batches (CANDLES stream, durable consumer "writer") and
writes them to QuestDB in large ILP-over-HTTP requests, one transaction each.
A batch is acknowledged only after QuestDB accepted the request carrying it.
While QuestDB is down the batches are held and retried with backoff; a batch
QuestDB refuses goes to the DLQ (dlq.writer) with QuestDB's error text.

Any number of writers may run against the same NATS: they share the work.`,
		Example: `  writer
  writer --workers 2 --flush-rows 200000 --table candles
  FFF_NATS_URL=nats://nats:4222 FFF_QUESTDB='http::addr=questdb:9000;' writer`,
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
			if memLimit {
				if limit, set := writer.LimitMemory(cfg.Workers, cfg.FlushRows); set {
					log.Debug("memory limit", "bytes", limit)
				}
			}
			return writer.Run(ctx, cfg)
		},
	}
	fs := cmd.Flags()
	common.AddFlags(fs, "127.0.0.1:9104")
	cfg.QuestDB.AddFlags(fs)
	fs.IntVar(&cfg.Workers, "workers", writer.DefaultWorkers, "parallel ILP senders in this process")
	settings.Bind(fs, "workers", "FFF_WRITER_WORKERS")
	fs.IntVar(&cfg.FlushRows, "flush-rows", writer.DefaultFlushRows, "rows per ILP request (one QuestDB transaction)")
	settings.Bind(fs, "flush-rows", "FFF_WRITER_FLUSH_ROWS")
	fs.DurationVar(&cfg.FlushInterval, "flush-interval", writer.DefaultFlushInterval, "longest a partly filled request waits for more batches")
	settings.Bind(fs, "flush-interval", "FFF_WRITER_FLUSH_INTERVAL")
	fs.IntVar(&cfg.MaxAckPending, "max-ack-pending", writer.DefaultMaxAckPending, "batches all writers together may hold unacknowledged (consumer setting)")
	settings.Bind(fs, "max-ack-pending", "FFF_WRITER_MAX_ACK_PENDING")
	fs.BoolVar(&cfg.Migrate, "migrate", true, "apply pending schema migrations to the table at start")
	settings.Bind(fs, "migrate", "FFF_WRITER_MIGRATE")
	fs.BoolVar(&memLimit, "memory-limit", true, "collect garbage near the working set the settings imply (workers × flush rows), unless GOMEMLIMIT is set")
	settings.Bind(fs, "memory-limit", "FFF_WRITER_MEMORY_LIMIT")

	if err := cmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "writer:", err)
		os.Exit(1)
	}
}
