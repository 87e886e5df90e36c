// Command chaos is the fault suite (`make chaos`): the stage binaries as
// separate processes on real nats-server processes and a QuestDB of its own,
// killed at random while generated files arrive; each trial must end with
// exactly the generated rows, no duplicates, every file in ingested/ and an
// empty DLQ. See docs/RELIABILITY.md#fault-suite.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/feefifofunds/feefifofunds/internal/chaos"
)

func main() {
	o := chaos.Options{Out: os.Stdout}
	fs := pflag.NewFlagSet("chaos", pflag.ContinueOnError)
	fs.IntVar(&o.Trials, "trials", 3, "trials to run")
	fs.Uint64Var(&o.Seed, "seed", uint64(time.Now().UnixNano()%1_000_000), "seed of the data and the faults (printed; give it again to repeat a run)")
	fs.BoolVar(&o.Cluster, "cluster", false, "3 nats-server nodes and --replicas 3, with the cluster faults (leaders, quorum loss, rolling restart)")
	fs.IntVar(&o.Files, "files", 12, "files a trial")
	fs.Int64Var(&o.Rows, "rows", 40_000, "one-minute rows a file")
	fs.IntVar(&o.Waves, "waves", 4, "waves the files arrive in")
	fs.IntVar(&o.Parsers, "parsers", 2, "parser processes")
	fs.IntVar(&o.Writers, "writers", 2, "writer processes")
	fs.IntVar(&o.Kills, "kills", 20, "random kill -9s of a trial, besides the required faults")
	fs.DurationVar(&o.Gap, "gap", time.Second, "mean pause between faults")
	fs.DurationVar(&o.QuestDBOutage, "questdb-outage", 30*time.Second, "the long QuestDB outage of each trial")
	fs.DurationVar(&o.SettleTimeout, "settle-timeout", 5*time.Minute, "how long the pipeline may take after the last fault")
	fs.StringVar(&o.NATSServer, "nats-server", "", "nats-server binary (default: PATH, then $(go env GOPATH)/bin)")
	fs.StringVar(&o.Dir, "dir", "", "work folder (default a temporary one, removed when every trial passed)")
	fs.BoolVar(&o.Keep, "keep", false, "keep the work folder")
	short := fs.Bool("short", false, "a quick run: 6 files x 10,000 rows, 3 waves, pauses of 0.5 s")
	verbose := fs.BoolP("verbose", "v", false, "log every fault")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(2)
	}
	if *short {
		set := func(name string, apply func()) {
			if !fs.Changed(name) {
				apply()
			}
		}
		set("files", func() { o.Files = 6 })
		set("rows", func() { o.Rows = 10_000 })
		set("waves", func() { o.Waves = 3 })
		set("gap", func() { o.Gap = 500 * time.Millisecond })
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	o.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(1)
	}
}

func run(o chaos.Options) error {
	repo, err := moduleRoot()
	if err != nil {
		return err
	}
	o.Repo = repo
	if o.NATSServer == "" {
		if o.NATSServer, err = chaos.FindNATSServer(); err != nil {
			return fmt.Errorf("%w (or --nats-server PATH)", err)
		}
	}
	if o.Trials < 1 || o.Files < 1 || o.Waves < 1 || o.Parsers < 1 || o.Writers < 1 {
		return fmt.Errorf("--trials, --files, --waves, --parsers and --writers must be at least 1")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return chaos.Run(ctx, o)
}

// moduleRoot is the folder of go.mod at or above the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("run chaos inside the repository (no go.mod above the working directory)")
		}
		dir = parent
	}
}
