// Command writer commits candle batches from the CANDLES stream to QuestDB.
// Run as many as you like: they share one durable consumer.
package main

import (
	"context"

	"github.com/spf13/pflag"

	"github.com/feefifofunds/feefifofunds/internal/cli"
	"github.com/feefifofunds/feefifofunds/pipeline/writer"
)

func main() {
	var (
		cfg      writer.Config
		memLimit bool
	)
	cli.Main(cli.StageCommand(cli.StageSpec{
		Name:  "writer",
		Short: "Commit candle batches from NATS JetStream to QuestDB over ILP/HTTP",
		Long: `writer consumes candle batches (CANDLES stream, durable consumer "writer") and
writes them to QuestDB in large ILP-over-HTTP requests, one transaction each.
A batch is reported committed and acknowledged only once its rows are
queryable: QuestDB accepted the request and applied the table's WAL past it.
While QuestDB is down the batches are held and retried with backoff (at most
2 s apart); while the table is suspended they wait and /healthz fails; a batch
QuestDB refuses goes to the DLQ (dlq.writer) with QuestDB's error text.

Any number of writers may run against the same NATS: they share the work.`,
		Example: `  writer
  writer --workers 2 --flush-rows 200000 --table candles
  FFF_NATS_URL=nats://nats:4222 FFF_QUESTDB='http::addr=questdb:9000;' writer`,
		MetricsAddr: "127.0.0.1:9104",
		Flags: func(fs *pflag.FlagSet) {
			cli.AddQuestDBFlags(fs, &cfg.QuestDB)
			cli.Flag(fs, fs.IntVar, &cfg.Workers, "workers", writer.DefaultWorkers, "parallel ILP senders in this process", "FFF_WRITER_WORKERS")
			cli.Flag(fs, fs.IntVar, &cfg.FlushRows, "flush-rows", writer.DefaultFlushRows, "rows per ILP request (one QuestDB transaction)", "FFF_WRITER_FLUSH_ROWS")
			cli.Flag(fs, fs.DurationVar, &cfg.FlushInterval, "flush-interval", writer.DefaultFlushInterval, "longest a partly filled request waits for more batches", "FFF_WRITER_FLUSH_INTERVAL")
			cli.Flag(fs, fs.DurationVar, &cfg.FlushIdle, "flush-idle", writer.DefaultFlushIdle, "a partly filled request goes when no batch came for this long", "FFF_WRITER_FLUSH_IDLE")
			cli.Flag(fs, fs.IntVar, &cfg.MaxAckPending, "max-ack-pending", writer.DefaultMaxAckPending, "batches all writers together may hold unacknowledged (consumer setting)", "FFF_WRITER_MAX_ACK_PENDING")
			cli.Flag(fs, fs.DurationVar, &cfg.AckWait, "ack-wait", writer.DefaultAckWait, "how long a delivered batch that never reached a writer waits to be delivered again (consumer setting; held batches are kept alive every quarter of it)", "FFF_WRITER_ACK_WAIT")
			cli.Flag(fs, fs.IntVar, &cfg.ApplyQueue, "apply-queue", 0, "committed requests a worker may queue behind the one waiting for QuestDB's WAL apply", "FFF_WRITER_APPLY_QUEUE")
			cli.Flag(fs, fs.BoolVar, &cfg.Migrate, "migrate", true, "apply pending schema migrations to the table at start", "FFF_WRITER_MIGRATE")
			cli.Flag(fs, fs.BoolVar, &memLimit, "memory-limit", true, "collect garbage near the working set the settings imply (workers × flush rows), unless GOMEMLIMIT is set", "FFF_WRITER_MEMORY_LIMIT")
		},
		Run: func(ctx context.Context, s *cli.Stage) error {
			if memLimit {
				if limit, set := writer.LimitMemory(cfg.Workers, cfg.FlushRows); set {
					s.Log.Debug("memory limit", "bytes", limit)
				}
			}
			cfg.JS, cfg.Log, cfg.Metrics = s.JS, s.Log, s.Metrics
			cfg.Health = s.AddHealthCheck // /healthz fails while the table is suspended
			return writer.Run(ctx, cfg)
		},
	}))
}
