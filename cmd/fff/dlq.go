package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/feefifofunds/feefifofunds/internal/cli"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/deadletter"
)

func (a *app) dlqCmd() *cobra.Command {
	var nc cli.NATS
	dlq := &cobra.Command{
		Use:   "dlq",
		Short: "List, show, re-send and purge dead letters (stream DLQ, subjects dlq.<stage>)",
		Long: `A stage that cannot process a message (a batch QuestDB refuses, a message that
does not decode, a fill request that keeps failing) moves it to the DLQ stream on
dlq.<stage>, with Fff-* headers saying why, when and where it came from.`,
	}
	nc.AddFlags(dlq.PersistentFlags())
	dlq.AddCommand(a.dlqListCmd(&nc), a.dlqShowCmd(&nc), a.dlqReplayCmd(&nc), a.dlqPurgeCmd(&nc))
	return dlq
}

// withDLQ connects, opens the DLQ stream and runs f within timeout: the
// frame every dlq subcommand shares.
func (a *app) withDLQ(cmd *cobra.Command, n cli.NATS, timeout time.Duration, f func(context.Context, *deadletter.Queue) error) error {
	return withOpened(cmd, n, "fff-dlq", a.log, timeout, deadletter.Open, f)
}

func (a *app) dlqListCmd(nc *cli.NATS) *cobra.Command {
	var stage string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List dead letters: sequence, stage, original subject, reason, time, size",
		Example: `  fff dlq list
  fff dlq list --stage writer --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var entries []deadletter.Entry
			err := a.withDLQ(cmd, *nc, time.Minute, func(ctx context.Context, q *deadletter.Queue) (err error) {
				entries, err = q.List(ctx, stage)
				return err
			})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				for _, e := range entries {
					if err := enc.Encode(e); err != nil {
						return err
					}
				}
				return nil
			}
			if len(entries) == 0 {
				fmt.Fprintln(out, "no dead letters")
				return nil
			}
			tw := table(out, "SEQ", "STAGE", "ORIGINAL SUBJECT", "FAILED AT", "SIZE", "REASON")
			for _, e := range entries {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\n", e.Seq, e.Stage, e.OriginalSubject,
					e.FailedAt.UTC().Format(time.RFC3339), e.Size, oneLine(e.Reason, 100))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&stage, "stage", "", "only this stage's dead letters (writer, parser, fetcher, ...)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per line")
	return cmd
}

// oneLine squeezes a reason onto one table cell.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func parseSeqs(args []string) ([]uint64, error) {
	var out []uint64
	for _, a := range args {
		n, err := strconv.ParseUint(a, 10, 64)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("%q is not a DLQ sequence number (see fff dlq list)", a)
		}
		out = append(out, n)
	}
	return out, nil
}

// seeList points a missing sequence at the listing.
func seeList(err error) error {
	if errors.Is(err, deadletter.ErrNotFound) {
		return fmt.Errorf("%w (see fff dlq list)", err)
	}
	return err
}

func (a *app) dlqShowCmd(nc *cli.NATS) *cobra.Command {
	return &cobra.Command{
		Use:     "show SEQ",
		Short:   "Show a dead letter: its Fff-* headers and its body as readable JSON",
		Example: `  fff dlq show 42`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			seqs, err := parseSeqs(args)
			if err != nil {
				return err
			}
			return a.withDLQ(cmd, *nc, time.Minute, func(ctx context.Context, q *deadletter.Queue) error {
				m, err := q.Get(ctx, seqs[0])
				if err != nil {
					return seeList(err)
				}
				return showDeadLetter(cmd.OutOrStdout(), m)
			})
		},
	}
}

func showDeadLetter(w io.Writer, m *jetstream.RawStreamMsg) error {
	fmt.Fprintf(w, "seq:      %d\nsubject:  %s\nstored:   %s\n", m.Sequence, m.Subject, m.Time.UTC().Format(time.RFC3339Nano))
	// Fff-* first, in a fixed order, then the original message's own headers.
	order := []string{deadletter.HeaderStage, deadletter.HeaderReason, deadletter.HeaderSubject, deadletter.HeaderStream,
		deadletter.HeaderSequence, deadletter.HeaderDeliveries, deadletter.HeaderFailedAt}
	seen := map[string]bool{}
	fmt.Fprintln(w, "headers:")
	for _, k := range order {
		if v := m.Header.Values(k); len(v) > 0 {
			fmt.Fprintf(w, "  %s: %s\n", k, strings.Join(v, ", "))
		}
		seen[k] = true
	}
	var rest []string
	for k := range m.Header {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		fmt.Fprintf(w, "  %s: %s\n", k, strings.Join(m.Header.Values(k), ", "))
	}
	fmt.Fprintf(w, "body (%d bytes):\n", len(m.Data))
	r, err := contract.Render(m.Data)
	if err != nil {
		// A batch that does not decode: show what it is rather than fail.
		r, _ = json.Marshal(fmt.Sprintf("undecodable (%v): %q", err, m.Data))
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, r, "", "  "); err != nil {
		buf.Reset()
		buf.Write(r)
	}
	buf.WriteByte('\n')
	_, err = w.Write(buf.Bytes())
	return err
}

func (a *app) dlqReplayCmd(nc *cli.NATS) *cobra.Command {
	var all bool
	var stage string
	cmd := &cobra.Command{
		Use:   "replay SEQ... | --all [--stage S]",
		Short: "Send dead letters back to their original subject and remove them from the DLQ",
		Long: `replay republishes each dead letter's body to its Fff-Original-Subject with the
original headers (the dead-letter headers and Nats-Msg-Id removed), then deletes it from the DLQ.
Fix the cause first (e.g. the table's schema), or the stage will dead-letter it again.`,
		Example: `  fff dlq replay 42 43
  fff dlq replay --all --stage writer`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) > 0) {
				return errors.New("give sequence numbers or --all (not both)")
			}
			if stage != "" && !all {
				return errors.New("--stage goes with --all")
			}
			seqs, err := parseSeqs(args)
			if err != nil {
				return err
			}
			return a.withDLQ(cmd, *nc, 10*time.Minute, func(ctx context.Context, q *deadletter.Queue) error {
				if all {
					entries, err := q.List(ctx, stage)
					if err != nil {
						return err
					}
					for _, e := range entries {
						seqs = append(seqs, e.Seq)
					}
				}
				out := cmd.OutOrStdout()
				var failed int
				for _, seq := range seqs {
					subj, err := q.Replay(ctx, seq)
					if err != nil {
						failed++
						fmt.Fprintf(cmd.ErrOrStderr(), "dead letter %d: %v\n", seq, seeList(err))
						continue
					}
					fmt.Fprintf(out, "re-sent %d to %s\n", seq, subj)
				}
				if len(seqs) == 0 {
					fmt.Fprintln(out, "no dead letters")
				}
				if failed > 0 {
					return exitError{code: 1, err: fmt.Errorf("%d of %d dead letters not re-sent", failed, len(seqs))}
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "every dead letter (of --stage, if given)")
	cmd.Flags().StringVar(&stage, "stage", "", "with --all: only this stage's dead letters")
	return cmd
}

func (a *app) dlqPurgeCmd(nc *cli.NATS) *cobra.Command {
	var stage string
	var yes bool
	cmd := &cobra.Command{
		Use:   "purge [--stage S] --yes",
		Short: "Delete dead letters for good (all, or one stage's)",
		Example: `  fff dlq purge --stage writer --yes
  fff dlq purge --yes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			what := "every dead letter"
			if stage != "" {
				what = "every dead letter of stage " + stage
			}
			if !yes {
				return fmt.Errorf("purge deletes %s for good: add --yes if you mean it (fff dlq list shows them)", what)
			}
			return a.withDLQ(cmd, *nc, time.Minute, func(ctx context.Context, q *deadletter.Queue) error {
				n, err := q.Purge(ctx, stage)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "purged %d dead letters (%s)\n", n, deadletter.Filter(stage))
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&stage, "stage", "", "only this stage's dead letters")
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm: the dead letters are deleted for good")
	return cmd
}
