// Package writer is the stage that commits candle batches from the CANDLES
// stream to QuestDB. Writers are competing consumers of one durable
// consumer; each gathers messages into large ILP-over-HTTP requests (one
// table per request, so one QuestDB transaction each) and acknowledges a
// message only after QuestDB accepted the request that carried it.
//
// QuestDB down or failing: the messages stay unacknowledged (kept alive with
// InProgress), the writer retries with backoff, says what it waits for, and
// resumes by itself. QuestDB refusing data: the request is bisected to find
// the batches at fault, which go to the DLQ with QuestDB's error text; the
// rest commit.
package writer

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/jsplumb"
	"github.com/feefifofunds/feefifofunds/pipeline/metrics"
	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
	"github.com/feefifofunds/feefifofunds/pipeline/redact"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// Stage is the writer's name in the DLQ (dlq.writer) and in logs.
const Stage = "writer"

// Defaults; the sender sizing is questdb's, shared with replay.
const (
	DefaultWorkers       = questdb.DefaultSenders
	DefaultFlushRows     = questdb.DefaultFlushRows
	DefaultFlushInterval = 500 * time.Millisecond
	DefaultFlushIdle     = 50 * time.Millisecond
	DefaultMaxAckPending = 1024
	DefaultAckWait       = topology.WriterAckWait
	DefaultMaxBackoff    = 2 * time.Second
)

// Config configures the writer stage.
type Config struct {
	JS      jetstream.JetStream // required; the caller ensured the topology
	Log     *slog.Logger
	Metrics *metrics.Registry
	QuestDB questdb.Config
	// Workers is the number of parallel ILP senders (default 2).
	Workers int
	// FlushRows is the number of rows that makes a request go (default 200k).
	FlushRows int
	// FlushInterval is how long a partly filled request may wait for more
	// messages after its first one (default 500ms).
	FlushInterval time.Duration
	// FlushIdle ends a partly filled request early when no batch came for
	// this long (default 50ms): a small file dropped into an idle pipeline
	// is committed as soon as its batches are in, not FlushInterval later
	// (that was half a second of the latency a user waits). Under load the
	// stream has a backlog and requests fill by rows before any such pause.
	FlushIdle time.Duration
	// MaxAckPending caps the messages writers hold unacknowledged (the
	// durable consumer's setting, shared by every writer process).
	MaxAckPending int
	// AckWait is the durable consumer's AckWait (default 30s): how long a
	// delivered batch that never reached a writer waits to be delivered
	// again. Deliveries are lost in flight when a connection or a consumer
	// leader goes (measured on a 3-node cluster: a CANDLES leader loss left
	// 5-8 batches each waiting one AckWait, some of them twice), so this is
	// what recovery after such a fault takes. Held batches are kept alive
	// with InProgress every AckWait/4, whatever the writer waits on.
	AckWait time.Duration
	// ApplyQueue is how many committed requests a worker may have queued
	// behind the one whose WAL apply it is waiting for (default 0: one waits
	// while the next is gathered and sent). More lets QuestDB apply several
	// requests at once, at the cost of more unacknowledged messages held.
	ApplyQueue int
	// WithoutPairColumns leaves base, quote and origin NULL: only for the
	// benchmark's measure of what they cost.
	WithoutPairColumns bool
	// Migrate applies pending schema migrations to the table at start. The
	// writer binary and `fff up` turn it on; it is off in a zero Config.
	Migrate bool
	// SummaryEvery is how often a summary line is logged (default 30s).
	SummaryEvery time.Duration
	// MaxBackoff caps the wait between attempts while QuestDB is down
	// (default 2s; the first wait is 250ms), so the writer resumes within
	// about that long of QuestDB returning. An attempt on a down server is a
	// refused connection: cheap for both sides.
	MaxBackoff time.Duration
	// ApplyInterval is how often the table's WAL state is polled while
	// committed batches wait to become queryable (default 20ms).
	ApplyInterval time.Duration
	// Health, when set, is given a check for /healthz: it fails while the
	// table is suspended. The writer binary passes its stage's AddHealthCheck.
	Health func(check func() error)
}

