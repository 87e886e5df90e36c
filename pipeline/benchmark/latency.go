package benchmark

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/ledger"
	"github.com/feefifofunds/feefifofunds/pipeline/local"
	"github.com/feefifofunds/feefifofunds/pipeline/parser"
	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
	"github.com/feefifofunds/feefifofunds/pipeline/watcher"
	"github.com/feefifofunds/feefifofunds/pipeline/writer"
)

// Bars of the continuous-mode steps (docs/PERFORMANCE.md).
const (
	barLatencyP50  = 1.0     // s, file dropped → queryable, median
	barLatencyP99  = 2.0     // s, the same, 99th percentile
	barGapScanSecs = 3.0     // s, one scan of the whole table
	barReplay      = 500_000 // candles/s, fff replay until queryable
)

// LatencyRowsPerFile is the size of each file the latency step drops.
const LatencyRowsPerFile = 1000

// LatencyResult is step 8: files dropped one after another into the inbox
// of a running pipeline (as `fff up` runs it), each timed from its rename
// into the inbox until it is in ingested/ and count() sees its rows.
type LatencyResult struct {
	Table       string  `json:"table"`
	Files       int     `json:"files"`
	RowsPerFile int64   `json:"rows_per_file"`
	SettleSecs  float64 `json:"settle_seconds"` // the watcher's settle delay, included in every figure
	P50Secs     float64 `json:"p50_seconds"`
	P99Secs     float64 `json:"p99_seconds"`
	MaxSecs     float64 `json:"max_seconds"`
	MinSecs     float64 `json:"min_seconds"`
	MeanSecs    float64 `json:"mean_seconds"`
	// Phases split each drop by what the LEDGER bucket said and when (the
	// median and the largest over the drops).
	Phases  []LatencyPhase `json:"phases"`
	Samples []float64      `json:"samples_seconds"`
}

// LatencyPhase is one part of a drop's latency.
type LatencyPhase struct {
	Phase   string  `json:"phase"`
	P50Secs float64 `json:"p50_seconds"`
	MaxSecs float64 `json:"max_seconds"`
}

// latencyPhases name the parts of a drop: from the rename to the first
// ledger entry (QUEUED), to PARSED, to COMMITTED, to the move into
// ingested/, and the count() that checks the rows.
var latencyPhases = []string{
	"dropped → QUEUED (settle delay, watcher tick, hash, store, publish)",
	"QUEUED → PARSED (parser fetch, parse, publish the batch)",
	"PARSED → COMMITTED (writer flush interval, ILP, WAL apply, report)",
	"COMMITTED → in ingested/ (ledger watch, move)",
	"in ingested/ → count() sees the rows",
}

