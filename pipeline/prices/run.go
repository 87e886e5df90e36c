package prices

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/pricefetch"
	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// RunConfig is what Run needs: NATS, the QuestDB the writers fill (to count
// created and updated candles and to see them committed), and where to say
// how far it got.
type RunConfig struct {
	JS    jetstream.JetStream
	DB    questdb.Querier
	Table string
	Log   *slog.Logger
	// Progress is told of every request's outcome (optional).
	Progress func(Progress)
	// CommitTimeout bounds the wait for published candles to show in
	// QuestDB (default 2 minutes).
	CommitTimeout time.Duration
}

// Progress is one finished request.
type Progress struct {
	Done, Total int
	Elapsed     time.Duration
	ETA         time.Duration
	Request     contract.PriceRequest
	State       string
	Detail      string
}

// Percent is how much of the run is done.
func (p Progress) Percent() float64 { return 100 * float64(p.Done) / float64(max(p.Total, 1)) }

// AssetResult is what a run did for one asset.
type AssetResult struct {
	Ticker  string
	Candles int64 // candles published for it
	Created int64 // of them, new rows
	Updated int64 // of them, rows that existed and were upserted
	State   string
	Detail  string
	Err     string // why it failed, "" when it did not
}

// RequestResult is a grouped request that failed (the assets it covers
// succeeded on the other dates).
type RequestResult struct {
	ID     string
	Date   time.Time
	Detail string
}

// Summary is what a run did.
type Summary struct {
	Source         string
	Assets         []AssetResult
	FailedRequests []RequestResult
	Elapsed        time.Duration
}

// Failed are the assets that failed, with their errors.
func (s *Summary) Failed() []AssetResult {
	var out []AssetResult
	for _, a := range s.Assets {
		if a.Err != "" {
			out = append(out, a)
		}
	}
	return out
}

// OK says whether nothing failed.
func (s *Summary) OK() bool { return len(s.Failed()) == 0 && len(s.FailedRequests) == 0 }

