package writer

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/deadletter"
	"github.com/feefifofunds/feefifofunds/pipeline/jsplumb"
	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// item is one held JetStream message. Only what acknowledging needs is kept;
// the candles are decoded again from the message if a request must be
// rebuilt, which is cheaper than keeping them twice.
type item struct {
	msg    jetstream.Msg
	rows   int
	fileID string
	run    string // the file's forced run (Fff-Run header), for its reports
	fillID string // the fill request the batch serves (API and trades batches)
	source string
	batch  uint32
	done   bool
}

type worker struct {
	id      int
	cfg     Config
	js      jetstream.JetStream
	cons    jetstream.Consumer
	log     *slog.Logger
	st      *stats
	maxMsgs int
	applied *questdb.ApplyWatcher
	toAck   chan applyJob // the ack loop's queue: one request waits, the next is gathered
	pace    jsplumb.FetchPacer

	sink    questdb.Sink
	scratch contract.Batch
	avgRows float64
	// skipEncode is set when encoding while gathering failed (QuestDB not
	// reachable for the sender): Commit rebuilds the request anyway.
	skipEncode bool
	holding    bool

	mu   sync.Mutex
	held []*item
}

func (w *worker) run(ctx context.Context) {
	sink, err := questdb.NewILPSink(w.cfg.QuestDB.ILP, w.cfg.QuestDB.Table,
		questdb.SinkOptions{Rows: sinkRows(w.cfg.FlushRows), WithoutPairColumns: w.cfg.WithoutPairColumns})
	if err != nil {
		// Run checked the settings already.
		w.log.Error("writer worker cannot start", "err", err)
		return
	}
	w.sink = sink
	defer func() { _ = w.sink.Close(context.Background()) }()
	w.avgRows = 8192

	// One keep-alive for everything held, whatever the worker is waiting on
	// (QuestDB, a long request, a table applying or suspended).
	// Every quarter of AckWait: well inside it even on a loaded machine.
	stopKeepAlive := jsplumb.KeepAlive(ctx, w.cfg.AckWait/4, w.heldMsgs, w.log)
	// One request waits for its apply in the ack loop while the next is
	// gathered and sent; ApplyQueue more may queue behind it.
	w.toAck = make(chan applyJob, w.cfg.ApplyQueue)
	acked := make(chan struct{})
	go func() {
		defer close(acked)
		w.ackLoop(ctx, w.toAck)
	}()
	defer func() {
		close(w.toAck)
		<-acked
		stopKeepAlive()
		w.release()
	}()
	w.pace = jsplumb.FetchPacer{Min: 100 * time.Millisecond, Max: 5 * time.Second, Log: w.log, What: "candle batches from CANDLES"}

	for ctx.Err() == nil {
		items := w.gather(ctx)
		if len(items) == 0 {
			continue
		}
		w.commit(ctx, items)
		w.mu.Lock()
		w.held = dropSettled(w.held)
		w.mu.Unlock()
	}
}

// dropSettled keeps the items not yet settled, in order, in the same
// backing array, and clears the slots behind them: a settled item left
// there keeps its message's data alive. The array grows to the most
// messages ever held (hundreds of small batches), so on an archive of
// small and large files the stale slots held up to ~125 MB of large
// batches already acknowledged (heap profile of fff bench's archive step).
func dropSettled(held []*item) []*item {
	kept := held[:0]
	for _, it := range held {
		if !it.done {
			kept = append(kept, it)
		}
	}
	clear(held[len(kept):])
	return kept
}

// gather fetches messages until the request has FlushRows rows, holds
// maxMsgs messages, FlushInterval passed since its first message, or no
// message came for FlushIdle. It encodes each batch into the sink as it
// arrives.
// fetchSlack is the room a pull leaves beyond the candles a request still
// lacks: one full default batch, so that a pull does not end on a message
// too large for it (see gather).
const (
	fetchSlack = 1 << 20
	slackRows  = fetchSlack / contract.BytesPerCandle
)

