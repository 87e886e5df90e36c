package benchmark

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"time"
)

// continuous runs steps 8–10, the continuous-mode figures: latency of a
// file dropped into a running pipeline, the gap scan, and `fff replay`.
func (b *bench) continuous(ctx context.Context, files []File, fail func(step string, err error)) {
	rep, o := b.rep, b.o
	// skipped says a step is skipped, and why: every one of them needs
	// QuestDB, and each has an option of its own that turns it off.
	skipped := func(step string, off bool, flag string) bool {
		if o.SkipQuestDB {
			off, flag = true, "--skip-questdb"
		}
		if off {
			b.say("%s: skipped (%s)", step, flag)
		}
		return off
	}
	if !skipped("8. continuous mode latency", o.LatencyFiles <= 0, "--latency-files 0") {
		if r, err := b.latency(ctx); err != nil {
			fail("continuous mode latency", err)
		} else {
			rep.Latency = r
			b.say("8. continuous mode latency (%s): %d files of %s rows dropped one after another into a running pipeline, dropped → in ingested/ and counted: p50 %.3fs, p99 %.3fs, max %.3fs (settle delay %s included)%s%s",
				r.Table, r.Files, thousands(r.RowsPerFile), r.P50Secs, r.P99Secs, r.MaxSecs, time.Duration(r.SettleSecs*float64(time.Second)),
				below(r.P50Secs <= barLatencyP50, "p50 ≤ 1 s"), below(r.P99Secs <= barLatencyP99, "p99 ≤ 2 s"))
			for _, p := range r.Phases {
				b.say("   %-70s p50 %.3fs, max %.3fs", p.Phase, p.P50Secs, p.MaxSecs)
			}
		}
	}
	if !skipped("9. gap scan", o.GapScanRows <= 0, "--gapscan-rows 0") {
		if r, err := b.gapScan(ctx); err != nil {
			fail("gap scan", err)
		} else {
			rep.GapScan = r
			b.say("9. gap scan (%s): %s candles in %d series loaded in %.1fs; scan found the %d gaps made (%s candles missing, %d days read in detail) in %.2fs, again in %.2fs%s",
				r.Table, thousands(r.Candles), r.Pairs, r.LoadSecs, r.Gaps, thousands(r.Missing), r.DetailDays, r.ScanSecs, r.AgainSecs,
				below(r.ScanSecs <= barGapScanSecs, "≤ 3 s"))
		}
	}
	if !skipped("10. fff replay", o.SkipReplay, "--skip-replay") {
		if r, err := b.replayStep(ctx, files); err != nil {
			fail("fff replay", err)
		} else {
			rep.Replay = r
			b.say("10. fff replay (%s): %s candles in %d messages replayed, visible in %.2fs: %s candles/s (stream filled in %.1fs, not counted)%s",
				r.Table, thousands(r.Candles), r.Messages, r.VisibleSecs, thousands(int64(r.CandlesPerSec)), r.FillSecs,
				below(r.CandlesPerSec >= barReplay, "bar "+thousands(barReplay)))
			b.say("   written in %.2fs; CPU: this process %.1fs, QuestDB %.1fs, of %.1fs × %d cores", r.WrittenSecs, r.PipelineCPU, r.QuestDBCPU, r.VisibleSecs, runtime.NumCPU())
		}
	}
}

// continuousBars are the bars of steps 8–10.
func continuousBars(rep *Report) []Bar {
	var out []Bar
	if r := rep.Latency; r != nil {
		out = append(out, Bar{"latency p50, drop → queryable", r.P50Secs, "s", "≤ 1 s", r.P50Secs <= barLatencyP50},
			Bar{"latency p99, drop → queryable", r.P99Secs, "s", "≤ 2 s", r.P99Secs <= barLatencyP99})
	}
	if r := rep.GapScan; r != nil {
		out = append(out, Bar{fmt.Sprintf("gap scan, %s candles", shortCount(r.Candles)), r.ScanSecs, "s", "≤ 3 s", r.ScanSecs <= barGapScanSecs})
	}
	if r := rep.Replay; r != nil {
		out = append(out, Bar{"fff replay", r.CandlesPerSec, "candles/s", "≥ 500,000", r.CandlesPerSec >= barReplay})
	}
	return out
}

// shortCount writes 50000000 as 50M, 20000 as 20K.
func shortCount(n int64) string {
	switch {
	case n >= 1_000_000 && n%100_000 == 0:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", float64(n)/1e6), ".0") + "M"
	case n >= 1000 && n%100 == 0:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", float64(n)/1e3), ".0") + "K"
	}
	return thousands(n)
}