// Run publishes the plan's requests and waits, in the foreground, for each
// outcome and for the candles to be committed, then sums up per asset.
func Run(ctx context.Context, cfg RunConfig, p *Plan) (*Summary, error) {
	if cfg.JS == nil || cfg.DB == nil {
		return nil, errors.New("prices: RunConfig.JS and RunConfig.DB are required")
	}
	if err := questdb.ValidTable(cfg.Table); err != nil {
		return nil, err
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.CommitTimeout <= 0 {
		cfg.CommitTimeout = 2 * time.Minute
	}
	began := time.Now()
	r := &run{cfg: cfg, p: p, byFill: map[string]fillRef{}, seen: map[string]int64{}, ts: map[string]map[int64]bool{}}
	for _, req := range p.Requests {
		tickers := []string{req.Ticker}
		if req.Grouped {
			tickers = req.Tickers
		}
		for _, t := range tickers {
			r.byFill[pricefetch.FillID(req, t)] = fillRef{req: req.ID, ticker: t}
		}
	}
	r.warnIfNoFetcher(ctx)
	existing, err := r.existing(ctx)
	if err != nil {
		return nil, err
	}
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	if err := r.watchCandles(wctx); err != nil {
		return nil, err
	}
	outcomes, err := r.watchOutcomes(wctx)
	if err != nil {
		return nil, err
	}
	for _, req := range p.Requests {
		data, err := req.Encode()
		if err != nil {
			return nil, fmt.Errorf("encode request %s: %w", req.ID, err)
		}
		if _, err := cfg.JS.Publish(ctx, topology.FillSubject(p.Source), data, jetstream.WithMsgID("price:"+req.ID)); err != nil {
			return nil, fmt.Errorf("publish request %s on %s: %w", req.ID, topology.FillSubject(p.Source), err)
		}
	}
	cfg.Log.Info("price requests published; waiting for their outcomes", "source", p.Source, "requests", len(p.Requests))
	done, err := r.waitOutcomes(ctx, outcomes, began)
	if err != nil {
		return nil, err
	}
	if err := r.waitSeen(ctx, done); err != nil {
		return nil, err
	}
	committed, cerr := r.waitCommitted(ctx, existing)
	sum := r.summarize(done, existing, committed, cerr)
	sum.Elapsed = time.Since(began)
	return sum, nil
}

type fillRef struct{ req, ticker string }

type run struct {
	cfg    RunConfig
	p      *Plan
	byFill map[string]fillRef

	mu   sync.Mutex
	seen map[string]int64          // request id → candles seen on CANDLES
	ts   map[string]map[int64]bool // ticker → open times published
}

type done struct {
	state, detail string
	written       int64
}

func (r *run) warnIfNoFetcher(ctx context.Context) {
	cons, err := r.cfg.JS.Consumer(ctx, topology.StreamFills, topology.FetcherConsumer(r.p.Source).Durable)
	if err != nil {
		r.cfg.Log.Warn("no fetcher has served this source yet: the requests wait until one runs", "source", r.p.Source, "subject", topology.FillSubject(r.p.Source))
		return
	}
	if info, err := cons.Info(ctx); err == nil && info.NumWaiting == 0 {
		r.cfg.Log.Warn("no fetcher is pulling requests right now: they wait until one runs", "source", r.p.Source, "subject", topology.FillSubject(r.p.Source))
	}
}

// watchCandles follows the source's daily candle subjects from now on and
// notes the open times of every batch this run's requests publish.
func (r *run) watchCandles(ctx context.Context) error {
	cons, err := r.cfg.JS.OrderedConsumer(ctx, topology.StreamCandles, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{topology.CandleFilter(r.p.Source, "", contract.PriceInterval)},
		DeliverPolicy:  jetstream.DeliverNewPolicy,
	})
	if err != nil {
		return fmt.Errorf("follow %s candles: %w", r.p.Source, err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		var b contract.Batch
		if contract.DecodeBatch(m.Data(), &b) != nil {
			return
		}
		ref, ok := r.byFill[b.FillID]
		if !ok {
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		r.seen[ref.req] += int64(len(b.Candles))
		set := r.ts[ref.ticker]
		if set == nil {
			set = map[int64]bool{}
			r.ts[ref.ticker] = set
		}
		for _, c := range b.Candles {
			set[c.Time] = true
		}
	})
	if err != nil {
		return fmt.Errorf("follow %s candles: %w", r.p.Source, err)
	}
	go func() { <-ctx.Done(); cc.Stop() }()
	return nil
}

// watchOutcomes delivers the GAPS records of the source as they change.
func (r *run) watchOutcomes(ctx context.Context) (jetstream.KeyWatcher, error) {
	kv, err := r.cfg.JS.KeyValue(ctx, topology.BucketGaps)
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", topology.BucketGaps, err)
	}
	w, err := kv.Watch(ctx, r.p.Source+".>", jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("watch outcomes in %s: %w", topology.BucketGaps, err)
	}
	return w, nil
}

func (r *run) waitOutcomes(ctx context.Context, w jetstream.KeyWatcher, began time.Time) (map[string]done, error) {
	defer func() { _ = w.Stop() }()
	want := map[string][]contract.PriceRequest{}
	for _, req := range r.p.Requests {
		k := pricefetch.RecordKey(r.p.Source, req)
		want[k] = append(want[k], req)
	}
	out := map[string]done{}
	for len(out) < len(r.p.Requests) {
		var e jetstream.KeyValueEntry
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %d of %d outcomes: %w", len(r.p.Requests)-len(out), len(r.p.Requests), ctx.Err())
		case e = <-w.Updates():
		}
		if e == nil {
			continue // the current values have all been delivered
		}
		var rec contract.GapRecord
		if json.Unmarshal(e.Value(), &rec) != nil {
			continue
		}
		for _, req := range want[e.Key()] {
			if _, ok := out[req.ID]; ok {
				continue
			}
			ev, ok := pricefetch.Outcome(rec, req.ID)
			if !ok {
				continue
			}
			d := done{state: ev.State, detail: strings.TrimPrefix(ev.Detail, "request "+req.ID+": ")}
			if rec.History[len(rec.History)-1].Detail == ev.Detail {
				d.written = rec.CandlesWritten
			}
			out[req.ID] = d
			if r.cfg.Progress != nil {
				el := time.Since(began)
				n := len(out)
				r.cfg.Progress(Progress{Done: n, Total: len(r.p.Requests), Elapsed: el,
					ETA: time.Duration(float64(el) / float64(n) * float64(len(r.p.Requests)-n)), Request: req, State: d.state, Detail: d.detail})
			}
		}
	}
	return out, nil
}

