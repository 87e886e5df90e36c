// Command fff is the operator's tool: the whole pipeline in one process
// (`fff up`), bulk ingest, replay, migrations, checks, the asset registry and
// a look into any pipeline subject. Each command lives in its own file and
// registers itself with the root in init.
package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/feefifofunds/feefifofunds/internal/cli"
)

var (
	logSettings cli.Log
	logger      = slog.Default()
)

var rootCmd = &cobra.Command{
	Use:   "fff",
	Short: "FeeFiFoFunds: exchange OHLCV candles into QuestDB over NATS JetStream",
	Long: `fff runs and operates the FeeFiFoFunds candle pipeline.

Every flag can also be set with the environment variable named in its help;
a flag on the command line beats its variable.`,
	SilenceUsage:  true,
	SilenceErrors: true,
	PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
		if err := cli.ApplyEnv(cmd); err != nil {
			return err
		}
		l, err := logSettings.Logger(os.Stderr)
		if err != nil {
			return err
		}
		logger = l
		slog.SetDefault(l)
		return nil
	},
}

func init() {
	logSettings.AddFlags(rootCmd.PersistentFlags())
	rootCmd.AddCommand(pricesCmd(func() *slog.Logger { return logger }, nil, nil))
}

// exitError carries a specific exit status.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }

func main() {
	if err := rootCmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "fff:", err)
		var ee exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		os.Exit(1)
	}
}
