package writer

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/metrics"
	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// applyGrace is how long a stopping writer still waits for its committed
// requests to be applied before handing their messages back (a redelivery
// rewrites them harmlessly; waiting a little saves that).
const applyGrace = 5 * time.Second

// applyJob is one committed request (or bisected part of one) whose
// messages wait until QuestDB applied it.
type applyJob struct {
	items   []*item
	applied <-chan error
	at      time.Time
}

// ackLoop settles committed requests in order, each once it is queryable:
// "committed" progress, fill reports, then the acks. One per worker, so
// the worker gathers its next request while the last one is applied.
func (w *worker) ackLoop(ctx context.Context, jobs <-chan applyJob) {
	for job := range jobs {
		var err error
		select {
		case err = <-job.applied:
		case <-ctx.Done():
			select {
			case err = <-job.applied:
			case <-time.After(applyGrace):
				continue // still held: release hands the messages back
			}
		}
		w.st.applySecs.Add(time.Since(job.at).Seconds())
		if err != nil {
			w.log.Warn("committed batches are not queryable; they will be redelivered and written again", "batches", len(job.items), "err", err)
			for _, it := range job.items {
				_ = it.msg.NakWithDelay(time.Second)
				w.finish(it)
			}
			continue
		}
		w.acknowledge(ctx, job.items)
	}
}

// reportFill tells a waiting fetcher what became of a fill's batch. Core
// NATS, fire and forget: a fetcher that misses it times out and says so.
func (w *worker) reportFill(it *item, kind, reason string) {
	if it.fillID == "" {
		return
	}
	data, _ := json.Marshal(contract.FillReport{FillID: it.fillID, Batch: it.batch, Rows: int64(it.rows),
		Kind: kind, Reason: contract.Clip(reason, 500), Table: w.cfg.QuestDB.Table})
	if err := w.js.Conn().Publish(topology.FillReportSubject(it.source), data); err != nil {
		w.log.Warn("cannot send a fill report", "fill_id", contract.Clip(it.fillID, 80), "batch", it.batch, "err", err)
	}
}

// tableHealth follows the table's WAL state from the apply watcher's polls:
// the suspended gauge, one log line per change, and the /healthz check.
type tableHealth struct {
	table     string
	log       *slog.Logger
	suspended *metrics.Value

	mu          sync.Mutex
	state       questdb.WALState
	unreachable bool
}

func (h *tableHealth) observe(s questdb.WALState, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil && !errors.Is(err, questdb.ErrNotWAL) {
		if !h.unreachable {
			h.unreachable = true
			h.log.Warn("cannot read the table's WAL state from QuestDB; committed batches wait until it answers",
				"table", h.table, "err", err)
		}
		return
	}
	if h.unreachable {
		h.unreachable = false
		h.log.Info("reading the table's WAL state again", "table", h.table)
	}
	was := h.state.Suspended
	h.state = s
	switch {
	case s.Suspended && !was:
		h.suspended.Set(1)
		h.log.Error("QuestDB table is suspended: committed batches wait and are not reported until it is resumed",
			"table", h.table, "error_tag", s.ErrorTag, "error", s.ErrorMessage,
			"writer_txn", s.WriterTxn, "sequencer_txn", s.SequencerTxn,
			"fix", "ALTER TABLE "+h.table+" RESUME WAL")
	case !s.Suspended && was:
		h.suspended.Set(0)
		h.log.Info("QuestDB table resumed; committed batches are reported again", "table", h.table)
	case !s.Suspended:
		h.suspended.Set(0)
	}
}

// check fails /healthz while the table is suspended.
func (h *tableHealth) check() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.state.SuspendedError()
}
