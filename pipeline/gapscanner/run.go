package gapscanner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/gaps"
	"github.com/feefifofunds/feefifofunds/pipeline/metrics"
	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// Config is the continuous gap scanner (`gapscanner run`, and `fff up`
// in-process): one fill job every Every by default, or the Jobs given.
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
	Assets    []string
	Intervals []int
	// Every is the period between rounds (1h when 0); the first round runs at once.
	Every time.Duration
	// Schedule, when set, replaces Every: rounds run at its times only.
	Schedule Schedule
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
	// Wait is how long a fill round waits for the fetcher's answers before
	// it summarises (DefaultRoundWait when 0, negative: not at all; the
	// gaps not answered by then count as pending).
	Wait time.Duration
	// StaleAfter is the stale jobs' threshold (24h when 0).
	StaleAfter time.Duration
	// Jobs, when set, are run instead of the one fill job above; their zero
	// fields take the values above.
	Jobs []Job
	// Now is the clock the scans judge by (time.Now when nil); schedules
	// always follow the wall clock.
	Now func() time.Time
}

// DefaultRoundWait bounds how long a fill round waits for the fetcher.
const DefaultRoundWait = 10 * time.Minute

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
	if c.Wait == 0 {
		c.Wait = DefaultRoundWait
	}
	if c.StaleAfter <= 0 {
		c.StaleAfter = 24 * time.Hour
	}
	if c.Retention == 0 {
		c.Retention = DefaultRetention
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.QuestDB = c.QuestDB.WithDefaults()
}

// jobs are the jobs to run: Jobs, or the one fill job Every or Schedule
// describe; names are made unique.
func (c *Config) jobs() []Job {
	jobs := c.Jobs
	if len(jobs) == 0 {
		j := Job{Name: JobFill, Kind: JobFill, Schedule: c.Schedule}
		if j.Schedule == nil {
			j.Schedule, j.AtStart = Every(c.Every), true
		}
		jobs = []Job{j}
	}
	out := make([]Job, len(jobs))
	seen := map[string]int{}
	for i, j := range jobs {
		if j.Kind == "" {
			j.Kind = JobFill
		}
		if j.Name == "" {
			j.Name = j.Kind
		}
		if seen[j.Name]++; seen[j.Name] > 1 {
			j.Name += "-" + strconv.Itoa(seen[j.Name])
		}
		out[i] = j
	}
	return out
}

// forJob is the Config a job runs with: the job's fields where set.
func (c Config) forJob(j Job) Config {
	pick := func(job, cfg []string) []string {
		if len(job) > 0 {
			return job
		}
		return cfg
	}
	c.Tiers, c.Pairs, c.Assets = pick(j.Tiers, c.Tiers), pick(j.Pairs, c.Pairs), pick(j.Assets, c.Assets)
	if len(j.Intervals) > 0 {
		c.Intervals = j.Intervals
	}
	if j.Lookback > 0 {
		c.Lookback = j.Lookback
	}
	if j.MaxGapsPerAsset > 0 {
		c.MaxGapsPerAsset = j.MaxGapsPerAsset
	}
	if j.Wait != 0 {
		c.Wait = j.Wait
	}
	if j.OlderThan > 0 {
		c.Retention = j.OlderThan
	}
	if j.StaleAfter > 0 {
		c.StaleAfter = j.StaleAfter
	}
	c.Trades = c.Trades || j.Trades
	return c
}

// RoundResult is what one round did.
type RoundResult struct {
	Report    Report
	Sync      SyncStats
	Requested []contract.FillRequest
}

// Run runs the jobs (by default one fill round every Every, the first at
// once) until ctx is cancelled, each on its own schedule in its own
// goroutine. A failed run is logged, reported and retried at the job's next
// time. It returns nil on cancellation.
func Run(ctx context.Context, cfg Config) error {
	cfg.defaults()
	if cfg.JS == nil {
		return errors.New("gapscanner: Config.JS is required")
	}
	if cfg.DB == nil {
		pool, err := questdb.Connect(ctx, cfg.QuestDB.PG)
		if err != nil {
			return err
		}
		defer pool.Close()
		cfg.DB = pool
	}
	kv, err := gaps.Open(ctx, cfg.JS)
	if err != nil {
		return err
	}
	s := newScheduler(cfg, kv)
	jobs := cfg.jobs()
	for _, j := range jobs {
		if j.Schedule == nil {
			return fmt.Errorf("gapscanner: job %s has no schedule", j.Name)
		}
		s.log.Info("gap scanner job scheduled", "job", j.Name, "kind", j.Kind, "schedule", j.Schedule.String(),
			"at_start", j.AtStart, "table", cfg.QuestDB.Table)
	}
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Go(func() { s.loop(ctx, j) })
	}
	wg.Wait()
	return nil
}

// RunOnce is one round of Run: scan the last Lookback of every series plus
// the run to now, sync the gap records, publish requests for the fillable
// gaps (at most MaxGapsPerAsset per series: the trailing gap first, then the
// oldest, which leave Kraken's window soonest).
func RunOnce(ctx context.Context, cfg Config, js jetstream.JetStream, db *pgxpool.Pool) (SweepResult, error) {
	cfg.defaults()
	now := cfg.Now()
	res, err := Sweep(ctx, SweepOptions{
		Scan: ScanConfig{
			DB: db, Table: cfg.QuestDB.Table, Source: cfg.Source,
			Tiers: cfg.Tiers, Pairs: cfg.Pairs, Assets: cfg.Assets, Intervals: cfg.Intervals,
			Since: now.Add(-cfg.Lookback), ToNow: true, Trades: cfg.Trades,
			Now: cfg.Now, RequeueAfter: cfg.RequeueAfter, Log: cfg.Log,
		},
		JS: js, Retention: cfg.Retention,
		MaxGapsPerSeries: cfg.MaxGapsPerAsset, MaxRequestCandles: cfg.MaxRequestCandles,
	})
	return res, err
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
