package benchmark

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/feefifofunds/feefifofunds/pipeline/ingest"
	"github.com/feefifofunds/feefifofunds/pipeline/local"
	"github.com/feefifofunds/feefifofunds/pipeline/parser"
	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
	"github.com/feefifofunds/feefifofunds/pipeline/writer"
)

// pipelineRun is one run of the real stages on an embedded JetStream.
type pipelineRun struct {
	cpu     *cpuUse
	store   string
	qdb     questdb.Config
	profile string
}

// runPipeline starts an embedded JetStream and the parser and writer stages,
// submits every file of dir the way the watcher does (ingest.Load, which
// also runs the ledger keeper) and returns when the ledger has every file
// committed. It checks the committed row count against want.
func (b *bench) runPipeline(ctx context.Context, dir string, want int64, p pipelineRun) (el time.Duration, err error) {
	if p.cpu == nil {
		p.cpu = &cpuUse{}
	}
	lp, err := local.Start(ctx, local.Options{Store: p.store, Name: "fff-bench", Log: b.stageLog,
		Parser: &parser.Config{Workers: b.o.Parsers, AlignWindow: b.o.AlignWindow},
		Writer: &writer.Config{QuestDB: p.qdb, Workers: b.o.Writers, FlushRows: b.o.FlushRows, SummaryEvery: time.Hour,
			ApplyQueue: b.o.ApplyQueue, WithoutPairColumns: b.o.WithoutPairColumns}})
	if err != nil {
		return 0, err
	}
	defer func() {
		stopPipeline(lp, &err)
		os.RemoveAll(p.store)
	}()
	js := lp.JS

	if p.profile != "" {
		f, err := os.Create(p.profile)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return 0, err
		}
		defer pprof.StopCPUProfile()
	}
	cpu0, qcpu0 := selfCPU(), questdbCPU(b.o.QuestDB.ILP)
	defer func() {
		p.cpu.self = selfCPU() - cpu0
		if qcpu0 >= 0 {
			p.cpu.questdb = questdbCPU(b.o.QuestDB.ILP) - qcpu0
		}
	}()
	start := time.Now()
	sum, err := ingest.Load(lp.Context(), js, ingest.Options{Dir: dir, Log: b.stageLog})
	el = time.Since(start)
	if serr := lp.Err(); serr != nil {
		return el, serr
	}
	if err != nil {
		return el, err
	}
	for _, c := range []struct {
		stream, name string
		n            *int
	}{{topology.StreamCandles, topology.ConsumerWriter, &p.cpu.writerRedelivered}, {topology.StreamFiles, topology.ConsumerParser, &p.cpu.parserRedelivered}} {
		if cons, cerr := js.Consumer(ctx, c.stream, c.name); cerr == nil {
			if info, ierr := cons.Info(ctx); ierr == nil {
				// Every delivery takes a consumer sequence; redeliveries
				// take one without a new stream message.
				*c.n = int(info.Delivered.Consumer) - int(info.Delivered.Stream)
			}
		}
	}
	if sum.Failed > 0 {
		f := sum.Failures[0]
		return el, fmt.Errorf("%d file(s) failed (first: %s: %s: %s)", sum.Failed, f.Name, f.State, f.Reason)
	}
	if sum.Records != want {
		return el, fmt.Errorf("the ledger says %d rows committed, %d were generated", sum.Records, want)
	}
	return el, nil
}

