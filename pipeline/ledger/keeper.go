package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/deadletter"
	"github.com/feefifofunds/feefifofunds/pipeline/metrics"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// Config configures the ledger keeper.
type Config struct {
	JS      jetstream.JetStream // required; the caller ensured the topology
	Log     *slog.Logger
	Metrics *metrics.Registry
	// Batch is how many reports are folded in one round at most; reports of
	// the same file in a round make one ledger write.
	Batch int
	// KeepFileData keeps a file's bytes in FILEDATA after it is committed.
	// By default they are deleted then: the file itself is in done/, its
	// candles in QuestDB and CANDLES, and FILEDATA would otherwise grow by
	// every file ever ingested.
	KeepFileData bool
}

// Run consumes PROGRESS with the shared durable consumer and folds each
// report into LEDGER until ctx ends. Any number of keepers may run: they
// compete for reports and every write is compare-and-set. A report is acked
// only after the ledger holds it.
func Run(ctx context.Context, cfg Config) error {
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	log = log.With("stage", "ledger")
	reg := cfg.Metrics
	if reg == nil {
		reg = metrics.Default
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 256
	}
	js := cfg.JS
	if js == nil {
		return errors.New("ledger keeper: Config.JS is required")
	}
	led, err := Open(ctx, js)
	if err != nil {
		return err
	}
	// Retried: a cluster electing a leader or without quorum must delay the
	// keeper (and the watcher running it), not end it.
	cons, err := topology.WaitConsumer(ctx, js, topology.StreamProgress, topology.ProgressConsumer(), log)
	if err != nil {
		return err
	}
	k := &keeper{js: js, led: led, log: log, reg: reg, queryable: reg.Histogram("fff_ledger_file_seconds",
		"Time from a file's QUEUED ledger entry to COMMITTED: every candle of it queryable in QuestDB", fileBuckets)}
	if !cfg.KeepFileData {
		if k.obj, err = js.ObjectStore(ctx, topology.BucketFileData); err != nil {
			return fmt.Errorf("open object store %s: %w", topology.BucketFileData, err)
		}
	}

	msgs := make(chan jetstream.Msg, cfg.Batch)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		select {
		case msgs <- m:
		case <-ctx.Done(): // not acked: redelivered to whoever runs next
		}
	}, jetstream.PullMaxMessages(cfg.Batch), jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		log.Debug("progress consumer", "err", err)
	}))
	if err != nil {
		return fmt.Errorf("consume %s: %w", topology.StreamProgress, err)
	}
	defer cc.Stop()
	log.Debug("ledger keeper running")

	round := make([]jetstream.Msg, 0, cfg.Batch)
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-msgs:
			round = append(round[:0], m)
		drain:
			for len(round) < cfg.Batch {
				select {
				case m := <-msgs:
					round = append(round, m)
				default:
					break drain
				}
			}
			k.fold(ctx, round)
		}
	}
}

type keeper struct {
	js  jetstream.JetStream
	obj jetstream.ObjectStore // nil: keep file bytes
	led *Ledger
	log *slog.Logger
	reg *metrics.Registry
	// queryable times each file from QUEUED to COMMITTED, what a person
	// dropping a file waits for.
	queryable *metrics.Histogram
}

// fileBuckets span a small file on an idle pipeline (a quarter second) to a
// large backlog (a couple of hours).
var fileBuckets = []float64{0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200}

type report struct {
	msg jetstream.Msg
	p   contract.Progress
}

// fold applies one round of reports: grouped by file, one compare-and-set
// write per file, then the acks.
func (k *keeper) fold(ctx context.Context, msgs []jetstream.Msg) {
	byFile := map[string][]report{}
	var order []string
	for _, m := range msgs {
		var p contract.Progress
		if err := json.Unmarshal(m.Data(), &p); err != nil || p.FileID == "" {
			reason := "progress report is not a contract.Progress JSON with a file_id"
			if err != nil {
				reason += ": " + err.Error()
			}
			k.log.Warn("dead-lettering progress report", "subject", m.Subject(), "reason", reason)
			if err := deadletter.Msg(ctx, k.js, "ledger", m, reason); err != nil {
				k.log.Error("dead-letter progress report", "err", err)
			}
			continue
		}
		if _, ok := byFile[p.FileID]; !ok {
			order = append(order, p.FileID)
		}
		byFile[p.FileID] = append(byFile[p.FileID], report{msg: m, p: p})
	}
	for _, id := range order {
		reps := byFile[id]
		committedNow := false
		e, _, err := k.led.Update(ctx, id, func(e *contract.LedgerEntry, exists bool) bool {
			if !exists {
				// Every entry is written QUEUED before its work is published,
				// so this file's entry was deleted (or the bucket replaced):
				// an entry made of reports alone would have no name or path.
				k.log.Warn("progress for a file the ledger does not know; dropped",
					"file_id", short(id), "reports", len(reps))
				return false
			}
			changed := false
			was := e.State
			now := time.Now().UTC()
			for _, r := range reps {
				if Apply(e, r.p, now) {
					changed = true
				}
			}
			committedNow = changed && was != contract.FileCommitted && e.State == contract.FileCommitted
			return changed
		})
		if err != nil {
			if ctx.Err() == nil {
				k.log.Error("fold progress into the ledger; will retry", "file_id", short(id), "err", err)
				k.reg.Counter("fff_ledger_errors_total", "Ledger writes that failed and were retried").Inc()
			}
			for _, r := range reps {
				_ = r.msg.NakWithDelay(2 * time.Second)
			}
			continue
		}
		for _, r := range reps {
			k.reg.Counter("fff_ledger_progress_total", "Progress reports folded into the ledger", "kind", r.p.Kind).Inc()
			if err := r.msg.Ack(); err != nil {
				k.log.Warn("ack progress report", "err", err) // redelivered; folding it again changes nothing
			}
		}
		if committedNow && !e.Created.IsZero() {
			// Created is when this run's entry was written QUEUED (a forced
			// run writes a new one), so this is the run's own wait.
			k.queryable.Observe(max(0, time.Since(e.Created).Seconds()))
		}
		if committedNow && k.obj != nil {
			// Bytes of a committed file are no longer needed; a forced run
			// stores them again. A failure only leaves them behind.
			// Finished even when stopping: the fold is already written.
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			err := k.obj.Delete(dctx, id)
			cancel()
			if err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
				k.log.Warn("could not delete a committed file's bytes", "file_id", short(id), "err", err)
			}
		}
		if e.Name != "" && Terminal(e.State) {
			k.log.Debug("file settled", "file_id", short(id), "name", e.Name, "state", e.State)
		}
	}
}
