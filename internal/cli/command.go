package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// StageSpec describes a stage binary: its help, its default metrics address,
// a check of its own flags (run before anything connects, so a typo fails at
// once) and the stage itself.
type StageSpec struct {
	Name        string
	Short       string
	Long        string
	Example     string
	MetricsAddr string
	// Flags registers the stage's own flags.
	Flags func(fs *pflag.FlagSet)
	// Check validates the flags; its errors may name them.
	Check func() error
	Run   func(ctx context.Context, s *Stage) error
}

// StageCommand is the root command of a stage binary: the common NATS,
// logging and metrics flags, environment variables applied, and RunStage.
func StageCommand(spec StageSpec) *cobra.Command {
	var common Common
	cmd := &cobra.Command{
		Use:           spec.Name,
		Short:         spec.Short,
		Long:          spec.Long,
		Example:       spec.Example,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return ApplyEnv(cmd)
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if spec.Check != nil {
				if err := spec.Check(); err != nil {
					return err
				}
			}
			return RunStage(cmd.Context(), common, spec.Name, spec.Run)
		},
	}
	common.AddFlags(cmd.Flags(), spec.MetricsAddr)
	if spec.Flags != nil {
		spec.Flags(cmd.Flags())
	}
	return cmd
}

// Main executes cmd and exits 1 with "name: error" on failure.
func Main(cmd *cobra.Command) {
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", cmd.Name(), err)
		os.Exit(1)
	}
}
