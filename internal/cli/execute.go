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

// Tool is what every command of a tool of several subcommands (fff,
// gapscanner) shares: the process's input and outputs, the root's logging
// flags and --tiers-file.
type Tool struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	Logs   Log
	Tiers  TiersFile
}

// Root makes root the tool's root command: errors and usage printed by
// Execute only, the tool's input and outputs, the logging flags and
// --tiers-file on every subcommand, and before any of them runs the FFF_*
// variables applied to its flags, the logger built (writing to ErrOut) and
// handed to use, and --tiers-file made the process's tier list.
func (t *Tool) Root(root *cobra.Command, use func(*slog.Logger)) *cobra.Command {
	root.SilenceUsage = true
	root.SilenceErrors = true
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if err := ApplyEnv(cmd); err != nil {
			return err
		}
		log, err := t.Logs.Logger(t.ErrOut)
		if err != nil {
			return err
		}
		use(log)
		return t.Tiers.Apply()
	}
	root.SetIn(t.In)
	root.SetOut(t.Out)
	root.SetErr(t.ErrOut)
	t.Logs.AddFlags(root.PersistentFlags())
	t.Tiers.AddFlags(root.PersistentFlags())
	return root
}
