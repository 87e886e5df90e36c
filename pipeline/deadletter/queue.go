package deadletter

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// ErrNotFound: no dead letter has that sequence.
var ErrNotFound = errors.New("no dead letter")

// Entry is one dead letter without its body: what a listing shows.
type Entry struct {
	Seq             uint64    `json:"seq"`
	Stage           string    `json:"stage"`
	OriginalSubject string    `json:"original_subject"`
	Reason          string    `json:"reason"`
	FailedAt        time.Time `json:"failed_at"`
	Size            int       `json:"size"`
}

// Queue is the read side of the DLQ stream: list, read, re-send, purge.
type Queue struct {
	js jetstream.JetStream
	s  jetstream.Stream
}

// Open looks up the DLQ stream.
func Open(ctx context.Context, js jetstream.JetStream) (*Queue, error) {
	s, err := js.Stream(ctx, topology.StreamDLQ)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", topology.StreamDLQ, err)
	}
	return &Queue{js: js, s: s}, nil
}

// Filter is the subject of one stage's dead letters, or of all ("").
func Filter(stage string) string {
	if stage == "" {
		return topology.SubjectDLQ
	}
	return topology.DLQSubject(stage)
}

// Count is how many dead letters stage has ("": all stages).
func (q *Queue) Count(ctx context.Context, stage string) (uint64, error) {
	info, err := q.s.Info(ctx, jetstream.WithSubjectFilter(Filter(stage)))
	if err != nil {
		return 0, fmt.Errorf("stream info: %w", err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n, nil
}

// List reads the headers of every dead letter of stage ("": all stages),
// oldest first.
func (q *Queue) List(ctx context.Context, stage string) ([]Entry, error) {
	n, err := q.Count(ctx, stage)
	if err != nil || n == 0 {
		return nil, err
	}
	cons, err := q.s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{Filter(stage)}, HeadersOnly: true})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", topology.StreamDLQ, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", topology.StreamDLQ, err)
	}
	defer it.Stop()
	var out []Entry
	for {
		e, pending, err := next(ctx, it)
		if err != nil {
			return out, fmt.Errorf("read %s: %w", topology.StreamDLQ, err)
		}
		out = append(out, e)
		if pending == 0 {
			return out, nil
		}
	}
}

// next reads one listed dead letter and how many are left after it.
func next(ctx context.Context, it jetstream.MessagesContext) (Entry, uint64, error) {
	m, err := it.Next(jetstream.NextContext(ctx))
	if err != nil {
		return Entry{}, 0, err
	}
	md, err := m.Metadata()
	if err != nil {
		return Entry{}, 0, err
	}
	h := m.Headers()
	e := Entry{Seq: md.Sequence.Stream, Stage: h.Get(HeaderStage),
		OriginalSubject: h.Get(HeaderSubject), Reason: h.Get(HeaderReason)}
	if e.Stage == "" {
		e.Stage = strings.TrimPrefix(m.Subject(), "dlq.")
	}
	// Letters written by hand may lack these; the listing still shows them.
	e.FailedAt, _ = time.Parse(time.RFC3339Nano, h.Get(HeaderFailedAt))
	e.Size, _ = strconv.Atoi(h.Get("Nats-Msg-Size"))
	return e, md.NumPending, nil
}

// Get reads one dead letter, body and headers.
func (q *Queue) Get(ctx context.Context, seq uint64) (*jetstream.RawStreamMsg, error) {
	m, err := q.s.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, fmt.Errorf("%w with sequence %d", ErrNotFound, seq)
	}
	if err != nil {
		return nil, fmt.Errorf("get dead letter %d: %w", seq, err)
	}
	if !strings.HasPrefix(m.Subject, "dlq.") {
		return nil, fmt.Errorf("message %d is on %s, not a dead letter", seq, m.Subject)
	}
	return m, nil
}

// Replay republishes one dead letter to its original subject with the
// original headers, then deletes it; it returns that subject. The publish
// carries an id derived from the DLQ sequence, so replaying again after a
// crash between the two steps does not send it twice (within the target
// stream's duplicate window).
func (q *Queue) Replay(ctx context.Context, seq uint64) (string, error) {
	m, err := q.Get(ctx, seq)
	if err != nil {
		return "", err
	}
	subj := m.Header.Get(HeaderSubject)
	if subj == "" {
		return "", fmt.Errorf("no %s header: cannot tell where it came from", HeaderSubject)
	}
	if n := m.Header.Get(HeaderTruncated); n != "" {
		// Its data is only the first part of the original: sending it back
		// would pass off a fragment as the message.
		return "", fmt.Errorf("the letter holds %d of the original %s bytes (%s): it cannot be replayed", len(m.Data), n, HeaderTruncated)
	}
	out := nats.NewMsg(subj)
	out.Data = m.Data
	for k, vs := range m.Header {
		if IsLetterHeader(k) || k == jetstream.MsgIDHeader {
			continue
		}
		for _, v := range vs {
			out.Header.Add(k, v)
		}
	}
	if _, err := q.js.PublishMsg(ctx, out, jetstream.WithMsgID(fmt.Sprintf("dlq-replay:%d:%s", seq, m.Header.Get(HeaderFailedAt)))); err != nil {
		return "", fmt.Errorf("republish to %s: %w", subj, err)
	}
	if err := q.s.DeleteMsg(ctx, seq); err != nil {
		return "", fmt.Errorf("re-sent to %s but not removed from the DLQ: %w", subj, err)
	}
	return subj, nil
}

// Purge deletes the dead letters of stage ("": all) for good and returns
// how many there were.
func (q *Queue) Purge(ctx context.Context, stage string) (uint64, error) {
	n, err := q.Count(ctx, stage)
	if err != nil {
		return 0, err
	}
	if err := q.s.Purge(ctx, jetstream.WithPurgeSubject(Filter(stage))); err != nil {
		return 0, fmt.Errorf("purge %s: %w", Filter(stage), err)
	}
	return n, nil
}
