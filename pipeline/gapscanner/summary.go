package gapscanner

import (
	"context"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/feefifofunds/feefifofunds/pipeline/assets"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

// TierCompleteness is one line of `gapscanner report`: the series of one
// tier and interval.
type TierCompleteness struct {
	Tier     string `json:"tier"`
	Interval int    `json:"interval_minutes"`
	// Assets is how many series (pairs) the tier has at this interval;
	// AssetsWithGaps how many of them miss at least one candle.
	Assets         int `json:"assets"`
	AssetsWithGaps int `json:"assets_with_gaps"`
	// Present and Expected candles over the scanned ranges; Completeness is
	// Present/Expected in percent.
	Present      int64   `json:"present_candles"`
	Expected     int64   `json:"expected_candles"`
	Completeness float64 `json:"completeness_pct"`
	// AssetsComplete is the old tool's other figure: the share of series
	// without a gap, in percent.
	AssetsWithoutGaps int     `json:"assets_without_gaps"`
	AssetsComplete    float64 `json:"assets_complete_pct"`
	// Gap counts, all and by class.
	TotalGaps          int `json:"total_gaps"`
	Fillable           int `json:"fillable_gaps"`
	FillableFromTrades int `json:"fillable_from_trades_gaps"`
	Unfillable         int `json:"unfillable_gaps"`
	NoTrades           int `json:"no_trades_gaps"`
}

// Completeness sums a scan up per tier and interval, tiers in order.
func Completeness(rep Report) []TierCompleteness {
	type k struct {
		tier     string
		interval int
	}
	acc := map[k]*TierCompleteness{}
	get := func(tier string, interval int) *TierCompleteness {
		key := k{tier, interval}
		if acc[key] == nil {
			acc[key] = &TierCompleteness{Tier: tier, Interval: interval}
		}
		return acc[key]
	}
	for _, s := range rep.Series {
		t := get(s.Tier, s.Interval)
		t.Assets++
		if s.Gaps > 0 {
			t.AssetsWithGaps++
		}
		t.Expected += s.Expected
		t.Present += s.Expected - s.Missing
	}
	for _, g := range rep.Gaps {
		t := get(g.Tier, g.Interval)
		t.TotalGaps++
		switch g.Class {
		case contract.ClassFillable:
			t.Fillable++
		case contract.ClassFillableFromTrades:
			t.FillableFromTrades++
		case contract.ClassUnfillable:
			t.Unfillable++
		case contract.ClassNoTrades:
			t.NoTrades++
		}
	}
	out := make([]TierCompleteness, 0, len(acc))
	for _, t := range acc {
		t.Completeness, t.AssetsComplete = 100, 100
		if t.Expected > 0 {
			t.Completeness = 100 * float64(t.Present) / float64(t.Expected)
		}
		t.AssetsWithoutGaps = t.Assets - t.AssetsWithGaps
		if t.Assets > 0 {
			t.AssetsComplete = 100 * float64(t.AssetsWithoutGaps) / float64(t.Assets)
		}
		out = append(out, *t)
	}
	rank := func(tier string) int {
		for i, x := range assets.Tiers {
			if x == tier {
				return i
			}
		}
		return len(assets.Tiers)
	}
	sort.Slice(out, func(i, j int) bool {
		if ri, rj := rank(out[i].Tier), rank(out[j].Tier); ri != rj {
			return ri < rj
		}
		return out[i].Interval < out[j].Interval
	})
	return out
}

// StaleSeries is a series whose newest candle is too old.
type StaleSeries struct {
	Source   string    `json:"source"`
	Pair     string    `json:"pair"`
	Base     string    `json:"base"`
	Tier     string    `json:"tier"`
	Interval int       `json:"interval_minutes"`
	Last     time.Time `json:"last"`      // open time of the newest candle
	ClosedAt time.Time `json:"closed_at"` // when that candle closed
	// Behind is now minus ClosedAt; BehindCandles the closed candles missing
	// after it.
	Behind        time.Duration `json:"behind_ns"`
	BehindHuman   string        `json:"behind"`
	HoursBehind   float64       `json:"hours_behind"`
	BehindCandles int64         `json:"behind_candles"`
	// Stale says Behind is over the threshold asked for.
	Stale bool `json:"stale"`
}

// StaleReport is what CheckStale saw: every series checked, and the ones
// that fell behind.
type StaleReport struct {
	Now           time.Time     `json:"now"`
	Hours         float64       `json:"hours"`
	AssetsChecked int           `json:"assets_checked"` // base assets
	SeriesChecked int           `json:"series_checked"`
	Stale         []StaleSeries `json:"stale"`
	// Series are all the series checked, most behind first (the gauges of
	// a stale job come from them).
	Series []StaleSeries `json:"-"`
}

// Stale lists the series (selected by cfg's filters) whose newest candle
// closed more than olderThan before now, most behind first.
func Stale(ctx context.Context, cfg ScanConfig, olderThan time.Duration) ([]StaleSeries, error) {
	r, err := CheckStale(ctx, cfg, olderThan)
	return r.Stale, err
}

// CheckStale measures how far behind every series (selected by cfg's
// filters) is, and which of them closed their newest candle more than
// olderThan before now. It costs one aggregate query.
func CheckStale(ctx context.Context, cfg ScanConfig, olderThan time.Duration) (StaleReport, error) {
	if err := cfg.defaults(); err != nil {
		return StaleReport{}, err
	}
	now := cfg.Now().UTC()
	rep := StaleReport{Now: now, Hours: olderThan.Hours(), Stale: []StaleSeries{}}
	infos, err := querySeries(ctx, &cfg)
	if err != nil {
		return rep, err
	}
	bases := map[string]bool{}
	for _, si := range infos {
		step := int64(si.Interval) * 60
		if step <= 0 {
			continue
		}
		last := contract.FloorTime(si.Last, step)
		closed := time.Unix(last+step, 0).UTC()
		behind := now.Sub(closed)
		newestClosed := contract.FloorTime(now.Unix(), step) - step
		bases[si.Base] = true
		rep.Series = append(rep.Series, StaleSeries{
			Source: si.Source, Pair: si.Pair, Base: si.Base, Tier: si.Tier, Interval: si.Interval,
			Last: time.Unix(last, 0).UTC(), ClosedAt: closed, Behind: behind, BehindHuman: humanDuration(behind),
			HoursBehind: math.Round(max(0, behind.Hours())*100) / 100, BehindCandles: max(0, (newestClosed-last)/step),
			Stale: behind > olderThan,
		})
	}
	sort.SliceStable(rep.Series, func(i, j int) bool { return rep.Series[i].Behind > rep.Series[j].Behind })
	for _, s := range rep.Series {
		if s.Stale {
			rep.Stale = append(rep.Stale, s)
		}
	}
	rep.AssetsChecked, rep.SeriesChecked = len(bases), len(rep.Series)
	return rep, nil
}

// humanDuration renders 49h30m as "2d1h30m".
func humanDuration(d time.Duration) string {
	d = d.Round(time.Minute)
	if d < time.Minute {
		return "0m"
	}
	days, hours, mins := int64(d/(24*time.Hour)), int64(d%(24*time.Hour)/time.Hour), int64(d%time.Hour/time.Minute)
	out := ""
	if days > 0 {
		out += strconv.FormatInt(days, 10) + "d"
	}
	if hours > 0 {
		out += strconv.FormatInt(hours, 10) + "h"
	}
	if mins > 0 {
		out += strconv.FormatInt(mins, 10) + "m"
	}
	return out
}
