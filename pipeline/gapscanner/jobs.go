package gapscanner

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Job kinds: what a scheduled job does.
const (
	// JobFill scans, requests fills for the fillable gaps and summarises
	// the round (the old backfill task).
	JobFill = "fill"
	// JobCleanup purges old FILLED and FAILED gap records.
	JobCleanup = "cleanup"
	// JobCompleteness reports completeness per tier and interval.
	JobCompleteness = "completeness"
	// JobStale checks how far behind each series is.
	JobStale = "stale"
)

// Job is one scheduled task of Run. Zero fields take the Config's value.
type Job struct {
	// Name appears in logs, metrics and the report subject
	// (gapscanner.<kind>.<name>); ParseJob derives one (fill-TIER1).
	Name     string
	Kind     string // JobFill when empty
	Schedule Schedule
	// AtStart runs the job once when Run starts, then on its schedule.
	AtStart bool

	Tiers     []string
	Pairs     []string
	Assets    []string
	Intervals []int
	// Fill: the look-back of internal gaps, the cap per series, trades,
	// and how long the round waits for the fetcher's answers before it
	// summarises (negative: not at all).
	Lookback        time.Duration
	MaxGapsPerAsset int
	Trades          bool
	Wait            time.Duration
	// Cleanup: FILLED and FAILED records older than this go.
	OlderThan time.Duration
	// Stale: a series is stale when its newest candle closed longer ago.
	StaleAfter time.Duration
}

// ParseJob reads a job written as
//
//	[KIND] [WORD...] @ SCHEDULE
//
// KIND is fill (the default), cleanup, completeness (or report) or stale.
// WORDs are a tier list (TIER1, TIER1,TIER2, ALL), an interval list
// (60,1440), "trades", or key=value: tier, pair, asset, intervals
// (interval), lookback, max-gaps, wait, days (cleanup), hours (stale),
// name. SCHEDULE is a 5-field cron expression (UTC), a descriptor such as
// @daily, or @every 1h; "@ " may be left out before a descriptor.
//
//	TIER1 60,1440 @ 0 2 * * *
//	fill tier=TIER2 intervals=1440 lookback=30d max-gaps=20 @ 0 3 * * *
//	cleanup days=90 @weekly
//	completeness @daily
//	stale hours=24 @hourly
func ParseJob(spec string) (Job, error) {
	fail := func(format string, args ...any) (Job, error) {
		return Job{}, fmt.Errorf("job %q: %s", spec, fmt.Sprintf(format, args...))
	}
	words := strings.Fields(spec)
	at := -1
	for i, w := range words {
		if strings.HasPrefix(w, "@") {
			at = i
			break
		}
	}
	if at < 0 {
		return fail("no schedule: end it with @ and a cron expression (@ 0 2 * * *), @daily or @every 1h")
	}
	schedText := strings.Join(words[at:], " ")
	if words[at] == "@" {
		schedText = strings.Join(words[at+1:], " ")
	}
	sched, err := ParseSchedule(schedText)
	if err != nil {
		return fail("%v", err)
	}
	j := Job{Kind: JobFill, Schedule: sched}
	words = words[:at]
	if len(words) > 0 {
		switch k := strings.ToLower(words[0]); k {
		case JobFill, "scan", "backfill":
			words = words[1:]
		case JobCleanup, JobCompleteness, JobStale:
			j.Kind, words = k, words[1:]
		case "report":
			j.Kind, words = JobCompleteness, words[1:]
		}
	}
	for _, w := range words {
		key, val, isKV := strings.Cut(w, "=")
		if !isKV {
			switch {
			case strings.EqualFold(w, "trades"):
				key, val = "trades", "true"
			case isIntList(w):
				key, val = "intervals", w
			default:
				key, val = "tier", w
			}
		}
		if err := j.set(strings.ToLower(key), val); err != nil {
			return fail("%s: %v", w, err)
		}
	}
	if j.Name == "" {
		j.Name = j.Kind
		if len(j.Tiers) > 0 {
			j.Name += "-" + strings.Join(j.Tiers, "-")
		}
	}
	return j, nil
}

func (j *Job) set(key, val string) error {
	list := func() []string {
		var out []string
		for _, v := range strings.Split(val, ",") {
			if v = strings.TrimSpace(v); v != "" {
				out = append(out, v)
			}
		}
		return out
	}
	dur := func(dst *time.Duration, unit time.Duration) error {
		if n, err := strconv.ParseFloat(val, 64); err == nil && n > 0 {
			*dst = time.Duration(n * float64(unit))
			return nil
		}
		d, err := ParseDuration(val)
		if err != nil {
			return err
		}
		*dst = d
		return nil
	}
	switch key {
	case "tier", "tiers":
		tiers, err := ParseTiers(list())
		if err != nil {
			return err
		}
		j.Tiers = tiers
	case "pair", "pairs":
		j.Pairs = list()
	case "asset", "assets":
		j.Assets = list()
	case "interval", "intervals":
		for _, v := range list() {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return fmt.Errorf("interval %q: want minutes such as 60", v)
			}
			j.Intervals = append(j.Intervals, n)
		}
	case "lookback":
		return dur(&j.Lookback, 24*time.Hour)
	case "max-gaps", "max-gaps-per-asset":
		n, err := strconv.Atoi(val)
		if err != nil || n <= 0 {
			return fmt.Errorf("want a positive number")
		}
		j.MaxGapsPerAsset = n
	case "trades":
		b, err := strconv.ParseBool(val)
		if err != nil {
			return fmt.Errorf("want true or false")
		}
		j.Trades = b
	case "wait":
		if val == "0" || strings.EqualFold(val, "no") {
			j.Wait = -1
			return nil
		}
		return dur(&j.Wait, time.Minute)
	case "days", "older-than", "retention":
		return dur(&j.OlderThan, 24*time.Hour)
	case "hours":
		return dur(&j.StaleAfter, time.Hour)
	case "name":
		if val == "" || strings.ContainsAny(val, ".*> \t") {
			return fmt.Errorf("a name is one word without . * or >")
		}
		j.Name = val
	default:
		return fmt.Errorf("unknown option %q (tier, pair, asset, intervals, lookback, max-gaps, trades, wait, days, hours, name)", key)
	}
	return nil
}

func isIntList(s string) bool {
	for _, p := range strings.Split(s, ",") {
		if _, err := strconv.Atoi(p); err != nil {
			return false
		}
	}
	return true
}

// ParseJobs reads jobs one a line (a jobs file); blank lines and lines
// starting with # are skipped. Job names must be unique.
func ParseJobs(r io.Reader) ([]Job, error) {
	var out []Job
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		j, err := ParseJob(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, j)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read jobs: %w", err)
	}
	return out, nil
}

// DefaultJobs are the old tool's beat schedule: TIER1 hourly and daily
// candles at 02:00, TIER2 daily candles at 03:00, cleanup weekly,
// completeness daily, the stale check hourly (all UTC).
func DefaultJobs() []Job {
	specs := []string{
		"TIER1 60,1440 @ 0 2 * * *",
		"TIER2 1440 @ 0 3 * * *",
		"cleanup days=90 @weekly",
		"completeness @daily",
		"stale hours=24 @hourly",
	}
	out := make([]Job, len(specs))
	for i, s := range specs {
		j, err := ParseJob(s)
		if err != nil {
			panic(err) // the specs above are constants
		}
		out[i] = j
	}
	return out
}
