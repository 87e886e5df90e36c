package gapscanner_test

import (
	"bufio"
	"context"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	qdb "github.com/questdb/go-questdb-client/v4"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/gapscanner"
	"github.com/feefifofunds/feefifofunds/pipeline/kraken"
	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func fixed(t time.Time) func() time.Time { return func() time.Time { return t } }

// mustScan is a scan the test cannot go on without.
func mustScan(ctx context.Context, t *testing.T, cfg gapscanner.ScanConfig) gapscanner.Report {
	t.Helper()
	rep, err := gapscanner.Scan(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testLog(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// insert writes candles of one series over ILP and waits until QuestDB has
// applied them.
func insert(t testing.TB, q *testenv.QuestDB, pair string, interval int, candles []contract.Candle) {
	t.Helper()
	base, quote, err := kraken.SplitPair(pair)
	if err != nil {
		t.Fatal(err)
	}
	insertFrom(t, q, "kraken", pair, base, quote, interval, candles)
}

// insertFrom is insert for any source's series.
func insertFrom(t testing.TB, q *testenv.QuestDB, source, pair, base, quote string, interval int, candles []contract.Candle) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	snd, err := qdb.LineSenderFromConf(ctx, q.ILP)
	if err != nil {
		t.Fatalf("ilp sender: %v", err)
	}
	defer snd.Close(ctx)
	for _, c := range candles {
		err := snd.Table(q.Table).
			Symbol("source", source).Symbol("pair", pair).Symbol("base", base).Symbol("quote", quote).Symbol("origin", "csv").
			Int64Column("interval_minutes", int64(interval)).
			Float64Column("open", c.Open).Float64Column("high", c.High).Float64Column("low", c.Low).Float64Column("close", c.Close).
			Float64Column("volume", c.Volume).Int64Column("trades", c.Trades).
			At(ctx, time.Unix(c.Time, 0))
		if err != nil {
			t.Fatalf("ilp row: %v", err)
		}
	}
	if err := snd.Flush(ctx); err != nil {
		t.Fatalf("ilp flush: %v", err)
	}
	if err := questdb.WaitApplied(ctx, q.Pool, q.Table); err != nil {
		t.Fatal(err)
	}
}

// series makes candles every interval from first to last (inclusive), except
// at the open times in holes.
func series(first, last time.Time, interval int, holes ...[2]time.Time) []contract.Candle {
	step := time.Duration(interval) * time.Minute
	var out []contract.Candle
	for ts := first; !ts.After(last); ts = ts.Add(step) {
		skip := false
		for _, h := range holes {
			if !ts.Before(h[0]) && !ts.After(h[1]) {
				skip = true
				break
			}
		}
		if !skip {
			out = append(out, contract.Candle{Time: ts.Unix(), Open: 1, High: 2, Low: 0.5, Close: 1.5, Volume: 3, Trades: 7})
		}
	}
	return out
}

// fixture reads a Kraken OHLCVT CSV from the shared fixtures, leaving out the
// rows whose open time is in drop.
func fixture(t testing.TB, name string, drop ...time.Time) []contract.Candle {
	t.Helper()
	f, err := os.Open("../../testdata/kraken/" + name)
	if err != nil {
		t.Skipf("fixture %s: %v", name, err)
	}
	defer f.Close()
	skip := map[int64]bool{}
	for _, d := range drop {
		skip[d.Unix()] = true
	}
	var out []contract.Candle
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Split(sc.Text(), ",")
		ts, _ := strconv.ParseInt(fs[0], 10, 64)
		if skip[ts] {
			continue
		}
		num := func(i int) float64 { v, _ := strconv.ParseFloat(fs[i], 64); return v }
		trades, _ := strconv.ParseInt(fs[6], 10, 64)
		out = append(out, contract.Candle{Time: ts, Open: num(1), High: num(2), Low: num(3), Close: num(4), Volume: num(5), Trades: trades})
	}
	return out
}

// gapLine renders a gap for comparisons in test failures.
func gapLine(g gapscanner.Gap) string {
	return g.Pair + " " + strconv.Itoa(g.Interval) + " " + g.Start.Format(time.RFC3339) + ".." + g.End.Format(time.RFC3339) +
		" missing=" + strconv.FormatInt(g.Missing, 10) + " days=" + strconv.FormatInt(g.MissingDays, 10) +
		" from_today=" + strconv.FormatInt(g.CandlesFromToday, 10) + " overflow=" + strconv.FormatInt(g.Overflow, 10) +
		" class=" + g.Class
}
