package gapscanner_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/feefifofunds/feefifofunds/pipeline/gapscanner"
)

func TestScheduleNext(t *testing.T) {
	for _, tc := range []struct {
		spec, after string
		want        []string // the next runs, in order
	}{
		{"0 2 * * *", "2025-01-31T10:30:00Z", []string{"2025-02-01T02:00:00Z", "2025-02-02T02:00:00Z"}},
		{"0 2 * * *", "2025-01-31T01:59:59Z", []string{"2025-01-31T02:00:00Z"}},
		{"*/15 * * * *", "2025-01-31T10:30:00Z", []string{"2025-01-31T10:45:00Z", "2025-01-31T11:00:00Z"}},
		{"30 9 * * 1-5", "2025-01-31T10:00:00Z", []string{"2025-02-03T09:30:00Z", "2025-02-04T09:30:00Z"}}, // Fri → Mon
		{"0 0 1 JAN,jul *", "2025-01-31T00:00:00Z", []string{"2025-07-01T00:00:00Z", "2026-01-01T00:00:00Z"}},
		{"0 0 29 2 *", "2025-01-01T00:00:00Z", []string{"2028-02-29T00:00:00Z"}},
		{"0 12 13 * 5", "2025-06-01T00:00:00Z", []string{"2025-06-06T12:00:00Z", "2025-06-13T12:00:00Z", "2025-06-20T12:00:00Z"}}, // day 13 or a Friday
		{"0 0 * * 7", "2025-01-31T00:00:00Z", []string{"2025-02-02T00:00:00Z"}},                                                   // 7 is Sunday
		{"@hourly", "2025-01-31T10:30:00Z", []string{"2025-01-31T11:00:00Z"}},
		{"@daily", "2025-01-31T10:30:00Z", []string{"2025-02-01T00:00:00Z"}},
		{"@weekly", "2025-01-31T10:30:00Z", []string{"2025-02-02T00:00:00Z"}},
		{"@monthly", "2025-01-31T10:30:00Z", []string{"2025-02-01T00:00:00Z", "2025-03-01T00:00:00Z"}},
		{"@every 90m", "2025-01-31T10:30:00Z", []string{"2025-01-31T12:00:00Z", "2025-01-31T13:30:00Z"}},
		{"@every 1d", "2025-01-31T10:30:00Z", []string{"2025-02-01T10:30:00Z"}},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			s, err := gapscanner.ParseSchedule(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			next := at(tc.after)
			for _, w := range tc.want {
				next = s.Next(next)
				if !next.Equal(at(w)) {
					t.Fatalf("next run %s, want %s", next.Format(time.RFC3339), w)
				}
			}
		})
	}
	never, err := gapscanner.ParseSchedule("0 0 30 2 *")
	if err != nil {
		t.Fatal(err)
	}
	if next := never.Next(at("2025-01-01T00:00:00Z")); !next.IsZero() {
		t.Errorf("30 February ran at %s", next)
	}
}

func TestParseScheduleRejects(t *testing.T) {
	for _, tc := range []struct{ spec, want string }{
		{"0 2 * *", "want 5 cron fields"},
		{"60 * * * *", "minute"},
		{"0 24 * * *", "hour"},
		{"0 0 0 * *", "day of month"},
		{"0 0 * 13 *", "month"},
		{"0 0 * * 8", "day of week"},
		{"*/0 * * * *", "step"},
		{"5-1 * * * *", "backwards"},
		{"@every -1h", "positive duration"},
		{"@fortnightly", "want 5 cron fields"},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			_, err := gapscanner.ParseSchedule(tc.spec)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.spec) {
				t.Errorf("error %v, want one naming %q and saying %q", err, tc.spec, tc.want)
			}
		})
	}
}

func TestParseJob(t *testing.T) {
	for _, tc := range []struct {
		spec, name, kind, schedule string
		tiers                      []string
		intervals                  []int
		check                      func(gapscanner.Job) bool
	}{
		{spec: "TIER1 60,1440 @ 0 2 * * *", name: "fill-TIER1", kind: "fill", schedule: "0 2 * * *", tiers: []string{"TIER1"}, intervals: []int{60, 1440}},
		{spec: "TIER2 1440 @ 0 3 * * *", name: "fill-TIER2", kind: "fill", schedule: "0 3 * * *", tiers: []string{"TIER2"}, intervals: []int{1440}},
		{spec: "fill tier=1,2 intervals=60 lookback=30d max-gaps=20 trades wait=5m name=nightly @ 0 3 * * *",
			name: "nightly", kind: "fill", schedule: "0 3 * * *", tiers: []string{"TIER1", "TIER2"}, intervals: []int{60},
			check: func(j gapscanner.Job) bool {
				return j.Lookback == 30*24*time.Hour && j.MaxGapsPerAsset == 20 && j.Trades && j.Wait == 5*time.Minute
			}},
		{spec: "ALL asset=BTC,ETH @hourly", name: "fill", kind: "fill", schedule: "@hourly",
			check: func(j gapscanner.Job) bool { return slices.Equal(j.Assets, []string{"BTC", "ETH"}) }},
		{spec: "cleanup @weekly", name: "cleanup", kind: "cleanup", schedule: "@weekly"},
		{spec: "cleanup days=30 @weekly", name: "cleanup", kind: "cleanup", schedule: "@weekly",
			check: func(j gapscanner.Job) bool { return j.OlderThan == 30*24*time.Hour }},
		{spec: "completeness @daily", name: "completeness", kind: "completeness", schedule: "@daily"},
		{spec: "report TIER1 @daily", name: "completeness-TIER1", kind: "completeness", schedule: "@daily", tiers: []string{"TIER1"}},
		{spec: "stale hours=48 @ @hourly", name: "stale", kind: "stale", schedule: "@hourly",
			check: func(j gapscanner.Job) bool { return j.StaleAfter == 48*time.Hour }},
		{spec: "stale @every 30m", name: "stale", kind: "stale", schedule: "@every 30m0s"},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			j, err := gapscanner.ParseJob(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			if j.Name != tc.name || j.Kind != tc.kind || j.Schedule.String() != tc.schedule ||
				!slices.Equal(j.Tiers, tc.tiers) || !slices.Equal(j.Intervals, tc.intervals) || (tc.check != nil && !tc.check(j)) {
				t.Errorf("job %+v (schedule %s)", j, j.Schedule)
			}
		})
	}
	for _, tc := range []struct{ spec, want string }{
		{"TIER1 60", "no schedule"},
		{"TIER9 @daily", "TIER9"},
		{"fill colour=red @daily", `unknown option "colour"`},
		{"fill max-gaps=x @daily", "positive number"},
		{"TIER1 @ 0 2 * *", "5 cron fields"},
		{"fill name=a.b @daily", "one word"},
	} {
		t.Run("rejects "+tc.spec, func(t *testing.T) {
			if _, err := gapscanner.ParseJob(tc.spec); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
	jobs, err := gapscanner.ParseJobs(strings.NewReader("# nightly\nTIER1 60 @ 0 2 * * *\n\nstale @hourly\n"))
	if err != nil || len(jobs) != 2 || jobs[1].Kind != gapscanner.JobStale {
		t.Errorf("jobs file: %+v %v", jobs, err)
	}
	if _, err := gapscanner.ParseJobs(strings.NewReader("stale @hourly\nbad\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("jobs file error %v, want line 2", err)
	}
	if len(gapscanner.DefaultJobs()) != 5 {
		t.Error("default jobs")
	}
}
