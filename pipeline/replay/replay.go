// Package replay re-delivers candles kept in the CANDLES stream straight
// into a QuestDB table, e.g. after the table was dropped or into a new one.
// It reads the stream with an ordered consumer (no durable state, no acks),
// keeps the candles in the asked time window, and writes them through the
// questdb sink. The table deduplicates, so replaying twice changes nothing.
package replay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/jsplumb"
	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// Config says what to replay where.
type Config struct {
	JS      jetstream.JetStream // required; the caller ensured the topology
	Log     *slog.Logger
	QuestDB questdb.Config

	// Which series: empty Source means kraken, empty Pair and zero
	// Interval mean any.
	Source   string
	Pair     string
	Interval int
	// Candles with open time in [Since, Until] are written; zero means open.
	Since, Until time.Time

	// Workers is the number of parallel ILP senders (default 2) and
	// FlushRows the rows per request (default questdb.DefaultFlushRows).
	Workers   int
	FlushRows int
	// Migrate applies pending migrations to the table first (default on
	// in `fff replay`; off in a zero Config).
	Migrate bool
	// OnProgress, when set, is called about every ProgressEvery (default
	// 1s) and once at the end.
	OnProgress    func(Stats)
	ProgressEvery time.Duration
}

// Stats is how far a replay got.
type Stats struct {
	Messages      uint64 // stream messages read
	Total         uint64 // stream messages matching the filter when the replay began
	Candles       int64  // candles read
	InWindow      int64  // candles inside [Since, Until]
	Written       int64  // candles QuestDB accepted
	Rejected      int64  // candles in batches QuestDB refused
	Undecodable   uint64 // messages that are not candle batches
	Elapsed       time.Duration
	Table         string
	FirstRejected string // QuestDB's reason for the first refused batch
}

// Rate is candles written per second.
func (s Stats) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Written) / s.Elapsed.Seconds()
}

// ParseTime reads --since/--until values: RFC 3339, a date (2006-01-02,
// UTC midnight) or unix seconds. isDate says a bare date was given, so a
// caller can make --until cover that whole day.
func ParseTime(s string) (t time.Time, isDate bool, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0).UTC(), false, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), false, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, true, nil
	}
	return time.Time{}, false, fmt.Errorf("time %q: want RFC 3339 (2024-01-31T00:00:00Z), a date (2024-01-31) or unix seconds", s)
}

// Run replays and returns what it did. It stops early, with ctx's error,
// when ctx is cancelled.
func Run(ctx context.Context, cfg Config) (Stats, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Source == "" {
		cfg.Source = topology.SourceKraken
	}
	if cfg.Workers <= 0 {
		cfg.Workers = questdb.DefaultSenders
	}
	if cfg.FlushRows <= 0 {
		cfg.FlushRows = questdb.DefaultFlushRows
	}
	if cfg.ProgressEvery <= 0 {
		cfg.ProgressEvery = time.Second
	}
	cfg.QuestDB = cfg.QuestDB.WithDefaults()
	st := Stats{Table: cfg.QuestDB.Table}
	if !cfg.Since.IsZero() && !cfg.Until.IsZero() && cfg.Until.Before(cfg.Since) {
		return st, fmt.Errorf("until %s is before since %s", cfg.Until.Format(time.RFC3339), cfg.Since.Format(time.RFC3339))
	}
	if err := questdb.ValidTable(cfg.QuestDB.Table); err != nil {
		return st, err
	}
	if _, err := questdb.SinkConf(cfg.QuestDB.ILP); err != nil {
		return st, err
	}
	js := cfg.JS
	if js == nil {
		return st, errors.New("replay: Config.JS is required")
	}
	if cfg.Migrate {
		if err := migrate(ctx, cfg); err != nil {
			return st, err
		}
	}
	r := &run{cfg: cfg, js: js, start: time.Now()}
	err := r.replay(ctx)
	out := r.snapshot()
	if cfg.OnProgress != nil {
		cfg.OnProgress(out)
	}
	if err != nil {
		return out, err
	}
	// Wait for the WAL so that what the summary says is queryable.
	if pool, perr := questdb.Connect(ctx, cfg.QuestDB.PG); perr == nil {
		wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		if werr := questdb.WaitApplied(wctx, pool, cfg.QuestDB.Table); werr != nil && out.Written > 0 {
			cfg.Log.Warn("rows written but not yet applied by QuestDB", "table", cfg.QuestDB.Table, "err", werr)
		}
		cancel()
		pool.Close()
	}
	return out, nil
}

func migrate(ctx context.Context, cfg Config) error {
	mctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	pool, err := questdb.Connect(mctx, cfg.QuestDB.PG)
	if err != nil {
		return err
	}
	defer pool.Close()
	done, err := questdb.Up(mctx, pool, cfg.QuestDB.Table)
	for _, m := range done {
		cfg.Log.Info("applied migration", "table", cfg.QuestDB.Table, "version", m.Version, "name", m.Name)
	}
	return err
}

type run struct {
	cfg   Config
	js    jetstream.JetStream
	start time.Time

	messages, total, undecodable         atomic.Uint64
	candles, inWindow, written, rejected atomic.Int64
	mu                                   sync.Mutex
	firstRejected                        string
}

func (r *run) snapshot() Stats {
	r.mu.Lock()
	fr := r.firstRejected
	r.mu.Unlock()
	return Stats{
		Messages: r.messages.Load(), Total: r.total.Load(), Candles: r.candles.Load(), InWindow: r.inWindow.Load(),
		Written: r.written.Load(), Rejected: r.rejected.Load(), Undecodable: r.undecodable.Load(),
		Elapsed: time.Since(r.start), Table: r.cfg.QuestDB.Table, FirstRejected: fr,
	}
}

