// Package prices is what `fff prices load|backfill` does, apart from its
// flags and printing: plan which price requests to make for which assets
// of the registry (Plan), publish them on fills.<source>, wait for each
// request's outcome and for its candles to be committed in QuestDB, and
// sum up created and updated candles per asset (Run).
package prices

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/feefifofunds/feefifofunds/pipeline/assets"
	"github.com/feefifofunds/feefifofunds/pipeline/calendar"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

// Sources are the price sources requests can go to.
var Sources = []string{"massive", "finnhub"}

// GroupedSource is the one source with a grouped-daily endpoint.
const GroupedSource = "massive"

// Registry is what planning reads of the asset registry (*assets.Registry).
type Registry interface {
	Get(ctx context.Context, ticker string) (contract.Asset, error)
	List(ctx context.Context, tier string) ([]contract.Asset, error)
}

// Options say what to load: one ticker or every asset (of a category),
// the last Days days or Start..End (dates, inclusive), one call per asset
// or, with Grouped, one call per date.
type Options struct {
	Source   string
	Ticker   string
	All      bool
	Category string
	Days     int
	Start    time.Time
	End      time.Time // zero: today
	Grouped  bool
	Now      func() time.Time // default time.Now
}

// Plan is the requests to publish and what they cover.
type Plan struct {
	Source   string
	Run      string // names this run in every request id
	Assets   []contract.Asset
	Markets  map[string]string // ticker → market
	Start    time.Time
	End      time.Time
	Grouped  bool
	Requests []contract.PriceRequest
	// Notes are things the person should know (assets skipped, dates clipped).
	Notes []string
}

// MarketOf is the market a registry category is priced in; currencies are
// not priced by these sources.
func MarketOf(category string) (string, bool) {
	switch category {
	case "STOCK", "COMMODITY": // commodities are held through listed funds (GLD, USO)
		return calendar.Stocks, true
	case "CRYPTO":
		return calendar.Crypto, true
	}
	return "", false
}

// MakePlan checks the options against the registry and plans the requests.
func MakePlan(ctx context.Context, reg Registry, o Options) (*Plan, error) {
	if !slices.Contains(Sources, o.Source) {
		return nil, fmt.Errorf("source %q: want %s", o.Source, strings.Join(Sources, " or "))
	}
	if o.Grouped && o.Source != GroupedSource {
		return nil, fmt.Errorf("grouped daily bars are a Massive endpoint; %s has none", o.Source)
	}
	if o.Grouped && !o.All {
		return nil, errors.New("grouped daily bars serve every asset at once: ask for all assets (of a category), not one ticker")
	}
	if (o.Ticker == "") == !o.All {
		return nil, errors.New("name one ticker or ask for all assets, not both or neither")
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	today := calendar.Date(now().UTC())
	p := &Plan{Source: o.Source, Grouped: o.Grouped, Markets: map[string]string{},
		Run: strconv.FormatInt(now().UnixNano(), 36)}
	switch {
	case o.Days > 0 && !o.Start.IsZero():
		return nil, errors.New("give a number of days or a start date, not both")
	case o.Days > 0:
		p.End, p.Start = today, today.AddDate(0, 0, -(o.Days-1))
	case !o.Start.IsZero():
		p.Start, p.End = calendar.Date(o.Start), today
		if !o.End.IsZero() {
			p.End = calendar.Date(o.End)
		}
	default:
		return nil, errors.New("give a number of days or a start date")
	}
	if p.End.After(today) {
		p.End = today
		p.Notes = append(p.Notes, "the end is clipped to today, "+today.Format(time.DateOnly))
	}
	if o.Grouped && !p.End.Before(today) {
		// Grouped answers for today come only after the close (403 before it).
		p.End = today.AddDate(0, 0, -1)
		p.Notes = append(p.Notes, "grouped daily bars end yesterday: today's come only after the close")
	}
	if p.Start.After(p.End) {
		return nil, fmt.Errorf("start %s is after end %s", p.Start.Format(time.DateOnly), p.End.Format(time.DateOnly))
	}
	if n := int(p.End.Sub(p.Start)/(24*time.Hour)) + 1; n > contract.MaxPriceRequestDays {
		return nil, fmt.Errorf("%d days is more than the %d one request may cover", n, contract.MaxPriceRequestDays)
	}
	if err := p.pickAssets(ctx, reg, o); err != nil {
		return nil, err
	}
	if o.Grouped {
		p.planGrouped()
	} else {
		p.planDaily()
	}
	return p, nil
}

func (p *Plan) pickAssets(ctx context.Context, reg Registry, o Options) error {
	if !o.All {
		a, err := reg.Get(ctx, o.Ticker)
		if errors.Is(err, assets.ErrNotFound) {
			return fmt.Errorf("asset %s is not in the asset registry: register it first", strings.ToUpper(o.Ticker))
		}
		if err != nil {
			return err
		}
		m, ok := MarketOf(a.Category)
		if !ok {
			return fmt.Errorf("asset %s is a %s: %s prices stocks, funds and crypto only", a.Ticker, a.Category, p.Source)
		}
		p.Assets, p.Markets[a.Ticker] = []contract.Asset{a}, m
		return nil
	}
	all, err := reg.List(ctx, "")
	if err != nil {
		return err
	}
	cat := strings.ToUpper(o.Category)
	if cat != "" && !slices.Contains(contract.AssetCategories, cat) {
		return fmt.Errorf("category %q: want one of %s", o.Category, strings.Join(contract.AssetCategories, ", "))
	}
	// "Every asset" is every active one; the inactive are counted in a note.
	var skipped, inactive []string
	for _, a := range all {
		if cat != "" && a.Category != cat {
			continue
		}
		if !a.Active {
			inactive = append(inactive, a.Ticker)
			continue
		}
		m, ok := MarketOf(a.Category)
		if !ok {
			skipped = append(skipped, a.Ticker)
			continue
		}
		p.Assets = append(p.Assets, a)
		p.Markets[a.Ticker] = m
	}
	if len(inactive) > 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("%d inactive asset(s) left out (fff assets activate TICKER): %s", len(inactive), strings.Join(inactive, ", ")))
	}
	if len(skipped) > 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("%d currencies skipped (not priced by %s): %s", len(skipped), p.Source, strings.Join(skipped, ", ")))
	}
	if len(p.Assets) == 0 {
		what := "the registry"
		if cat != "" {
			what = "category " + cat
		}
		return fmt.Errorf("%s has no asset to price", what)
	}
	slices.SortFunc(p.Assets, func(a, b contract.Asset) int { return strings.Compare(a.Ticker, b.Ticker) })
	return nil
}