// latency is step 8.
func (b *bench) latency(ctx context.Context) (res *LatencyResult, err error) {
	n := b.o.LatencyFiles
	settle := b.o.LatencySettle
	if settle <= 0 {
		settle = watcher.DefaultSettle
	}
	dir := filepath.Join(b.work, "latency")
	stage, inbox := filepath.Join(dir, "stage"), filepath.Join(dir, "inbox")
	if err := os.MkdirAll(inbox, 0o755); err != nil {
		return nil, fmt.Errorf("latency inbox: %w", err)
	}
	defer os.RemoveAll(dir)
	// One more file than measured: the first warms the pipeline up (its
	// ILP connection, the pools) and proves the watcher is watching.
	files, err := Generate(Spec{Dir: stage, Rows: int64(n+1) * LatencyRowsPerFile, Files: n + 1, Seed: b.o.Seed + 1000}, Kraken)
	if err != nil {
		return nil, err
	}
	table := tableName("fff_bench_latency")
	if err := b.createTable(ctx, table, "MONTH"); err != nil {
		return nil, err
	}
	defer b.dropTable(table)

	lp, err := local.Start(ctx, local.Options{Store: filepath.Join(dir, "js"), Name: "fff-bench-latency", Log: b.stageLog,
		Keeper:  &ledger.Config{},
		Watcher: &watcher.Config{Inbox: inbox, Settle: settle, NoLedgerKeeper: true},
		Parser:  &parser.Config{Workers: b.o.Parsers},
		Writer: &writer.Config{QuestDB: questdb.Config{ILP: b.o.QuestDB.ILP, PG: b.o.QuestDB.PG, Table: table},
			Workers: b.o.Writers, FlushRows: b.o.FlushRows, SummaryEvery: time.Hour}})
	if err != nil {
		return nil, err
	}
	defer func() {
		if stopPipeline(lp, &err) {
			res = nil
		}
	}()
	seen, stopSeen, err := watchLedger(lp.Context(), lp.JS)
	if err != nil {
		return nil, err
	}
	defer stopSeen()

	res = &LatencyResult{Table: table, Files: n, RowsPerFile: LatencyRowsPerFile, SettleSecs: settle.Seconds()}
	phases := make([][]float64, len(latencyPhases))
	for i, f := range files {
		d, err := b.drop(lp, f, inbox, table)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			continue // the warm-up
		}
		res.Samples = append(res.Samples, d.total.Seconds())
		for j, t := range d.phases(seen.times(filepath.Base(f.Path))) {
			phases[j] = append(phases[j], t.Seconds())
		}
	}
	if err := lp.Err(); err != nil {
		return nil, err
	}
	s := slices.Sorted(slices.Values(res.Samples))
	res.P50Secs, res.P99Secs, res.MinSecs, res.MaxSecs = percentile(s, 50), percentile(s, 99), s[0], s[len(s)-1]
	for _, v := range s {
		res.MeanSecs += v / float64(len(s))
	}
	for j, name := range latencyPhases {
		p := slices.Sorted(slices.Values(phases[j]))
		if len(p) > 0 {
			res.Phases = append(res.Phases, LatencyPhase{Phase: name, P50Secs: percentile(p, 50), MaxSecs: p[len(p)-1]})
		}
	}
	return res, nil
}

// dropTimes are the instants of one drop.
type dropTimes struct {
	dropped, moved, visible time.Time
	total                   time.Duration
}

// phases splits a drop by the ledger's QUEUED, PARSED and COMMITTED
// instants (zero durations where the ledger watch missed a state).
func (d dropTimes) phases(states map[string]time.Time) []time.Duration {
	marks := []time.Time{d.dropped, states[contract.FileQueued], states[contract.FileParsed], states[contract.FileCommitted], d.moved, d.visible}
	out := make([]time.Duration, len(marks)-1)
	for i := range out {
		if !marks[i].IsZero() && !marks[i+1].IsZero() {
			out[i] = marks[i+1].Sub(marks[i])
		}
	}
	return out
}

// drop renames a file into the inbox (as a user's copy would land: written
// elsewhere, then renamed) and waits until it is in ingested/ and count()
// sees its rows.
func (b *bench) drop(lp *local.Pipeline, f File, inbox, table string) (dropTimes, error) {
	ctx, cancel := context.WithTimeout(lp.Context(), 2*time.Minute)
	defer cancel()
	name := filepath.Base(f.Path)
	done, rejected := filepath.Join(inbox, "ingested", name), filepath.Join(inbox, "rejected", name)
	var d dropTimes
	d.dropped = time.Now()
	if err := os.Rename(f.Path, filepath.Join(inbox, name)); err != nil {
		return d, fmt.Errorf("drop %s: %w", name, err)
	}
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(done); err == nil {
			break
		}
		if _, err := os.Stat(rejected); err == nil {
			return d, fmt.Errorf("drop %s: the watcher rejected it", name)
		}
		select {
		case <-ctx.Done():
			if err := lp.Err(); err != nil {
				return d, err
			}
			return d, fmt.Errorf("drop %s: not in ingested/ after %s: %w", name, time.Since(d.dropped).Round(time.Millisecond), ctx.Err())
		case <-tick.C:
		}
	}
	d.moved = time.Now()
	var got int64
	if err := b.pool.QueryRow(ctx, "SELECT count() FROM "+table+" WHERE pair = $1", f.Pair).Scan(&got); err != nil {
		return d, fmt.Errorf("count %s in %s: %w", f.Pair, table, err)
	}
	d.visible = time.Now()
	d.total = d.visible.Sub(d.dropped)
	if got != f.Rows {
		return d, fmt.Errorf("%s is in ingested/ but count() sees %d of its %d rows", name, got, f.Rows)
	}
	return d, nil
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted)) + 0.999999)
	return sorted[min(max(rank, 1), len(sorted))-1]
}
