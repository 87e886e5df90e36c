// Command fff is the operator's tool: the whole pipeline in one process
// (`fff up`), bulk ingest, replay, migrations, checks, the asset registry and
// a look into any pipeline subject. Each command lives in its own file as a
// method of app that builds it; execute is the whole program, so tests run
// it as a user would.
package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/feefifofunds/feefifofunds/internal/cli"
)

func main() {
	os.Exit(execute(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// app holds what every command shares: the process's input and outputs, the
// root's flags and the logger they make.
type app struct {
	cli.Tool
	log *slog.Logger
}

// execute runs fff with args and returns the exit status (see
// cli.Execute; an exitError sets it).
func execute(ctx context.Context, args []string, in io.Reader, out, errOut io.Writer) int {
	return cli.Execute(ctx, newRoot(in, out, errOut), args)
}

func newRoot(in io.Reader, out, errOut io.Writer) *cobra.Command {
	a := &app{Tool: cli.Tool{In: in, Out: out, ErrOut: errOut}, log: slog.Default()}
	root := a.Root(&cobra.Command{
		Use:   "fff",
		Short: "FeeFiFoFunds: exchange OHLCV candles into QuestDB over NATS JetStream",
		Long: `fff runs and operates the FeeFiFoFunds candle pipeline.

Every flag can also be set with the environment variable named in its help;
a flag on the command line beats its variable.`,
	}, a.useLogger)
	root.AddCommand(
		a.upCmd(), a.ingestCmd(), a.replayCmd(), a.dlqCmd(), a.tailCmd(), a.assetsCmd(),
		a.migrateCmd(), a.checkQuestDBCmd(), a.benchCmd(), a.benchStageCmd(),
		a.pricesCmd(), a.statusCmd(),
	)
	return root
}

// useLogger makes l the logger of every command. Code given no logger logs
// with the default one: l becomes it too when it writes where the process's
// log goes (not when errOut is a test's buffer, which goroutines outliving
// the run would then share).
func (a *app) useLogger(l *slog.Logger) {
	a.log = l
	if a.ErrOut == io.Writer(os.Stderr) {
		slog.SetDefault(l)
	}
}

// exitError carries a specific exit status.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }
func (e exitError) ExitCode() int { return e.code }

// signalAware is parent, cancelled on Ctrl-C (or SIGTERM) too: the
// context of every command that runs until it is done or interrupted.
func signalAware(parent context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
}

// withOpened connects to NATS as client, opens a bucket or stream with open
// (assets.Open, deadletter.Open) and runs f on it, all within timeout.
func withOpened[T any](cmd *cobra.Command, n cli.NATS, client string, log *slog.Logger, timeout time.Duration,
	open func(context.Context, jetstream.JetStream) (T, error), f func(context.Context, T) error) error {
	ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
	defer cancel()
	nc, js, err := cli.JetStream(ctx, n, client, log)
	if err != nil {
		return err
	}
	defer nc.Close()
	opened, err := open(ctx, js)
	if err != nil {
		return err
	}
	return f(ctx, opened)
}
