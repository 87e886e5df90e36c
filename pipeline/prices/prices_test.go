package prices_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/assets"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/finnhub/finnhubtest"
	"github.com/feefifofunds/feefifofunds/pipeline/massive/massivetest"
	"github.com/feefifofunds/feefifofunds/pipeline/pricefetch"
	"github.com/feefifofunds/feefifofunds/pipeline/prices"
	"github.com/feefifofunds/feefifofunds/pipeline/writer"
)

// pipe is a JetStream with a writer into a fresh QuestDB table and one
// price fetcher pointed at a fake API.
type pipe struct {
	env *testenv.JetStream
	q   *testenv.QuestDB
	reg *assets.Registry
}

func startPipe(t *testing.T, source, baseURL string) *pipe {
	t.Helper()
	env := testenv.StartJetStream(t)
	q := testenv.NewQuestDB(t)
	log := testenv.Logger(t)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	src, err := pricefetch.NewSource(source, pricefetch.SourceOptions{BaseURL: baseURL, Key: "test-key",
		PerMinute: 60_000, Backoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := writer.Run(ctx, writer.Config{JS: env.JS, QuestDB: q.Config(), FlushInterval: 50 * time.Millisecond, Log: log}); err != nil {
			t.Errorf("writer: %v", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := pricefetch.Run(ctx, pricefetch.Config{JS: env.JS, Source: src, Log: log, RetryDelay: 100 * time.Millisecond}); err != nil {
			t.Errorf("pricefetch: %v", err)
		}
	}()
	reg, err := assets.Open(ctx, env.JS)
	if err != nil {
		t.Fatal(err)
	}
	return &pipe{env: env, q: q, reg: reg}
}

func (p *pipe) asset(t *testing.T, ticker, category string) {
	t.Helper()
	if err := p.reg.Create(context.Background(), contract.Asset{Ticker: ticker, Name: ticker, Category: category, QuoteCurrency: "USD"}); err != nil {
		t.Fatal(err)
	}
}

func (p *pipe) run(t *testing.T, o prices.Options) *prices.Summary {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	plan, err := prices.MakePlan(ctx, p.reg, o)
	if err != nil {
		t.Fatal(err)
	}
	var progress []prices.Progress
	sum, err := prices.Run(ctx, prices.RunConfig{JS: p.env.JS, DB: p.q.Pool, Table: p.q.Table, Log: testenv.Logger(t),
		CommitTimeout: 30 * time.Second, Progress: func(pr prices.Progress) { progress = append(progress, pr) }}, plan)
	if err != nil {
		t.Fatal(err)
	}
	if len(progress) != len(plan.Requests) || progress[len(progress)-1].Percent() != 100 {
		t.Fatalf("progress %+v for %d requests", progress, len(plan.Requests))
	}
	return sum
}

type row struct {
	day                    string
	open, high, low, close float64
	volume                 float64
}

// rows reads what a user would: the daily candles of one series, each
// at 00:00 UTC of its date.
func (p *pipe) rows(t *testing.T, source, pair string) []row {
	t.Helper()
	var out []row
	for _, r := range p.q.Series(t, source, pair, 1440) {
		ts := r.TS.UTC()
		if ts != ts.Truncate(24*time.Hour) {
			t.Fatalf("candle at %s: want 00:00 UTC of its date", ts)
		}
		out = append(out, row{ts.Format(time.DateOnly), r.Open, r.High, r.Low, r.Close, r.Volume})
	}
	return out
}

func date(s string) time.Time {
	d, _ := time.Parse(time.DateOnly, s)
	return d
}

func one(t *testing.T, sum *prices.Summary) prices.AssetResult {
	t.Helper()
	if len(sum.Assets) != 1 {
		t.Fatalf("summary %+v", sum)
	}
	return sum.Assets[0]
}

func TestMassiveDailyIntoQuestDB(t *testing.T) {
	fake := massivetest.New(t, "test-key")
	fake.LoadFixture("aggs_AAPL_1_day_2023-01-09_2023-02-10.json")
	fake.SetPageSize(10) // 24 bars: three pages through next_url
	fake.Throttle(2)     // the first two calls answer 429
	p := startPipe(t, "massive", fake.URL)
	p.asset(t, "AAPL", "STOCK")
	o := prices.Options{Source: "massive", Ticker: "AAPL", Start: date("2023-01-09"), End: date("2023-02-10")}

	a := one(t, p.run(t, o))
	if a.Err != "" || a.State != contract.GapFilled || a.Candles != 24 || a.Created != 24 || a.Updated != 0 {
		t.Fatalf("first load: %+v", a)
	}
	got := p.rows(t, "massive", "AAPL")
	// t=1673240400000 ms is 2023-01-09 00:00 New York: the first bar.
	want0 := row{"2023-01-09", 130.465, 133.41, 129.89, 130.15, 70790813}
	if len(got) != 24 || got[0] != want0 || got[23].day != "2023-02-10" {
		t.Fatalf("%d rows, first %+v last %+v; want 24 from %+v to 2023-02-10", len(got), got[0], got[len(got)-1], want0)
	}
	var pages, throttled int
	for _, c := range fake.Calls() {
		if c.Query.Get("cursor") != "" {
			pages++
		}
		if c.Status == 429 {
			throttled++
		}
		if !c.KeyInHeader {
			t.Fatalf("call %s without the Bearer key", c.Path)
		}
	}
	if pages != 2 || throttled != 2 {
		t.Fatalf("%d next_url pages and %d throttled calls, want 2 and 2", pages, throttled)
	}

	a = one(t, p.run(t, o)) // the same range again: every row is upserted
	if a.Err != "" || a.Candles != 24 || a.Created != 0 || a.Updated != 24 {
		t.Fatalf("second load: %+v", a)
	}
	if n := len(p.rows(t, "massive", "AAPL")); n != 24 {
		t.Fatalf("%d rows after loading twice, want 24 (DEDUP)", n)
	}
}

func TestMassiveRefusals(t *testing.T) {
	fake := massivetest.New(t, "test-key")
	fake.Forbid("NVDA")
	p := startPipe(t, "massive", fake.URL)
	p.asset(t, "NVDA", "STOCK")
	p.asset(t, "AAMC", "STOCK")
	cases := []struct {
		ticker, state, err string
	}{
		{"NVDA", contract.GapFailed, "Massive answered 403 NOT_AUTHORIZED: You are not entitled to this data"},
		{"AAMC", contract.GapNoTrades, ""}, // resultsCount 0, no results key
	}
	for _, c := range cases {
		t.Run(c.ticker, func(t *testing.T) {
			sum := p.run(t, prices.Options{Source: "massive", Ticker: c.ticker, Start: date("2022-02-01"), End: date("2022-02-28")})
			a := one(t, sum)
			if a.State != c.state || !strings.Contains(a.Err, c.err) || (c.err == "") != sum.OK() {
				t.Fatalf("%+v, ok %v; want %s with %q", a, sum.OK(), c.state, c.err)
			}
			if n := len(p.rows(t, "massive", c.ticker)); n != 0 {
				t.Fatalf("%d rows", n)
			}
		})
	}
}

func TestMassiveGroupedIntoQuestDB(t *testing.T) {
	fake := massivetest.New(t, "test-key")
	fake.LoadFixture("grouped_daily_stocks_2023-01-09.json") // 2023-01-09, 50 tickers
	fake.LoadFixture("aggs_AAPL_1_day_2023-01-09_2023-02-10.json")
	p := startPipe(t, "massive", fake.URL)
	for _, tk := range []string{"AAPL", "TTMI", "OEC"} {
		p.asset(t, tk, "STOCK")
	}
	p.asset(t, "USD", "CURRENCY") // skipped: not priced
	fake.Forbid("AAPL")           // range calls would fail: grouped must not make them

	// 2023-01-09 (Mon) .. 2023-01-17 (Tue): the fake has AAPL every trading
	// day but TTMI and OEC only on the 9th; the 14th-15th are a weekend and
	// the 16th MLK day (no call).
	sum := p.run(t, prices.Options{Source: "massive", All: true, Category: "", Start: date("2023-01-09"), End: date("2023-01-17"), Grouped: true})
	if !sum.OK() {
		t.Fatalf("summary %+v", sum)
	}
	got := map[string]prices.AssetResult{}
	for _, a := range sum.Assets {
		got[a.Ticker] = a
	}
	if len(got) != 3 || got["AAPL"].Created != 6 || got["TTMI"].Created != 1 || got["OEC"].Created != 1 {
		t.Fatalf("assets %+v", sum.Assets)
	}
	if r := p.rows(t, "massive", "TTMI"); len(r) != 1 || r[0] != (row{"2023-01-09", 15.96, 16.335, 15.96, 16.08, 394280}) {
		t.Fatalf("TTMI rows %+v", r)
	}
	var grouped int
	for _, c := range fake.Calls() {
		if !strings.Contains(c.Path, "/grouped/locale/us/market/stocks/") {
			t.Fatalf("call %s: only grouped calls expected", c.Path)
		}
		grouped++
	}
	if grouped != 6 {
		t.Fatalf("%d grouped calls, want 6 (one per trading day)", grouped)
	}
}

func TestFinnhubDailyIntoQuestDB(t *testing.T) {
	cases := []struct {
		name       string
		fixture    string
		old        bool
		start, end string
		want       int
		first      row
	}{
		// t = 1630972800 s = 2021-09-07 00:00 UTC.
		{"seconds at midnight UTC", "stock_candle_AAPL_D.json", false, "2021-09-07", "2021-09-22", 12,
			row{"2021-09-07", 154.97, 157.26, 154.39, 156.69, 82278261}},
		// Before mid 2021 t was the open, 13:30 UTC: same dates.
		{"seconds at the old 13:30 UTC", "stock_candle_SPY_D_2020-06-08_2020-06-12_pre-2021-timestamps.json", true, "2020-06-08", "2020-06-12", 5,
			row{"2020-06-08", 320.22, 323.41, 319.63, 323.2, 73641200}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fake := finnhubtest.New(t, "test-key")
			fake.LoadFixture("AAPL", c.fixture)
			fake.SetOldTimestamps(c.old)
			fake.Throttle(1)
			p := startPipe(t, "finnhub", fake.BaseURL())
			p.asset(t, "AAPL", "STOCK")
			a := one(t, p.run(t, prices.Options{Source: "finnhub", Ticker: "AAPL", Start: date(c.start), End: date(c.end)}))
			if a.Err != "" || a.Created != int64(c.want) {
				t.Fatalf("%+v", a)
			}
			got := p.rows(t, "finnhub", "AAPL")
			if len(got) != c.want || got[0] != c.first {
				t.Fatalf("%d rows, first %+v; want %d from %+v", len(got), got, c.want, c.first)
			}
		})
	}
}

func TestFinnhubRefusals(t *testing.T) {
	cases := []struct {
		name   string
		forbid bool
		state  string
		err    string
	}{
		{"403 on a plan without candles", true, contract.GapFailed, "Finnhub answered 403: You don't have access to this resource. (candles are a paid Finnhub feature"},
		{"no_data", false, contract.GapNoTrades, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fake := finnhubtest.New(t, "test-key")
			fake.Forbid(c.forbid)
			p := startPipe(t, "finnhub", fake.BaseURL())
			p.asset(t, "MSFT", "STOCK")
			sum := p.run(t, prices.Options{Source: "finnhub", Ticker: "MSFT", Days: 7})
			a := one(t, sum)
			if a.State != c.state || !strings.Contains(a.Err, c.err) || sum.OK() != (c.err == "") {
				t.Fatalf("%+v; want %s with %q", a, c.state, c.err)
			}
		})
	}
}

func TestPlanRefusesWhatCannotBeServed(t *testing.T) {
	env := testenv.StartJetStream(t)
	reg, err := assets.Open(context.Background(), env.JS)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		o    prices.Options
		err  string
	}{
		{"unknown asset", prices.Options{Source: "massive", Ticker: "AAPL", Days: 7}, "asset AAPL is not in the asset registry"},
		{"grouped on finnhub", prices.Options{Source: "finnhub", All: true, Days: 7, Grouped: true}, "grouped daily bars are a Massive endpoint"},
		{"grouped for one ticker", prices.Options{Source: "massive", Ticker: "AAPL", Days: 7, Grouped: true}, "ask for all assets"},
		{"unknown source", prices.Options{Source: "yahoo", Ticker: "AAPL", Days: 7}, `source "yahoo"`},
		{"empty registry", prices.Options{Source: "massive", All: true, Days: 7}, "the registry has no asset to price"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := prices.MakePlan(context.Background(), reg, c.o); err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("err %v, want %q", err, c.err)
			}
		})
	}
}

