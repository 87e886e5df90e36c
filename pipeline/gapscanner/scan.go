// Package gapscanner finds missing candles in QuestDB, classifies each run of
// them by what Kraken can still serve, keeps a record per gap in the GAPS
// bucket and asks the fetcher to fill the ones it can.
//
// Detection never pulls a series into memory. Two aggregate queries do the
// bulk of the work on the server: one lists the series (first and last
// candle, candle count), the other counts candles per UTC day and, with window
// functions, returns only the days worth looking at (the first and last of
// each series, days with fewer candles than the day holds, days that follow
// missing days). Only days with holes strictly inside them are read in detail,
// and even then QuestDB returns only the edges of each hole (lag over the
// day's timestamps), never the candles themselves.
package gapscanner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/feefifofunds/feefifofunds/pipeline/assets"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/gaps"
	"github.com/feefifofunds/feefifofunds/pipeline/kraken"
	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// OHLCWindow is how many of the newest closed candles Kraken's OHLC endpoint
// serves: older gaps cannot be filled from it.
const OHLCWindow = 720

const day = int64(86400)

// ScanConfig says what to scan and how to judge what is found.
type ScanConfig struct {
	// DB is the QuestDB pool; Table the candle table.
	DB    *pgxpool.Pool
	Table string
	// Source is the exchange whose series are scanned ("kraken" when empty).
	Source string
	// Filters; empty means every tier, pair, interval. A tier "ALL" is no
	// tier filter. Assets are base tickers (BTC, or Kraken's XBT), any quote.
	Tiers     []string
	Pairs     []string
	Assets    []string
	Intervals []int
	// TierOf gives a base asset's tier for the tier filter and the report:
	// Sweep sets it from the asset registry (stored tier first); the tier
	// list's assets.TierOf when nil.
	TierOf assets.TierFunc
	// Since limits the scan to candles from this time on (rounded down to a
	// UTC day). Zero scans whole series.
	Since time.Time
	// ToNow also reports the run from each series' last candle up to the
	// newest closed candle.
	ToNow bool
	// Trades classifies gaps older than the OHLC window as fillable from trades.
	Trades bool
	// Now is the clock (time.Now when nil); tests pin it.
	Now func() time.Time
	// Records is the GAPS bucket; when set, the states recorded there
	// (NO_TRADES, UNFILLABLE, recent REQUESTED) shape the classification.
	Records jetstream.KeyValue
	// RequeueAfter is how long a REQUESTED (or FILLED/FAILED yet still
	// missing) gap waits before it is requested again. Default 6h.
	RequeueAfter time.Duration
	// Window is the OHLC window in candles (OHLCWindow when 0).
	Window int
	// Parallel detail queries (2 when 0).
	Parallel int
	Log      *slog.Logger
	// Markets maps tickers to the market (calendar.Stocks, calendar.Crypto)
	// whose trading days the daily series of the price sources follow;
	// a ticker not in it is taken for a stock (see AssetMarkets).
	Markets map[string]string
}

// Series is one (source, pair, interval) as the scan saw it.
type Series struct {
	Source   string    `json:"source"`
	Pair     string    `json:"pair"`
	Base     string    `json:"base"`
	Tier     string    `json:"tier"`
	Interval int       `json:"interval_minutes"`
	First    time.Time `json:"first"`
	Last     time.Time `json:"last"`
	// Candles in the whole series; Expected and Missing over the scanned range.
	Candles  int64 `json:"candles"`
	Expected int64 `json:"expected"`
	Missing  int64 `json:"missing"`
	Gaps     int   `json:"gaps"`
	// The scanned range of open times, both inclusive.
	From time.Time `json:"scan_from"`
	To   time.Time `json:"scan_to"`
}

