package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// ExitCoder is an error that says which exit status it ends the program with.
type ExitCoder interface {
	error
	ExitCode() int
}

// Execute runs root with args and returns the program's exit status: 0, the
// status of an ExitCoder in the error's chain, or 1 for any other error. The
// error is printed on root's stderr as "name: error", after what the command
// printed. A binary's main is os.Exit(Execute(...)); its tests call the same.
func Execute(ctx context.Context, root *cobra.Command, args []string) int {
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintf(root.ErrOrStderr(), "%s: %v\n", root.Name(), err)
	var ec ExitCoder
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return 1
}

// ToolFlags are the root flags of a tool of several subcommands (fff,
// gapscanner): logging and --tiers-file, for whichever subcommand runs.
type ToolFlags struct {
	Log   Log
	Tiers TiersFile
}

// AddFlags registers the logging flags and --tiers-file on fs (the root's
// persistent flags).
func (f *ToolFlags) AddFlags(fs *pflag.FlagSet) {
	f.Log.AddFlags(fs)
	f.Tiers.AddFlags(fs)
}

// PreRun is the PersistentPreRunE of the tool's root command: it applies the
// FFF_* variables to the flags of the command about to run, builds the
// logger the flags ask for, writing to w, hands it to use, and makes
// --tiers-file the process's tier list.
func (f *ToolFlags) PreRun(w io.Writer, use func(*slog.Logger)) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		if err := ApplyEnv(cmd); err != nil {
			return err
		}
		log, err := f.Log.Logger(w)
		if err != nil {
			return err
		}
		use(log)
		return f.Tiers.Apply()
	}
}