// questdbRun is step 4: the pipeline into a fresh table of the given
// partitioning, checked by count() and dropped afterwards.
func (b *bench) questdbRun(ctx context.Context, dir, table, partitionBy, profile string) (*PipelineResult, error) {
	if err := b.createTable(ctx, table, partitionBy); err != nil {
		return nil, err
	}
	defer b.dropTable(table)
	q := questdb.Config{ILP: b.o.QuestDB.ILP, PG: b.o.QuestDB.PG, Table: table}
	var visible time.Duration
	var cpu cpuUse
	walBefore, okBefore := b.walCounters(ctx)
	committed, err := b.runPipeline(ctx, dir, b.o.Rows, pipelineRun{cpu: &cpu, store: filepath.Join(b.work, "js-"+table), qdb: q, profile: profile})
	if err != nil {
		return nil, err
	}
	t := time.Now()
	n, err := b.countApplied(ctx, table)
	if err != nil {
		return nil, err
	}
	visible = committed + time.Since(t)
	walAfter, okAfter := b.walCounters(ctx)
	if n != b.o.Rows {
		return nil, fmt.Errorf("table %s holds %d rows, %d were generated", table, n, b.o.Rows)
	}
	return &PipelineResult{Table: table, Rows: n, CommittedSecs: committed.Seconds(), VisibleSecs: visible.Seconds(),
		CandlesPerSec: float64(n) / visible.Seconds(), CommittedRate: float64(n) / committed.Seconds(),
		PipelineCPU: cpu.self, QuestDBCPU: max(0, cpu.questdb),
		WriteAmplification: amplification(walBefore, walAfter, okBefore, okAfter),
		WriterRedelivered:  cpu.writerRedelivered, ParserRedelivered: cpu.parserRedelivered}, nil
}

// stopPipeline is a step's deferred stop of its embedded pipeline: a failed
// stop fails a step that otherwise went well, and it reports whether it did
// so that a step can drop the result it had.
func stopPipeline(lp *local.Pipeline, err *error) bool {
	if serr := lp.Stop(); serr != nil && *err == nil {
		*err = serr
		return true
	}
	return false
}

// tableName is a fresh table name for a step, so that a bench never writes
// into a table an earlier or a concurrent run against the same QuestDB left.
func tableName(prefix string) string {
	return fmt.Sprintf("%s_%d", prefix, time.Now().UnixNano()%1_000_000_000)
}

// createTable makes the candle table with the schema migrations, or a copy
// with another partitioning (not recorded as migrated: the writer does not
// migrate in the bench).
func (b *bench) createTable(ctx context.Context, table, partitionBy string) error {
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if partitionBy == "MONTH" {
		_, err := questdb.Up(cctx, b.pool, table)
		return err
	}
	migs, err := questdb.Migrations()
	if err != nil {
		return err
	}
	for _, m := range migs {
		for _, st := range m.Statements(true, table) {
			st = strings.ReplaceAll(st, "PARTITION BY MONTH", "PARTITION BY "+partitionBy)
			if _, err := b.pool.Exec(cctx, st); err != nil {
				return fmt.Errorf("create %s: %w", table, err)
			}
		}
	}
	return nil
}

func (b *bench) dropTable(table string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := b.pool.Exec(ctx, "DROP TABLE IF EXISTS "+table); err != nil {
		b.say("  could not drop %s: %v", table, err)
	}
}

func (b *bench) countApplied(ctx context.Context, table string) (int64, error) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := questdb.WaitApplied(cctx, b.pool, table); err != nil {
		return 0, err
	}
	var n int64
	if err := b.pool.QueryRow(cctx, "SELECT count() FROM "+table).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s: %w", table, err)
	}
	return n, nil
}

// nullRun is step 6.
func (b *bench) nullRun(ctx context.Context, dir string) (*PipelineResult, error) {
	sink, err := questdb.StartNullServer()
	if err != nil {
		return nil, err
	}
	defer sink.Close()
	q := questdb.Config{ILP: sink.ILP(), PG: b.o.QuestDB.PG, Table: "fff_bench_null"}
	profile := ""
	if b.o.CPUProfile != "" {
		profile = b.o.CPUProfile + ".null"
	}
	var cpu cpuUse
	el, err := b.runPipeline(ctx, dir, b.o.Rows, pipelineRun{cpu: &cpu, store: filepath.Join(b.work, "js-null"), qdb: q, profile: profile})
	if err != nil {
		return nil, err
	}
	return &PipelineResult{Rows: b.o.Rows, CommittedSecs: el.Seconds(), VisibleSecs: el.Seconds(),
		CandlesPerSec: float64(b.o.Rows) / el.Seconds(), CommittedRate: float64(b.o.Rows) / el.Seconds(),
		PipelineCPU: cpu.self, Requests: sink.Requests.Load(), ILPBytes: sink.Bytes.Load(),
		WriterRedelivered: cpu.writerRedelivered, ParserRedelivered: cpu.parserRedelivered}, nil
}