// sinkRows is what a worker's ILP buffer is sized for: a full request and
// the pull's slack beyond it. Sized for the request alone, a request of
// --flush-rows below one batch's slack would end at its first batch.
func sinkRows(flushRows int) int { return flushRows + slackRows }

func (w *worker) gather(ctx context.Context) []*item {
	var items []*item
	rows := 0
	var deadline time.Time
	w.skipEncode = false
	for rows < w.cfg.FlushRows && len(items) < w.maxMsgs && ctx.Err() == nil {
		// The request also ends before it outgrows the sink's buffer: a
		// pull may bring up to fetchSlack bytes of batches beyond what is
		// asked for (below).
		room := w.sink.Room() - slackRows
		if len(items) > 0 && room <= 0 {
			break
		}
		// An idle worker waits for one message (a pull request cannot be
		// shortened once sent, and the interval starts with the first
		// message); then it asks for as many as should fill the request.
		//
		// The wait is the pull's server-side expiry (FetchMaxWait), never a
		// client context: nats.go ends a fetch whose context is done by
		// dropping what the server already sent, and each dropped batch
		// then sat unseen until AckWait redelivered it. With the
		// expiry the client listens until the server says the pull is over.
		// The idle wait is short so that a stopping writer returns soon.
		//
		// The ask is bounded by bytes as well as by count: sized from the
		// average rows of recent messages alone, a worker that had just
		// seen many one-row fill batches asked for hundreds of messages,
		// got full 8,192-candle batches of a big file instead and held
		// ~300 MB in one request. So the byte budget is what the request
		// still lacks (contract.BytesPerCandle a candle), plus fetchSlack:
		// a pull that ended on a message too large for its budget made the
		// server load that message again for the next pull (+3 s of CPU
		// per 5M rows, measured).
		// A message that does not fit ends the pull (the server says so)
		// and waits for the next request.
		wait, n := time.Second, 1
		var batch jetstream.MessageBatch
		var err error
		if len(items) > 0 {
			wait = min(time.Until(deadline), w.cfg.FlushIdle)
			if wait < 5*time.Millisecond {
				break
			}
			want := min(w.cfg.FlushRows-rows, room)
			n = max(1, min(int(float64(want)/w.avgRows+0.999), w.maxMsgs-len(items)))
			budget := want*contract.BytesPerCandle + fetchSlack
			batch, err = w.cons.Fetch(n, jetstream.FetchMaxWait(wait), jetstream.FetchMaxBytes(budget))
		} else {
			batch, err = w.cons.Fetch(n, jetstream.FetchMaxWait(wait))
		}
		if err != nil {
			// Paced and logged once per change: a lost server answers at
			// once, and without a pause this loop spun thousands of times a second.
			w.pace.Failed(ctx, err)
			continue
		}
		got := 0
		for m := range batch.Messages() {
			got++
			it := w.accept(ctx, m)
			if it == nil {
				continue
			}
			items = append(items, it)
			rows += it.rows
			if len(items) == 1 {
				deadline = time.Now().Add(w.cfg.FlushInterval)
			}
		}
		if err := batch.Error(); err != nil && !jsplumb.IdleFetch(err) {
			if len(items) > 0 {
				break // commit what was gathered; the next fetch is paced
			}
			w.pace.Failed(ctx, err)
			continue
		}
		w.pace.OK()
		if got == 0 && len(items) > 0 {
			break // nothing came for FlushIdle: commit what is here
		}
	}
	return items
}

// accept decodes a message, dead-letters it when it is not a batch, and
// otherwise holds it and encodes its rows.
func (w *worker) accept(ctx context.Context, m jetstream.Msg) *item {
	if err := contract.DecodeBatch(m.Data(), &w.scratch); err != nil {
		w.deadLetterUndecodable(ctx, m, err)
		return nil
	}
	it := &item{msg: m, rows: len(w.scratch.Candles), fileID: w.scratch.FileID, batch: w.scratch.BatchIndex,
		fillID: w.scratch.FillID, source: w.scratch.Source}
	if it.fileID != "" {
		it.run = m.Headers().Get(contract.HeaderRun)
	}
	w.avgRows = 0.8*w.avgRows + 0.2*float64(max(it.rows, 1))
	w.mu.Lock()
	w.held = append(w.held, it)
	w.mu.Unlock()
	w.st.pending.Add(float64(it.rows))
	if !w.skipEncode {
		if err := w.sink.Add(ctx, &w.scratch); err != nil && !questdb.Rejected(err) {
			w.skipEncode = true
		}
	}
	return it
}