// Gap is a run of consecutive aligned open times without a candle.
type Gap struct {
	Key      string    `json:"key"`
	Source   string    `json:"source"`
	Pair     string    `json:"pair"`
	Base     string    `json:"base"`
	Tier     string    `json:"tier"`
	Interval int       `json:"interval_minutes"`
	Start    time.Time `json:"start"` // first missing open time
	End      time.Time `json:"end"`   // last missing open time
	Missing  int64     `json:"missing_candles"`
	// MissingDays counts whole UTC days inside the gap (the old tool's
	// "missing days"); the rest of Missing is intervals within days.
	MissingDays int64 `json:"missing_days"`
	// CandlesFromToday is how many intervals lie between Start and the
	// still-open candle; Overflow how many of those exceed the OHLC window.
	CandlesFromToday int64 `json:"candles_from_today"`
	Overflow         int64 `json:"overflow_candles"`
	// Trailing gaps run from the series' last candle to the newest closed one.
	Trailing bool   `json:"trailing,omitempty"`
	Class    string `json:"class"`
	Reason   string `json:"reason,omitempty"`
	// TradeCalls estimates the Trades calls a rebuild needs (trades class).
	TradeCalls int64 `json:"trade_calls,omitempty"`
	// State is the gap record's state, "" when there is none yet.
	State string `json:"state,omitempty"`
	// Requestable says whether a fill request would be published now; Hold
	// says why not.
	Requestable bool   `json:"requestable"`
	Hold        string `json:"hold,omitempty"`
}

// MissingWithinDays is the part of the gap that is not whole missing days.
func (g Gap) MissingWithinDays() int64 {
	return g.Missing - g.MissingDays*slotsPerDay(g.Interval)
}

// Report is what a scan found.
type Report struct {
	Now     time.Time `json:"now"`
	Table   string    `json:"table"`
	Series  []Series  `json:"series"`
	Gaps    []Gap     `json:"gaps"`
	Candles int64     `json:"candles"` // candles in the scanned series
	// DetailDays is how many days had to be read in detail.
	DetailDays int           `json:"detail_days"`
	Took       time.Duration `json:"took_ns"`
	// Skipped lists series the scanner cannot judge (interval neither
	// dividing nor a multiple of a day).
	Skipped []string `json:"skipped,omitempty"`
}

// ByClass returns the gaps of the given classes, in report order.
func (r Report) ByClass(classes ...string) []Gap {
	var out []Gap
	for _, g := range r.Gaps {
		if slices.Contains(classes, g.Class) {
			out = append(out, g)
		}
	}
	return out
}

// Fillable are the gaps a fetcher can fill (from OHLC or, with --trades, trades).
func (r Report) Fillable() []Gap {
	return r.ByClass(contract.ClassFillable, contract.ClassFillableFromTrades)
}

// Unfillable are the gaps nothing will fill (older than the OHLC window
// without trades, or known to have no trades).
func (r Report) Unfillable() []Gap {
	return r.ByClass(contract.ClassUnfillable, contract.ClassNoTrades)
}

// Requestable are the fillable gaps a fill request would be published for now.
func (r Report) Requestable() []Gap {
	var out []Gap
	for _, g := range r.Gaps {
		if g.Requestable {
			out = append(out, g)
		}
	}
	return out
}

func (c *ScanConfig) defaults() error {
	if c.DB == nil {
		return errors.New("gapscanner: no QuestDB pool")
	}
	if c.Table == "" {
		return errors.New("gapscanner: no table")
	}
	if err := questdb.ValidTable(c.Table); err != nil {
		return err
	}
	if c.Source == "" {
		c.Source = topology.SourceKraken
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.RequeueAfter <= 0 {
		c.RequeueAfter = 6 * time.Hour
	}
	if c.Window <= 0 {
		c.Window = OHLCWindow
	}
	if c.Parallel <= 0 {
		c.Parallel = 2
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	tiers, err := ParseTiers(c.Tiers)
	if err != nil {
		return err
	}
	c.Tiers = tiers
	// Copies: jobs running side by side share their Config's slices.
	c.Pairs, c.Assets = slices.Clone(c.Pairs), slices.Clone(c.Assets)
	for i, p := range c.Pairs {
		c.Pairs[i] = strings.ToUpper(strings.TrimSpace(p))
	}
	for i, a := range c.Assets {
		c.Assets[i] = kraken.NormalizeAsset(strings.TrimSpace(a))
	}
	return nil
}

// ParseTiers reads tier filters ("TIER1,TIER2", "1,2"); "ALL" anywhere
// means every tier, which is no filter (nil).
func ParseTiers(values []string) ([]string, error) {
	for _, v := range values {
		for _, p := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(p), "ALL") {
				return nil, nil
			}
		}
	}
	return assets.ParseTierList(values)
}

