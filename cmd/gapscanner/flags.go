package main

import (
	"fmt"
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

// filters are the selection flags: --tier, --pair, --asset and the
// interval list, under both names the old tool's users type (--interval,
// --intervals) on every command.
type filters struct {
	tiers     []string
	pairs     []string
	assets    []string
	intervals intList
}

func (f *filters) add(fs *pflag.FlagSet, tierUsage string) {
	fs.StringSliceVar(&f.tiers, "tier", nil, tierUsage)
	fs.StringSliceVar(&f.pairs, "pair", nil, "only these Kraken pairs, e.g. XBTUSD,ETHUSD")
	fs.StringSliceVar(&f.assets, "asset", nil, "only these base assets, any quote, e.g. BTC,ETH (XBT works too)")
	fs.Var(&f.intervals, "interval", "only these intervals in minutes, e.g. 60,1440 (same as --intervals)")
	fs.Var(&f.intervals, "intervals", "only these intervals in minutes, e.g. 60,1440 (same as --interval)")
}

// intList is a comma separated list of minutes that grows with every use,
// so --interval 60 --intervals 1440 means both.
type intList []int

func (l *intList) String() string {
	parts := make([]string, len(*l))
	for i, v := range *l {
		parts[i] = strconv.Itoa(v)
	}
	return strings.Join(parts, ",")
}
func (l *intList) Type() string { return "ints" }
func (l *intList) Set(s string) error {
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 {
			return fmt.Errorf("%q: want minutes such as 60 or 60,1440", p)
		}
		*l = append(*l, n)
	}
	return nil
}

const (
	tierUsage     = "only assets of these tiers (TIER1..TIER4 or 1..4, comma separated; ALL for every tier)"
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
