package fetcher_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// fakeWriter answers for the writer's side of the fill protocol: it reads
// every batch published to CANDLES (an ordered consumer: it takes no work)
// and reports each fill batch applied, or refused when told to. Held, it
// reports nothing until released, as a writer whose table lags or is
// suspended.
type fakeWriter struct {
	mu      sync.Mutex
	held    bool
	refuse  bool
	waiting []contract.FillReport
	send    func(contract.FillReport)
}

func startFakeWriter(t *testing.T, js *testenv.JetStream) *fakeWriter {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	fw := &fakeWriter{send: func(r contract.FillReport) {
		data, _ := json.Marshal(r)
		_ = js.Conn.Publish(topology.FillReportSubject(topology.SourceKraken), data)
	}}
	cons, err := js.JS.OrderedConsumer(ctx, topology.StreamCandles, jetstream.OrderedConsumerConfig{FilterSubjects: []string{"candles.>"}})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		var b contract.Batch
		if contract.DecodeBatch(m.Data(), &b) != nil || b.FillID == "" {
			return
		}
		r := contract.FillReport{FillID: b.FillID, Batch: b.BatchIndex, Rows: int64(len(b.Candles)), Kind: contract.FillApplied}
		fw.mu.Lock()
		defer fw.mu.Unlock()
		if fw.refuse {
			r.Kind, r.Reason = contract.FillRefused, "table is read only (fake)"
		}
		if fw.held {
			fw.waiting = append(fw.waiting, r)
			return
		}
		fw.send(r)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cc.Stop)
	return fw
}

func (fw *fakeWriter) hold(h bool) {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	fw.held = h
	if !h {
		for _, r := range fw.waiting {
			fw.send(r)
		}
		fw.waiting = nil
	}
}

func (fw *fakeWriter) setRefuse(r bool) {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	fw.refuse = r
}

// heldReports is how many reports the held writer keeps back.
func (fw *fakeWriter) heldReports() float64 {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	return float64(len(fw.waiting))
}
