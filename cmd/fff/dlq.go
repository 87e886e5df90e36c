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
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/feefifofunds/feefifofunds/internal/cli"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/deadletter"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

func init() {
	var nc cli.NATS
	dlq := &cobra.Command{
		Use:   "dlq",
		Short: "List, show, re-send and purge dead letters (stream DLQ, subjects dlq.<stage>)",
		Long: `A stage that cannot process a message (a batch QuestDB refuses, a message that
does not decode, a fill request that keeps failing) moves it to the DLQ stream on
dlq.<stage>, with Fff-* headers saying why, when and where it came from.`,
	}
	nc.AddFlags(dlq.PersistentFlags())
	dlq.AddCommand(dlqListCmd(&nc), dlqShowCmd(&nc), dlqReplayCmd(&nc), dlqPurgeCmd(&nc))
	rootCmd.AddCommand(dlq)
}

// dlqStream connects and returns the DLQ stream.
func dlqStream(ctx context.Context, n cli.NATS) (jetstream.JetStream, jetstream.Stream, func(), error) {
	conn, js, err := cli.JetStream(ctx, n, "fff-dlq", logger)
	if err != nil {
		return nil, nil, nil, err
	}
	s, err := js.Stream(ctx, topology.StreamDLQ)
	if err != nil {
		conn.Close()
		return nil, nil, nil, fmt.Errorf("stream %s: %w", topology.StreamDLQ, err)
	}
	return js, s, conn.Close, nil
}

func dlqFilter(stage string) string {
	if stage == "" {
		return topology.SubjectDLQ
	}
	return topology.DLQSubject(stage)
}

// dlqEntry is one dead letter as `fff dlq list` shows it.
type dlqEntry struct {
	Seq             uint64    `json:"seq"`
	Stage           string    `json:"stage"`
	OriginalSubject string    `json:"original_subject"`
	Reason          string    `json:"reason"`
	FailedAt        time.Time `json:"failed_at"`
	Size            int       `json:"size"`
}

// countSubject is how many messages of a stream match filter.
func countSubject(ctx context.Context, s jetstream.Stream, filter string) (uint64, error) {
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return 0, fmt.Errorf("stream info: %w", err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n, nil
}

// listDLQ reads the headers of every dead letter matching stage.
func listDLQ(ctx context.Context, s jetstream.Stream, stage string) ([]dlqEntry, error) {
	filter := dlqFilter(stage)
	n, err := countSubject(ctx, s, filter)
	if err != nil || n == 0 {
		return nil, err
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}, HeadersOnly: true})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", topology.StreamDLQ, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", topology.StreamDLQ, err)
	}
	defer it.Stop()
	var out []dlqEntry
	for {
		m, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return out, fmt.Errorf("read %s: %w", topology.StreamDLQ, err)
		}
		md, err := m.Metadata()
		if err != nil {
			return out, fmt.Errorf("read %s: %w", topology.StreamDLQ, err)
		}
		h := m.Headers()
		e := dlqEntry{Seq: md.Sequence.Stream, Stage: h.Get(deadletter.HeaderStage),
			OriginalSubject: h.Get(deadletter.HeaderSubject), Reason: h.Get(deadletter.HeaderReason)}
		if e.Stage == "" {
			e.Stage = strings.TrimPrefix(m.Subject(), "dlq.")
		}
		e.FailedAt, _ = time.Parse(time.RFC3339Nano, h.Get(deadletter.HeaderFailedAt))
		e.Size, _ = strconv.Atoi(h.Get("Nats-Msg-Size"))
		out = append(out, e)
		if md.NumPending == 0 {
			return out, nil
		}
	}
}

