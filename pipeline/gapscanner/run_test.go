package gapscanner_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/fetcher"
	"github.com/feefifofunds/feefifofunds/pipeline/gaps"
	"github.com/feefifofunds/feefifofunds/pipeline/gapscanner"
	"github.com/feefifofunds/feefifofunds/pipeline/kraken/krakentest"
	"github.com/feefifofunds/feefifofunds/pipeline/metrics"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
	"github.com/feefifofunds/feefifofunds/pipeline/writer"
)

// Several jobs in one Run, each on its own schedule: every one reports on
// gapscanner.<kind>.<job>, the fill round with the old task's fields, and
// the stale job exports a gauge per series.
func TestRunJobsReportEachOnItsSubject(t *testing.T) {
	q := testenv.NewQuestDB(t)
	nats := testenv.StartJetStream(t)
	loadHourly(t, q, "ETHUSD")
	kv := gapsKV(t, nats.JS)
	ctx := context.Background()
	// An old FILLED record and an UNFILLABLE one for the cleanup job.
	for key, state := range map[string]string{"kraken.ETHUSD.60.1": contract.GapFilled, "kraken.ETHUSD.60.2": contract.GapUnfillable} {
		err := gaps.Update(ctx, kv, key, func(r *contract.GapRecord, _ bool) bool {
			*r = contract.GapRecord{Source: "kraken", Pair: "ETHUSD", Interval: 60, State: state, Updated: hourlyNow.AddDate(0, -6, 0)}
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	hourly := gapscanner.Every(time.Hour)
	reg := metrics.NewRegistry()
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- gapscanner.Run(rctx, gapscanner.Config{
			JS: nats.JS, DB: q.Pool, QuestDB: q.Config(), Log: testLog(t), Metrics: reg, Now: fixed(hourlyNow),
			Jobs: []gapscanner.Job{
				{Name: "nightly", Kind: gapscanner.JobFill, Schedule: hourly, AtStart: true, Tiers: []string{"TIER1"},
					Intervals: []int{60}, Lookback: 12 * 24 * time.Hour, MaxGapsPerAsset: 1, Wait: -1},
				{Kind: gapscanner.JobCleanup, Schedule: hourly, AtStart: true, OlderThan: 90 * 24 * time.Hour},
				{Kind: gapscanner.JobStale, Schedule: hourly, AtStart: true, StaleAfter: 2 * time.Hour},
				{Kind: gapscanner.JobCompleteness, Schedule: hourly, AtStart: true},
			},
		})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	reports := map[string]json.RawMessage{}
	cons, err := nats.JS.OrderedConsumer(ctx, topology.StreamScanner, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for len(reports) < 4 {
		msg, err := cons.Next(jetstream.FetchMaxWait(30 * time.Second))
		if err != nil {
			t.Fatalf("reports so far %v: %v", reports, err)
		}
		reports[msg.Subject()] = msg.Data()
	}

	var sum gapscanner.RoundSummary
	if err := json.Unmarshal(reports["gapscanner.summary.nightly"], &sum); err != nil {
		t.Fatalf("summary: %v (%v)", err, reports)
	}
	// Twelve days back hold hole D and the run to now; one request a series.
	if sum.Tier != "TIER1" || len(sum.Intervals) != 1 || sum.AssetsProcessed != 1 || sum.GapsDetected != 2 ||
		sum.GapsRequested != 1 || sum.GapsPending != 1 || sum.GapsFailed != 0 || len(sum.Errors) != 0 {
		t.Errorf("summary %+v", sum)
	}
	for _, field := range []string{"tier", "intervals", "assets_processed", "gaps_detected", "gaps_filled", "gaps_unfillable",
		"gaps_failed", "total_candles_filled", "errors"} {
		if !strings.Contains(string(reports["gapscanner.summary.nightly"]), `"`+field+`"`) {
			t.Errorf("summary lacks %s: %s", field, reports["gapscanner.summary.nightly"])
		}
	}
	var cleanup gapscanner.JobReport
	if err := json.Unmarshal(reports["gapscanner.cleanup.cleanup"], &cleanup); err != nil || cleanup.Cleanup == nil ||
		cleanup.Cleanup.FilledPurged != 1 || cleanup.Cleanup.UnfillableKept != 1 {
		t.Errorf("cleanup report %s (%v)", reports["gapscanner.cleanup.cleanup"], err)
	}
	var stale gapscanner.JobReport
	if err := json.Unmarshal(reports["gapscanner.stale.stale"], &stale); err != nil || stale.Stale == nil ||
		stale.Stale.AssetsChecked != 1 || len(stale.Stale.Stale) != 1 || stale.Stale.Stale[0].HoursBehind != 3.5 {
		t.Errorf("stale report %s (%v)", reports["gapscanner.stale.stale"], err)
	}
	var text strings.Builder
	reg.WriteText(&text)
	if !strings.Contains(text.String(), `fff_gapscanner_stale_seconds{interval="60",pair="ETHUSD"} 12600`) {
		t.Errorf("no stale gauge in:\n%s", text.String())
	}
	var comp gapscanner.JobReport
	if err := json.Unmarshal(reports["gapscanner.completeness.completeness"], &comp); err != nil || len(comp.Completeness) != 1 ||
		comp.Completeness[0].TotalGaps == 0 || comp.Completeness[0].AssetsComplete != 0 {
		t.Errorf("completeness report %s (%v)", reports["gapscanner.completeness.completeness"], err)
	}
}

// The whole loop: scan → fill requests → fetcher (fake Kraken) → CANDLES →
// writer → QuestDB → scan again finds only what Kraken cannot serve.
func TestLoopScanFetchWriteRescan(t *testing.T) {
	q := testenv.NewQuestDB(t)
	nats := testenv.StartJetStream(t)
	loadHourly(t, q, "ETHUSD")
	kv := gapsKV(t, nats.JS)

	// Kraken has every hour of its window except hole D (no trades then).
	fake := krakentest.New(krakentest.WithNow(hourlyNow))
	t.Cleanup(fake.Close)
	fake.AddCandles("ETHUSD", 60, series(at("2024-12-31T00:00:00Z"), at("2025-01-31T10:00:00Z"), 60,
		[2]time.Time{at(hourlyHoles[5].start), at(hourlyHoles[5].end)}))

	ctx, cancel := context.WithCancel(context.Background())
	var stages []chan error
	start := func(run func(context.Context) error) {
		done := make(chan error, 1)
		stages = append(stages, done)
		go func() { done <- run(ctx) }()
	}
	t.Cleanup(func() {
		cancel()
		for _, done := range stages {
			if err := <-done; err != nil {
				t.Errorf("stage stopped with %v", err)
			}
		}
	})
	start(func(ctx context.Context) error {
		return fetcher.Run(ctx, fetcher.Config{JS: nats.JS, Log: testLog(t), Metrics: metrics.NewRegistry(),
			KrakenURL: fake.URL, Rate: 1000, Now: fake.Now})
	})
	start(func(ctx context.Context) error {
		return writer.Run(ctx, writer.Config{JS: nats.JS, Log: testLog(t), Metrics: metrics.NewRegistry(),
			QuestDB: q.Config(), FlushInterval: 50 * time.Millisecond})
	})

	cfg := gapscanner.ScanConfig{DB: q.Pool, Table: q.Table, Now: fixed(hourlyNow), ToNow: true, Records: kv}
	rep := mustScan(ctx, t, cfg)
	checkGaps(t, rep.Gaps, "ETHUSD", 60, append(append([]wantGap(nil), hourlyHoles...), hourlyTrailing))
	if _, err := gapscanner.SyncRecords(ctx, kv, rep, gapscanner.SyncOptions{Now: fixed(hourlyNow)}); err != nil {
		t.Fatal(err)
	}
	sent, err := gapscanner.PublishWith(ctx, nats.JS, gapscanner.PublishOptions{Now: fixed(hourlyNow)}, rep.Requestable()...)
	if err != nil || len(sent) != 4 {
		t.Fatalf("published %d requests (%v), want F, C, D and the run to now", len(sent), err)
	}

	// Wait for the fetcher's verdicts and the writer's commits.
	keys := map[string]string{}
	for _, g := range rep.Requestable() {
		keys[g.Key] = contract.GapFilled
	}
	keyD := contract.GapKey("kraken", "ETHUSD", 60, at(hourlyHoles[5].start))
	keys[keyD] = contract.GapNoTrades
	filledCandles := int64(0)
	for _, g := range rep.Requestable() {
		if g.Key != keyD {
			filledCandles += g.Missing
		}
	}
	before := q.Count(t)
	deadline := time.Now().Add(60 * time.Second)
	for {
		done := q.Count(t) == before+filledCandles
		for key, state := range keys {
			if rec, ok, _ := gaps.Get(ctx, kv, key); !ok || rec.State != state {
				done = false
			}
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			for key := range keys {
				rec, _, _ := gaps.Get(ctx, kv, key)
				t.Logf("%s: %s %v", key, rec.State, rec.History)
			}
			t.Fatalf("fills not done: %d rows, want %d", q.Count(t), before+filledCandles)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Scan again: only the gaps Kraken cannot serve are left.
	rep = mustScan(ctx, t, cfg)
	noTrades := hourlyHoles[5]
	noTrades.class = contract.ClassNoTrades
	checkGaps(t, rep.Gaps, "ETHUSD", 60, append(append([]wantGap(nil), hourlyHoles[:3]...), noTrades))
	if n := len(rep.Requestable()); n != 0 {
		t.Errorf("%d gaps still requestable after the fill", n)
	}
	if _, err := gapscanner.SyncRecords(ctx, kv, rep, gapscanner.SyncOptions{Now: fixed(hourlyNow)}); err != nil {
		t.Fatal(err)
	}
	for key, state := range keys {
		if rec, _, _ := gaps.Get(ctx, kv, key); rec.State != state {
			t.Errorf("record %s: %s, want %s", key, rec.State, state)
		}
	}
}
