package writer

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
)

// nullQuestDB answers like QuestDB's HTTP endpoint without storing
// anything (the null sink of fff bench): it measures the client side alone.
func nullQuestDB(tb testing.TB) string {
	n, err := questdb.StartNullServer()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = n.Close() })
	return n.ILP()
}

// synthBatches makes one-minute candles in batches of 8192, as the parser
// publishes them, with distinct timestamps per series.
func synthBatches(total int, pairs int) []*contract.Batch {
	const per = 8192
	var out []*contract.Batch
	start := int64(1_600_000_000) / 60 * 60
	for p := 0; len(out)*per < total; p = (p + 1) % pairs {
		pair := fmt.Sprintf("PAIR%dUSD", p)
		n := min(per, total-len(out)*per)
		b := &contract.Batch{Source: "kraken", Pair: pair, Base: fmt.Sprintf("PAIR%d", p), Quote: "USD", IntervalMinutes: 1,
			Origin: contract.OriginCSV, FileID: "bench", BatchIndex: uint32(len(out)), Candles: make([]contract.Candle, n)}
		base := start + int64(len(out)/pairs)*per*60
		for i := range b.Candles {
			px := 100 + float64(i%1000)/10
			b.Candles[i] = contract.Candle{Time: base + int64(i)*60, Open: px, High: px + 1, Low: px - 1, Close: px + 0.5,
				VWAP: contract.NoVWAP, Volume: 1.25 + float64(i%7), Trades: int64(i % 50)}
		}
		out = append(out, b)
	}
	return out
}

// benchSink pushes rows through workers parallel sinks, each sending
// requests of flushRows rows, and reports candles/s.
func benchSink(b *testing.B, conf, table string, workers, flushRows, rows int) {
	batches := synthBatches(rows, 8)
	ctx := context.Background()
	sinks := make([]*questdb.ILPSink, workers)
	for i := range sinks {
		s, err := questdb.DialILPSink(ctx, conf, table)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close(ctx)
		sinks[i] = s
	}
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		work := make(chan []*contract.Batch)
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for _, s := range sinks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for req := range work {
					if err := s.Write(ctx, req); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		var req []*contract.Batch
		n := 0
		for _, bt := range batches {
			req = append(req, bt)
			n += len(bt.Candles)
			if n >= flushRows {
				work <- req
				req, n = nil, 0
			}
		}
		if len(req) > 0 {
			work <- req
		}
		close(work)
		wg.Wait()
		select {
		case err := <-errs:
			b.Fatal(err)
		default:
		}
	}
	el := time.Since(start)
	b.ReportMetric(float64(rows*b.N)/el.Seconds(), "candles/s")
	b.ReportMetric(float64(el.Nanoseconds())/float64(rows*b.N), "ns/candle")
}

// go test -run '^$' -bench NullSink ./pipeline/writer/
func BenchmarkSinkNullQuestDB(b *testing.B) {
	conf := nullQuestDB(b)
	for _, w := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			benchSink(b, conf, "bench", w, DefaultFlushRows, 1_000_000)
		})
	}
}

// go test -run '^$' -bench RealQuestDB -benchtime 1x ./pipeline/writer/
// Each run writes new rows into a fresh table (re-writing the same rows
// would measure DEDUP's skip path instead).
func BenchmarkSinkRealQuestDB(b *testing.B) {
	rows := 1_000_000
	for _, w := range []int{1, 2} {
		for _, fr := range []int{100_000, 200_000, 500_000} {
			b.Run(fmt.Sprintf("workers=%d/flush=%d", w, fr), func(b *testing.B) {
				q := testenv.NewQuestDB(b)
				benchSink(b, q.ILP, q.Table, w, fr, rows)
				b.StopTimer()
				if n := q.Count(b); n != int64(rows) {
					b.Fatalf("table holds %d rows, want %d", n, rows)
				}
			})
		}
	}
}

// BenchmarkWriterEndToEnd measures the stage as deployed: batches already in
// an embedded JetStream, the writer (default settings) committing them to the
// real QuestDB, timed until every message is acknowledged.
//
//	go test -run '^$' -bench WriterEndToEnd -benchtime 1x ./pipeline/writer/
func BenchmarkWriterEndToEnd(b *testing.B) {
	const rows = 2_000_000
	batches := synthBatches(rows, 8)
	for range b.N {
		b.StopTimer()
		env := testenv.StartJetStream(b)
		q := testenv.NewQuestDB(b)
		env.PublishBatches(b, batches, "")
		b.StartTimer()
		start := time.Now()
		stop := startWriter(b, Config{JS: env.JS, Log: testenv.Logger(b), QuestDB: q.Config()})
		waitDrained(b, env.JS, 5*time.Minute)
		el := time.Since(start)
		b.StopTimer()
		stop()
		if n := q.Count(b); n != rows {
			b.Fatalf("table holds %d rows, want %d", n, rows)
		}
		b.ReportMetric(float64(rows)/el.Seconds(), "candles/s")
	}
}
