package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	qdb "github.com/questdb/go-questdb-client/v4"

	"github.com/feefifofunds/feefifofunds/internal/cli"
	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/fetcher"
	"github.com/feefifofunds/feefifofunds/pipeline/gapscanner"
	"github.com/feefifofunds/feefifofunds/pipeline/gapscanner/gapscannertest"
	"github.com/feefifofunds/feefifofunds/pipeline/kraken/krakentest"
	"github.com/feefifofunds/feefifofunds/pipeline/metrics"
	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
	"github.com/feefifofunds/feefifofunds/pipeline/writer"
)

const now = "2025-01-31T10:30:00Z" // the still-open hourly candle is 10:00

func at(s string) time.Time {
	t, _ := time.Parse(time.RFC3339, s)
	return t
}

// world is a QuestDB table with ETHUSD hourly candles from 2024-12-20 to
// 2025-01-31T06:00 missing 2024-12-22T05:00..07:00 (older than the 720-hour
// window) and 2025-01-20T12:00..13:00 (inside it), and an embedded NATS.
type world struct {
	q    *testenv.QuestDB
	nats *testenv.JetStream
}

func newWorld(t *testing.T) *world {
	q := testenv.NewQuestDB(t)
	n := testenv.StartJetStream(t)
	ctx := context.Background()
	snd, err := qdb.LineSenderFromConf(ctx, q.ILP)
	if err != nil {
		t.Fatal(err)
	}
	defer snd.Close(ctx)
	for ts := at("2024-12-20T00:00:00Z"); !ts.After(at("2025-01-31T06:00:00Z")); ts = ts.Add(time.Hour) {
		if (!ts.Before(at("2024-12-22T05:00:00Z")) && !ts.After(at("2024-12-22T07:00:00Z"))) ||
			(!ts.Before(at("2025-01-20T12:00:00Z")) && !ts.After(at("2025-01-20T13:00:00Z"))) {
			continue
		}
		err := snd.Table(q.Table).Symbol("source", "kraken").Symbol("pair", "ETHUSD").Symbol("base", "ETH").Symbol("quote", "USD").
			Symbol("origin", "csv").Int64Column("interval_minutes", 60).Float64Column("open", 1).Float64Column("high", 1).
			Float64Column("low", 1).Float64Column("close", 1).Float64Column("volume", 1).Int64Column("trades", 3).At(ctx, ts)
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := snd.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := questdb.WaitApplied(ctx, q.Pool, q.Table); err != nil {
		t.Fatal(err)
	}
	return &world{q: q, nats: n}
}

func (w *world) run(t *testing.T, stdin io.Reader, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	base := []string{"--nats", w.nats.URL, "--questdb-pg", w.q.PG, "--table", w.q.Table, "--now", now}
	code := execute(context.Background(), append(args, base...), stdin, &out, &errOut)
	return code, out.String(), errOut.String()
}

func (w *world) records(t *testing.T) []string {
	kv, err := w.nats.JS.KeyValue(context.Background(), topology.BucketGaps)
	if err != nil {
		t.Fatal(err)
	}
	lister, err := kv.ListKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	return keys
}

// wantAll reports each of want that the command's output lacks.
func wantAll(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

// fills drains the fill requests the command published.
func (w *world) fills(t *testing.T) []contract.FillRequest {
	t.Helper()
	return gapscannertest.TakeFills(t, w.nats.JS, "kraken")
}

func TestScanDryRunReportsAndTouchesNothing(t *testing.T) {
	w := newWorld(t)
	code, out, errOut := w.run(t, nil, "scan", "--dry-run")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	wantAll(t, out,
		"FILLABLE: 1 gaps, 2 missing candles",
		"ETHUSD 60m  TIER1  2025-01-20T12:00:00Z  2025-01-20T13:00:00Z  2        262",
		"UNFILLABLE: 1 gaps, 3 missing candles",
		"ETHUSD 60m  TIER1  2024-12-22T05:00:00Z  2024-12-22T07:00:00Z  3        965         245",
		"nothing published, no record touched (--dry-run)",
	)
	if keys := w.records(t); len(keys) != 0 {
		t.Errorf("dry run wrote records %v", keys)
	}
	if got := w.fills(t); len(got) != 0 {
		t.Errorf("dry run published %v", got)
	}
}

func TestScanRefusesWithoutTerminalOrYes(t *testing.T) {
	w := newWorld(t)
	code, _, errOut := w.run(t, nil, "scan")
	if code == 0 || !strings.Contains(errOut, "refusing to publish 1 fill requests") || !strings.Contains(errOut, "--yes") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if keys := w.records(t); len(keys) != 0 {
		t.Errorf("refused scan wrote records %v", keys)
	}
}

func TestScanYesPublishesAndRecords(t *testing.T) {
	w := newWorld(t)
	code, out, errOut := w.run(t, nil, "scan", "--yes", "--to-now", "--no-wait")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "published 2 fill requests for 2 gaps on fills.kraken") {
		t.Errorf("output:\n%s", out)
	}
	got := w.fills(t)
	if len(got) != 2 || !got[0].Start.Equal(at("2025-01-20T12:00:00Z")) || !got[0].End.Equal(at("2025-01-20T13:00:00Z")) ||
		!got[1].Start.Equal(at("2025-01-31T07:00:00Z")) || !got[1].End.Equal(at("2025-01-31T09:00:00Z")) {
		t.Errorf("fill requests %+v", got)
	}
	if keys := w.records(t); len(keys) != 3 {
		t.Errorf("records %v, want 3 (two requested, one unfillable)", keys)
	}
	// Asked again at once: the requested gaps are held back.
	code, out, _ = w.run(t, nil, "scan", "--yes", "--to-now")
	if code != 0 || !strings.Contains(out, "no fill request published") || !strings.Contains(out, "REQUESTED") {
		t.Errorf("second scan exit %d:\n%s", code, out)
	}
}

// fakeTerminal is stdin as a terminal: a character device that reads the
// answer typed.
type fakeTerminal struct{ *strings.Reader }

func terminal(typed string) fakeTerminal { return fakeTerminal{strings.NewReader(typed)} }

func (fakeTerminal) Stat() (os.FileInfo, error) { return charDevice{}, nil }

type charDevice struct{ os.FileInfo }

func (charDevice) Mode() os.FileMode { return os.ModeDevice | os.ModeCharDevice | 0o620 }

func TestScanConfirmOnTerminal(t *testing.T) {
	w := newWorld(t)
	code, out, errOut := w.run(t, terminal("n\n"), "scan")
	if code != 0 || !strings.Contains(errOut, "Publish 1 fill requests (2 candles) to fills.kraken? [y/N]") || !strings.Contains(out, "not confirmed") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if len(w.fills(t)) != 0 {
		t.Error("published without confirmation")
	}
	code, out, _ = w.run(t, terminal("y\n"), "scan", "--no-wait")
	if code != 0 || !strings.Contains(out, "published 1 fill requests") || len(w.fills(t)) != 1 {
		t.Fatalf("exit %d\n%s", code, out)
	}
}

func TestScanExportAndJSON(t *testing.T) {
	w := newWorld(t)
	file := filepath.Join(t.TempDir(), "unfillable.csv")
	code, out, errOut := w.run(t, nil, "scan", "--show-unfillable-only", "--export-unfillable", file)
	if code != 0 || strings.Contains(out, "FILLABLE:") && !strings.Contains(out, "UNFILLABLE:") {
		t.Fatalf("exit %d: %s\n%s", code, out, errOut)
	}
	if strings.Contains(out, "\nFILLABLE") {
		t.Errorf("--show-unfillable-only printed the fillable report:\n%s", out)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	want := "asset_ticker,tier,interval_minutes,gap_start,gap_end,missing_candles,candles_from_today,overflow_candles\n" +
		"ETH,TIER1,60,2024-12-22T05:00:00Z,2024-12-22T07:00:00Z,3,965,245\n"
	if string(data) != want {
		t.Errorf("export:\n%s\nwant:\n%s", data, want)
	}

	// Flags come from the environment too.
	t.Setenv("FFF_GAPSCANNER_JSON", "true")
	t.Setenv("FFF_GAPSCANNER_DRY_RUN", "true")
	code, out, errOut = w.run(t, nil, "scan")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep gapscanner.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out)
	}
	if len(rep.Gaps) != 2 || rep.Gaps[1].Class != contract.ClassFillable || rep.Gaps[1].Missing != 2 {
		t.Errorf("json report gaps: %+v", rep.Gaps)
	}
}

