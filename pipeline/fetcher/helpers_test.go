package fetcher_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/fetcher"
	"github.com/feefifofunds/feefifofunds/pipeline/kraken/krakentest"
	"github.com/feefifofunds/feefifofunds/pipeline/metrics"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// The fake's clock in most tests: the open hourly candle is 14:00, the
// oldest servable one 720 hours earlier.
var now = time.Date(2025, 1, 10, 14, 30, 0, 0, time.UTC)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

type env struct {
	t       *testing.T
	js      *testenv.JetStream
	fake    *krakentest.Server
	reg     *metrics.Registry
	writer  *fakeWriter
	cfg     fetcher.Config
	mu      sync.Mutex
	cancel  context.CancelFunc
	done    chan error
	running bool
}

func newEnv(t *testing.T, opts ...krakentest.Option) *env {
	t.Helper()
	js := testenv.StartJetStream(t)
	fake := krakentest.New(append([]krakentest.Option{krakentest.WithNow(now)}, opts...)...)
	t.Cleanup(fake.Close)
	e := &env{t: t, js: js, fake: fake, reg: metrics.NewRegistry(), writer: startFakeWriter(t, js)}
	e.cfg = fetcher.Config{
		JS:        js.JS,
		Log:       testenv.Logger(t),
		Metrics:   e.reg,
		KrakenURL: fake.URL,
		Rate:      1000,
		Now:       fake.Now,
		Backoff:   fetcher.Backoff{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond},
	}
	return e
}

// start runs the fetcher until the test ends (or stop).
func (e *env) start() {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done, e.running = cancel, make(chan error, 1), true
	cfg := e.cfg
	done := e.done
	go func() { done <- fetcher.Run(ctx, cfg) }()
	e.t.Cleanup(e.stop)
}

func (e *env) stop() {
	if !e.running {
		return
	}
	e.running = false
	e.cancel()
	select {
	case err := <-e.done:
		if err != nil {
			e.t.Errorf("fetcher.Run returned %v", err)
		}
	case <-time.After(15 * time.Second):
		e.t.Error("fetcher did not stop within 15s of cancel")
	}
}

// pub publishes bytes on fills.kraken exactly as `nats pub` does: a core
// NATS publish, no headers, no message id.
func (e *env) pub(s string) {
	e.t.Helper()
	if err := e.js.Conn.Publish(topology.FillSubject("kraken"), []byte(s)); err != nil {
		e.t.Fatal(err)
	}
	if err := e.js.Conn.Flush(); err != nil {
		e.t.Fatal(err)
	}
}

// fill publishes a fill request and waits for its gap record, filed under
// the request's own interval and start and under pair, the name the fetcher
// gives it (a request may spell the pair another way).
func (e *env) fill(body, pair string) contract.GapRecord {
	e.t.Helper()
	var req struct {
		Interval int       `json:"interval"`
		Start    time.Time `json:"start"`
	}
	if err := json.Unmarshal([]byte(body), &req); err != nil {
		e.t.Fatalf("request %s: %v", body, err)
	}
	e.pub(body)
	return e.waitGap(contract.GapKey("kraken", pair, req.Interval, req.Start), 15*time.Second)
}

// gapBucket is the bucket of gap records.
func (e *env) gapBucket() jetstream.KeyValue {
	e.t.Helper()
	kv, err := e.js.JS.KeyValue(context.Background(), topology.BucketGaps)
	if err != nil {
		e.t.Fatal(err)
	}
	return kv
}

// putGap stores a gap record under its key the way the gap scanner does
// before it asks for the fill.
func (e *env) putGap(rec contract.GapRecord) {
	e.t.Helper()
	b, err := json.Marshal(rec)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.gapBucket().Create(context.Background(), rec.Key, b); err != nil {
		e.t.Fatal(err)
	}
}

// waitGap waits until the gap record under key is in a final state.
func (e *env) waitGap(key string, timeout time.Duration) contract.GapRecord {
	e.t.Helper()
	kv := e.gapBucket()
	deadline := time.Now().Add(timeout)
	for {
		entry, err := kv.Get(context.Background(), key)
		if err == nil {
			var r contract.GapRecord
			if err := json.Unmarshal(entry.Value(), &r); err != nil {
				e.t.Fatalf("gap record %s: %v", key, err)
			}
			switch r.State {
			case contract.GapFilled, contract.GapNoTrades, contract.GapUnfillable, contract.GapFailed:
				return r
			}
		} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
			e.t.Fatal(err)
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("gap record %s not final after %s", key, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// batches reads every batch on subject in the CANDLES stream.
func (e *env) batches(subject string) []contract.Batch {
	e.t.Helper()
	ctx := context.Background()
	cons, err := e.js.JS.OrderedConsumer(ctx, topology.StreamCandles, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	n := int(info.NumPending)
	var out []contract.Batch
	for len(out) < n {
		msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			e.t.Fatalf("read %s: %v", subject, err)
		}
		var b contract.Batch
		if err := contract.DecodeBatch(msg.Data(), &b); err != nil {
			e.t.Fatal(err)
		}
		if h := msg.Headers().Get(jetstream.MsgIDHeader); h != b.MsgID() {
			e.t.Errorf("batch %d msg id header %q, want %q", b.BatchIndex, h, b.MsgID())
		}
		out = append(out, b)
	}
	return out
}

func candlesOf(bs []contract.Batch) []contract.Candle {
	var out []contract.Candle
	for _, b := range bs {
		out = append(out, b.Candles...)
	}
	return out
}

// deadLetters returns the DLQ messages of the fetcher.
func (e *env) deadLetters(want int, timeout time.Duration) []*nats.Msg {
	e.t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	for {
		s, err := e.js.JS.Stream(ctx, topology.StreamDLQ)
		if err != nil {
			e.t.Fatal(err)
		}
		info, err := s.Info(ctx, jetstream.WithSubjectFilter(topology.DLQSubject("fetcher")))
		if err != nil {
			e.t.Fatal(err)
		}
		if int(info.State.Msgs) >= want || time.Now().After(deadline) {
			var out []*nats.Msg
			for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
				m, err := s.GetMsg(ctx, seq)
				if err != nil {
					continue
				}
				out = append(out, &nats.Msg{Subject: m.Subject, Data: m.Data, Header: m.Header})
			}
			return out
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func hourly(from time.Time, n int, base float64) []contract.Candle {
	out := make([]contract.Candle, n)
	for i := range out {
		p := base + 10*float64(i)
		out[i] = contract.Candle{Time: from.Unix() + int64(i)*3600, Open: p, High: p + 50.5, Low: p - 20, Close: p + 5, VWAP: p + 2.5, Volume: 1.25 + float64(i), Trades: int64(10 + i)}
	}
	return out
}

func sameCandles(t *testing.T, got, want []contract.Candle) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d candles, want %d\ngot  %+v\nwant %+v", len(got), len(want), got, want)
	}
	eq := func(x, y float64) bool { return math.Abs(x-y) <= 1e-9*math.Max(1, math.Abs(y)) }
	for i := range want {
		g, w := got[i], want[i]
		if g.Time != w.Time || g.Trades != w.Trades || !eq(g.Open, w.Open) || !eq(g.High, w.High) || !eq(g.Low, w.Low) ||
			!eq(g.Close, w.Close) || !eq(g.Volume, w.Volume) || !eq(g.VWAP, w.VWAP) {
			t.Errorf("candle %d (%s):\n got  %+v\n want %+v", i, time.Unix(w.Time, 0).UTC().Format(time.RFC3339), g, w)
		}
	}
}
