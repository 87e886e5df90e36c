package benchmark

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/jsplumb"
	"github.com/feefifofunds/feefifofunds/pipeline/kraken"
	"github.com/feefifofunds/feefifofunds/pipeline/local"
	"github.com/feefifofunds/feefifofunds/pipeline/parser"
	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
	"github.com/feefifofunds/feefifofunds/pipeline/replay"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// ReplayResult is step 10: `fff replay`'s code (replay.Run, migrations on)
// re-delivering a CANDLES stream that holds the set into a fresh table,
// timed until count() sees every row.
type ReplayResult struct {
	Table    string  `json:"table"`
	Candles  int64   `json:"candles"`
	Messages uint64  `json:"messages"`
	FillSecs float64 `json:"fill_seconds"` // publishing the set's batches to CANDLES (not timed in the rate)
	// RunSecs is replay.Run (which waits for the WAL itself), VisibleSecs
	// until count() saw every row; the rate is on VisibleSecs.
	// WrittenSecs is until QuestDB acknowledged the last request.
	WrittenSecs   float64 `json:"written_seconds"`
	RunSecs       float64 `json:"run_seconds"`
	VisibleSecs   float64 `json:"visible_seconds"`
	CandlesPerSec float64 `json:"candles_per_s"`
	// CPU seconds used meanwhile by this process and by QuestDB's (when it
	// runs on this machine).
	PipelineCPU float64 `json:"pipeline_cpu_seconds"`
	QuestDBCPU  float64 `json:"questdb_cpu_seconds,omitempty"`
}

// replayStep is step 10. The stream is filled the way the parsers fill it
// (the set's files read by the parser's reader, batches of
// parser.DefaultBatchSize on candles.kraken.<pair>.1) on an embedded
// JetStream of its own, so the step does not depend on step 5.
func (b *bench) replayStep(ctx context.Context, files []File) (res *ReplayResult, err error) {
	store := filepath.Join(b.work, "js-replay")
	lp, err := local.Start(ctx, local.Options{Store: store, Name: "fff-bench-replay", Log: b.stageLog})
	if err != nil {
		return nil, err
	}
	defer func() {
		if stopPipeline(lp, &err) {
			res = nil
		}
		os.RemoveAll(store)
	}()
	t0 := time.Now()
	var want int64
	for _, f := range files {
		n, err := fillCandles(ctx, lp, f)
		if err != nil {
			return nil, err
		}
		want += n
	}
	res = &ReplayResult{Table: tableName("fff_bench_replay"), FillSecs: time.Since(t0).Seconds()}
	defer b.dropTable(res.Table)

	cpu0, qcpu0 := selfCPU(), questdbCPU(b.o.QuestDB.ILP)
	start := time.Now()
	st, err := replay.Run(ctx, replay.Config{JS: lp.JS, Log: b.stageLog, Migrate: true,
		QuestDB: questdb.Config{ILP: b.o.QuestDB.ILP, PG: b.o.QuestDB.PG, Table: res.Table},
		Workers: b.o.Writers, FlushRows: b.o.FlushRows})
	res.RunSecs = time.Since(start).Seconds()
	if err != nil {
		return nil, fmt.Errorf("replay into %s: %w", res.Table, err)
	}
	n, err := b.countApplied(ctx, res.Table)
	if err != nil {
		return nil, err
	}
	res.VisibleSecs = time.Since(start).Seconds()
	res.PipelineCPU = selfCPU() - cpu0
	if qcpu0 >= 0 {
		res.QuestDBCPU = max(0, questdbCPU(b.o.QuestDB.ILP)-qcpu0)
	}
	res.Candles, res.Messages, res.WrittenSecs = n, st.Messages, st.Elapsed.Seconds()
	if st.Written != want || st.Rejected > 0 || n != want {
		return nil, fmt.Errorf("replay into %s: %d candles in the stream, %d written, %d refused, count() %d", res.Table, want, st.Written, st.Rejected, n)
	}
	res.CandlesPerSec = float64(n) / res.VisibleSecs
	return res, nil
}

// fillCandles publishes one file's candles as the parser would: batches of
// parser.DefaultBatchSize, the last one marked, message ids from the file.
func fillCandles(ctx context.Context, lp *local.Pipeline, f File) (int64, error) {
	fh, err := os.Open(f.Path)
	if err != nil {
		return 0, err
	}
	defer fh.Close()
	name := filepath.Base(f.Path)
	baseAsset, quoteAsset, err := kraken.SplitPair(f.Pair)
	if err != nil {
		return 0, err
	}
	sum := sha256.Sum256([]byte(name))
	batch := contract.Batch{Source: topology.SourceKraken, Pair: f.Pair, Base: baseAsset, Quote: quoteAsset, IntervalMinutes: 1,
		Origin: contract.OriginCSV, FileID: hex.EncodeToString(sum[:]), FileName: name}
	pub := jsplumb.NewPublisher(lp.JS, jsplumb.WithWindow(64))
	subj := topology.CandleSubject(topology.SourceKraken, f.Pair, 1)
	rd := parser.NewReader(fh, 1)
	var c contract.Candle
	var n int64
	flush := func(last bool) error {
		batch.Last = last
		data, err := contract.AppendBatch(pub.Buffer(), &batch)
		if err != nil {
			return fmt.Errorf("encode batch %d of %s: %w", batch.BatchIndex, name, err)
		}
		m := nats.NewMsg(subj)
		m.Data = data
		if err := pub.Publish(ctx, m, batch.MsgID()); err != nil {
			return fmt.Errorf("publish batch %d of %s: %w", batch.BatchIndex, name, err)
		}
		n += int64(len(batch.Candles))
		batch.BatchIndex++
		batch.Candles = batch.Candles[:0]
		return nil
	}
	for {
		err := rd.Next(&c)
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, fmt.Errorf("%s: %w", name, err)
		}
		if len(batch.Candles) == parser.DefaultBatchSize {
			if err := flush(false); err != nil {
				return n, err
			}
		}
		batch.Candles = append(batch.Candles, c)
	}
	if err := flush(true); err != nil {
		return n, err
	}
	if err := pub.Wait(ctx); err != nil {
		return n, fmt.Errorf("publish %s: %w", name, err)
	}
	return n, nil
}