// commit sends the gathered items, bisecting on rejection and waiting out
// an unreachable QuestDB, then acknowledges them.
func (w *worker) commit(ctx context.Context, items []*item) {
	get := func(i int) (*contract.Batch, error) {
		if err := contract.DecodeBatch(items[i].msg.Data(), &w.scratch); err != nil {
			return nil, fmt.Errorf("decode batch again: %w", err)
		}
		return &w.scratch, nil
	}
	bo := newBackoff(w.cfg.MaxBackoff)
	hooks := questdb.Hooks{
		Hold: func(ctx context.Context, attempt, _ int, err error) error {
			w.st.retries.Inc()
			w.st.up.Set(0)
			w.holding = true
			nb, nr := 0, 0
			for _, it := range items {
				if !it.done {
					nb++
					nr += it.rows
				}
			}
			d := bo.next()
			w.log.Warn(fmt.Sprintf("QuestDB unreachable, holding %d batches (%d rows), retry in %s", nb, nr, d),
				"attempt", attempt, "err", err)
			if !jsplumb.Sleep(ctx, d) {
				return ctx.Err()
			}
			return nil
		},
		Committed: func(lo, hi int) {
			w.st.up.Set(1)
			w.st.flushes.Inc()
			d := w.sink.LastFlush()
			w.st.flushSecs.Add(d.Seconds())
			w.st.lastFlush.Set(d.Seconds())
			w.st.commit.Observe(d.Seconds())
			if w.holding {
				w.holding = false
				w.log.Info("QuestDB reachable again, resuming")
			}
			bo.reset()
			// Committed is not yet queryable: the ack loop reports and
			// acknowledges once QuestDB applied the request.
			job := applyJob{items: items[lo:hi], applied: w.applied.Watch(), at: time.Now()}
			select {
			case w.toAck <- job:
			case <-ctx.Done():
				// Stopping: the messages stay held and are handed back.
			}
		},
		Rejected: func(i int, err error) {
			w.reject(ctx, items[i], err)
		},
	}
	if err := w.sink.Commit(ctx, len(items), get, hooks); err != nil && ctx.Err() == nil {
		w.log.Error("commit stopped", "err", err)
	}
}

// acknowledge reports "committed" for CSV batches and "applied" for fill
// batches, then acks; it is called once the rows are queryable. A report
// that could not be published leaves its message unacknowledged for a later
// redelivery (the rows are rewritten harmlessly: the table deduplicates).
func (w *worker) acknowledge(ctx context.Context, its []*item) {
	// The rows are in QuestDB: finish reporting even if we are stopping.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	futures := make([]jetstream.PubAckFuture, len(its))
	for i, it := range its {
		w.reportFill(it, contract.FillApplied, "")
		if it.fileID == "" {
			continue
		}
		p := contract.Progress{FileID: it.fileID, Run: it.run, Kind: "committed", Batch: it.batch, Rows: int64(it.rows), Table: w.cfg.QuestDB.Table}
		data, _ := json.Marshal(p)
		f, err := w.js.PublishAsync(topology.ProgressSubject(it.fileID), data,
			jetstream.WithMsgID(contract.RunMsgID(fmt.Sprintf("committed:%s:%d", it.fileID, it.batch), it.run)))
		if err != nil {
			w.log.Warn("cannot publish commit progress", "file_id", it.fileID, "batch", it.batch, "err", err)
			continue
		}
		futures[i] = f
	}
	for i, it := range its {
		ok := it.fileID == ""
		if f := futures[i]; f != nil {
			select {
			case <-f.Ok():
				ok = true
			case err := <-f.Err():
				w.log.Warn("commit progress not stored", "file_id", it.fileID, "batch", it.batch, "err", err)
			case <-actx.Done():
				w.log.Warn("commit progress not confirmed in time", "file_id", it.fileID, "batch", it.batch)
			}
		}
		if ok {
			if err := it.msg.Ack(); err != nil {
				w.log.Warn("ack failed; the batch will be redelivered and rewritten", "subject", it.msg.Subject(), "err", err)
			}
		} else {
			_ = it.msg.NakWithDelay(2 * time.Second)
		}
		w.st.batches.Inc()
		w.st.rows.Add(float64(it.rows))
		w.finish(it)
	}
}

