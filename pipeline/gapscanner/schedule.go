package gapscanner

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Schedule says when a job runs next. Times are UTC, as the old tool's
// Celery beat ran them, so a schedule means the same on every machine.
type Schedule interface {
	// Next is the first run time strictly after t; zero when there is none.
	Next(t time.Time) time.Time
	String() string
}

// Every runs a job every d, counted from the previous run.
func Every(d time.Duration) Schedule { return every(d) }

type every time.Duration

func (e every) Next(t time.Time) time.Time { return t.Add(time.Duration(e)) }
func (e every) String() string             { return "@every " + time.Duration(e).String() }

// ParseSchedule reads a 5-field cron expression ("minute hour day-of-month
// month day-of-week", e.g. "0 2 * * *", "*/15 * * * 1-5", "0 3 1 JAN,JUL *"),
// a descriptor (@yearly, @monthly, @weekly, @daily, @midnight, @hourly) or
// "@every 90m". Day of week 0 and 7 are Sunday. As in cron, when both day
// fields are restricted a day matching either runs the job.
func ParseSchedule(spec string) (Schedule, error) {
	spec = strings.TrimSpace(spec)
	if d, ok := strings.CutPrefix(spec, "@every"); ok {
		v, err := ParseDuration(d)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("schedule %q: want @every and a positive duration such as 1h, 15m or 1d", spec)
		}
		return Every(v), nil
	}
	if alias, ok := cronAliases[strings.ToLower(spec)]; ok {
		c, err := parseCron(alias)
		if err != nil {
			return nil, err
		}
		c.text = spec
		return c, nil
	}
	return parseCron(spec)
}

var cronAliases = map[string]string{
	"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
	"@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}

// cron is a parsed 5-field expression: one bit per allowed value.
type cron struct {
	minute, hour, dom, month, dow uint64
	domStar, dowStar              bool
	text                          string
}

type cronField struct {
	name     string
	lo, hi   int
	names    []string // names[i] is value lo+i
	wrap7to0 bool
}

var cronFields = []cronField{
	{name: "minute", lo: 0, hi: 59},
	{name: "hour", lo: 0, hi: 23},
	{name: "day of month", lo: 1, hi: 31},
	{name: "month", lo: 1, hi: 12, names: []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}},
	{name: "day of week", lo: 0, hi: 7, names: []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}, wrap7to0: true},
}

func parseCron(spec string) (*cron, error) {
	parts := strings.Fields(spec)
	if len(parts) != 5 {
		return nil, fmt.Errorf("schedule %q: want 5 cron fields (minute hour day-of-month month day-of-week), "+
			"a descriptor such as @daily, or @every 1h", spec)
	}
	c := &cron{text: spec, domStar: parts[2] == "*", dowStar: parts[4] == "*"}
	dst := []*uint64{&c.minute, &c.hour, &c.dom, &c.month, &c.dow}
	for i, f := range cronFields {
		bits, err := f.parse(parts[i])
		if err != nil {
			return nil, fmt.Errorf("schedule %q: %s: %w", spec, f.name, err)
		}
		*dst[i] = bits
	}
	return c, nil
}

func (f cronField) parse(s string) (uint64, error) {
	var bits uint64
	for _, item := range strings.Split(s, ",") {
		rng, stepText, hasStep := strings.Cut(item, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepText)
			if err != nil || n <= 0 {
				return 0, fmt.Errorf("step %q: want a positive number", stepText)
			}
			step = n
		}
		lo, hi := f.lo, f.hi
		if f.wrap7to0 && rng == "*" {
			hi = 6
		}
		if rng != "*" {
			a, b, isRange := strings.Cut(rng, "-")
			var err error
			if lo, err = f.value(a); err != nil {
				return 0, err
			}
			hi = lo
			if isRange {
				if hi, err = f.value(b); err != nil {
					return 0, err
				}
			} else if hasStep {
				hi = f.hi
			}
			if hi < lo {
				return 0, fmt.Errorf("range %q runs backwards", rng)
			}
		}
		for v := lo; v <= hi; v += step {
			if f.wrap7to0 && v == 7 {
				v = 0
				bits |= 1
				break
			}
			bits |= 1 << v
		}
	}
	return bits, nil
}

func (f cronField) value(s string) (int, error) {
	for i, n := range f.names {
		if strings.EqualFold(s, n) {
			return f.lo + i, nil
		}
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < f.lo || v > f.hi {
		return 0, fmt.Errorf("%q: want %d to %d", s, f.lo, f.hi)
	}
	return v, nil
}

func (c *cron) String() string { return c.text }

// Next walks forward field by field (a month that does not match skips to
// the next month, and so on), so it takes at most a few hundred steps.
func (c *cron) Next(t time.Time) time.Time {
	t = t.UTC().Truncate(time.Minute).Add(time.Minute)
	limit := t.AddDate(5, 0, 0) // "0 0 30 2 *" never comes
	for t.Before(limit) {
		switch {
		case c.month&(1<<uint(t.Month())) == 0:
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC)
		case !c.dayMatches(t):
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, time.UTC)
		case c.hour&(1<<uint(t.Hour())) == 0:
			t = t.Truncate(time.Hour).Add(time.Hour)
		case c.minute&(1<<uint(t.Minute())) == 0:
			t = t.Add(time.Minute)
		default:
			return t
		}
	}
	return time.Time{}
}

func (c *cron) dayMatches(t time.Time) bool {
	dom := c.dom&(1<<uint(t.Day())) != 0
	dow := c.dow&(1<<uint(t.Weekday())) != 0
	switch {
	case c.domStar && c.dowStar:
		return true
	case c.domStar:
		return dow
	case c.dowStar:
		return dom
	}
	return dom || dow
}

// ParseDuration reads a duration that may count days (90d, 1d12h, 36h,
// 15m), as the scanner's options and job specs take them.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q: want a duration such as 90d, 7d, 1d12h or 6h", s)
		}
		days = time.Duration(n) * 24 * time.Hour
		s = s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q: want a duration such as 90d, 7d, 1d12h or 6h", s)
	}
	return days + v, nil
}
