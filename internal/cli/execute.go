package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"
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

// PreRun is the PersistentPreRunE of a binary's root command (a tool of
// several subcommands, as fff and gapscanner are): it applies the FFF_*
// variables to the flags of the command about to run, then builds the
// logger l's flags ask for, writing to w, and hands it to use.
func (l *Log) PreRun(w io.Writer, use func(*slog.Logger)) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		if err := ApplyEnv(cmd); err != nil {
			return err
		}
		log, err := l.Logger(w)
		if err != nil {
			return err
		}
		use(log)
		return nil
	}
}