// reject dead-letters a batch QuestDB refused, reports "failed" for its file,
// and terminates the message, in that order.
func (w *worker) reject(ctx context.Context, it *item, cause error) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	reason := cause.Error()
	letter := deadletter.FromMsg(Stage, it.msg, reason)
	if err := deadletter.Publish(dctx, w.js, letter); err != nil {
		w.log.Error("cannot dead-letter a refused batch; it will be redelivered", "subject", it.msg.Subject(), "err", err)
		_ = it.msg.NakWithDelay(5 * time.Second)
		w.finish(it)
		return
	}
	if it.fileID != "" {
		p := contract.Progress{FileID: it.fileID, Run: it.run, Kind: "failed", Batch: it.batch, Reason: reason, Table: w.cfg.QuestDB.Table}
		data, _ := json.Marshal(p)
		if _, err := w.js.Publish(dctx, topology.ProgressSubject(it.fileID), data,
			jetstream.WithMsgID(contract.RunMsgID(fmt.Sprintf("failed:%s:%d", it.fileID, it.batch), it.run))); err != nil {
			w.log.Error("cannot report failed batch; it will be redelivered", "file_id", it.fileID, "batch", it.batch, "err", err)
			_ = it.msg.NakWithDelay(5 * time.Second)
			w.finish(it)
			return
		}
	}
	w.reportFill(it, contract.FillRefused, reason)
	_ = it.msg.TermWithReason(truncate(reason, 200))
	w.st.dead.Inc()
	w.log.Error("QuestDB refused a batch; dead-lettered", "subject", it.msg.Subject(), "file_id", it.fileID,
		"batch", it.batch, "rows", it.rows, "reason", reason)
	w.finish(it)
}

func (w *worker) deadLetterUndecodable(ctx context.Context, m jetstream.Msg, cause error) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	reason := "not a candle batch: " + cause.Error()
	if err := deadletter.Msg(dctx, w.js, Stage, m, reason); err != nil {
		w.log.Error("cannot dead-letter an undecodable message; it will be redelivered", "subject", m.Subject(), "err", err)
		_ = m.NakWithDelay(5 * time.Second)
		return
	}
	w.st.dead.Inc()
	w.log.Error("undecodable message dead-lettered", "subject", m.Subject(), "reason", reason)
}

func (w *worker) finish(it *item) {
	w.mu.Lock()
	if !it.done {
		it.done = true
		w.st.pending.Add(-float64(it.rows))
	}
	w.mu.Unlock()
}

// heldMsgs is what the keep-alive marks in progress: every message held
// and not yet settled.
func (w *worker) heldMsgs() []jetstream.Msg {
	w.mu.Lock()
	defer w.mu.Unlock()
	msgs := make([]jetstream.Msg, 0, len(w.held))
	for _, it := range w.held {
		if !it.done {
			msgs = append(msgs, it.msg)
		}
	}
	return msgs
}

// release hands back what a stopping worker still holds, so another writer
// gets it now rather than after AckWait.
func (w *worker) release() {
	w.mu.Lock()
	held := w.held
	w.held = nil
	w.mu.Unlock()
	for _, it := range held {
		if !it.done {
			_ = it.msg.Nak()
			w.finish(it)
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