func dlqListCmd(nc *cli.NATS) *cobra.Command {
	var stage string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List dead letters: sequence, stage, original subject, reason, time, size",
		Example: `  fff dlq list
  fff dlq list --stage writer --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			_, s, closeNC, err := dlqStream(ctx, *nc)
			if err != nil {
				return err
			}
			defer closeNC()
			entries, err := listDLQ(ctx, s, stage)
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
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "SEQ\tSTAGE\tORIGINAL SUBJECT\tFAILED AT\tSIZE\tREASON")
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

func getDeadLetter(ctx context.Context, s jetstream.Stream, seq uint64) (*jetstream.RawStreamMsg, error) {
	m, err := s.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, fmt.Errorf("no dead letter with sequence %d (see fff dlq list)", seq)
	}
	if err != nil {
		return nil, fmt.Errorf("get dead letter %d: %w", seq, err)
	}
	if !strings.HasPrefix(m.Subject, "dlq.") {
		return nil, fmt.Errorf("message %d is on %s, not a dead letter", seq, m.Subject)
	}
	return m, nil
}

func dlqShowCmd(nc *cli.NATS) *cobra.Command {
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
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			_, s, closeNC, err := dlqStream(ctx, *nc)
			if err != nil {
				return err
			}
			defer closeNC()
			m, err := getDeadLetter(ctx, s, seqs[0])
			if err != nil {
				return err
			}
			return showDeadLetter(cmd.OutOrStdout(), m)
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

func dlqReplayCmd(nc *cli.NATS) *cobra.Command {
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
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Minute)
			defer cancel()
			js, s, closeNC, err := dlqStream(ctx, *nc)
			if err != nil {
				return err
			}
			defer closeNC()
			if all {
				entries, err := listDLQ(ctx, s, stage)
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
				subj, err := replayDeadLetter(ctx, js, s, seq)
				if err != nil {
					failed++
					fmt.Fprintf(cmd.ErrOrStderr(), "dead letter %d: %v\n", seq, err)
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
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "every dead letter (of --stage, if given)")
	cmd.Flags().StringVar(&stage, "stage", "", "with --all: only this stage's dead letters")
	return cmd
}

// replayDeadLetter republishes one dead letter and deletes it. The publish
// carries an id derived from the DLQ sequence, so running replay again after
// a crash between the two steps does not send it twice (within the target
// stream's duplicate window).
func replayDeadLetter(ctx context.Context, js jetstream.JetStream, s jetstream.Stream, seq uint64) (string, error) {
	m, err := getDeadLetter(ctx, s, seq)
	if err != nil {
		return "", err
	}
	subj := m.Header.Get(deadletter.HeaderSubject)
	if subj == "" {
		return "", fmt.Errorf("no %s header: cannot tell where it came from", deadletter.HeaderSubject)
	}
	out := nats.NewMsg(subj)
	out.Data = m.Data
	for k, vs := range m.Header {
		if deadletter.IsLetterHeader(k) || k == jetstream.MsgIDHeader {
			continue
		}
		for _, v := range vs {
			out.Header.Add(k, v)
		}
	}
	if _, err := js.PublishMsg(ctx, out, jetstream.WithMsgID(fmt.Sprintf("dlq-replay:%d:%s", seq, m.Header.Get(deadletter.HeaderFailedAt)))); err != nil {
		return "", fmt.Errorf("republish to %s: %w", subj, err)
	}
	if err := s.DeleteMsg(ctx, seq); err != nil {
		return "", fmt.Errorf("re-sent to %s but not removed from the DLQ: %w", subj, err)
	}
	return subj, nil
}

func dlqPurgeCmd(nc *cli.NATS) *cobra.Command {
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
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			_, s, closeNC, err := dlqStream(ctx, *nc)
			if err != nil {
				return err
			}
			defer closeNC()
			filter := dlqFilter(stage)
			n, err := countSubject(ctx, s, filter)
			if err != nil {
				return err
			}
			if err := s.Purge(ctx, jetstream.WithPurgeSubject(filter)); err != nil {
				return fmt.Errorf("purge %s: %w", filter, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "purged %d dead letters (%s)\n", n, filter)
			return nil
		},
	}
	cmd.Flags().StringVar(&stage, "stage", "", "only this stage's dead letters")
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm: the dead letters are deleted for good")
	return cmd
}