func TestPlanAllLeavesInactiveAssetsOut(t *testing.T) {
	env := testenv.StartJetStream(t)
	ctx := context.Background()
	reg, err := assets.Open(ctx, env.JS)
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range []string{"AAPL", "MSFT", "IBM"} {
		if err := reg.Create(ctx, contract.Asset{Ticker: tk, Name: tk, Category: "STOCK"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := reg.SetActive(ctx, "MSFT", false); err != nil {
		t.Fatal(err)
	}
	p, err := prices.MakePlan(ctx, reg, prices.Options{Source: "massive", All: true, Days: 7})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range p.Assets {
		got = append(got, a.Ticker)
	}
	if strings.Join(got, " ") != "AAPL IBM" {
		t.Errorf("planned %v, want AAPL IBM", got)
	}
	if !slices.ContainsFunc(p.Notes, func(n string) bool {
		return strings.Contains(n, "1 inactive asset(s) left out") && strings.Contains(n, "MSFT")
	}) {
		t.Errorf("notes %q: want the inactive MSFT named", p.Notes)
	}
	// Named on its own, an inactive asset is still priced.
	if p, err := prices.MakePlan(ctx, reg, prices.Options{Source: "massive", Ticker: "MSFT", Days: 7}); err != nil || len(p.Assets) != 1 {
		t.Errorf("--ticker MSFT: %v %v", p, err)
	}
}