// replay runs one reader (decode and filter) feeding cfg.Workers senders
// through a short queue, so memory stays at a few requests whatever the
// stream holds.
func (r *run) replay(ctx context.Context) error {
	filter := topology.CandleFilter(r.cfg.Source, r.cfg.Pair, r.cfg.Interval)
	stream, err := r.js.Stream(ctx, topology.StreamCandles)
	if err != nil {
		return fmt.Errorf("stream %s: %w", topology.StreamCandles, err)
	}
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return fmt.Errorf("stream %s info: %w", topology.StreamCandles, err)
	}
	var total uint64
	for _, n := range info.State.Subjects {
		total += n
	}
	r.total.Store(total)
	if total == 0 {
		return nil
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{filter},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return fmt.Errorf("ordered consumer on %s: %w", filter, err)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan []*contract.Batch, r.cfg.Workers)
	errc := make(chan error, r.cfg.Workers)
	var senders sync.WaitGroup
	for range r.cfg.Workers {
		senders.Add(1)
		go func() {
			defer senders.Done()
			if err := r.send(ctx, work); err != nil {
				errc <- err
				cancel()
			}
		}()
	}
	stopTicker := make(chan struct{})
	var ticker sync.WaitGroup
	if r.cfg.OnProgress != nil {
		ticker.Add(1)
		go func() {
			defer ticker.Done()
			t := time.NewTicker(r.cfg.ProgressEvery)
			defer t.Stop()
			for {
				select {
				case <-stopTicker:
					return
				case <-t.C:
					r.cfg.OnProgress(r.snapshot())
				}
			}
		}()
	}
	rerr := r.read(ctx, cons, work)
	close(work)
	if rerr != nil {
		cancel()
	}
	senders.Wait()
	close(stopTicker)
	ticker.Wait()
	select {
	case err := <-errc:
		return err
	default:
	}
	return rerr
}

// read decodes every matching message, keeps the candles in the window and
// queues requests of about FlushRows rows.
func (r *run) read(ctx context.Context, cons jetstream.Consumer, work chan<- []*contract.Batch) error {
	it, err := cons.Messages(jetstream.PullMaxBytes(16 << 20))
	if err != nil {
		return fmt.Errorf("read %s: %w", topology.StreamCandles, err)
	}
	defer it.Stop()
	var req []*contract.Batch
	rows := 0
	since, until := r.cfg.Since.Unix(), r.cfg.Until.Unix()
	hasSince, hasUntil := !r.cfg.Since.IsZero(), !r.cfg.Until.IsZero()
	for {
		m, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("read %s: %w", topology.StreamCandles, err)
		}
		r.messages.Add(1)
		md, _ := m.Metadata()
		b := &contract.Batch{}
		if err := contract.DecodeBatch(m.Data(), b); err != nil {
			r.undecodable.Add(1)
			r.cfg.Log.Warn("skipping a message that is not a candle batch", "subject", m.Subject(), "err", err)
		} else {
			r.candles.Add(int64(len(b.Candles)))
			keep := b.Candles[:0]
			for _, c := range b.Candles {
				if (hasSince && c.Time < since) || (hasUntil && c.Time > until) {
					continue
				}
				keep = append(keep, c)
			}
			b.Candles = keep
			if len(keep) > 0 {
				r.inWindow.Add(int64(len(keep)))
				req = append(req, b)
				rows += len(keep)
			}
		}
		last := md == nil || md.NumPending == 0
		if rows >= r.cfg.FlushRows || (last && len(req) > 0) {
			select {
			case work <- req:
			case <-ctx.Done():
				return ctx.Err()
			}
			req, rows = nil, 0
		}
		if last {
			return nil
		}
	}
}

// send writes queued requests, bisecting around refused batches and waiting
// out an unreachable QuestDB.
func (r *run) send(ctx context.Context, work <-chan []*contract.Batch) error {
	var sink questdb.Sink
	defer func() {
		if sink != nil {
			_ = sink.Close(context.Background())
		}
	}()
	for req := range work {
		err := func() error {
			for sink == nil {
				s, err := questdb.DialILPSink(ctx, r.cfg.QuestDB.ILP, r.cfg.QuestDB.Table)
				if err == nil {
					sink = s
					break
				}
				if !r.hold(ctx, err) {
					return ctx.Err()
				}
			}
			return sink.Commit(ctx, len(req), func(i int) (*contract.Batch, error) { return req[i], nil }, questdb.Hooks{
				Hold: func(ctx context.Context, _ int, _ int, err error) error {
					if !r.hold(ctx, err) {
						return ctx.Err()
					}
					return nil
				},
				Committed: func(lo, hi int) {
					for _, b := range req[lo:hi] {
						r.written.Add(int64(len(b.Candles)))
					}
				},
				Rejected: func(i int, err error) {
					r.rejected.Add(int64(len(req[i].Candles)))
					r.mu.Lock()
					if r.firstRejected == "" {
						r.firstRejected = err.Error()
					}
					r.mu.Unlock()
					r.cfg.Log.Error("QuestDB refused a batch; skipped", "pair", req[i].Pair, "interval", req[i].IntervalMinutes,
						"batch", req[i].MsgID(), "err", err)
				},
			})
		}()
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		}
	}
	return nil
}

func (r *run) hold(ctx context.Context, err error) bool {
	d := 2 * time.Second
	r.cfg.Log.Warn(fmt.Sprintf("QuestDB unreachable, retry in %s", d), "err", err)
	return jsplumb.Sleep(ctx, d)
}
