package gapscanner_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/gapscanner"
)

// The hourly test series: the still-open candle is 10:00, the oldest
// candle Kraken's OHLC still serves 2025-01-01T10:00 (720 hours back).
var hourlyNow = at("2025-01-31T10:30:00Z")

type wantGap struct {
	start, end                         string
	missing, days, fromToday, overflow int64
	class                              string
}

// hourlyHoles is the ETHUSD hourly series with holes of every shape.
var hourlyHoles = []wantGap{
	{"2024-12-22T05:00:00Z", "2024-12-22T07:00:00Z", 3, 0, 965, 245, contract.ClassUnfillable}, // inside a day
	{"2024-12-31T22:00:00Z", "2025-01-01T01:00:00Z", 4, 0, 732, 12, contract.ClassUnfillable},  // across midnight
	{"2025-01-01T08:00:00Z", "2025-01-01T08:00:00Z", 1, 0, 722, 2, contract.ClassUnfillable},   // just outside the window
	{"2025-01-01T10:00:00Z", "2025-01-01T11:00:00Z", 2, 0, 720, 0, contract.ClassFillable},     // oldest servable candle
	{"2025-01-10T20:00:00Z", "2025-01-13T03:00:00Z", 56, 2, 494, 0, contract.ClassFillable},    // two whole days and edges
	{"2025-01-20T12:00:00Z", "2025-01-20T12:00:00Z", 1, 0, 262, 0, contract.ClassFillable},     // one candle
}

var hourlyTrailing = wantGap{"2025-01-31T07:00:00Z", "2025-01-31T09:00:00Z", 3, 0, 3, 0, contract.ClassFillable}

func loadHourly(t *testing.T, q *testenv.QuestDB, pair string) {
	var holes [][2]time.Time
	for _, h := range hourlyHoles {
		holes = append(holes, [2]time.Time{at(h.start), at(h.end)})
	}
	insert(t, q, pair, 60, series(at("2024-12-20T00:00:00Z"), at("2025-01-31T06:00:00Z"), 60, holes...))
}

// XBTUSD daily from the real Kraken export: it already lacks 2013-10-11,
// 2013-10-28 and 2014-05-19; the test drops 2013-11-15 and 2014-02-01..05.
var dailyNow = at("2015-12-01T12:00:00Z") // window starts 2013-12-11

var dailyHoles = []wantGap{
	{"2013-10-11T00:00:00Z", "2013-10-11T00:00:00Z", 1, 1, 781, 61, contract.ClassUnfillable},
	{"2013-10-28T00:00:00Z", "2013-10-28T00:00:00Z", 1, 1, 764, 44, contract.ClassUnfillable},
	{"2013-11-15T00:00:00Z", "2013-11-15T00:00:00Z", 1, 1, 746, 26, contract.ClassUnfillable},
	{"2014-02-01T00:00:00Z", "2014-02-05T00:00:00Z", 5, 5, 668, 0, contract.ClassFillable},
	{"2014-05-19T00:00:00Z", "2014-05-19T00:00:00Z", 1, 1, 561, 0, contract.ClassFillable},
}

func loadDaily(t *testing.T, q *testenv.QuestDB) {
	drop := []time.Time{at("2013-11-15T00:00:00Z")}
	for d := at("2014-02-01T00:00:00Z"); !d.After(at("2014-02-05T00:00:00Z")); d = d.Add(24 * time.Hour) {
		drop = append(drop, d)
	}
	insert(t, q, "XBTUSD", 1440, fixture(t, "XBTUSD_1440.csv", drop...))
}