// seriesState is a series during the scan.
type seriesState struct {
	Series
	step   int64      // seconds
	lo, hi int64      // scanned range of open times (unix s), inclusive
	mu     sync.Mutex // guards ranges while detail queries run
	ranges []span
	detail []int64 // day starts (unix s) with holes inside them
}

type span struct{ a, b int64 } // inclusive open times

// Scan finds and classifies the gaps of every series the filters select.
func Scan(ctx context.Context, cfg ScanConfig) (Report, error) {
	if err := cfg.defaults(); err != nil {
		return Report{}, err
	}
	began := time.Now()
	now := cfg.Now().UTC()
	rep := Report{Now: now, Table: cfg.Table}

	var series []*seriesState
	if !cfg.Since.IsZero() {
		// Series that ended before the window still need their trailing
		// run, so they are listed from the whole table first.
		var skipped []string
		var err error
		if series, skipped, err = listSeries(ctx, &cfg, now); err != nil {
			return Report{}, err
		}
		rep.Skipped = skipped
		cfg.Log.Debug("scan: series listed", "series", len(series), "took", time.Since(began))
		if len(series) == 0 {
			rep.Took = time.Since(began)
			return rep, nil
		}
	}
	series, skipped, err := scanDays(ctx, &cfg, now, series)
	if err != nil {
		return Report{}, err
	}
	rep.Skipped = append(rep.Skipped, skipped...)
	cfg.Log.Debug("scan: per-day counts read", "series", len(series), "took", time.Since(began))
	if err := scanDetail(ctx, &cfg, series); err != nil {
		return Report{}, err
	}
	cfg.Log.Debug("scan: holed days read", "took", time.Since(began))

	var records map[string]contract.GapRecord
	if cfg.Records != nil {
		if records, err = gaps.Load(ctx, cfg.Records); err != nil {
			return Report{}, err
		}
	}
	tradeRates := map[*seriesState]float64{}
	closed := groupedHolidays(records)
	for _, s := range series {
		rep.DetailDays += len(s.detail)
		rep.Candles += s.Candles
		gaps := mergeRanges(s.ranges, s.step)
		if tc, ok := cfg.calendarOf(s, closed[s.Source]); ok {
			gaps = tc.tradingSpans(gaps)
			s.Expected = tc.expected(s.lo, s.hi)
		}
		for _, sp := range gaps {
			g := s.gap(sp)
			classify(&g, now, &cfg, records[g.Key])
			if g.Class == contract.ClassFillableFromTrades {
				rate, ok := tradeRates[s]
				if !ok {
					rate, err = tradesPerCandle(ctx, &cfg, s)
					if err != nil {
						return Report{}, err
					}
					tradeRates[s] = rate
				}
				g.TradeCalls = estimateTradeCalls(g.Missing, rate)
			}
			s.Missing += g.Missing
			s.Gaps++
			rep.Gaps = append(rep.Gaps, g)
		}
		rep.Series = append(rep.Series, s.Series)
	}
	rep.Took = time.Since(began)
	return rep, nil
}

