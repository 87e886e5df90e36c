package gapscanner

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/metrics"
	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// Config is the continuous gap scanner (`gapscanner run`).
type Config struct {
	// JS is required; the caller ensured the topology.
	JS jetstream.JetStream
	// QuestDB says where the candles are; DB, when set, is used instead of
	// connecting to QuestDB.PG.
	QuestDB questdb.Config
	DB      *pgxpool.Pool
	Log     *slog.Logger
	Metrics *metrics.Registry

	Source    string // "kraken" when empty
	Tiers     []string
	Pairs     []string
	Intervals []int
	// Every is the period between rounds (1h when 0); the first round runs at once.
	Every time.Duration
	// Lookback is how far back each round looks for internal gaps (7 days
	// when 0); the run from each series' last candle to now is always checked.
	Lookback time.Duration
	// MaxGapsPerAsset caps the fill requests per series per round (10 when 0).
	MaxGapsPerAsset int
	Trades          bool
	// Retention of FILLED/FAILED records (90 days when 0).
	Retention time.Duration
	// RequeueAfter: a REQUESTED gap is requested again after this (6h when 0).
	RequeueAfter      time.Duration
	MaxRequestCandles int
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

func (c *Config) defaults() {
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = metrics.Default
	}
	if c.Source == "" {
		c.Source = topology.SourceKraken
	}
	if c.Every <= 0 {
		c.Every = time.Hour
	}
	if c.Lookback <= 0 {
		c.Lookback = 7 * 24 * time.Hour
	}
	if c.MaxGapsPerAsset <= 0 {
		c.MaxGapsPerAsset = 10
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.QuestDB = c.QuestDB.WithDefaults()
}

// RoundResult is what one round did.
type RoundResult struct {
	Report    Report
	Sync      SyncStats
	Requested []contract.FillRequest
}

// Run scans every Every until ctx is cancelled, publishing fill requests for
// the fillable gaps without asking. A failed round is logged and retried at
// the next period. It returns nil on cancellation.
func Run(ctx context.Context, cfg Config) error {
	cfg.defaults()
	log := cfg.Log.With("stage", "gapscanner")
	js := cfg.JS
	if js == nil {
		return errors.New("gapscanner: Config.JS is required")
	}
	db := cfg.DB
	if db == nil {
		pool, err := questdb.Connect(ctx, cfg.QuestDB.PG)
		if err != nil {
			return err
		}
		defer pool.Close()
		db = pool
	}
	roundsOK := cfg.Metrics.Counter("fff_gapscanner_rounds_total", "Gap scanner rounds, by outcome", "outcome", "ok")
	roundsFailed := cfg.Metrics.Counter("fff_gapscanner_rounds_total", "Gap scanner rounds, by outcome", "outcome", "failed")
	requested := cfg.Metrics.Counter("fff_gapscanner_fill_requests_total", "Fill requests published by the gap scanner")
	took := cfg.Metrics.Gauge("fff_gapscanner_scan_seconds", "Duration of the last scan")
	gapsOpen := cfg.Metrics.Gauge("fff_gapscanner_gaps", "Gaps found by the last scan")

	log.Info("gap scanner running", "every", cfg.Every, "lookback", cfg.Lookback, "table", cfg.QuestDB.Table,
		"intervals", cfg.Intervals, "tiers", cfg.Tiers, "max_gaps_per_asset", cfg.MaxGapsPerAsset)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
			res, err := RunOnce(ctx, cfg, js, db)
			if err != nil {
				if ctx.Err() != nil {
					continue
				}
				roundsFailed.Inc()
				log.Error("gap scan round failed; retrying next period", "err", err, "next_in", cfg.Every)
			} else {
				roundsOK.Inc()
				requested.Add(float64(len(res.Requested)))
				took.Set(res.Report.Took.Seconds())
				gapsOpen.Set(float64(len(res.Report.Gaps)))
				log.Info("gap scan round done", "series", len(res.Report.Series), "gaps", len(res.Report.Gaps),
					"fillable", len(res.Report.Fillable()), "requests", len(res.Requested),
					"records_created", res.Sync.Created, "records_filled", res.Sync.Filled, "records_purged", res.Sync.Purged,
					"took", res.Report.Took.Round(time.Millisecond))
			}
			timer.Reset(cfg.Every)
		}
	}
}

// RunOnce is one round of Run: scan the last Lookback of every series plus
// the run to now, sync the gap records, publish requests for the fillable
// gaps (at most MaxGapsPerAsset per series: the trailing gap first, then the
// oldest, which leave Kraken's window soonest).
func RunOnce(ctx context.Context, cfg Config, js jetstream.JetStream, db *pgxpool.Pool) (RoundResult, error) {
	cfg.defaults()
	now := cfg.Now()
	res, err := Sweep(ctx, SweepOptions{
		Scan: ScanConfig{
			DB: db, Table: cfg.QuestDB.Table, Source: cfg.Source,
			Tiers: cfg.Tiers, Pairs: cfg.Pairs, Intervals: cfg.Intervals,
			Since: now.Add(-cfg.Lookback), ToNow: true, Trades: cfg.Trades,
			Now: cfg.Now, RequeueAfter: cfg.RequeueAfter, Log: cfg.Log,
		},
		JS: js, Retention: cfg.Retention,
		MaxGapsPerSeries: cfg.MaxGapsPerAsset, MaxRequestCandles: cfg.MaxRequestCandles,
	})
	return res.RoundResult, err
}

// PickPerSeries keeps at most n gaps per series: the trailing gap first, then
// the oldest.
func PickPerSeries(gaps []Gap, n int) []Gap {
	sorted := append([]Gap(nil), gaps...)
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if a.Trailing != b.Trailing {
			return a.Trailing
		}
		return a.Start.Before(b.Start)
	})
	count := map[seriesID]int{}
	var out []Gap
	for _, g := range sorted {
		id := seriesID{g.Source, g.Pair, g.Interval}
		if n > 0 && count[id] >= n {
			continue
		}
		count[id]++
		out = append(out, g)
	}
	return out
}
