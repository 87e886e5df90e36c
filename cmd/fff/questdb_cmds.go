package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/feefifofunds/feefifofunds/internal/cli"
	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
)

func (a *app) checkQuestDBCmd() *cobra.Command {
	var q questdb.Config
	cmd := &cobra.Command{
		Use:   "check-questdb",
		Short: "Check QuestDB's version, DEDUP support, ILP over HTTP and the PG wire",
		Example: `  fff check-questdb
  fff check-questdb --questdb-pg postgres://admin:quest@db:8812/qdb --questdb 'http::addr=db:9000;'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			rep := questdb.Check(ctx, q.ILP, q.PG, q.Table)
			fmt.Fprint(cmd.OutOrStdout(), rep.String())
			if !rep.OK() {
				return exitError{code: 1, err: fmt.Errorf("QuestDB check failed")}
			}
			return nil
		},
	}
	cli.AddQuestDBFlags(cmd.Flags(), &q)
	return cmd
}

func (a *app) migrateCmd() *cobra.Command {
	var (
		q     questdb.Config
		yes   bool
		steps int
	)
	cmd := &cobra.Command{
		Use:   "migrate up|down|status",
		Short: "Apply, revert or list the QuestDB schema migrations of the candle table",
		Long: `migrate manages the versioned QuestDB migrations embedded in fff (schemas/questdb).
Applied migrations are recorded in QuestDB's fff_schema_migrations table, per
candle table. "up" applies what is pending (twice is a no-op); "down" reverts
the newest --steps migrations and refuses without --yes, because it drops data.`,
		Example: `  fff migrate status
  fff migrate up --table candles
  fff migrate down --yes --table candles_scratch`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"up", "down", "status"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := questdb.ValidTable(q.Table); err != nil {
				return err
			}
			if args[0] == "down" && !yes {
				return fmt.Errorf("migrate down drops the table %s and its rows: add --yes if you mean it", q.Table)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
			defer cancel()
			pool, err := questdb.Connect(ctx, q.PG)
			if err != nil {
				return err
			}
			defer pool.Close()
			out := cmd.OutOrStdout()
			switch args[0] {
			case "up":
				done, err := questdb.Up(ctx, pool, q.Table)
				return printMigrations(out, done, err, "applied %04d_%s to %s\n", "%s is up to date\n", q.Table)
			case "down":
				done, err := questdb.Down(ctx, pool, q.Table, steps)
				return printMigrations(out, done, err, "reverted %04d_%s on %s\n", "nothing to revert on %s\n", q.Table)
			case "status":
				st, err := questdb.Status(ctx, pool, q.Table)
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "table %s\n", q.Table)
				for _, s := range st {
					state := "pending"
					if s.Applied {
						state = "applied " + s.AppliedAt.UTC().Format(time.RFC3339)
					}
					fmt.Fprintf(out, "  %04d_%-30s %s\n", s.Version, s.Name, state)
				}
				return nil
			}
			return fmt.Errorf("unknown migrate action %q: want up, down or status", args[0])
		},
	}
	cli.AddQuestDBFlags(cmd.Flags(), &q)
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm migrate down")
	cmd.Flags().IntVar(&steps, "steps", 1, "how many migrations migrate down reverts")
	return cmd
}

// printMigrations reports the migrations up or down went through (each with
// done, formatted with version, name and table), even when it stopped with
// err, and none when there were none.
func printMigrations(out io.Writer, done []questdb.Migration, err error, each, none, table string) error {
	for _, m := range done {
		fmt.Fprintf(out, each, m.Version, m.Name, table)
	}
	if err != nil {
		return err
	}
	if len(done) == 0 {
		fmt.Fprintf(out, none, table)
	}
	return nil
}