func (s *seriesState) gap(sp span) Gap {
	start, end := time.Unix(sp.a, 0).UTC(), time.Unix(sp.b, 0).UTC()
	g := Gap{
		Key:         contract.GapKey(s.Source, s.Pair, s.Interval, start),
		Source:      s.Source,
		Pair:        s.Pair,
		Base:        s.Base,
		Tier:        s.Tier,
		Interval:    s.Interval,
		Start:       start,
		End:         end,
		Missing:     (sp.b-sp.a)/s.step + 1,
		MissingDays: wholeDays(sp.a, sp.b+s.step),
		// After the last candle: it ends at the range's end, or at the last
		// trading day before it.
		Trailing: sp.a > s.Last.Unix() && s.hi > s.Last.Unix(),
	}
	return g
}

// wholeDays counts the UTC days entirely inside [a, b).
func wholeDays(a, b int64) int64 {
	first := (a + day - 1) / day
	last := b / day
	if last <= first {
		return 0
	}
	return last - first
}

func slotsPerDay(interval int) int64 {
	step := int64(interval) * 60
	if step <= 0 || step > day {
		return 1
	}
	return day / step
}

// mergeRanges sorts missing ranges and joins those that touch.
func mergeRanges(rs []span, step int64) []span {
	if len(rs) == 0 {
		return nil
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].a < rs[j].a })
	out := []span{rs[0]}
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		if r.a <= last.b+step {
			if r.b > last.b {
				last.b = r.b
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// supported reports whether aligned open times and UTC days line up, which
// the per-day counting needs; every Kraken interval does.
func supported(step int64) bool {
	return step > 0 && (day%step == 0 || step%day == 0)
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// filters renders the WHERE conditions shared by the queries.
func (c *ScanConfig) filters(pairs []string) []string {
	conds := []string{"source = " + quote(c.Source), "interval_minutes > 0"}
	if len(pairs) > 0 {
		q := make([]string, len(pairs))
		for i, p := range pairs {
			q[i] = quote(p)
		}
		conds = append(conds, "pair IN ("+strings.Join(q, ",")+")")
	}
	if len(c.Intervals) > 0 {
		q := make([]string, len(c.Intervals))
		for i, iv := range c.Intervals {
			q[i] = strconv.Itoa(iv)
		}
		conds = append(conds, "interval_minutes IN ("+strings.Join(q, ",")+")")
	}
	return conds
}

// seriesInfo is a row of the series listing.
type seriesInfo struct {
	Source, Pair, Base, Tier string
	Interval                 int
	First, Last              int64 // unix s
	Candles                  int64
}

func (c *ScanConfig) describe(pair string) (base, tier string) {
	base, _, err := kraken.SplitPair(pair)
	if err != nil {
		base = pair
	}
	if c.TierOf != nil {
		return base, c.TierOf(base)
	}
	return base, assets.TierOf(base)
}

// keep says whether a series of this base asset and tier passes the tier
// and asset filters.
func (c *ScanConfig) keep(base, tier string) bool {
	return (len(c.Tiers) == 0 || slices.Contains(c.Tiers, tier)) &&
		(len(c.Assets) == 0 || slices.Contains(c.Assets, kraken.NormalizeAsset(base)))
}

// querySeries lists the series the filters select with one aggregate.
func querySeries(ctx context.Context, c *ScanConfig) ([]seriesInfo, error) {
	sql := fmt.Sprintf(`SELECT source, pair, interval_minutes, cast(min(ts) AS long), cast(max(ts) AS long), count()
FROM %s WHERE %s GROUP BY source, pair, interval_minutes ORDER BY source, pair, interval_minutes`,
		c.Table, strings.Join(c.filters(c.Pairs), " AND "))
	rows, err := c.DB.Query(ctx, sql)
	if err != nil {
		return nil, fmt.Errorf("list series in %s: %w", c.Table, err)
	}
	defer rows.Close()
	var out []seriesInfo
	for rows.Next() {
		var si seriesInfo
		var iv int32
		var first, last int64
		if err := rows.Scan(&si.Source, &si.Pair, &iv, &first, &last, &si.Candles); err != nil {
			return nil, fmt.Errorf("list series in %s: %w", c.Table, err)
		}
		si.Interval = int(iv)
		si.First, si.Last = first/1_000_000, last/1_000_000
		si.Base, si.Tier = c.describe(si.Pair)
		if !c.keep(si.Base, si.Tier) {
			continue
		}
		out = append(out, si)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list series in %s: %w", c.Table, err)
	}
	return out, nil
}

func unsupported(c *ScanConfig, si seriesInfo) string {
	c.Log.Warn("series skipped: interval does not line up with UTC days", "pair", si.Pair, "interval", si.Interval)
	return fmt.Sprintf("%s %s %d: interval neither divides nor is a multiple of a day", si.Source, si.Pair, si.Interval)
}

// newSeries sets up a series' scanned range. With lastKnown false the last
// candle is learnt later (setLast) and the range stays open until then.
func newSeries(c *ScanConfig, si seriesInfo, now time.Time, lastKnown bool) *seriesState {
	step := int64(si.Interval) * 60
	first := contract.FloorTime(si.First, step)
	lo := first
	if !c.Since.IsZero() {
		lo = max(first, contract.CeilTime(contract.FloorTime(c.Since.Unix(), day), step))
	}
	s := &seriesState{
		Series: Series{
			Source: si.Source, Pair: si.Pair, Base: si.Base, Tier: si.Tier, Interval: si.Interval,
			First: time.Unix(first, 0).UTC(), Candles: si.Candles,
		},
		step: step, lo: lo, hi: 1 << 62,
	}
	if lastKnown {
		s.setLast(c, si.Last, now)
	}
	return s
}

// setLast fixes the end of the scanned range once the last candle is known.
func (s *seriesState) setLast(c *ScanConfig, last int64, now time.Time) {
	last = contract.FloorTime(last, s.step)
	// A series that ended before the window starts is judged from its last
	// candle, so its trailing gap keeps the same start (and key) from one
	// round to the next.
	s.lo = min(s.lo, last+s.step)
	s.hi = last
	if c.ToNow {
		newestClosed := contract.FloorTime(now.Unix(), s.step) - s.step
		s.hi = max(s.hi, newestClosed)
	}
	s.Last = time.Unix(last, 0).UTC()
	s.From, s.To = time.Unix(s.lo, 0).UTC(), time.Unix(s.hi, 0).UTC()
	s.Expected = 0
	if s.hi >= s.lo {
		s.Expected = (s.hi-s.lo)/s.step + 1
	}
}

func listSeries(ctx context.Context, c *ScanConfig, now time.Time) ([]*seriesState, []string, error) {
	infos, err := querySeries(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	var out []*seriesState
	var skipped []string
	for _, si := range infos {
		if !supported(int64(si.Interval) * 60) {
			skipped = append(skipped, unsupported(c, si))
			continue
		}
		out = append(out, newSeries(c, si, now, true))
	}
	return out, skipped, nil
}

type seriesID struct {
	source, pair string
	interval     int
}

// scanDays reads the per-day counts the server boils down to the days that
// matter, and turns them into missing ranges (plus days to read in detail).
// With known == nil (whole-series scans) the series themselves are learnt
// from the same query: first candle from the first day returned, last from
// the last, candle count from a window sum, so the table is read once.
func scanDays(ctx context.Context, c *ScanConfig, now time.Time, known []*seriesState) ([]*seriesState, []string, error) {
	byID := make(map[seriesID]*seriesState, len(known))
	var pairs []string
	minLo := int64(1) << 62
	for _, s := range known {
		byID[seriesID{s.Source, s.Pair, s.Interval}] = s
		if !slices.Contains(pairs, s.Pair) {
			pairs = append(pairs, s.Pair)
		}
		minLo = min(minLo, s.lo)
	}
	// Naming the pairs narrows the scan when a tier or asset filter dropped some;
	// otherwise the user's --pair list (if any) is already in the filters.
	filterPairs := c.Pairs
	if known != nil && (len(c.Tiers) > 0 || len(c.Assets) > 0) && len(pairs) <= 1000 {
		filterPairs = pairs
	}
	conds := c.filters(filterPairs)
	if !c.Since.IsZero() {
		conds = append(conds, fmt.Sprintf("ts >= cast(%d AS timestamp)", contract.FloorTime(minLo, day)*1_000_000))
	}
	// Rows come back only for: a series' first and last day in range
	// (prev/next NULL), days with fewer candles than a full day, and days
	// after missing days (for intervals above a day: after a missing candle).
	sql := fmt.Sprintf(`SELECT source, pair, interval_minutes, cast(d AS long), c, cast(mn AS long), cast(mx AS long),
  cast(prev AS long), cast(next AS long), cast(total AS long)
FROM (
  SELECT source, pair, interval_minutes, d, c, mn, mx,
    lag(d) OVER (PARTITION BY source, pair, interval_minutes ORDER BY d) prev,
    lead(d) OVER (PARTITION BY source, pair, interval_minutes ORDER BY d) next,
    sum(c) OVER (PARTITION BY source, pair, interval_minutes) total
  FROM (
    SELECT source, pair, interval_minutes, timestamp_floor('d', ts) d, count() c, min(ts) mn, max(ts) mx
    FROM %s WHERE %s
  )
)
WHERE prev IS NULL OR next IS NULL OR c < 1440 / interval_minutes
  OR d - prev > CASE WHEN interval_minutes > 1440 THEN interval_minutes * 60000000L ELSE 86400000000L END
ORDER BY source, pair, interval_minutes, d`, c.Table, strings.Join(conds, " AND "))
	rows, err := c.DB.Query(ctx, sql)
	if err != nil {
		return nil, nil, fmt.Errorf("per-day counts in %s: %w", c.Table, err)
	}
	defer rows.Close()
	var (
		out     []*seriesState
		skipped []string
		cur     *seriesState
		curID   seriesID
		skip    bool
		lastDay int64
	)
	finish := func() {
		if cur != nil {
			cur.closeAfter(lastDay)
		}
		cur = nil
	}
	seen := map[*seriesState]bool{}
	for rows.Next() {
		var source, pair string
		var iv int32
		var d, cnt, mn, mx, total int64
		var prev, next *int64
		if err := rows.Scan(&source, &pair, &iv, &d, &cnt, &mn, &mx, &prev, &next, &total); err != nil {
			return nil, nil, fmt.Errorf("per-day counts in %s: %w", c.Table, err)
		}
		d, mn, mx = d/1_000_000, mn/1_000_000, mx/1_000_000
		if id := (seriesID{source, pair, int(iv)}); id != curID || (cur == nil && !skip) {
			finish()
			curID, skip = id, false
			if known != nil {
				cur = byID[id]
				skip = cur == nil // a series the tier or asset filter dropped
			} else {
				si := seriesInfo{Source: source, Pair: pair, Interval: int(iv), First: mn, Candles: total}
				si.Base, si.Tier = c.describe(pair)
				switch {
				case !c.keep(si.Base, si.Tier):
					skip = true
				case !supported(int64(si.Interval) * 60):
					skipped = append(skipped, unsupported(c, si))
					skip = true
				default:
					cur = newSeries(c, si, now, false)
					out = append(out, cur)
				}
			}
			if cur != nil {
				seen[cur] = true
			}
		}
		if skip {
			continue
		}
		if known == nil && next == nil {
			cur.setLast(c, mx, now)
		}
		var p int64 = -1
		if prev != nil {
			p = *prev / 1_000_000
		}
		cur.addDay(d, cnt, mn, mx, p)
		lastDay = d
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("per-day counts in %s: %w", c.Table, err)
	}
	finish()
	if known == nil {
		return out, skipped, nil
	}
	for _, s := range known {
		if !seen[s] && s.hi >= s.lo {
			// No candle in range at all: the whole range is missing.
			s.ranges = append(s.ranges, span{s.lo, s.hi})
		}
	}
	return known, nil, nil
}

func (s *seriesState) addMissing(a, b int64) {
	a, b = max(a, s.lo), min(b, s.hi)
	if a <= b {
		s.ranges = append(s.ranges, span{a, b})
	}
}

// nextSlot is the first open time after day d.
func (s *seriesState) nextSlot(d int64) int64 { return contract.CeilTime(d+day, s.step) }

// addDay handles one returned day: the missing days before it, its missing
// head and tail, and whether holes inside it need a detailed look.
func (s *seriesState) addDay(d, cnt, mn, mx, prev int64) {
	mn, mx = contract.FloorTime(mn, s.step), contract.FloorTime(mx, s.step)
	if prev < 0 {
		s.addMissing(s.lo, mn-s.step)
	} else {
		// Days between prev and d hold no candle; days up to prev that were
		// not returned are complete.
		s.addMissing(s.nextSlot(prev), contract.CeilTime(d, s.step)-s.step)
	}
	s.addMissing(contract.CeilTime(d, s.step), mn-s.step)
	s.addMissing(mx+s.step, s.nextSlot(d)-s.step)
	if (mx-mn)/s.step+1 > cnt {
		s.detail = append(s.detail, d)
	}
}

// closeAfter adds the run after the series' last returned day up to hi.
func (s *seriesState) closeAfter(lastDay int64) {
	s.addMissing(s.nextSlot(lastDay), s.hi)
}

// scanDetail reads the days with holes inside them. QuestDB returns only
// pairs of neighbouring candles further apart than one interval.
func scanDetail(ctx context.Context, c *ScanConfig, series []*seriesState) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(c.Parallel)
	for _, s := range series {
		for chunk := range slices.Chunk(s.detail, 200) {
			g.Go(func() error { return s.readDetail(ctx, c, chunk) })
		}
	}
	return g.Wait()
}

func (s *seriesState) readDetail(ctx context.Context, c *ScanConfig, days []int64) error {
	in := make([]string, len(days))
	for i, d := range days {
		in[i] = "ts IN '" + time.Unix(d, 0).UTC().Format("2006-01-02") + "'"
	}
	sql := fmt.Sprintf(`SELECT cast(prev AS long), cast(ts AS long) FROM (
  SELECT ts, lag(ts) OVER (PARTITION BY timestamp_floor('d', ts) ORDER BY ts) prev
  FROM %s WHERE source = %s AND pair = %s AND interval_minutes = %d AND (%s)
) WHERE ts - prev > %d`, c.Table, quote(s.Source), quote(s.Pair), s.Interval, strings.Join(in, " OR "), s.step*1_000_000)
	rows, err := c.DB.Query(ctx, sql)
	if err != nil {
		return fmt.Errorf("holes of %s %s %d: %w", s.Pair, s.Source, s.Interval, err)
	}
	defer rows.Close()
	var found []span
	for rows.Next() {
		var prev, ts int64
		if err := rows.Scan(&prev, &ts); err != nil {
			return fmt.Errorf("holes of %s %d: %w", s.Pair, s.Interval, err)
		}
		a := contract.FloorTime(prev/1_000_000, s.step) + s.step
		b := contract.FloorTime(ts/1_000_000, s.step) - s.step
		if a <= b {
			found = append(found, span{a, b})
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("holes of %s %d: %w", s.Pair, s.Interval, err)
	}
	s.mu.Lock()
	for _, f := range found {
		s.addMissing(f.a, f.b)
	}
	s.mu.Unlock()
	return nil
}
