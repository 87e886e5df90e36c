// Package deadletter moves messages a stage cannot process to the DLQ stream
// (dlq.<stage>), with headers that say why and where they came from, so a
// person can look at them (`fff dlq show`) and send them back (`fff dlq replay`).
package deadletter

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// Headers set on every dead letter. The original message's own headers are kept.
const (
	HeaderReason     = "Fff-Reason"
	HeaderStage      = "Fff-Stage"
	HeaderSubject    = "Fff-Original-Subject"
	HeaderStream     = "Fff-Original-Stream"
	HeaderSequence   = "Fff-Original-Sequence"
	HeaderDeliveries = "Fff-Deliveries"
	HeaderFailedAt   = "Fff-Failed-At"
	// HeaderTruncated is set when the original message did not fit a dead
	// letter beside its headers: its value is the original length in bytes,
	// and the letter carries the first part of the data only.
	HeaderTruncated = "Fff-Truncated"
)

// IsLetterHeader says whether a header is one Publish adds (and a replay
// must drop), as opposed to one of the original message's own.
func IsLetterHeader(k string) bool {
	switch k {
	case HeaderReason, HeaderStage, HeaderSubject, HeaderStream, HeaderSequence, HeaderDeliveries, HeaderFailedAt, HeaderTruncated:
		return true
	}
	return false
}

// Letter describes what to dead-letter.
type Letter struct {
	Stage      string // "parser", "writer", "fetcher", ...
	Subject    string // original subject
	Stream     string // original stream, if any
	Sequence   uint64 // original stream sequence, if any
	Deliveries uint64
	Data       []byte
	Header     nats.Header
	Reason     string
}

// FromMsg fills a Letter from a JetStream message.
func FromMsg(stage string, msg jetstream.Msg, reason string) Letter {
	l := Letter{Stage: stage, Subject: msg.Subject(), Data: msg.Data(), Header: msg.Headers(), Reason: reason}
	if md, err := msg.Metadata(); err == nil {
		l.Stream = md.Stream
		l.Sequence = md.Sequence.Stream
		l.Deliveries = md.NumDelivered
	}
	return l
}

// Publish stores the letter on dlq.<stage>. Dead-lettering the same stream
// message twice is deduplicated by its message id.
func Publish(ctx context.Context, js jetstream.JetStream, l Letter) error {
	m := nats.NewMsg(topology.DLQSubject(l.Stage))
	m.Data = l.Data
	for k, vs := range l.Header {
		if k == jetstream.MsgIDHeader {
			continue
		}
		for _, v := range vs {
			m.Header.Add(k, v)
		}
	}
	m.Header.Set(HeaderReason, headerValue(l.Reason))
	m.Header.Set(HeaderStage, l.Stage)
	m.Header.Set(HeaderSubject, l.Subject)
	m.Header.Set(HeaderFailedAt, time.Now().UTC().Format(time.RFC3339Nano))
	opts := []jetstream.PublishOpt{}
	if l.Stream != "" {
		m.Header.Set(HeaderStream, l.Stream)
		m.Header.Set(HeaderSequence, strconv.FormatUint(l.Sequence, 10))
		opts = append(opts, jetstream.WithMsgID(fmt.Sprintf("dlq:%s:%s:%d", l.Stage, l.Stream, l.Sequence)))
	}
	if l.Deliveries > 0 {
		m.Header.Set(HeaderDeliveries, strconv.FormatUint(l.Deliveries, 10))
	}
	fit(m, int(js.Conn().MaxPayload()))
	if _, err := js.PublishMsg(ctx, m, opts...); err != nil {
		return fmt.Errorf("dead-letter to %s: %w", m.Subject, err)
	}
	return nil
}

// Msg dead-letters a JetStream message and then terminates it, so it is not
// redelivered. The message is only terminated once the letter is stored.
func Msg(ctx context.Context, js jetstream.JetStream, stage string, msg jetstream.Msg, reason string) error {
	if err := Publish(ctx, js, FromMsg(stage, msg, reason)); err != nil {
		return err
	}
	if err := msg.TermWithReason(reason); err != nil {
		return fmt.Errorf("terminate dead-lettered message: %w", err)
	}
	return nil
}

// headerValue makes a reason safe for a header: one line, clipped, so that
// no reason can be what makes a letter unpublishable.
func headerValue(s string) string {
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
	return contract.Shorten(s, contract.MaxReasonBytes)
}

// fit cuts the data of a letter that would exceed the server's max payload
// (headers included) and says so in HeaderTruncated: a dead letter must
// never fail for its size, or the message it stands for would be lost.
func fit(m *nats.Msg, maxPayload int) {
	if maxPayload <= 0 {
		return
	}
	hdr := 0
	for k, vs := range m.Header {
		for _, v := range vs {
			hdr += len(k) + len(v) + 4 // "k: v\r\n"
		}
	}
	// Room for the truncation header itself, the status line and slack.
	room := maxPayload - hdr - 128
	if len(m.Data) <= room {
		return
	}
	m.Header.Set(HeaderTruncated, strconv.Itoa(len(m.Data)))
	m.Data = m.Data[:max(room, 0)]
}