func checkGaps(t *testing.T, got []gapscanner.Gap, pair string, interval int, want []wantGap) {
	t.Helper()
	var mine []gapscanner.Gap
	for _, g := range got {
		if g.Pair == pair && g.Interval == interval {
			mine = append(mine, g)
		}
	}
	ok := len(mine) == len(want)
	for i := 0; ok && i < len(want); i++ {
		g, w := mine[i], want[i]
		ok = g.Start.Equal(at(w.start)) && g.End.Equal(at(w.end)) && g.Missing == w.missing && g.MissingDays == w.days &&
			g.CandlesFromToday == w.fromToday && g.Overflow == w.overflow && g.Class == w.class &&
			g.Key == contract.GapKey("kraken", pair, interval, at(w.start))
	}
	if !ok {
		var b strings.Builder
		for _, g := range mine {
			b.WriteString("\n  got  " + gapLine(g))
		}
		for _, w := range want {
			b.WriteString("\n  want " + w.start + ".." + w.end + " missing=" + itoa(w.missing) + " days=" + itoa(w.days) +
				" from_today=" + itoa(w.fromToday) + " overflow=" + itoa(w.overflow) + " class=" + w.class)
		}
		t.Errorf("%s %d gaps differ:%s", pair, interval, b.String())
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestScanFindsExactlyTheHoles(t *testing.T) {
	q := testenv.NewQuestDB(t)
	loadHourly(t, q, "ETHUSD")
	ctx := context.Background()

	rep := mustScan(ctx, t, gapscanner.ScanConfig{DB: q.Pool, Table: q.Table, Now: fixed(hourlyNow), Log: testLog(t)})
	checkGaps(t, rep.Gaps, "ETHUSD", 60, hourlyHoles)
	if len(rep.Series) != 1 {
		t.Fatalf("series: %+v", rep.Series)
	}
	s := rep.Series[0]
	var missing int64
	for _, h := range hourlyHoles {
		missing += h.missing
	}
	total := int64(at("2025-01-31T06:00:00Z").Sub(at("2024-12-20T00:00:00Z"))/time.Hour) + 1
	if s.Expected != total || s.Missing != missing || s.Candles != total-missing || s.Gaps != len(hourlyHoles) || s.Tier != "TIER1" || s.Base != "ETH" {
		t.Errorf("series summary %+v; want expected %d, missing %d, candles %d", s, total, missing, total-missing)
	}
	if rep.DetailDays == 0 {
		t.Error("holes inside days should have been read in detail")
	}

	// --to-now adds the run from the last candle to the newest closed one.
	rep = mustScan(ctx, t, gapscanner.ScanConfig{DB: q.Pool, Table: q.Table, Now: fixed(hourlyNow), ToNow: true})
	checkGaps(t, rep.Gaps, "ETHUSD", 60, append(append([]wantGap(nil), hourlyHoles...), hourlyTrailing))
	if last := rep.Gaps[len(rep.Gaps)-1]; !last.Trailing {
		t.Errorf("last gap should be trailing: %+v", last)
	}
}

func TestScanDailyFixture(t *testing.T) {
	q := testenv.NewQuestDB(t)
	loadDaily(t, q)
	rep := mustScan(context.Background(), t, gapscanner.ScanConfig{DB: q.Pool, Table: q.Table, Now: fixed(dailyNow)})
	checkGaps(t, rep.Gaps, "XBTUSD", 1440, dailyHoles)
	if got := len(rep.Fillable()); got != 2 {
		t.Errorf("fillable = %d, want 2", got)
	}
	if got := len(rep.Unfillable()); got != 3 {
		t.Errorf("unfillable = %d, want 3", got)
	}
}

// Holes at the edges of days and whole missing days in a one-minute series
// go through every path of the per-day logic.
func TestScanOneMinuteAcrossDays(t *testing.T) {
	q := testenv.NewQuestDB(t)
	first, last := at("2025-03-01T22:00:00Z"), at("2025-03-05T02:00:00Z")
	holes := [][2]time.Time{
		{at("2025-03-01T23:59:00Z"), at("2025-03-02T00:00:00Z")}, // across midnight, one minute each side
		{at("2025-03-02T12:00:00Z"), at("2025-03-02T12:09:00Z")}, // inside a day
		{at("2025-03-02T12:11:00Z"), at("2025-03-02T12:11:00Z")}, // a second hole in the same day
		{at("2025-03-02T23:00:00Z"), at("2025-03-04T00:30:00Z")}, // a whole day and edges
		{at("2025-03-04T23:59:00Z"), at("2025-03-04T23:59:00Z")}, // last minute of a day
	}
	insert(t, q, "SOLUSD", 1, series(first, last, 1, holes...))
	now := at("2025-03-05T03:00:30Z")
	rep := mustScan(context.Background(), t, gapscanner.ScanConfig{DB: q.Pool, Table: q.Table, Now: fixed(now)})
	// Kraken serves the newest 720 one-minute candles: from 2025-03-04T15:00.
	checkGaps(t, rep.Gaps, "SOLUSD", 1, []wantGap{
		{"2025-03-01T23:59:00Z", "2025-03-02T00:00:00Z", 2, 0, 4501, 3781, contract.ClassUnfillable},
		{"2025-03-02T12:00:00Z", "2025-03-02T12:09:00Z", 10, 0, 3780, 3060, contract.ClassUnfillable},
		{"2025-03-02T12:11:00Z", "2025-03-02T12:11:00Z", 1, 0, 3769, 3049, contract.ClassUnfillable},
		{"2025-03-02T23:00:00Z", "2025-03-04T00:30:00Z", 60 + 1440 + 31, 1, 3120, 2400, contract.ClassUnfillable},
		{"2025-03-04T23:59:00Z", "2025-03-04T23:59:00Z", 1, 0, 181, 0, contract.ClassFillable},
	})
}

func TestScanFilters(t *testing.T) {
	q := testenv.NewQuestDB(t)
	loadHourly(t, q, "ETHUSD")                                                                     // TIER1
	insert(t, q, "LINKUSD", 60, series(at("2025-01-30T00:00:00Z"), at("2025-01-31T06:00:00Z"), 60, // TIER2
		[2]time.Time{at("2025-01-30T05:00:00Z"), at("2025-01-30T06:00:00Z")}))
	insert(t, q, "LINKUSD", 240, series(at("2025-01-20T00:00:00Z"), at("2025-01-31T04:00:00Z"), 240,
		[2]time.Time{at("2025-01-25T04:00:00Z"), at("2025-01-25T04:00:00Z")}))
	ctx := context.Background()
	scan := func(c gapscanner.ScanConfig) gapscanner.Report {
		t.Helper()
		c.DB, c.Table, c.Now = q.Pool, q.Table, fixed(hourlyNow)
		return mustScan(ctx, t, c)
	}
	names := func(rep gapscanner.Report) string {
		var s []string
		for _, x := range rep.Series {
			s = append(s, x.Pair+"/"+itoa(int64(x.Interval))+":"+itoa(int64(x.Gaps)))
		}
		return strings.Join(s, " ")
	}
	if got := names(scan(gapscanner.ScanConfig{})); got != "ETHUSD/60:6 LINKUSD/60:1 LINKUSD/240:1" {
		t.Errorf("all: %s", got)
	}
	if got := names(scan(gapscanner.ScanConfig{Tiers: []string{"2"}})); got != "LINKUSD/60:1 LINKUSD/240:1" {
		t.Errorf("tier 2: %s", got)
	}
	if got := names(scan(gapscanner.ScanConfig{Tiers: []string{"TIER1"}, Intervals: []int{60}})); got != "ETHUSD/60:6" {
		t.Errorf("tier 1 hourly: %s", got)
	}
	if got := names(scan(gapscanner.ScanConfig{Pairs: []string{"linkusd"}, Intervals: []int{240}})); got != "LINKUSD/240:1" {
		t.Errorf("pair+interval: %s", got)
	}
	if got := names(scan(gapscanner.ScanConfig{Tiers: []string{"TIER3"}})); got != "" {
		t.Errorf("tier 3: %s", got)
	}
	if _, err := gapscanner.Scan(ctx, gapscanner.ScanConfig{DB: q.Pool, Table: q.Table, Tiers: []string{"TIER9"}}); err == nil {
		t.Error("an unknown tier should be an error")
	}
}

// In run mode only the lookback is searched, but a series that stopped
// before it still reports its trailing gap from its true last candle.
func TestScanSinceKeepsStableStarts(t *testing.T) {
	q := testenv.NewQuestDB(t)
	loadHourly(t, q, "ETHUSD")
	insert(t, q, "ADAUSD", 60, series(at("2025-01-01T00:00:00Z"), at("2025-01-15T03:00:00Z"), 60))
	rep, err := gapscanner.Scan(context.Background(), gapscanner.ScanConfig{
		DB: q.Pool, Table: q.Table, Now: fixed(hourlyNow), Since: hourlyNow.Add(-12 * 24 * time.Hour), ToNow: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Since rounds down to 2025-01-19T00:00: D and the trailing run remain.
	checkGaps(t, rep.Gaps, "ETHUSD", 60, []wantGap{hourlyHoles[5], hourlyTrailing})
	checkGaps(t, rep.Gaps, "ADAUSD", 60, []wantGap{
		{"2025-01-15T04:00:00Z", "2025-01-31T09:00:00Z", 16*24 + 6, 15, 390, 0, contract.ClassFillable},
	})
}