func TestReportAndStale(t *testing.T) {
	w := newWorld(t)
	code, out, errOut := w.run(t, nil, "report", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var lines []gapscanner.TierCompleteness
	if err := json.Unmarshal([]byte(out), &lines); err != nil {
		t.Fatal(err)
	}
	expected := int64(at("2025-01-31T06:00:00Z").Sub(at("2024-12-20T00:00:00Z"))/time.Hour) + 1
	if len(lines) != 1 || lines[0].Assets != 1 || lines[0].AssetsWithGaps != 1 || lines[0].Expected != expected ||
		lines[0].Present != expected-5 || lines[0].Fillable != 1 || lines[0].Unfillable != 1 {
		t.Errorf("report: %+v", lines)
	}
	code, out, _ = w.run(t, nil, "report")
	if code != 0 || !strings.Contains(out, "TIER1") || !strings.Contains(out, "%") {
		t.Errorf("report text:\n%s", out)
	}

	// A stale series is a failure a cron job or CI check can see.
	code, out, errOut = w.run(t, nil, "stale", "--hours", "2")
	if code != 1 || !strings.Contains(out, "ETHUSD 60m") || !strings.Contains(out, "3h30m") || !strings.Contains(out, "3.50") ||
		!strings.Contains(out, "checked 1 assets, 1 series") || !strings.Contains(errOut, "1 of 1 series are more than 2h behind") {
		t.Errorf("stale --hours 2: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = w.run(t, nil, "stale", "--json")
	var stale gapscanner.StaleReport
	if err := json.Unmarshal([]byte(out), &stale); code != 0 || err != nil || len(stale.Stale) != 0 || stale.Stale == nil ||
		stale.AssetsChecked != 1 || stale.SeriesChecked != 1 || stale.Hours != 24 {
		t.Errorf("stale --json (24h): exit %d %v\n%s", code, err, out)
	}
	code, _, errOut = w.run(t, nil, "stale", "--tier", "TIER7")
	if code == 0 || !strings.Contains(errOut, "TIER7") {
		t.Errorf("bad tier: exit %d %s", code, errOut)
	}
}

func TestParseDays(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"90d", 90 * 24 * time.Hour},
		{"1d12h", 36 * time.Hour},
		{"6h", 6 * time.Hour},
		{"15m", 15 * time.Minute},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got, err := parseDays(tc.in); err != nil || got != tc.want {
				t.Errorf("parseDays(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
	if _, err := parseDays("xd"); err == nil {
		t.Error("xd accepted")
	}
}

func TestRunCommandPublishesUntilCancelled(t *testing.T) {
	w := newWorld(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var out, errOut bytes.Buffer
	go func() {
		done <- execute(ctx, []string{"run", "--every", "1h", "--intervals", "60", "--lookback", "14d", "--max-gaps-per-asset", "10",
			"--metrics-addr", "", "--nats", w.nats.URL, "--questdb-pg", w.q.PG, "--table", w.q.Table, "--now", now}, strings.NewReader(""), &out, &errOut)
	}()
	var got []contract.FillRequest
	for deadline := time.Now().Add(30 * time.Second); len(got) < 2 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		got = append(got, w.fills(t)...)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("run exited %d: %s", code, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop on cancel")
	}
	// The 14-day lookback holds the 2025-01-20 hole; the run to now is added.
	if len(got) != 2 || !got[0].Start.Equal(at("2025-01-31T07:00:00Z")) || !got[1].Start.Equal(at("2025-01-20T12:00:00Z")) {
		t.Errorf("run published %+v", got)
	}
}

func TestIsTerminal(t *testing.T) {
	file, err := os.CreateTemp(t.TempDir(), "stdin")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	for _, tc := range []struct {
		name string
		in   io.Reader
		want bool
	}{
		{"reader", strings.NewReader("y\n"), false},
		{"regular file", file, false},
		{"character device", terminal("y\n"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := cli.IsTerminal(tc.in); got != tc.want {
				t.Errorf("IsTerminal = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCleanupCountsFilledAndFailedApart(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	kv, err := w.nats.JS.KeyValue(ctx, topology.BucketGaps)
	if err != nil {
		t.Fatal(err)
	}
	old, recent := at(now).AddDate(0, 0, -100), at(now).AddDate(0, 0, -10)
	for i, r := range []struct {
		state   string
		updated time.Time
	}{
		{contract.GapFilled, old}, {contract.GapFilled, old}, {contract.GapFailed, old},
		{contract.GapFilled, recent}, {contract.GapUnfillable, old}, {contract.GapNoTrades, old},
	} {
		data, _ := json.Marshal(contract.GapRecord{Source: "kraken", Pair: "ETHUSD", Interval: 60, State: r.state, Updated: r.updated})
		if _, err := kv.Put(ctx, "kraken.ETHUSD.60."+strconv.Itoa(i), data); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errOut := w.run(t, nil, "cleanup", "--days", "90", "--dry-run")
	if code != 0 || !strings.Contains(out, "would purge (--dry-run) 2 FILLED and 1 FAILED gap records older than 90d") || len(w.records(t)) != 6 {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = w.run(t, nil, "cleanup", "--days", "90", "--json")
	var st gapscanner.CleanupStats
	if err := json.Unmarshal([]byte(out), &st); code != 0 || err != nil {
		t.Fatalf("exit %d %v\n%s%s", code, err, out, errOut)
	}
	if st.FilledPurged != 2 || st.FailedPurged != 1 || st.UnfillableKept != 1 || st.NoTradesKept != 1 || st.Remaining != 3 {
		t.Errorf("cleanup: %+v", st)
	}
	if keys := w.records(t); len(keys) != 3 {
		t.Errorf("records left %v, want the recent FILLED, the UNFILLABLE and the NO_TRADES", keys)
	}
}

func TestSelectionFlagsOfTheOldTool(t *testing.T) {
	w := newWorld(t)
	for _, tc := range []struct {
		name string
		args []string
		gaps int
	}{
		{"tier ALL", []string{"--tier", "ALL"}, 2},
		{"asset of the pair", []string{"--asset", "ETH"}, 2},
		{"another asset", []string{"--asset", "BTC"}, 0},
		{"interval and intervals add up", []string{"--interval", "1440", "--intervals", "60"}, 2},
		{"intervals alone", []string{"--intervals", "1440"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := w.run(t, nil, append([]string{"scan", "--dry-run", "--json"}, tc.args...)...)
			var rep gapscanner.Report
			if err := json.Unmarshal([]byte(out), &rep); code != 0 || err != nil {
				t.Fatalf("exit %d %v\n%s", code, err, errOut)
			}
			if len(rep.Gaps) != tc.gaps {
				t.Errorf("%d gaps, want %d", len(rep.Gaps), tc.gaps)
			}
		})
	}
}

// withFetcher runs a fetcher on a fake Kraken that has every hourly candle
// from 2025-01-01 to 2025-01-31T06:00 but whose clock says 07:10: the
// 2025-01-20 hole is filled, the run to now (07:00..09:00 at the scanner's
// 10:30) has no closed candle yet for the fetcher and fails. A writer puts
// the fills into the world's table.
func (w *world) withFetcher(t *testing.T) {
	fake := krakentest.New(krakentest.WithNow(at("2025-01-31T07:10:00Z")))
	t.Cleanup(fake.Close)
	var candles []contract.Candle
	for ts := at("2025-01-01T00:00:00Z"); !ts.After(at("2025-01-31T06:00:00Z")); ts = ts.Add(time.Hour) {
		candles = append(candles, contract.Candle{Time: ts.Unix(), Open: 2, High: 3, Low: 1, Close: 2, Volume: 5, Trades: 4})
	}
	fake.AddCandles("ETHUSD", 60, candles)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() {
		done <- fetcher.Run(ctx, fetcher.Config{JS: w.nats.JS, Log: testenv.Logger(t), Metrics: metrics.NewRegistry(),
			KrakenURL: fake.URL, Rate: 1000, Now: fake.Now})
	}()
	go func() {
		done <- writer.Run(ctx, writer.Config{JS: w.nats.JS, Log: testenv.Logger(t), Metrics: metrics.NewRegistry(),
			QuestDB: w.q.Config(), FlushInterval: 50 * time.Millisecond})
	}()
	t.Cleanup(func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("stage stopped with %v", err)
			}
		}
	})
}

func TestScanWaitsForEveryOutcome(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		// check looks at stdout; the exit code and the table are checked for all.
		check func(t *testing.T, out string)
	}{
		{"text", nil, func(t *testing.T, out string) {
			wantAll(t, out,
				"OUTCOMES: 2 gaps",
				"ETHUSD 60m  TIER1  2025-01-20T12:00:00Z  2025-01-20T13:00:00Z  2        FILLED  2",
				"ETHUSD 60m  TIER1  2025-01-31T07:00:00Z  2025-01-31T09:00:00Z  3        FAILED  0",
				"FAILED: 1 gaps\n  ETHUSD 60m 2025-01-31T07:00:00Z..2025-01-31T09:00:00Z: no closed candle in the range yet",
				"TOTALS: detected 3, requested 2, filled 1, unfillable 1, no trades 0, failed 1, pending 0, candles filled 2",
			)
			// The failed gaps come last, after every outcome.
			if strings.Index(out, "FAILED: 1 gaps") < strings.Index(out, "OUTCOMES:") {
				t.Errorf("failed gaps before the outcomes:\n%s", out)
			}
		}},
		{"json", []string{"--json"}, func(t *testing.T, out string) {
			var res struct {
				Report   struct{ Gaps []json.RawMessage }
				Outcomes []struct{ State, Error string }
				Failed   []struct{ Start time.Time }
				Totals   map[string]int64
			}
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("not one JSON object: %v\n%s", err, out)
			}
			want := map[string]int64{"gaps_detected": 3, "gaps_requested": 2, "gaps_filled": 1, "gaps_unfillable": 1,
				"gaps_no_trades": 0, "gaps_failed": 1, "gaps_pending": 0, "total_candles_filled": 2}
			for k, v := range want {
				if res.Totals[k] != v {
					t.Errorf("totals.%s = %d, want %d (%v)", k, res.Totals[k], v, res.Totals)
				}
			}
			if len(res.Report.Gaps) != 3 || len(res.Outcomes) != 2 || res.Outcomes[0].State != contract.GapFilled ||
				len(res.Failed) != 1 || !res.Failed[0].Start.Equal(at("2025-01-31T07:00:00Z")) {
				t.Errorf("json: %+v", res)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.withFetcher(t)
			before := w.q.Count(t)
			code, out, errOut := w.run(t, nil, append([]string{"scan", "-y", "--to-now", "--wait-timeout", "1m"}, tc.args...)...)
			if code != 1 || !strings.Contains(errOut, "1 of 2 requested gaps failed") {
				t.Errorf("exit %d, want 1 naming the failed gap; stderr:\n%s", code, errOut)
			}
			// Without a terminal the progress comes as lines.
			if !strings.Contains(errOut, "gaps 2/2 answered: 1 filled, 0 unfillable, 0 no trades, 1 failed; 2 candles written") {
				t.Errorf("no progress line in stderr:\n%s", errOut)
			}
			tc.check(t, out)
			w.q.WaitCount(t, before+2, 30*time.Second)
		})
	}
}

func TestScanWaitTimeoutExitsNonZero(t *testing.T) {
	w := newWorld(t) // no fetcher: nobody answers
	code, out, errOut := w.run(t, nil, "scan", "--yes", "--wait-timeout", "300ms")
	if code != 1 || !strings.Contains(errOut, "1 of 1 requested gaps were not answered within --wait-timeout 300ms") ||
		!strings.Contains(out, "pending 1") {
		t.Errorf("exit %d\n%s\n%s", code, out, errOut)
	}
}
