package gapscanner_test

import (
	"context"
	"testing"
	"time"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/fetcher"
	"github.com/feefifofunds/feefifofunds/pipeline/gaps"
	"github.com/feefifofunds/feefifofunds/pipeline/gapscanner"
	"github.com/feefifofunds/feefifofunds/pipeline/kraken/krakentest"
	"github.com/feefifofunds/feefifofunds/pipeline/metrics"
	"github.com/feefifofunds/feefifofunds/pipeline/writer"
)

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
	rep, err := gapscanner.Scan(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
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
	rep, err = gapscanner.Scan(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
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