// waitSeen waits until the candle follower has seen every candle the
// outcomes say were published (they were stored before the outcome was).
func (r *run) waitSeen(ctx context.Context, out map[string]done) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		short := ""
		r.mu.Lock()
		for id, d := range out {
			if r.seen[id] < d.written {
				short = id
				break
			}
		}
		r.mu.Unlock()
		if short == "" {
			return nil
		}
		if time.Now().After(deadline) {
			r.cfg.Log.Warn("not every published candle was seen on CANDLES; counts may be short", "request", short)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// existing reads the open times already in QuestDB for the plan's assets
// and range: what a load adds on top of them is created, the rest updated.
func (r *run) existing(ctx context.Context) (map[string]map[int64]bool, error) {
	out := map[string]map[int64]bool{}
	for _, a := range r.p.Assets {
		out[a.Ticker] = map[int64]bool{}
	}
	if err := questdb.WaitApplied(ctx, r.cfg.DB, r.cfg.Table); err != nil && !missingTable(err) {
		return nil, fmt.Errorf("read existing candles: %w", err)
	}
	sql := fmt.Sprintf("SELECT pair, ts FROM %s WHERE source = '%s' AND interval_minutes = %d AND ts >= '%s' AND ts <= '%s'",
		r.cfg.Table, r.p.Source, contract.PriceInterval, r.p.Start.Format(time.RFC3339), r.p.End.Format(time.RFC3339))
	rows, err := r.cfg.DB.Query(ctx, sql)
	if err != nil {
		if missingTable(err) {
			return out, nil // the writer creates it on start
		}
		return nil, fmt.Errorf("read existing candles: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var pair string
		var ts time.Time
		if err := rows.Scan(&pair, &ts); err != nil {
			return nil, fmt.Errorf("read existing candles: %w", err)
		}
		if set := out[pair]; set != nil {
			set[ts.Unix()] = true
		}
	}
	if err := rows.Err(); err != nil && !missingTable(err) {
		return nil, fmt.Errorf("read existing candles: %w", err)
	}
	return out, nil
}

func missingTable(err error) bool {
	// wal_tables() has no row for it, or the query names an unknown table.
	return err != nil && (errors.Is(err, pgx.ErrNoRows) || strings.Contains(err.Error(), "does not exist"))
}

// waitCommitted polls QuestDB until every published open time is there,
// or CommitTimeout passes; it returns what is there.
func (r *run) waitCommitted(ctx context.Context, before map[string]map[int64]bool) (map[string]map[int64]bool, error) {
	deadline := time.Now().Add(r.cfg.CommitTimeout)
	for {
		now, err := r.existing(ctx)
		if err != nil {
			return nil, err
		}
		r.mu.Lock()
		missing := 0
		for t, set := range r.ts {
			for ts := range set {
				if !now[t][ts] {
					missing++
				}
			}
		}
		r.mu.Unlock()
		if missing == 0 {
			return now, nil
		}
		if time.Now().After(deadline) {
			return now, fmt.Errorf("%d published candles are not in QuestDB table %s after %s: is a writer running?", missing, r.cfg.Table, r.cfg.CommitTimeout)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (r *run) summarize(out map[string]done, before, after map[string]map[int64]bool, commitErr error) *Summary {
	sum := &Summary{Source: r.p.Source}
	byTicker := map[string]done{}
	for _, req := range r.p.Requests {
		d := out[req.ID]
		if req.Grouped {
			if d.state == contract.GapFailed {
				sum.FailedRequests = append(sum.FailedRequests, RequestResult{ID: req.ID, Date: req.Start, Detail: d.detail})
			}
			continue
		}
		byTicker[req.Ticker] = d
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range r.p.Assets {
		res := AssetResult{Ticker: a.Ticker}
		if d, ok := byTicker[a.Ticker]; ok {
			res.State, res.Detail = d.state, d.detail
			if d.state == contract.GapFailed {
				res.Err = d.detail
			}
		}
		var absent int64
		for ts := range r.ts[a.Ticker] {
			res.Candles++
			switch {
			case after != nil && !after[a.Ticker][ts]:
				absent++
			case before[a.Ticker][ts]:
				res.Updated++
			default:
				res.Created++
			}
		}
		if r.p.Grouped {
			res.State = contract.GapFilled
			if res.Candles == 0 {
				res.State, res.Detail = contract.GapNoTrades, "in no grouped answer of the range"
			}
		}
		if absent > 0 && res.Err == "" {
			res.Err = fmt.Sprintf("%d of %d candles not in QuestDB: %v", absent, res.Candles, commitErr)
		}
		sum.Assets = append(sum.Assets, res)
	}
	return sum
}
