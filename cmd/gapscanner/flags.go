package main

import (
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/feefifofunds/feefifofunds/internal/cli"
	"github.com/feefifofunds/feefifofunds/pipeline/gapscanner"
)

// bindEnv binds every flag of fs that has no environment variable yet to
// FFF_GAPSCANNER_<NAME> (--max-gaps-per-asset: FFF_GAPSCANNER_MAX_GAPS_PER_ASSET).
// The shared NATS, QuestDB, logging and metrics flags keep the FFF_* names
// internal/cli gave them.
func bindEnv(fs *pflag.FlagSet) {
	fs.VisitAll(func(f *pflag.Flag) {
		if cli.EnvName(f) == "" {
			cli.Bind(fs, f.Name, cli.EnvPrefix+"GAPSCANNER_"+strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_")))
		}
	})
}

// filters are the selection flags: --tier, --pair and the interval list
// (--interval for scan, report and stale; --intervals for run).
type filters struct {
	tiers     []string
	pairs     []string
	intervals []int
}

func (f *filters) add(fs *pflag.FlagSet, intervalFlag, tierUsage string) {
	fs.StringSliceVar(&f.tiers, "tier", nil, tierUsage)
	fs.StringSliceVar(&f.pairs, "pair", nil, "only these Kraken pairs, e.g. XBTUSD,ETHUSD")
	fs.IntSliceVar(&f.intervals, intervalFlag, nil, "only these intervals in minutes, e.g. 60,1440")
}

const (
	tierUsage     = "only assets of these tiers (TIER1..TIER4 or 1..4, comma separated)"
	tierUsageLong = tierUsage + "; the tier of a pair is its base asset's"
)

// requestFlags are the flags of the commands that request fills (scan, run).
type requestFlags struct {
	trades                  bool
	requeueAfter, retention dayDuration
	maxRequest              int
}

// add registers --trades, --requeue-after, --retention and
// --max-request-candles; scan's help is more talkative than run's, so the
// differing texts come in.
func (r *requestFlags) add(fs *pflag.FlagSet, tradesUsage, requeueExample, maxRequestNote string) {
	r.requeueAfter, r.retention = dayDuration(6*time.Hour), dayDuration(gapscanner.DefaultRetention)
	fs.BoolVar(&r.trades, "trades", false, tradesUsage)
	fs.Var(&r.requeueAfter, "requeue-after", "request a REQUESTED (or FILLED/FAILED yet still missing) gap again after this long"+requeueExample)
	fs.Var(&r.retention, "retention", "purge FILLED and FAILED gap records older than this, e.g. 90d")
	fs.IntVar(&r.maxRequest, "max-request-candles", gapscanner.DefaultMaxRequestCandles, "split gaps into fill requests of at most this many candles"+maxRequestNote)
}

// dayDuration is a duration flag that also takes days: 90d, 1d12h, 36h.
type dayDuration time.Duration

func (d *dayDuration) String() string { return formatDays(time.Duration(*d)) }
func (d *dayDuration) Type() string   { return "duration" }
func (d *dayDuration) Set(s string) error {
	v, err := parseDays(s)
	if err != nil {
		return err
	}
	*d = dayDuration(v)
	return nil
}

func parseDays(s string) (time.Duration, error) { return gapscanner.ParseDuration(s) }

func formatDays(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}
