// Command watcher ingests Kraken OHLCVT CSVs dropped into a folder: each
// settled file is stored in JetStream and queued for the parsers, and moves
// to the done folder only once every candle of it is committed in QuestDB.
package main

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/feefifofunds/feefifofunds/internal/cli"
	"github.com/feefifofunds/feefifofunds/pipeline/watcher"
)

func main() {
	var (
		cfg   watcher.Config
		tiers cli.TiersFile
	)
	cli.Main(cli.StageCommand(cli.StageSpec{
		Name:  "watcher",
		Short: "Watch a folder for Kraken OHLCVT CSVs and queue them for the pipeline",
		Long: `watcher picks up the files already in --inbox when it starts and every new
one, once it has stopped changing for --settle. Files are named like Kraken's
downloads, {PAIR}_{INTERVAL}.csv (XBTUSD_60.csv); a .zip of such files is
ingested member by member. Dotfiles, *.part and *.tmp files and folders are
ignored.

Each accepted file's bytes go into JetStream (object store FILEDATA) and a
ledger entry (bucket LEDGER) tracks it. The file moves to the done folder only
when every candle of it is committed in QuestDB, with <name>.report.txt beside
it when rows were rejected. Misnamed, empty, unreadable files, symbolic links
and files the parsers or QuestDB refused move to the rejected folder with
<name>.reason.txt. Files outside --tier/--intervals stay where they are.
Content already committed is not ingested twice unless --force. Nothing is
ever deleted.

The parsers and writers run separately (parser, writer, or fff up).`,
		Example: `  watcher --inbox ./inbox
  watcher --inbox /data/kraken --tier TIER1,TIER2 --intervals 60,1440
  FFF_INBOX=/data/kraken FFF_NATS_URL=nats://nats:4222 watcher`,
		MetricsAddr: "127.0.0.1:9101",
		Flags: func(fs *pflag.FlagSet) {
			fs.StringVar(&cfg.Inbox, "inbox", "", "folder to watch for {PAIR}_{INTERVAL}.csv files and zips of them (required)")
			cli.Bind(fs, "inbox", "FFF_INBOX")
			fs.StringVar(&cfg.Done, "done", "", "folder committed files move to (default INBOX/ingested)")
			cli.Bind(fs, "done", "FFF_DONE")
			fs.StringVar(&cfg.Rejected, "rejected", "", "folder refused files move to, with a .reason.txt (default INBOX/rejected)")
			cli.Bind(fs, "rejected", "FFF_REJECTED")
			fs.StringSliceVar(&cfg.Tiers, "tier", nil, "only pairs whose base asset is in these tiers, e.g. TIER1,TIER2 (default all)")
			cli.Bind(fs, "tier", "FFF_TIER")
			fs.IntSliceVar(&cfg.Intervals, "intervals", nil, "only these intervals in minutes, e.g. 60,1440 (default all)")
			cli.Bind(fs, "intervals", "FFF_INTERVALS")
			fs.DurationVar(&cfg.Settle, "settle", watcher.DefaultSettle, "how long a file must stay unchanged before it is taken")
			cli.Bind(fs, "settle", "FFF_SETTLE")
			fs.BoolVar(&cfg.Force, "force", false, "ingest again files whose content was already committed, as a new run")
			cli.Bind(fs, "force", "FFF_FORCE")
			fs.StringVar(&cfg.OnBadRow, "on-bad-row", "skip", "what the parsers do with a bad row: skip (report it, land the rest) or reject-file")
			cli.Bind(fs, "on-bad-row", "FFF_ON_BAD_ROW")
			fs.BoolVar(&cfg.NoLedgerKeeper, "no-ledger-keeper", false, "do not fold progress into the ledger in this process (another process does)")
			cli.Bind(fs, "no-ledger-keeper", "FFF_NO_LEDGER_KEEPER")
			tiers.AddFlags(fs)
		},
		Check: func() error {
			if cfg.Inbox == "" {
				return fmt.Errorf("--inbox is required (or FFF_INBOX)")
			}
			return tiers.Apply()
		},
		Run: func(ctx context.Context, s *cli.Stage) error {
			cfg.JS, cfg.Log, cfg.Metrics = s.JS, s.Log, s.Metrics
			return watcher.Run(ctx, cfg)
		},
	}))
}
