package replay

import (
	"context"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
)

func batches(pair, base string, interval uint32, fileID string, candles []contract.Candle, per int) []*contract.Batch {
	var out []*contract.Batch
	for i := 0; i < len(candles); i += per {
		out = append(out, &contract.Batch{Source: "kraken", Pair: pair, Base: base, Quote: "USD", IntervalMinutes: interval,
			Origin: contract.OriginCSV, FileID: fileID, BatchIndex: uint32(len(out)),
			Candles: candles[i:min(i+per, len(candles))]})
	}
	return out
}

type key struct {
	pair string
	iv   int32
	ts   int64
}

type vals struct {
	open, high, low, close, volume float64
	vwap                           *float64
	trades                         *int64
}

func tableRows(t testing.TB, q *testenv.QuestDB, table string) map[key]vals {
	t.Helper()
	ctx := context.Background()
	if err := questdb.WaitApplied(ctx, q.Pool, table); err != nil {
		t.Fatal(err)
	}
	rs, err := q.Pool.Query(ctx, "SELECT pair, interval_minutes, ts, open, high, low, close, volume, vwap, trades FROM "+table)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	out := map[key]vals{}
	for rs.Next() {
		var k key
		var ts time.Time
		var v vals
		if err := rs.Scan(&k.pair, &k.iv, &ts, &v.open, &v.high, &v.low, &v.close, &v.volume, &v.vwap, &v.trades); err != nil {
			t.Fatal(err)
		}
		k.ts = ts.Unix()
		if _, dup := out[k]; dup {
			t.Fatalf("duplicate row %+v", k)
		}
		out[k] = v
	}
	return out
}

func want(since, until int64, bss ...[]*contract.Batch) map[key]vals {
	out := map[key]vals{}
	for _, bs := range bss {
		for _, b := range bs {
			for _, c := range b.Candles {
				if c.Time < since || c.Time > until {
					continue
				}
				tr := c.Trades
				out[key{b.Pair, int32(b.IntervalMinutes), c.Time}] = vals{c.Open, c.High, c.Low, c.Close, c.Volume, nil, &tr}
			}
		}
	}
	return out
}

func sameRows(t testing.TB, got, want map[key]vals) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("table has %d rows, want %d", len(got), len(want))
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Fatalf("missing row %+v", k)
		}
		if g.open != w.open || g.high != w.high || g.low != w.low || g.close != w.close || g.volume != w.volume ||
			(g.vwap != nil && !math.IsNaN(*g.vwap)) || g.trades == nil || *g.trades != *w.trades {
			t.Fatalf("row %+v: %+v, want %+v", k, g, w)
		}
	}
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// seed publishes the XBTUSD and ETHUSD daily fixtures, in batches of 50, on
// a fresh JetStream, next to a fresh QuestDB table.
func seed(t *testing.T) (env *testenv.JetStream, q *testenv.QuestDB, xbt, eth []*contract.Batch) {
	t.Helper()
	env = testenv.StartJetStream(t)
	q = testenv.NewQuestDB(t)
	xbt = batches("XBTUSD", "BTC", 1440, "x", testenv.FixtureCandles(t, "XBTUSD_1440.csv"), 50)
	eth = batches("ETHUSD", "ETH", 1440, "e", testenv.FixtureCandles(t, "ETHUSD_1440.csv"), 50)
	env.PublishBatches(t, xbt, "")
	env.PublishBatches(t, eth, "")
	return env, q, xbt, eth
}

func TestReplayReproducesAndIsIdempotent(t *testing.T) {
	env, q, xbt, eth := seed(t)
	// Something that is not a batch is skipped, not fatal.
	if _, err := env.JS.Publish(context.Background(), "candles.kraken.XBTUSD.1440", []byte("junk")); err != nil {
		t.Fatal(err)
	}

	// A table that does not exist yet: replay creates it.
	table := testenv.NewTableName(t)
	t.Cleanup(func() { testenv.DropTable(t, q.Pool, table) })
	qs := q.Config()
	qs.Table = table
	var progress []Stats
	cfg := Config{JS: env.JS, Log: quiet(), QuestDB: qs, Migrate: true, FlushRows: 100,
		OnProgress: func(s Stats) { progress = append(progress, s) }}
	st, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	all := want(math.MinInt64, math.MaxInt64, xbt, eth)
	if st.Written != int64(len(all)) || st.Messages != uint64(len(xbt)+len(eth)+1) || st.Total != st.Messages || st.Undecodable != 1 {
		t.Fatalf("stats %+v", st)
	}
	if len(progress) == 0 || progress[len(progress)-1].Written != st.Written {
		t.Fatalf("progress %+v", progress)
	}
	sameRows(t, tableRows(t, q, table), all)

	// Twice: nothing changes.
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	sameRows(t, tableRows(t, q, table), all)
}

func TestReplayFiltersSeriesAndWindow(t *testing.T) {
	env, q, xbt, _ := seed(t)

	since, _, err := ParseTime("2013-12-01")
	if err != nil {
		t.Fatal(err)
	}
	until, _, err := ParseTime("2014-01-31T00:00:00Z")
	if err != nil {
		t.Fatal(err)
	}
	st, err := Run(context.Background(), Config{JS: env.JS, Log: quiet(), QuestDB: q.Config(),
		Pair: "XBTUSD", Interval: 1440, Since: since, Until: until})
	if err != nil {
		t.Fatal(err)
	}
	w := want(since.Unix(), until.Unix(), xbt)
	if len(w) != 62 || st.Written != 62 || st.Total != uint64(len(xbt)) {
		t.Fatalf("want %d rows, stats %+v", len(w), st)
	}
	sameRows(t, tableRows(t, q, q.Table), w)

	// Nothing matches: a clean no-op.
	st, err = Run(context.Background(), Config{JS: env.JS, Log: quiet(), QuestDB: q.Config(), Pair: "NOPE"})
	if err != nil || st.Total != 0 || st.Written != 0 {
		t.Fatalf("empty replay: %+v %v", st, err)
	}
}

func TestParseTime(t *testing.T) {
	for in, want := range map[string]int64{
		"1381017600":                1381017600,
		"2013-10-06":                1381017600,
		"2013-10-06T00:00:00Z":      1381017600,
		"2013-10-06T02:00:00+02:00": 1381017600,
	} {
		got, _, err := ParseTime(in)
		if err != nil || got.Unix() != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	if _, _, err := ParseTime("yesterday"); err == nil {
		t.Error("yesterday accepted")
	}
}
