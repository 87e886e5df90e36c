package gapscanner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/metrics"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// RoundSummary is what a fill round reports, with the old backfill task's
// fields, on gapscanner.summary.<job> (and in the log).
type RoundSummary struct {
	Job      string    `json:"job"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Tier is "ALL" or the tiers, comma separated; Intervals empty means all.
	Tier            string `json:"tier"`
	Intervals       []int  `json:"intervals"`
	AssetsProcessed int    `json:"assets_processed"` // base assets scanned
	SeriesProcessed int    `json:"series_processed"`
	Totals
	// Errors are the round's own failure and each failed gap's reason.
	Errors []string `json:"errors"`
}

// JobReport is what a cleanup, completeness or stale job reports on
// gapscanner.<kind>.<job>: exactly one of the results is set.
type JobReport struct {
	Job          string             `json:"job"`
	Kind         string             `json:"kind"`
	Started      time.Time          `json:"started"`
	Finished     time.Time          `json:"finished"`
	Cleanup      *CleanupStats      `json:"cleanup,omitempty"`
	Completeness []TierCompleteness `json:"completeness,omitempty"`
	Stale        *StaleReport       `json:"stale,omitempty"`
	Error        string             `json:"error,omitempty"`
}

// scheduler runs the jobs of one Run.
type scheduler struct {
	cfg Config
	kv  jetstream.KeyValue
	log *slog.Logger
	reg *metrics.Registry

	roundsOK, roundsFailed, requested *metrics.Value
	took, gapsOpen                    *metrics.Value
}

func newScheduler(cfg Config, kv jetstream.KeyValue) *scheduler {
	reg := cfg.Metrics
	return &scheduler{
		cfg: cfg, kv: kv, log: cfg.Log.With("stage", "gapscanner"), reg: reg,
		roundsOK:     reg.Counter("fff_gapscanner_rounds_total", "Gap scanner rounds, by outcome", "outcome", "ok"),
		roundsFailed: reg.Counter("fff_gapscanner_rounds_total", "Gap scanner rounds, by outcome", "outcome", "failed"),
		requested:    reg.Counter("fff_gapscanner_fill_requests_total", "Fill requests published by the gap scanner"),
		took:         reg.Gauge("fff_gapscanner_scan_seconds", "Duration of the last scan"),
		gapsOpen:     reg.Gauge("fff_gapscanner_gaps", "Gaps found by the last scan"),
	}
}

// loop runs one job on its schedule until ctx ends. Runs of one job never
// overlap: the next time is taken after a run finishes.
func (s *scheduler) loop(ctx context.Context, j Job) {
	next := time.Now()
	if !j.AtStart {
		next = j.Schedule.Next(next)
	}
	for {
		if next.IsZero() {
			s.log.Warn("gap scanner job has no next run time; it stops", "job", j.Name, "schedule", j.Schedule.String())
			return
		}
		timer := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		s.runJob(ctx, j)
		next = j.Schedule.Next(time.Now())
	}
}

// runJob runs a job once and reports it. Failures are logged and reported,
// never fatal: the job runs again at its next time.
func (s *scheduler) runJob(ctx context.Context, j Job) {
	cfg := s.cfg.forJob(j)
	log := s.log.With("job", j.Name)
	started := time.Now().UTC()
	if j.Kind == JobFill {
		sum := s.fill(ctx, cfg, j.Name)
		if ctx.Err() != nil {
			return
		}
		log.Info("gap fill round done", "tier", sum.Tier, "intervals", sum.Intervals, "assets_processed", sum.AssetsProcessed,
			"gaps_detected", sum.GapsDetected, "gaps_requested", sum.GapsRequested, "gaps_filled", sum.GapsFilled,
			"gaps_unfillable", sum.GapsUnfillable, "gaps_no_trades", sum.GapsNoTrades, "gaps_failed", sum.GapsFailed,
			"gaps_pending", sum.GapsPending, "total_candles_filled", sum.TotalCandlesFilled, "errors", len(sum.Errors),
			"took", sum.Finished.Sub(sum.Started).Round(time.Millisecond))
		s.publish(ctx, log, topology.ScannerSubject("summary", j.Name), sum)
		return
	}
	rep := JobReport{Job: j.Name, Kind: j.Kind, Started: started}
	var err error
	switch j.Kind {
	case JobCleanup:
		var st CleanupStats
		st, err = Cleanup(ctx, s.kv, CleanupOptions{OlderThan: cfg.Retention, Now: cfg.Now})
		rep.Cleanup = &st
		log.Info("gap records cleaned up", "older_than_days", st.OlderThanDays, "filled_purged", st.FilledPurged,
			"failed_purged", st.FailedPurged, "unfillable_kept", st.UnfillableKept, "remaining", st.Remaining)
	case JobCompleteness:
		var res SweepResult
		res, err = Sweep(ctx, SweepOptions{Scan: cfg.scanConfig(), JS: cfg.JS, DryRun: true})
		rep.Completeness = Completeness(res.Report)
		for _, l := range rep.Completeness {
			log.Info("completeness", "tier", l.Tier, "interval", l.Interval, "assets", l.Assets, "assets_with_gaps", l.AssetsWithGaps,
				"total_gaps", l.TotalGaps, "completeness_pct", round2(l.Completeness), "assets_complete_pct", round2(l.AssetsComplete))
		}
	case JobStale:
		var st StaleReport
		st, err = CheckStale(ctx, cfg.scanConfig(), cfg.StaleAfter)
		rep.Stale = &st
		s.staleGauges(st)
		for _, x := range st.Stale {
			log.Warn("series is stale", "pair", x.Pair, "interval", x.Interval, "hours_behind", x.HoursBehind, "last", x.Last)
		}
		log.Info("stale check done", "assets_checked", st.AssetsChecked, "series_checked", st.SeriesChecked, "stale", len(st.Stale), "hours", st.Hours)
	default:
		err = fmt.Errorf("unknown job kind %q", j.Kind)
	}
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		rep.Error = err.Error()
		log.Error("gap scanner job failed; it runs again at its next time", "kind", j.Kind, "err", err)
	}
	rep.Finished = time.Now().UTC()
	s.publish(ctx, log, topology.ScannerSubject(j.Kind, j.Name), rep)
}

// fill is one fill round: scan, request, wait for the answers (up to
// cfg.Wait), tally.
func (s *scheduler) fill(ctx context.Context, cfg Config, name string) RoundSummary {
	sum := RoundSummary{Job: name, Started: time.Now().UTC(), Tier: "ALL", Intervals: cfg.Intervals, Errors: []string{}}
	if tiers, err := ParseTiers(cfg.Tiers); err == nil && len(tiers) > 0 {
		sum.Tier = strings.Join(tiers, ",")
	}
	if sum.Intervals == nil {
		sum.Intervals = []int{}
	}
	res, err := RunOnce(ctx, cfg, cfg.JS, cfg.DB)
	if err != nil {
		s.roundsFailed.Inc()
		sum.Errors = append(sum.Errors, err.Error())
		s.log.Error("gap scan round failed; retrying at the next time", "job", name, "err", err)
	} else {
		s.roundsOK.Inc()
		s.took.Set(res.Report.Took.Seconds())
		s.gapsOpen.Set(float64(len(res.Report.Gaps)))
	}
	s.requested.Add(float64(len(res.Requested)))
	var outcomes []Outcome
	if len(res.Requested) > 0 && cfg.Wait > 0 {
		var werr error
		outcomes, werr = Await(ctx, s.kv, res.Todo, AwaitOptions{Timeout: cfg.Wait, MaxRequestCandles: cfg.MaxRequestCandles})
		if werr != nil && !errors.Is(werr, ErrAwaitTimeout) && ctx.Err() == nil {
			sum.Errors = append(sum.Errors, werr.Error())
		}
	}
	sum.Totals = Tally(res.Report, requestedGaps(res), outcomes)
	bases := map[string]bool{}
	for _, se := range res.Report.Series {
		bases[se.Base] = true
	}
	sum.AssetsProcessed, sum.SeriesProcessed = len(bases), len(res.Report.Series)
	for _, o := range Failed(outcomes) {
		sum.Errors = append(sum.Errors, fmt.Sprintf("%s %dm %s..%s: %s", o.Pair, o.Interval,
			o.Start.Format(time.RFC3339), o.End.Format(time.RFC3339), o.Error))
	}
	sum.Finished = time.Now().UTC()
	return sum
}

// requestedGaps are the gaps of a sweep whose requests went out (all of
// Todo, unless publishing stopped part way).
func requestedGaps(res SweepResult) []Gap {
	sent := map[string]bool{}
	for _, r := range res.Requested {
		sent[r.ID] = true
	}
	var out []Gap
	for _, g := range res.Todo {
		if sent[g.Key] {
			out = append(out, g)
		}
	}
	return out
}

// staleGauges exports how far behind each checked series is.
func (s *scheduler) staleGauges(st StaleReport) {
	for _, x := range st.Series {
		// Seconds, the base unit every _seconds metric shares; the report
		// keeps hours, which a person reads more easily.
		s.reg.Gauge("fff_gapscanner_stale_seconds", "Seconds since the newest candle of a series closed (stale jobs)",
			"pair", x.Pair, "interval", strconv.Itoa(x.Interval)).Set(x.HoursBehind * 3600)
	}
}

// publish puts a job report on the GAPSCANNER stream. A report that cannot
// be published is logged: the job itself did its work.
func (s *scheduler) publish(ctx context.Context, log *slog.Logger, subject string, v any) {
	data, err := json.Marshal(v)
	if err == nil {
		_, err = s.cfg.JS.Publish(ctx, subject, data)
	}
	if err != nil && ctx.Err() == nil {
		log.Warn("job report not published", "subject", subject, "err", err)
	}
}

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }

// scanConfig is the scan of the series c selects, as of c.Now.
func (c Config) scanConfig() ScanConfig {
	return ScanConfig{DB: c.DB, Table: c.QuestDB.Table, Source: c.Source, Tiers: c.Tiers, Pairs: c.Pairs,
		Assets: c.Assets, Intervals: c.Intervals, ToNow: true, Trades: c.Trades, Now: c.Now, Log: c.Log}
}
