package gapscanner_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/gaps"
	"github.com/feefifofunds/feefifofunds/pipeline/gapscanner"
	"github.com/feefifofunds/feefifofunds/pipeline/gapscanner/gapscannertest"
	"github.com/feefifofunds/feefifofunds/pipeline/metrics"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

func gapsKV(t *testing.T, js jetstream.JetStream) jetstream.KeyValue {
	kv, err := js.KeyValue(context.Background(), topology.BucketGaps)
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

func record(t *testing.T, kv jetstream.KeyValue, key string) contract.GapRecord {
	t.Helper()
	rec, ok, err := gaps.Get(context.Background(), kv, key)
	if err != nil || !ok {
		t.Fatalf("record %s: ok=%v err=%v", key, ok, err)
	}
	return rec
}

func putRecord(t *testing.T, kv jetstream.KeyValue, rec contract.GapRecord) {
	t.Helper()
	data, _ := json.Marshal(rec)
	if _, err := kv.Put(context.Background(), rec.Key, data); err != nil {
		t.Fatal(err)
	}
}

func TestScanPublishRecords(t *testing.T) {
	q := testenv.NewQuestDB(t)
	nats := testenv.StartJetStream(t)
	loadHourly(t, q, "ETHUSD")
	ctx := context.Background()
	kv := gapsKV(t, nats.JS)

	// Kraken found no trades in the one-candle hole D earlier.
	keyD := contract.GapKey("kraken", "ETHUSD", 60, at(hourlyHoles[5].start))
	putRecord(t, kv, contract.GapRecord{Key: keyD, Source: "kraken", Pair: "ETHUSD", Interval: 60,
		Start: at(hourlyHoles[5].start), End: at(hourlyHoles[5].end), Missing: 1, State: contract.GapNoTrades,
		Reason: "Kraken returned no candle and no trade", Updated: hourlyNow.Add(-time.Hour)})

	cfg := gapscanner.ScanConfig{DB: q.Pool, Table: q.Table, Now: fixed(hourlyNow), ToNow: true, Records: kv}
	rep := mustScan(ctx, t, cfg)
	want := append(append([]wantGap(nil), hourlyHoles[:5]...), wantGap{hourlyHoles[5].start, hourlyHoles[5].end, 1, 0, 262, 0, contract.ClassNoTrades}, hourlyTrailing)
	checkGaps(t, rep.Gaps, "ETHUSD", 60, want)
	todo := rep.Requestable()
	if len(todo) != 3 {
		t.Fatalf("requestable: %d, want F, C and the run to now", len(todo))
	}

	st, err := gapscanner.SyncRecords(ctx, kv, rep, gapscanner.SyncOptions{Now: fixed(hourlyNow)})
	if err != nil {
		t.Fatal(err)
	}
	if st.Created != 6 || st.Filled != 0 {
		t.Errorf("sync: %+v, want 6 new records (the NO_TRADES one exists)", st)
	}
	if rec := record(t, kv, keyD); rec.State != contract.GapNoTrades {
		t.Errorf("NO_TRADES record changed: %+v", rec)
	}
	unf := record(t, kv, contract.GapKey("kraken", "ETHUSD", 60, at(hourlyHoles[0].start)))
	if unf.State != contract.GapOpen || unf.Class != contract.ClassUnfillable || unf.Missing != 3 || !strings.Contains(unf.Reason, "720") {
		t.Errorf("unfillable record: %+v", unf)
	}

	sent, err := gapscanner.PublishWith(ctx, nats.JS, gapscanner.PublishOptions{Now: fixed(hourlyNow)}, todo...)
	if err != nil {
		t.Fatal(err)
	}
	got := gapscannertest.TakeFills(t, nats.JS, "kraken")
	if len(sent) != 3 || len(got) != 3 {
		t.Fatalf("published %d, on the stream %d; want 3", len(sent), len(got))
	}
	for i, w := range []wantGap{hourlyHoles[3], hourlyHoles[4], hourlyTrailing} {
		r := got[i]
		key := contract.GapKey("kraken", "ETHUSD", 60, at(w.start))
		if r.Pair != "ETHUSD" || r.Interval != 60 || !r.Start.Equal(at(w.start)) || !r.End.Equal(at(w.end)) || r.ID != key || r.Trades {
			t.Errorf("request %d = %+v, want %s..%s id %s", i, r, w.start, w.end, key)
		}
		rec := record(t, kv, key)
		if rec.State != contract.GapRequested || len(rec.History) != 2 || rec.History[1].State != contract.GapRequested {
			t.Errorf("record %s: %+v", key, rec)
		}
	}

	// A second scan right after holds the requested ones back; NO_TRADES stays out.
	rep = mustScan(ctx, t, cfg)
	if n := len(rep.Requestable()); n != 0 {
		t.Errorf("requestable right after publishing: %d, want 0", n)
	}
	// After --requeue-after they are asked again (the NO_TRADES one never).
	later := cfg
	later.Now = fixed(hourlyNow.Add(7 * time.Hour))
	rep = mustScan(ctx, t, later)
	for _, g := range rep.Requestable() {
		if g.Key == keyD {
			t.Error("a NO_TRADES gap is requested again")
		}
	}
	if n := len(rep.Requestable()); n == 0 {
		t.Error("nothing requestable after the requeue delay")
	}
}

// hourlyWithRecords loads the hourly ETHUSD series and returns a scan
// configuration that keeps gap records in a fresh GAPS bucket.
func hourlyWithRecords(t *testing.T) (*testenv.QuestDB, *testenv.JetStream, jetstream.KeyValue, gapscanner.ScanConfig) {
	q := testenv.NewQuestDB(t)
	nats := testenv.StartJetStream(t)
	loadHourly(t, q, "ETHUSD")
	kv := gapsKV(t, nats.JS)
	return q, nats, kv, gapscanner.ScanConfig{DB: q.Pool, Table: q.Table, Now: fixed(hourlyNow), Records: kv}
}

func TestRecordsFilledAndPurged(t *testing.T) {
	q, nats, kv, cfg := hourlyWithRecords(t)
	ctx := context.Background()
	rep := mustScan(ctx, t, cfg)
	if _, err := gapscanner.SyncRecords(ctx, kv, rep, gapscanner.SyncOptions{Now: fixed(hourlyNow)}); err != nil {
		t.Fatal(err)
	}
	if _, err := gapscanner.PublishWith(ctx, nats.JS, gapscanner.PublishOptions{Now: fixed(hourlyNow)}, rep.Requestable()...); err != nil {
		t.Fatal(err)
	}
	// An old FILLED record of another series, and an old UNFILLABLE one.
	old := hourlyNow.Add(-100 * 24 * time.Hour)
	putRecord(t, kv, contract.GapRecord{Key: "kraken.XBTUSD.60.1700000000", Source: "kraken", Pair: "XBTUSD", Interval: 60,
		State: contract.GapFilled, Updated: old, History: []contract.GapEvent{{At: old, State: contract.GapFilled}}})
	putRecord(t, kv, contract.GapRecord{Key: "kraken.XBTUSD.60.1600000000", Source: "kraken", Pair: "XBTUSD", Interval: 60,
		State: contract.GapUnfillable, Updated: old, History: []contract.GapEvent{{At: old, State: contract.GapUnfillable}}})

	// Hole C (56 candles) gets filled; hole F only in part (its first candle).
	c := hourlyHoles[4]
	insert(t, q, "ETHUSD", 60, series(at(c.start), at(c.end), 60))
	insert(t, q, "ETHUSD", 60, series(at(hourlyHoles[3].start), at(hourlyHoles[3].start), 60))
	rep = mustScan(ctx, t, cfg)
	st, err := gapscanner.SyncRecords(ctx, kv, rep, gapscanner.SyncOptions{Now: fixed(hourlyNow.Add(time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	if st.Filled != 1 || st.Partial != 1 || st.Purged != 1 || st.Created != 1 {
		t.Errorf("sync: %+v; want 1 filled (C), 1 partial (F), 1 new (rest of F), 1 purged", st)
	}
	recC := record(t, kv, contract.GapKey("kraken", "ETHUSD", 60, at(c.start)))
	if recC.State != contract.GapFilled || !strings.Contains(recC.History[len(recC.History)-1].Detail, "no longer missing") {
		t.Errorf("record of the filled gap: %+v", recC)
	}
	recF := record(t, kv, contract.GapKey("kraken", "ETHUSD", 60, at(hourlyHoles[3].start)))
	if recF.State != contract.GapFailed {
		t.Errorf("record of the partly filled gap: %+v", recF)
	}
	if _, ok, _ := gaps.Get(ctx, kv, "kraken.XBTUSD.60.1700000000"); ok {
		t.Error("FILLED record past retention not purged")
	}
	if _, ok, _ := gaps.Get(ctx, kv, "kraken.XBTUSD.60.1600000000"); !ok {
		t.Error("UNFILLABLE record purged")
	}
}

func TestTradesClassAndSplitRequests(t *testing.T) {
	q := testenv.NewQuestDB(t)
	nats := testenv.StartJetStream(t)
	loadHourly(t, q, "ETHUSD") // 7 trades a candle
	ctx := context.Background()
	rep := mustScan(ctx, t, gapscanner.ScanConfig{DB: q.Pool, Table: q.Table, Now: fixed(hourlyNow), Trades: true})
	var old []gapscanner.Gap
	for _, g := range rep.Gaps {
		if g.Start.Before(at("2025-01-01T10:00:00Z")) {
			if g.Class != contract.ClassFillableFromTrades || g.TradeCalls != 1 || !g.Requestable {
				t.Errorf("old gap with --trades: %+v", g)
			}
			old = append(old, g)
		}
	}
	if len(old) != 3 {
		t.Fatalf("old gaps: %d", len(old))
	}
	// Split a 4-candle gap into requests of 3 candles at most.
	sent, err := gapscanner.PublishWith(ctx, nats.JS, gapscanner.PublishOptions{Now: fixed(hourlyNow), MaxRequestCandles: 3}, old[1])
	if err != nil {
		t.Fatal(err)
	}
	got := gapscannertest.TakeFills(t, nats.JS, "kraken")
	if len(sent) != 2 || len(got) != 2 {
		t.Fatalf("requests: sent %d, on stream %d", len(sent), len(got))
	}
	if !got[0].Trades || !got[0].Start.Equal(at("2024-12-31T22:00:00Z")) || !got[0].End.Equal(at("2025-01-01T00:00:00Z")) ||
		!got[1].Start.Equal(at("2025-01-01T01:00:00Z")) || !got[1].End.Equal(at("2025-01-01T01:00:00Z")) || got[1].ID != old[1].Key+"-2" {
		t.Errorf("split requests: %+v", got)
	}
	if n := gapscanner.Requests(gapscanner.Gap{Key: "k", Pair: "P", Interval: 1, Start: at("2025-01-01T00:00:00Z"), End: at("2025-01-01T23:59:00Z")}, 720); len(n) != 2 || n[1].Candles() != 720 {
		t.Errorf("1440 one-minute candles split in %d requests", len(n))
	}
}

// A gap the fetcher recorded UNFILLABLE (it had no trade rebuilding) stays
// held without --trades and is requested from trades with it.
func TestUnfillableRecordRequestedWithTrades(t *testing.T) {
	_, nats, kv, cfg := hourlyWithRecords(t)
	ctx := context.Background()
	rep := mustScan(ctx, t, cfg)
	var old gapscanner.Gap
	for _, g := range rep.Gaps {
		if g.Class == contract.ClassUnfillable {
			old = g
			break
		}
	}
	if old.Key == "" {
		t.Fatal("no unfillable gap in the fixture")
	}
	putRecord(t, kv, contract.GapRecord{Key: old.Key, Source: "kraken", Pair: "ETHUSD", Interval: 60,
		Start: old.Start, End: old.End, Missing: old.Missing, State: contract.GapUnfillable,
		Reason: "beyond the 720-candle OHLC window and trade rebuilding is off", Updated: hourlyNow.Add(-time.Minute)})

	find := func(rep gapscanner.Report) gapscanner.Gap {
		for _, g := range rep.Gaps {
			if g.Key == old.Key {
				return g
			}
		}
		t.Fatalf("gap %s not in the report", old.Key)
		return gapscanner.Gap{}
	}
	rep = mustScan(ctx, t, cfg)
	if g := find(rep); g.Requestable || g.Class != contract.ClassUnfillable || !strings.Contains(g.Hold, "UNFILLABLE") {
		t.Errorf("without --trades: %+v", g)
	}
	cfg.Trades = true
	rep = mustScan(ctx, t, cfg)
	g := find(rep)
	if !g.Requestable || g.Class != contract.ClassFillableFromTrades {
		t.Fatalf("with --trades: %+v", g)
	}
	sent, err := gapscanner.PublishWith(ctx, nats.JS, gapscanner.PublishOptions{Now: fixed(hourlyNow)}, g)
	if err != nil || len(sent) != 1 || !sent[0].Trades {
		t.Fatalf("published %+v, %v", sent, err)
	}
	if rec := record(t, kv, old.Key); rec.State != contract.GapRequested {
		t.Errorf("record after the request: %s", rec.State)
	}
}

func TestExportUnfillableCSV(t *testing.T) {
	q := testenv.NewQuestDB(t)
	loadHourly(t, q, "ETHUSD")
	loadDaily(t, q)
	rep := mustScan(context.Background(), t, gapscanner.ScanConfig{DB: q.Pool, Table: q.Table, Now: fixed(hourlyNow)})
	var b bytes.Buffer
	n, err := gapscanner.WriteUnfillableCSV(&b, rep.Gaps)
	if err != nil {
		t.Fatal(err)
	}
	// Seen from 2025 every daily gap of 2013-2014 is far beyond 720 days.
	want := `asset_ticker,tier,interval_minutes,gap_start,gap_end,missing_candles,candles_from_today,overflow_candles
ETH,TIER1,60,2024-12-22T05:00:00Z,2024-12-22T07:00:00Z,3,965,245
ETH,TIER1,60,2024-12-31T22:00:00Z,2025-01-01T01:00:00Z,4,732,12
ETH,TIER1,60,2025-01-01T08:00:00Z,2025-01-01T08:00:00Z,1,722,2
BTC,TIER1,1440,2013-10-11T00:00:00Z,2013-10-11T00:00:00Z,1,4130,3410
BTC,TIER1,1440,2013-10-28T00:00:00Z,2013-10-28T00:00:00Z,1,4113,3393
BTC,TIER1,1440,2013-11-15T00:00:00Z,2013-11-15T00:00:00Z,1,4095,3375
BTC,TIER1,1440,2014-02-01T00:00:00Z,2014-02-05T00:00:00Z,5,4017,3297
BTC,TIER1,1440,2014-05-19T00:00:00Z,2014-05-19T00:00:00Z,1,3910,3190
`
	if b.String() != want || n != 8 {
		t.Errorf("csv (%d rows):\n%s\nwant:\n%s", n, b.String(), want)
	}
}

func TestCompletenessAndStale(t *testing.T) {
	q := testenv.NewQuestDB(t)
	// ETHUSD hourly: 2 days, 4 candles missing (one fillable gap of 3, one of 1).
	insert(t, q, "ETHUSD", 60, series(at("2025-01-29T00:00:00Z"), at("2025-01-30T23:00:00Z"), 60,
		[2]time.Time{at("2025-01-29T05:00:00Z"), at("2025-01-29T07:00:00Z")},
		[2]time.Time{at("2025-01-30T12:00:00Z"), at("2025-01-30T12:00:00Z")}))
	// XBTUSD hourly: complete, up to date.
	insert(t, q, "XBTUSD", 60, series(at("2025-01-30T00:00:00Z"), at("2025-01-31T09:00:00Z"), 60))
	// LINKUSD hourly (TIER2): one old gap, last candle 2025-01-20T05:00.
	insert(t, q, "LINKUSD", 60, series(at("2024-12-01T00:00:00Z"), at("2025-01-20T05:00:00Z"), 60,
		[2]time.Time{at("2024-12-02T00:00:00Z"), at("2024-12-02T23:00:00Z")}))
	ctx := context.Background()
	cfg := gapscanner.ScanConfig{DB: q.Pool, Table: q.Table, Now: fixed(hourlyNow)}
	rep := mustScan(ctx, t, cfg)
	lines := gapscanner.Completeness(rep)
	if len(lines) != 2 {
		t.Fatalf("lines: %+v", lines)
	}
	t1, t2 := lines[0], lines[1]
	if t1.Tier != "TIER1" || t1.Interval != 60 || t1.Assets != 2 || t1.AssetsWithGaps != 1 ||
		t1.Expected != 48+34 || t1.Present != 48+34-4 || t1.Fillable != 2 || t1.Unfillable != 0 {
		t.Errorf("TIER1: %+v", t1)
	}
	if want := 100 * float64(78) / 82; t1.Completeness < want-1e-9 || t1.Completeness > want+1e-9 {
		t.Errorf("TIER1 completeness %.4f, want %.4f", t1.Completeness, want)
	}
	linkExpected := int64(at("2025-01-20T05:00:00Z").Sub(at("2024-12-01T00:00:00Z"))/time.Hour) + 1
	if t2.Tier != "TIER2" || t2.Assets != 1 || t2.AssetsWithGaps != 1 || t2.Expected != linkExpected ||
		t2.Present != linkExpected-24 || t2.Unfillable != 1 || t2.Fillable != 0 {
		t.Errorf("TIER2: %+v", t2)
	}

	stale, err := gapscanner.Stale(ctx, cfg, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// ETHUSD's last candle (2025-01-30T23:00) closed 10.5h ago: not stale.
	if len(stale) != 1 || stale[0].Pair != "LINKUSD" || !stale[0].ClosedAt.Equal(at("2025-01-20T06:00:00Z")) ||
		stale[0].Behind != 11*24*time.Hour+4*time.Hour+30*time.Minute || stale[0].BehindCandles != 268 || stale[0].BehindHuman != "11d4h30m" {
		t.Errorf("stale: %+v", stale)
	}
	stale, err = gapscanner.Stale(ctx, cfg, 10*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(stale) != 2 || stale[1].Pair != "ETHUSD" || stale[1].BehindCandles != 10 {
		t.Errorf("stale 10h: %+v", stale)
	}
}

func TestRunPublishesUntilCancelled(t *testing.T) {
	q := testenv.NewQuestDB(t)
	nats := testenv.StartJetStream(t)
	loadHourly(t, q, "ETHUSD")
	reg := metrics.NewRegistry()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- gapscanner.Run(ctx, gapscanner.Config{
			JS: nats.JS, DB: q.Pool, QuestDB: q.Config(), Log: testLog(t), Now: fixed(hourlyNow),
			Every: time.Hour, Lookback: 12 * 24 * time.Hour, MaxGapsPerAsset: 1,
			Metrics: reg,
		})
	}()
	deadline := time.Now().Add(30 * time.Second)
	var got []contract.FillRequest
	for len(got) == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		got = gapscannertest.TakeFills(t, nats.JS, "kraken")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v on cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop")
	}
	// Lookback 12 days from 2025-01-31 leaves hole D and the run to now; one
	// per series per round: the run to now first.
	if len(got) != 1 || !got[0].Start.Equal(at(hourlyTrailing.start)) || !got[0].End.Equal(at(hourlyTrailing.end)) {
		t.Errorf("run published %+v, want only the run to now", got)
	}
	// Every stage's metrics share the fff_ prefix, so one dashboard query finds them all.
	var text strings.Builder
	reg.WriteText(&text)
	for _, name := range []string{"fff_gapscanner_rounds_total", "fff_gapscanner_fill_requests_total", "fff_gapscanner_scan_seconds", "fff_gapscanner_gaps"} {
		if !strings.Contains(text.String(), "\n"+name) && !strings.HasPrefix(text.String(), name) {
			t.Errorf("metric %s missing from:\n%s", name, text.String())
		}
	}
}