func (c Config) withDefaults() Config {
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = metrics.Default
	}
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	if c.FlushRows <= 0 {
		c.FlushRows = DefaultFlushRows
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.FlushIdle <= 0 {
		c.FlushIdle = DefaultFlushIdle
	}
	if c.MaxAckPending <= 0 {
		c.MaxAckPending = DefaultMaxAckPending
	}
	if c.AckWait <= 0 {
		c.AckWait = DefaultAckWait
	}
	if c.SummaryEvery <= 0 {
		c.SummaryEvery = 30 * time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	c.QuestDB = c.QuestDB.WithDefaults()
	return c
}

// Run consumes candle batches until ctx is cancelled; it returns nil then.
func Run(ctx context.Context, cfg Config) error {
	cfg = cfg.withDefaults()
	log := cfg.Log.With("stage", Stage)
	if err := questdb.ValidTable(cfg.QuestDB.Table); err != nil {
		return err
	}
	if _, err := questdb.SinkConf(cfg.QuestDB.ILP); err != nil {
		return err
	}
	js := cfg.JS
	if js == nil {
		return errors.New("writer: Config.JS is required")
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	if cfg.Migrate {
		if err := migrate(ctx, cfg, log); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	cons, err := topology.WaitConsumer(ctx, js, topology.StreamCandles, topology.WriterConsumer(cfg.MaxAckPending, cfg.AckWait), log)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	st := newStats(cfg.Metrics, cfg.QuestDB.Table)

	// "Committed" means queryable: one watcher of the table's WAL, shared by
	// the workers, releases their committed requests once applied.
	pool, err := questdb.Open(ctx, cfg.QuestDB.PG)
	if err != nil {
		return err
	}
	defer pool.Close()
	health := &tableHealth{table: cfg.QuestDB.Table, log: log, suspended: st.suspended}
	if cfg.Health != nil {
		cfg.Health(health.check)
	}
	applied := questdb.NewApplyWatcher(pool, cfg.QuestDB.Table, questdb.ApplyOptions{
		Interval: cfg.ApplyInterval, MaxBackoff: cfg.MaxBackoff, OnPoll: health.observe})
	// The watcher outlives the workers, which may still wait on it briefly
	// while they stop.
	actx, stopApplied := context.WithCancel(context.WithoutCancel(ctx))
	defer stopApplied()
	wg.Add(1)
	go func() {
		defer wg.Done()
		applied.Run(actx)
	}()
	log.Info("writer started", "table", cfg.QuestDB.Table, "questdb", redact.Text(cfg.QuestDB.ILP),
		"workers", cfg.Workers, "flush_rows", cfg.FlushRows, "flush_interval", cfg.FlushInterval, "flush_idle", cfg.FlushIdle)

	sctx, stopSummary := context.WithCancel(ctx)
	wg.Add(1)
	go func() {
		defer wg.Done()
		st.logSummaries(sctx, cfg.SummaryEvery, log)
	}()

	var wwg sync.WaitGroup
	perWorker := cfg.MaxAckPending / cfg.Workers
	if perWorker < 1 {
		perWorker = 1
	}
	for i := range cfg.Workers {
		wk := &worker{
			id:      i,
			cfg:     cfg,
			js:      js,
			cons:    cons,
			log:     log.With("worker", i),
			st:      st,
			maxMsgs: perWorker,
			applied: applied,
		}
		wwg.Add(1)
		go func() {
			defer wwg.Done()
			wk.run(ctx)
		}()
	}
	wwg.Wait()
	stopApplied()
	stopSummary()
	log.Info("writer stopped", "batches_committed", st.batches.Get(), "rows_committed", st.rows.Get(),
		"dead_lettered", st.dead.Get())
	return nil
}

// migrate applies pending migrations, waiting for QuestDB while it does not
// answer: one log line when waiting starts (saying for what), one when it
// ends, retries with capped backoff in between.
func migrate(ctx context.Context, cfg Config, log *slog.Logger) error {
	b := newBackoff(cfg.MaxBackoff)
	waiting := false
	for {
		err := func() error {
			cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			defer cancel()
			pool, err := questdb.Connect(cctx, cfg.QuestDB.PG)
			if err != nil {
				return err
			}
			defer pool.Close()
			done, err := questdb.Up(cctx, pool, cfg.QuestDB.Table)
			for _, m := range done {
				log.Info("applied migration", "table", cfg.QuestDB.Table, "version", m.Version, "name", m.Name)
			}
			return err
		}()
		if err == nil {
			if waiting {
				log.Info("QuestDB answered; migrations done", "table", cfg.QuestDB.Table)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		d := b.next()
		if !waiting {
			waiting = true
			log.Warn("waiting for QuestDB to apply migrations before writing; retrying with backoff",
				"table", cfg.QuestDB.Table, "questdb_pg", redact.Text(cfg.QuestDB.PG), "max_backoff", cfg.MaxBackoff, "err", err)
		} else {
			log.Debug("QuestDB still not ready for migrations", "retry_in", d, "err", err)
		}
		if !jsplumb.Sleep(ctx, d) {
			return ctx.Err()
		}
	}
}

// backoff doubles from 250ms up to max, with no jitter needed: each worker
// waits on its own request.
type backoff struct {
	cur, max time.Duration
}

func newBackoff(max time.Duration) *backoff { return &backoff{max: max} }

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = 250 * time.Millisecond
	} else {
		b.cur *= 2
	}
	if b.cur > b.max {
		b.cur = b.max
	}
	return b.cur
}

func (b *backoff) reset() { b.cur = 0 }

// stats are the writer's counters, shared by its workers.
type stats struct {
	batches, rows, dead, flushes, flushSecs, retries *metrics.Value
	pending, up, lastFlush, suspended, applySecs     *metrics.Value
	commit                                           *metrics.Histogram
}

func newStats(r *metrics.Registry, table string) *stats {
	l := []string{"table", table}
	return &stats{
		commit:    r.CommitSeconds(table),
		batches:   r.Counter("fff_writer_batches_committed_total", "Candle batches committed to QuestDB and acknowledged", l...),
		rows:      r.Counter("fff_writer_rows_committed_total", "Candles committed to QuestDB", l...),
		dead:      r.Counter("fff_writer_batches_dead_lettered_total", "Batches sent to the DLQ (undecodable or refused by QuestDB)", l...),
		flushes:   r.Counter("fff_writer_flushes_total", "ILP requests QuestDB accepted", l...),
		flushSecs: r.Counter("fff_writer_flush_seconds_total", "Time spent in accepted ILP requests (divide by fff_writer_flushes_total for the mean latency)", l...),
		retries:   r.Counter("fff_writer_retries_total", "ILP requests that failed because QuestDB was unreachable or failing", l...),
		pending:   r.Gauge("fff_writer_rows_pending", "Rows held by the writers, not yet committed", l...),
		up:        r.Gauge("fff_writer_questdb_up", "1 when the last ILP request reached QuestDB, 0 while it is unreachable", l...),
		lastFlush: r.Gauge("fff_writer_last_flush_seconds", "Duration of the last accepted ILP request", l...),
		suspended: r.Gauge("fff_writer_table_suspended", "1 while QuestDB reports the table's WAL suspended (committed batches wait)", l...),
		applySecs: r.Counter("fff_writer_apply_wait_seconds_total", "Time committed requests waited for QuestDB to make them queryable (divide by fff_writer_flushes_total for the mean)", l...),
	}
}

func (s *stats) logSummaries(ctx context.Context, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	lastRows, lastBatches, lastDead := s.rows.Get(), s.batches.Get(), s.dead.Get()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			rows, batches, dead := s.rows.Get(), s.batches.Get(), s.dead.Get()
			pending := s.pending.Get()
			if rows == lastRows && dead == lastDead && pending == 0 {
				continue
			}
			secs := now.Sub(last).Seconds()
			log.Info("writer summary",
				"batches", int64(batches-lastBatches), "rows", int64(rows-lastRows),
				"rows_per_s", int64((rows-lastRows)/secs), "dead_lettered", int64(dead-lastDead),
				"rows_pending", int64(pending), "total_rows", int64(rows))
			lastRows, lastBatches, lastDead, last = rows, batches, dead, now
		}
	}
}
