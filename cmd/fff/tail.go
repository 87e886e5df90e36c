package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/feefifofunds/feefifofunds/internal/cli"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

func (a *app) tailCmd() *cobra.Command {
	var (
		nc    cli.NATS
		all   bool
		last  int
		count int
	)
	cmd := &cobra.Command{
		Use:   "tail SUBJECT",
		Short: "Print every pipeline message on a subject as one JSON object per line",
		Long: `tail prints each message on SUBJECT (wildcards allowed) as a JSON line:
{"subject":..., "seq":..., "time":..., "headers":{...}, "data":...}.
Candle batches are decoded (candles with RFC 3339 times; vwap and trades null
when absent), JSON messages are embedded as they are, anything else is a string.

When SUBJECT belongs to a stream it is read with an ordered consumer: new
messages by default, --all from the start, --last N the newest N first. On the
work queues (files.work, fills.*) the stored messages are the work not yet
done; they are read without taking them from the stages. Other subjects are
followed with a plain NATS subscription (new messages only).`,
		Example: `  fff tail 'progress.>'
  fff tail fills.kraken --all
  fff tail candles.kraken.XBTUSD.60 --last 1
  fff tail dlq.writer --all --count 10 | jq .data`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if all && last > 0 {
				return errors.New("--all and --last do not go together")
			}
			ctx, stop := signalAware(cmd.Context())
			defer stop()
			conn, err := nc.Connect("fff-tail", a.log)
			if err != nil {
				return err
			}
			defer conn.Close()
			js, err := jetstream.New(conn)
			if err != nil {
				return fmt.Errorf("jetstream: %w", err)
			}
			t := &tailer{out: cmd.OutOrStdout(), count: count}
			return t.run(ctx, conn, js, args[0], all, last)
		},
	}
	fs := cmd.Flags()
	nc.AddFlags(fs)
	fs.BoolVar(&all, "all", false, "start from the first stored message")
	fs.IntVar(&last, "last", 0, "start with the newest N stored messages")
	fs.IntVar(&count, "count", 0, "stop after this many messages (0: until interrupted)")
	return cmd
}

type tailer struct {
	out     io.Writer
	count   int
	printed int
}

// tailLine is one printed message.
type tailLine struct {
	Subject string          `json:"subject"`
	Seq     *uint64         `json:"seq"` // null outside a stream
	Time    time.Time       `json:"time"`
	Headers map[string]any  `json:"headers"`
	Data    json.RawMessage `json:"data"`
}

func (t *tailer) run(ctx context.Context, conn *nats.Conn, js jetstream.JetStream, subject string, all bool, last int) error {
	var streams []string
	lister := js.StreamNames(ctx, jetstream.WithStreamListSubject(subject))
	for name := range lister.Name() {
		streams = append(streams, name)
	}
	if err := lister.Err(); err != nil {
		return fmt.Errorf("find the stream of %s: %w", subject, err)
	}
	switch {
	case len(streams) == 1:
		return t.stream(ctx, js, streams[0], subject, all, last)
	case all || last > 0:
		if len(streams) == 0 {
			return fmt.Errorf("%s is in no stream: nothing is stored, drop --all/--last to follow new messages", subject)
		}
		return fmt.Errorf("%s spans streams %s: narrow it to one for --all/--last", subject, strings.Join(streams, ", "))
	}
	return t.core(ctx, conn, subject)
}

func (t *tailer) stream(ctx context.Context, js jetstream.JetStream, name, subject string, all bool, last int) error {
	s, err := js.Stream(ctx, name)
	if err != nil {
		return fmt.Errorf("stream %s: %w", name, err)
	}
	if s.CachedInfo().Config.Retention == jetstream.WorkQueuePolicy {
		return t.workQueue(ctx, s, subject, all, last)
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}, DeliverPolicy: jetstream.DeliverNewPolicy}
	switch {
	case all:
		cfg.DeliverPolicy = jetstream.DeliverAllPolicy
	case last > 0:
		start, err := startOfLast(ctx, s, subject, last)
		if err != nil {
			return err
		}
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = start
	}
	cons, err := s.OrderedConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	defer it.Stop()
	for {
		m, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read %s: %w", name, err)
		}
		line := tailLine{Subject: m.Subject(), Headers: headerMap(m.Headers())}
		if md, err := m.Metadata(); err == nil {
			seq := md.Sequence.Stream
			line.Seq = &seq
			line.Time = md.Timestamp.UTC()
		}
		if done, err := t.print(line, m.Data()); done || err != nil {
			return err
		}
	}
}

