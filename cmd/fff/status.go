package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/feefifofunds/feefifofunds/internal/cli"
	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
	"github.com/feefifofunds/feefifofunds/pipeline/status"
)

func (a *app) statusCmd() *cobra.Command {
	var (
		n      cli.NATS
		q      questdb.Config
		asJSON bool
	)
	c := &cobra.Command{
		Use:   "status",
		Short: "The pipeline at a glance: streams, consumer lag, dead letters, files in flight, gaps, QuestDB",
		Long: `status reads JetStream and QuestDB once and prints:

  streams      messages and bytes of each stream, and each durable consumer's
               lag: pending (not yet delivered) and ack pending (delivered,
               not yet acknowledged)
  dead letters by stage (fff dlq list)
  files        LEDGER entries by state, and every file in flight (not yet
               COMMITTED, REJECTED or FAILED) with its batches done / total
               and rows
  gaps         GAPS records by state
  QuestDB      reachable or not, and the table's WAL: applied (writerTxn),
               committed (sequencerTxn), lag (their difference), suspended

Exit status:
  0  healthy (lag and files in flight are work under way, not problems)
  1  a problem, listed at the end: QuestDB not reachable, the table missing
     or suspended, dead letters waiting
  2  nothing to report: NATS not reachable, or JetStream not readable`,
		Example: `  fff status
  fff status --json | jq .files.in_flight
  fff status --table candles --nats nats://nats:4222 || alert`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			if err := questdb.ValidTable(q.Table); err != nil {
				return exitError{code: 2, err: err}
			}
			nc, js, err := cli.JetStream(ctx, n, "fff-status", a.log)
			if err != nil {
				return exitError{code: 2, err: err}
			}
			defer nc.Close()
			var db questdb.Querier
			pool, err := questdb.Connect(ctx, q.PG)
			if err != nil {
				db = status.NoDB(err)
			} else {
				defer pool.Close()
				db = pool
			}
			rep, err := status.Collect(ctx, js, db, q.Table)
			if err != nil {
				return exitError{code: 2, err: err}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if err := cli.WriteJSON(out, rep); err != nil {
					return err
				}
			} else if err := printStatus(out, rep); err != nil {
				return err
			}
			if !rep.OK() {
				return exitError{code: 1, err: errors.New(strings.Join(rep.Problems, "; "))}
			}
			return nil
		},
	}
	fs := c.Flags()
	n.AddFlags(fs)
	cli.AddQuestDBFlags(fs, &q)
	fs.BoolVar(&asJSON, "json", false, "print the report as one JSON object")
	return c
}

func printStatus(out io.Writer, r status.Report) error {
	tw := table(out, "STREAM", "MESSAGES", "BYTES", "CONSUMER", "PENDING", "ACK PENDING")
	for _, s := range r.Streams {
		if len(s.Consumers) == 0 {
			fmt.Fprintf(tw, "%s\t%d\t%s\t-\t\t\n", s.Name, s.Messages, humanBytes(int64(s.Bytes)))
		}
		for i, c := range s.Consumers {
			name, msgs, size := s.Name, fmt.Sprint(s.Messages), humanBytes(int64(s.Bytes))
			if i > 0 {
				name, msgs, size = "", "", ""
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\n", name, msgs, size, c.Name, c.Pending, c.AckPending)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "\ndead letters: %s\n", counts(r.DeadLetters, "none"))
	fmt.Fprintf(out, "files: %s\n", counts(r.Files.ByState, "none"))
	if len(r.Files.InFlight) > 0 {
		tw = table(out, "  IN FLIGHT", "STATE", "BATCHES", "ROWS COMMITTED", "ROWS PARSED", "UPDATED", "WAITING")
		for _, f := range r.Files.InFlight {
			batches := fmt.Sprintf("%d/%d", f.BatchesDone, f.Batches)
			if f.Batches == 0 {
				batches = fmt.Sprintf("%d/?", f.BatchesDone) // the parser has not finished it
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%d\t%s\t%s\n", f.Name, f.State, batches, f.RowsCommitted, f.RowsParsed,
				f.Updated.UTC().Format(time.RFC3339), dash(f.Waiting))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "gaps: %s\n", counts(r.Gaps, "none"))
	d := r.QuestDB
	switch {
	case !d.Reachable:
		fmt.Fprintf(out, "QuestDB: not reachable (%s)\n", d.Error)
	case d.Error != "":
		fmt.Fprintf(out, "QuestDB: reachable; table %s not readable (%s)\n", d.Table, d.Error)
	case !d.TableFound:
		fmt.Fprintf(out, "QuestDB: reachable; table %s is not a WAL table (missing?)\n", d.Table)
	default:
		state := "applying"
		if d.Suspended {
			state = "SUSPENDED"
		}
		fmt.Fprintf(out, "QuestDB: reachable; table %s WAL %s, applied txn %d of %d (lag %d)\n",
			d.Table, state, d.WriterTxn, d.SequencerTxn, d.Lag)
	}
	if r.OK() {
		fmt.Fprintln(out, "\nhealthy")
		return nil
	}
	fmt.Fprintln(out, "\nproblems:")
	for _, p := range r.Problems {
		fmt.Fprintf(out, "  - %s\n", p)
	}
	return nil
}

// counts is "A 2, B 1" in key order, or none when there is nothing.
func counts(m map[string]int, none string) string {
	keys := make([]string, 0, len(m))
	for k, v := range m {
		if v > 0 {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return none
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