func quoteOf(a contract.Asset) string {
	if a.QuoteCurrency != "" {
		return a.QuoteCurrency
	}
	return "USD"
}

// planDaily is one request per asset over the whole range: both APIs serve
// years of daily bars in one call (Massive pages beyond 50000 bars).
func (p *Plan) planDaily() {
	for _, a := range p.Assets {
		p.Requests = append(p.Requests, contract.PriceRequest{
			Ticker: a.Ticker, Market: p.Markets[a.Ticker], Interval: contract.PriceInterval,
			Start: p.Start, End: p.End, Quote: quoteOf(a),
			ID: fmt.Sprintf("prices-%s-%s", p.Run, a.Ticker),
		})
	}
}

// planGrouped is one request per date and market, naming the registry's
// tickers of that market: 365 calls for a year however many assets.
func (p *Plan) planGrouped() {
	byMarket := map[string][]string{}
	for _, a := range p.Assets {
		m := p.Markets[a.Ticker]
		byMarket[m] = append(byMarket[m], a.Ticker)
	}
	markets := make([]string, 0, len(byMarket))
	for m := range byMarket {
		markets = append(markets, m)
	}
	slices.Sort(markets)
	for d := p.Start; !d.After(p.End); d = d.AddDate(0, 0, 1) {
		for _, m := range markets {
			if !calendar.IsTradingDay(m, d) {
				continue // the request would make no call
			}
			p.Requests = append(p.Requests, contract.PriceRequest{
				Market: m, Interval: contract.PriceInterval, Start: d, End: d, Grouped: true,
				Tickers: byMarket[m], ID: fmt.Sprintf("prices-%s-grouped-%s-%s", p.Run, m, d.Format("20060102")),
			})
		}
	}
}

// Describe is the plan in lines for a person (what --dry-run shows).
func (p *Plan) Describe() []string {
	span := p.Start.Format(time.DateOnly) + " to " + p.End.Format(time.DateOnly)
	var out []string
	if p.Grouped {
		out = append(out, fmt.Sprintf("%s grouped daily bars, %s: %d calls (one per trading day and market) for %d assets",
			p.Source, span, len(p.Requests), len(p.Assets)))
	} else {
		out = append(out, fmt.Sprintf("%s daily bars, %s: %d requests, one per asset", p.Source, span, len(p.Requests)))
	}
	for _, a := range p.Assets {
		m := p.Markets[a.Ticker]
		out = append(out, fmt.Sprintf("  %-10s %-9s %-7s %d trading days", a.Ticker, a.Category, m, len(calendar.TradingDays(m, p.Start, p.End))))
	}
	for _, n := range p.Notes {
		out = append(out, "note: "+n)
	}
	return out
}
