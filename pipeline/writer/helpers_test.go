package writer

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// fileBatches splits candles into CSV batches of size n, as the parser does.
func fileBatches(pair, base, quote string, interval uint32, fileID string, candles []contract.Candle, n int) []*contract.Batch {
	var out []*contract.Batch
	for i := 0; i < len(candles); i += n {
		j := min(i+n, len(candles))
		out = append(out, &contract.Batch{
			Source: topology.SourceKraken, Pair: pair, Base: base, Quote: quote, IntervalMinutes: interval,
			Origin: contract.OriginCSV, FileID: fileID, FileName: fmt.Sprintf("%s_%d.csv", pair, interval),
			BatchIndex: uint32(len(out)), Candles: append([]contract.Candle(nil), candles[i:j]...),
		})
	}
	if len(out) > 0 {
		out[len(out)-1].Last = true
	}
	return out
}

// row is a candle as QuestDB returns it.
type row struct {
	ts                                time.Time
	source, pair, base, quote, origin string
	interval                          int32
	open, high, low, close, volume    float64
	vwap                              *float64
	trades                            *int64
}

func queryRows(t testing.TB, q *testenv.QuestDB, table string) []row {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := questdb.WaitApplied(ctx, q.Pool, table); err != nil {
		t.Fatal(err)
	}
	rs, err := q.Pool.Query(ctx, `SELECT ts, source, pair, base, quote, origin, interval_minutes, open, high, low, close, vwap, volume, trades
		FROM `+table+` ORDER BY pair, interval_minutes, ts`)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out []row
	for rs.Next() {
		var r row
		if err := rs.Scan(&r.ts, &r.source, &r.pair, &r.base, &r.quote, &r.origin, &r.interval,
			&r.open, &r.high, &r.low, &r.close, &r.vwap, &r.volume, &r.trades); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// wantRows is what QuestDB must hold for batches, in queryRows' order.
func assertRows(t testing.TB, got []row, batches ...[]*contract.Batch) {
	t.Helper()
	type key struct {
		pair string
		iv   uint32
		ts   int64
	}
	want := map[key]struct {
		b *contract.Batch
		c contract.Candle
	}{}
	for _, bs := range batches {
		for _, b := range bs {
			for _, c := range b.Candles {
				want[key{b.Pair, b.IntervalMinutes, c.Time}] = struct {
					b *contract.Batch
					c contract.Candle
				}{b, c}
			}
		}
	}
	if len(got) != len(want) {
		t.Fatalf("QuestDB holds %d rows, want %d", len(got), len(want))
	}
	for _, r := range got {
		w, ok := want[key{r.pair, uint32(r.interval), r.ts.Unix()}]
		if !ok {
			t.Fatalf("unexpected row %+v", r)
		}
		b, c := w.b, w.c
		if r.source != b.Source || r.base != b.Base || r.quote != b.Quote || r.origin != b.Origin.String() {
			t.Fatalf("row %s %v: symbols %s/%s/%s/%s, want %s/%s/%s/%s", r.pair, r.ts, r.source, r.base, r.quote, r.origin,
				b.Source, b.Base, b.Quote, b.Origin)
		}
		if r.open != c.Open || r.high != c.High || r.low != c.Low || r.close != c.Close || r.volume != c.Volume {
			t.Fatalf("row %s %v: ohlcv %v %v %v %v %v, want %v %v %v %v %v", r.pair, r.ts, r.open, r.high, r.low, r.close, r.volume,
				c.Open, c.High, c.Low, c.Close, c.Volume)
		}
		switch {
		case c.HasVWAP() && (r.vwap == nil || *r.vwap != c.VWAP):
			t.Fatalf("row %s %v: vwap %v, want %v", r.pair, r.ts, r.vwap, c.VWAP)
		case !c.HasVWAP() && r.vwap != nil && !math.IsNaN(*r.vwap):
			t.Fatalf("row %s %v: vwap %v, want NULL", r.pair, r.ts, *r.vwap)
		case c.HasTrades() && (r.trades == nil || *r.trades != c.Trades):
			t.Fatalf("row %s %v: trades %v, want %d", r.pair, r.ts, r.trades, c.Trades)
		case !c.HasTrades() && r.trades != nil:
			t.Fatalf("row %s %v: trades %d, want NULL", r.pair, r.ts, *r.trades)
		}
	}
}

// waitDrained waits until the writer consumer has acknowledged everything.
func waitDrained(t testing.TB, js jetstream.JetStream, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := js.Consumer(ctx, topology.StreamCandles, topology.ConsumerWriter)
		var info *jetstream.ConsumerInfo
		if err == nil {
			info, err = c.Info(ctx)
		}
		cancel()
		if err == nil && info.NumPending == 0 && info.NumAckPending == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("writer consumer not drained after %s: %+v %v", timeout, info, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func consumerInfo(t testing.TB, js jetstream.JetStream) *jetstream.ConsumerInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := js.Consumer(ctx, topology.StreamCandles, topology.ConsumerWriter)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// streamMsgs reads every message of a stream on subject.
func streamMsgs(t testing.TB, js jetstream.JetStream, stream, subject string) []jetstream.Msg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	if n == 0 {
		return nil
	}
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		t.Fatal(err)
	}
	var out []jetstream.Msg
	b, err := c.Fetch(int(n), jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for m := range b.Messages() {
		out = append(out, m)
	}
	return out
}
