// Package ledgertest stands in for the parser and the writer in tests of the
// watcher and `fff ingest`: it takes FileEvents off FILES and publishes the
// "parsed", "committed" and "rejected" progress reports the real stages
// publish, per the file-progress protocol, without touching QuestDB.
//
// Rows are the non-blank lines of the file; a line containing "BAD" is a bad
// row; a file with no good row is rejected.
package ledgertest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// Options tune the simulation.
type Options struct {
	// BatchRows is how many good rows go in one batch (default 2).
	BatchRows int
	// BeforeCommit, when set, runs before each "committed" report; a test
	// blocks in it to look at the inbox while a file is half committed.
	BeforeCommit func(ev contract.FileEvent, batch int)
	// FailBatch, when set, says which batches the "writer" dead-letters.
	FailBatch func(ev contract.FileEvent, batch int) bool
}

// Sim is a running simulation.
type Sim struct {
	js     jetstream.JetStream
	opts   Options
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	events []contract.FileEvent
	err    error
}

// Start consumes FILES with the parsers' durable consumer until Stop.
func Start(ctx context.Context, js jetstream.JetStream, opts Options) (*Sim, error) {
	if opts.BatchRows <= 0 {
		opts.BatchRows = 2
	}
	cons, err := topology.EnsureConsumer(ctx, js, topology.StreamFiles, topology.ParserConsumer())
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &Sim{js: js, opts: opts, cancel: cancel, done: make(chan struct{})}
	it, err := cons.Messages()
	if err != nil {
		cancel()
		return nil, fmt.Errorf("consume FILES: %w", err)
	}
	go func() {
		<-ctx.Done()
		it.Stop()
	}()
	go func() {
		defer close(s.done)
		for {
			m, err := it.Next()
			if err != nil {
				return
			}
			if err := s.handle(ctx, m); err != nil && ctx.Err() == nil {
				s.mu.Lock()
				s.err = err
				s.mu.Unlock()
			}
		}
	}()
	return s, nil
}

// Stop ends the simulation and returns its first error.
func (s *Sim) Stop() error {
	s.cancel()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Events are the FileEvents taken so far.
func (s *Sim) Events() []contract.FileEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]contract.FileEvent(nil), s.events...)
}

func (s *Sim) handle(ctx context.Context, m jetstream.Msg) error {
	var ev contract.FileEvent
	if err := json.Unmarshal(m.Data(), &ev); err != nil {
		_ = m.Term()
		return fmt.Errorf("file event: %w", err)
	}
	s.mu.Lock()
	s.events = append(s.events, ev)
	s.mu.Unlock()

	obj, err := s.js.ObjectStore(ctx, topology.BucketFileData)
	if err != nil {
		return err
	}
	r, err := obj.Get(ctx, ev.Object)
	if err != nil {
		return fmt.Errorf("object %s: %w", ev.Object, err)
	}
	defer r.Close()
	var good int64
	var bad []contract.RowError
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		switch {
		case text == "":
		case strings.Contains(text, "BAD"):
			bad = append(bad, contract.RowError{Line: line, Reason: "simulated bad row", Text: text})
		default:
			good++
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	// As the real stages do: a forced run's reports carry its name.
	id := func(s string) string { return contract.RunMsgID(s, ev.Run) }
	if good == 0 || (ev.OnBadRow == "reject-file" && len(bad) > 0) {
		p := contract.Progress{FileID: ev.FileID, Run: ev.Run, Kind: "rejected", Reason: "no valid row", RowsRejected: int64(len(bad)), Errors: bad}
		if good > 0 {
			p.Reason = fmt.Sprintf("%d bad row(s) and --on-bad-row reject-file", len(bad))
		}
		if err := s.progress(ctx, p, id("rejected:"+ev.FileID)); err != nil {
			return err
		}
		return m.Ack()
	}
	batches := int((good + int64(s.opts.BatchRows) - 1) / int64(s.opts.BatchRows))
	if err := s.progress(ctx, contract.Progress{FileID: ev.FileID, Run: ev.Run, Kind: "parsed", Batches: batches,
		RowsParsed: good, RowsRejected: int64(len(bad)), Errors: bad}, id("parsed:"+ev.FileID)); err != nil {
		return err
	}
	if err := m.Ack(); err != nil {
		return err
	}
	left := good
	for b := range batches {
		rows := min(left, int64(s.opts.BatchRows))
		left -= rows
		if s.opts.BeforeCommit != nil {
			s.opts.BeforeCommit(ev, b)
		}
		if s.opts.FailBatch != nil && s.opts.FailBatch(ev, b) {
			if err := s.progress(ctx, contract.Progress{FileID: ev.FileID, Run: ev.Run, Kind: "failed", Batch: uint32(b),
				Reason: "simulated QuestDB rejection"}, id(fmt.Sprintf("failed:%s:%d", ev.FileID, b))); err != nil {
				return err
			}
			continue
		}
		if err := s.progress(ctx, contract.Progress{FileID: ev.FileID, Run: ev.Run, Kind: "committed", Batch: uint32(b), Rows: rows,
			Table: "sim"}, id(fmt.Sprintf("committed:%s:%d", ev.FileID, b))); err != nil {
			return err
		}
	}
	return nil
}

func (s *Sim) progress(ctx context.Context, p contract.Progress, msgID string) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	_, err = s.js.Publish(ctx, topology.ProgressSubject(p.FileID), b, jetstream.WithMsgID(msgID))
	return err
}
