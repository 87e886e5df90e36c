package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/feefifofunds/feefifofunds/internal/cli"
	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
	"github.com/feefifofunds/feefifofunds/pipeline/replay"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

func (a *app) replayCmd() *cobra.Command {
	var (
		nc           cli.NATS
		q            questdb.Config
		since, until string
		cfg          replay.Config
	)
	cmd := &cobra.Command{
		Use:   "replay",
		Short: "Re-deliver candles from the CANDLES stream into QuestDB",
		Long: `replay reads every candle batch kept in the CANDLES stream (optionally only one
pair and/or interval), keeps the candles whose open time is in [--since, --until],
and writes them straight into QuestDB through the writer's ILP sink: after a
table was dropped, or into a new table. Pending migrations are applied to the
target table first. The table deduplicates, so running it twice changes nothing.

Times are RFC 3339, a date (a --until date covers that whole day) or unix seconds.`,
		Example: `  fff replay
  fff replay --pair XBTUSD --interval 60 --since 2024-01-01 --until 2024-03-31
  fff replay --table candles_rebuilt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if cfg.Since, _, err = replay.ParseTime(since); err != nil {
				return fmt.Errorf("--since: %w", err)
			}
			var isDate bool
			if cfg.Until, isDate, err = replay.ParseTime(until); err != nil {
				return fmt.Errorf("--until: %w", err)
			}
			if isDate {
				cfg.Until = cfg.Until.Add(24*time.Hour - time.Second)
			}
			cfg.QuestDB, cfg.Log, cfg.Migrate = q, a.log, true
			errw := cmd.ErrOrStderr()
			tty := cli.IsTerminal(errw)
			cfg.OnProgress = func(s replay.Stats) {
				line := fmt.Sprintf("replay: %d/%d messages, %d candles written, %.0f candles/s", s.Messages, s.Total, s.Written, s.Rate())
				if tty {
					fmt.Fprintf(errw, "\r\033[K%s", line)
				} else {
					fmt.Fprintln(errw, line)
				}
			}
			ctx, stop := signalAware(cmd.Context())
			defer stop()
			conn, js, err := cli.JetStream(ctx, nc, "fff-replay", a.log)
			if err != nil {
				return err
			}
			defer conn.Close()
			cfg.JS = js
			st, err := replay.Run(ctx, cfg)
			if tty {
				fmt.Fprintln(errw)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "replayed %d of %d messages into %s: %d candles read, %d in the window, %d written",
				st.Messages, st.Total, st.Table, st.Candles, st.InWindow, st.Written)
			fmt.Fprintf(out, " in %s (%.0f candles/s)\n", st.Elapsed.Round(time.Millisecond), st.Rate())
			if st.Undecodable > 0 {
				fmt.Fprintf(out, "skipped %d messages that are not candle batches\n", st.Undecodable)
			}
			if st.Rejected > 0 {
				fmt.Fprintf(out, "QuestDB refused %d candles; first reason: %s\n", st.Rejected, st.FirstRejected)
			}
			if err != nil {
				return err
			}
			if st.Rejected > 0 {
				return exitError{code: 1, err: fmt.Errorf("%d candles were refused by QuestDB", st.Rejected)}
			}
			return nil
		},
	}
	fs := cmd.Flags()
	nc.AddFlags(fs)
	cli.AddQuestDBFlags(fs, &q)
	fs.StringVar(&since, "since", "", "first candle open time to replay (RFC 3339, date or unix seconds)")
	fs.StringVar(&until, "until", "", "last candle open time to replay (RFC 3339, date or unix seconds)")
	fs.StringVar(&cfg.Pair, "pair", "", "only this pair (Kraken altname, e.g. XBTUSD)")
	fs.IntVar(&cfg.Interval, "interval", 0, "only this interval in minutes (e.g. 60)")
	fs.StringVar(&cfg.Source, "source", topology.SourceKraken, "only this source exchange")
	fs.IntVar(&cfg.Workers, "workers", 2, "parallel ILP senders")
	fs.IntVar(&cfg.FlushRows, "flush-rows", 200_000, "rows per ILP request")
	return cmd
}
