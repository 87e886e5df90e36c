package parser

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/jsplumb"
	"github.com/feefifofunds/feefifofunds/pipeline/ledger"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// HeaderWaitRound counts how often a file's work was queued again because
// the pipeline, not the file, kept failing it (see wait).
const HeaderWaitRound = "Fff-Wait-Round"

// contentError is a fault of the file or its event that no retry mends: the
// file is rejected with it. Every other error is the pipeline's own trouble.
type contentError struct{ err error }

func (e *contentError) Error() string { return e.err.Error() }
func (e *contentError) Unwrap() error { return e.err }

// wait settles a file the parser could not finish for a reason that is not
// in its content (the store, the network, a server election): it is never
// rejected for that. The ledger entry is marked waiting with the reason (and
// whether the watcher should put the bytes again), and the file is retried
// with capped backoff for as long as it takes: on the consumer's last
// delivery its work is queued afresh instead of being dead-lettered.
//
// A file the ledger does not know (no one submitted it, so no one could put
// its bytes again) is given up after the consumer's deliveries, as before:
// it is dead-lettered, and can be replayed from there.
func (s *stage) wait(ctx context.Context, msg jetstream.Msg, ev contract.FileEvent, delivered uint64, cause error, log *slog.Logger) error {
	last := s.maxDeliver > 0 && delivered+1 >= uint64(s.maxDeliver)
	round := waitRound(msg)
	attempt := int(delivered)
	if s.maxDeliver > 0 {
		attempt += round * (s.maxDeliver - 1)
	}
	delay := min(time.Duration(attempt)*s.cfg.RetryDelay, s.cfg.MaxRetryDelay)
	if !s.known(ctx, ev) {
		if last {
			return jsplumb.DeadLetter(fmt.Errorf("gave up after %d attempts: %w", delivered, cause))
		}
		s.retries.Inc()
		log.Warn("parsing failed; will retry", "err", cause, "retry_in", delay)
		return jsplumb.Retry(cause, delay)
	}

	reput := errors.Is(cause, errUnreadable) || errors.Is(cause, errObjectMissing)
	p := contract.Progress{
		FileID: ev.FileID, Run: ev.Run, Kind: ledger.KindWaiting, Attempt: attempt, Reput: reput,
		Reason: ledger.GaveUpPrefix + cause.Error(),
	}
	if err := s.publishProgress(ctx, p); err != nil {
		log.Warn("could not mark the file waiting", "err", err)
	}
	s.retries.Inc()
	s.waits.Inc()
	log.Warn("file waits for the pipeline, not for its content; will retry",
		"err", cause, "attempt", attempt, "retry_in", delay, "reput_asked", reput)
	if !last {
		return jsplumb.Retry(cause, delay)
	}
	// The consumer would not deliver this message again: wait here (the
	// keep-alive holds it), then queue the work afresh and let this go.
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-ctx.Done(): // stopping: requeue now rather than lose the round
	case <-t.C:
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ReadTimeout)
	defer cancel()
	if err := s.requeue(rctx, msg, ev, round+1); err != nil {
		log.Warn("could not queue the file again; retrying this delivery", "err", err)
		return jsplumb.Retry(cause, delay)
	}
	return nil
}

// known says whether the ledger has an entry for the file; when the ledger
// cannot be asked, it is assumed to (waiting is the safe side).
func (s *stage) known(ctx context.Context, ev contract.FileEvent) bool {
	cctx, cancel := context.WithTimeout(ctx, s.cfg.ReadTimeout)
	defer cancel()
	_, _, err := s.ledger.Get(cctx, ev.FileID)
	return !errors.Is(err, ledger.ErrNotFound)
}

// requeue publishes the file's event again as new work, under a message id
// of its own round so the duplicate window does not drop it.
func (s *stage) requeue(ctx context.Context, msg jetstream.Msg, ev contract.FileEvent, round int) error {
	m := nats.NewMsg(topology.SubjectFiles)
	m.Data = msg.Data()
	for k, vs := range msg.Headers() {
		if k == jetstream.MsgIDHeader || k == HeaderWaitRound {
			continue
		}
		m.Header[k] = vs
	}
	m.Header.Set(HeaderWaitRound, strconv.Itoa(round))
	id := contract.RunMsgID("file:"+ev.FileID, ev.Run) + "#wait" + strconv.Itoa(round)
	if _, err := s.js.PublishMsg(ctx, m, jetstream.WithMsgID(id)); err != nil {
		return fmt.Errorf("queue %s again: %w", ev.Name, err)
	}
	return nil
}

func waitRound(msg jetstream.Msg) int {
	n, _ := strconv.Atoi(msg.Headers().Get(HeaderWaitRound))
	return max(n, 0)
}
