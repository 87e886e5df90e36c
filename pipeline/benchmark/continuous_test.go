package benchmark

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
)

// newTestBench is a bench on the test QuestDB, its work folder a temp one.
func newTestBench(t *testing.T, o Options) *bench {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the pipeline against QuestDB")
	}
	_, ilp, pg := testenv.ConnectQuestDB(t)
	o.QuestDB = questdb.Config{ILP: ilp, PG: pg}
	o.Parsers, o.Writers, o.FlushRows = 2, 2, 200_000
	b := &bench{o: o, out: io.Discard, rep: &Report{}, stageLog: testenv.Logger(t), work: t.TempDir()}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.connectQuestDB(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.pool.Close)
	return b
}

func (b *bench) tableGone(t *testing.T, table string) {
	t.Helper()
	var n int
	if err := b.pool.QueryRow(context.Background(), "SELECT count() FROM tables() WHERE table_name = $1", table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("table %s left behind", table)
	}
}

func TestLatencyStep(t *testing.T) {
	b := newTestBench(t, Options{LatencyFiles: 3, LatencySettle: 100 * time.Millisecond})
	r, err := b.latency(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", r)
	if r.Files != 3 || len(r.Samples) != 3 || r.RowsPerFile != LatencyRowsPerFile || r.SettleSecs != 0.1 {
		t.Errorf("result: %+v", r)
	}
	// The settle delay is part of every drop.
	if r.MinSecs < 0.1 || r.P50Secs < r.MinSecs || r.P99Secs < r.P50Secs || r.MaxSecs < r.P99Secs || r.MaxSecs > 60 {
		t.Errorf("figures out of order: %+v", r)
	}
	if len(r.Phases) != len(latencyPhases) {
		t.Fatalf("phases: %+v", r.Phases)
	}
	if r.Phases[0].P50Secs < 0.1 || r.Phases[2].P50Secs <= 0 {
		t.Errorf("the ledger watch missed states: %+v", r.Phases)
	}
	b.tableGone(t, r.Table)
}

func TestGapScanStep(t *testing.T) {
	b := newTestBench(t, Options{GapScanRows: 30_000})
	r, err := b.gapScan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", r)
	if r.Candles != 30_000 || r.Pairs != 3 || r.Gaps != 3*20 || r.Missing <= int64(r.Gaps) || r.ScanSecs <= 0 {
		t.Errorf("result: %+v", r)
	}
	b.tableGone(t, r.Table)
}

func TestGapLayout(t *testing.T) {
	end := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	l, err := newGapLayout(50_000_000, end)
	if err != nil {
		t.Fatal(err)
	}
	if l.Pairs != 50 || l.Base != 1_000_000 || len(l.expected()) != 1000 || l.MaxLen != 4000 {
		t.Errorf("layout: %+v", l)
	}
	// Holes stay inside their series and apart from each other.
	if l.Holes*l.Period+l.Offset+l.MaxLen >= l.Base || l.Offset+l.MaxLen >= l.Period {
		t.Errorf("holes overlap or reach the series' ends: %+v", l)
	}
	if !strings.Contains(l.fillSQL("t"), "long_sequence(") {
		t.Error(l.fillSQL("t"))
	}
	if _, err := newGapLayout(999, end); err == nil {
		t.Error("999 rows: no error")
	}
}

func TestReplayStep(t *testing.T) {
	b := newTestBench(t, Options{})
	files, err := Generate(Spec{Dir: t.TempDir(), Rows: 20_000, Files: 2, Seed: 3}, Kraken)
	if err != nil {
		t.Fatal(err)
	}
	r, err := b.replayStep(context.Background(), files)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", r)
	// 10,000 rows a file: two batches of up to 8,192 each.
	if r.Candles != 20_000 || r.Messages != 4 || r.CandlesPerSec <= 0 || r.VisibleSecs < r.RunSecs {
		t.Errorf("result: %+v", r)
	}
	b.tableGone(t, r.Table)
}

func TestPercentile(t *testing.T) {
	s := make([]float64, 50)
	for i := range s {
		s[i] = float64(i + 1)
	}
	if p50, p99 := percentile(s, 50), percentile(s, 99); p50 != 25 || p99 != 50 {
		t.Errorf("p50 %v p99 %v", p50, p99)
	}
	if percentile(nil, 50) != 0 || percentile([]float64{7}, 99) != 7 {
		t.Error("edge cases")
	}
}

func TestContinuousBars(t *testing.T) {
	rep := &Report{Latency: &LatencyResult{P50Secs: 0.8, P99Secs: 2.5}, GapScan: &GapScanResult{Candles: 50_000_000, ScanSecs: 2},
		Replay: &ReplayResult{CandlesPerSec: 400_000}}
	bs := continuousBars(rep)
	if len(bs) != 4 || !bs[0].OK || bs[1].OK || !bs[2].OK || bs[3].OK || bs[2].Figure != "gap scan, 50M candles" {
		t.Errorf("bars: %+v", bs)
	}
}

// Steps 8–10 say why they are skipped: --skip-questdb first, then the
// step's own option.
func TestContinuousSkips(t *testing.T) {
	for _, c := range []struct {
		name string
		o    Options
		want string
	}{
		{"skip-questdb", Options{SkipQuestDB: true, LatencyFiles: 2, GapScanRows: 10}, "8. continuous mode latency: skipped (--skip-questdb)\n" +
			"9. gap scan: skipped (--skip-questdb)\n10. fff replay: skipped (--skip-questdb)\n"},
		{"own options", Options{SkipReplay: true}, "8. continuous mode latency: skipped (--latency-files 0)\n" +
			"9. gap scan: skipped (--gapscan-rows 0)\n10. fff replay: skipped (--skip-replay)\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out strings.Builder
			b := &bench{o: c.o, out: &out, rep: &Report{}}
			b.continuous(context.Background(), nil, func(step string, err error) { t.Errorf("%s failed: %v", step, err) })
			if out.String() != c.want {
				t.Errorf("said\n%s\nwant\n%s", out.String(), c.want)
			}
		})
	}
}