// workQueue reads a work-queue stream (FILES, FILLS) by direct gets: such a
// stream accepts no consumer that does not ack, and a consumer that acks
// would take the work away from the stages. Stored messages are the work not
// yet done; new ones are polled for.
func (t *tailer) workQueue(ctx context.Context, s jetstream.Stream, subject string, all bool, last int) error {
	info, err := s.Info(ctx)
	if err != nil {
		return fmt.Errorf("stream %s: %w", s.CachedInfo().Config.Name, err)
	}
	next := info.State.LastSeq + 1
	if all || last > 0 {
		next = info.State.FirstSeq
	}
	var ring []*jetstream.RawStreamMsg // --last: the newest stored, printed once all are seen
	collecting := last > 0
	for {
		m, err := s.GetMsg(ctx, next, jetstream.WithGetMsgSubject(subject))
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound):
			if collecting {
				collecting = false
				for _, m := range ring {
					if done, err := t.printRaw(m); done || err != nil {
						return err
					}
				}
				continue
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(250 * time.Millisecond):
			}
			continue
		case err != nil:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read %s: %w", s.CachedInfo().Config.Name, err)
		}
		next = m.Sequence + 1
		if collecting {
			if ring = append(ring, m); len(ring) > last {
				ring = ring[1:]
			}
			continue
		}
		if done, err := t.printRaw(m); done || err != nil {
			return err
		}
	}
}

func (t *tailer) printRaw(m *jetstream.RawStreamMsg) (bool, error) {
	seq := m.Sequence
	return t.print(tailLine{Subject: m.Subject, Seq: &seq, Time: m.Time.UTC(), Headers: headerMap(m.Header)}, m.Data)
}

// startOfLast finds the stream sequence from which exactly n messages match
// subject (or the first one when fewer do): a binary search on the number
// pending for a throwaway consumer starting at a given sequence.
func startOfLast(ctx context.Context, s jetstream.Stream, subject string, n int) (uint64, error) {
	info, err := s.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream info: %w", err)
	}
	pending := func(seq uint64) (uint64, error) {
		c, err := s.CreateConsumer(ctx, jetstream.ConsumerConfig{
			FilterSubject: subject, DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: seq,
			AckPolicy: jetstream.AckNonePolicy, MemoryStorage: true, InactiveThreshold: 30 * time.Second,
		})
		if err != nil {
			return 0, fmt.Errorf("probe consumer: %w", err)
		}
		ci := c.CachedInfo()
		_ = s.DeleteConsumer(ctx, ci.Name)
		return ci.NumPending, nil
	}
	lo, hi := info.State.FirstSeq, info.State.LastSeq
	if hi < lo {
		return lo, nil
	}
	// Invariant: pending(lo) >= n, or lo is the first sequence.
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		p, err := pending(mid)
		if err != nil {
			return 0, err
		}
		if p >= uint64(n) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo, nil
}

func (t *tailer) core(ctx context.Context, conn *nats.Conn, subject string) error {
	ch := make(chan *nats.Msg, 1024)
	sub, err := conn.ChanSubscribe(subject, ch)
	if err != nil {
		return fmt.Errorf("subscribe %s: %w", subject, err)
	}
	defer sub.Unsubscribe()
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-ch:
			line := tailLine{Subject: m.Subject, Time: time.Now().UTC(), Headers: headerMap(m.Header)}
			if done, err := t.print(line, m.Data); done || err != nil {
				return err
			}
		}
	}
}

// print renders and writes one line; done says --count is reached.
func (t *tailer) print(line tailLine, data []byte) (bool, error) {
	r, err := contract.Render(data)
	if err != nil {
		// A damaged batch still shows, as text.
		r, _ = json.Marshal(string(data))
	}
	line.Data = r
	b, err := json.Marshal(line)
	if err != nil {
		return false, err
	}
	b = append(b, '\n')
	if _, err := t.out.Write(b); err != nil {
		return false, err
	}
	t.printed++
	return t.count > 0 && t.printed >= t.count, nil
}

// headerMap shows single values as strings and repeated ones as arrays.
func headerMap(h nats.Header) map[string]any {
	out := map[string]any{}
	for k, vs := range h {
		if len(vs) == 1 {
			out[k] = vs[0]
		} else {
			out[k] = vs
		}
	}
	return out
}
