package main

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/deadletter"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

func testBatch(t *testing.T) []byte {
	t.Helper()
	b := &contract.Batch{Source: "kraken", Pair: "XBTUSD", Base: "BTC", Quote: "USD", IntervalMinutes: 1440,
		Origin: contract.OriginCSV, FileID: "f1", FileName: "XBTUSD_1440.csv", BatchIndex: 3, Last: true,
		Candles: []contract.Candle{
			{Time: 1381017600, Open: 122, High: 122, Low: 122, Close: 122, VWAP: contract.NoVWAP, Volume: 0.1, Trades: 1},
			{Time: 1381104000, Open: 123.61, High: 123.61, Low: 123.61, Close: 123.61, VWAP: contract.NoVWAP, Volume: 0.1, Trades: contract.NoTrades},
		}}
	data, err := contract.EncodeBatch(b)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestDLQCommands(t *testing.T) {
	env := testenv.StartJetStream(t)
	nats_ := "--nats=" + env.URL
	ctx := context.Background()
	batch := testBatch(t)
	if err := deadletter.Publish(ctx, env.JS, deadletter.Letter{Stage: "writer", Subject: "candles.kraken.XBTUSD.1440",
		Stream: "CANDLES", Sequence: 7, Deliveries: 1, Data: batch,
		Header: nats.Header{"X-Custom": {"kept"}, jetstream.MsgIDHeader: {"csv:f1:3"}},
		Reason: "QuestDB rejected the request: 400 failed to parse line protocol"}); err != nil {
		t.Fatal(err)
	}
	if err := deadletter.Publish(ctx, env.JS, deadletter.Letter{Stage: "parser", Subject: "files.work",
		Stream: "FILES", Sequence: 2, Data: []byte(`{"file_id":"abc"}`), Reason: "object missing"}); err != nil {
		t.Fatal(err)
	}

	out, err := runFFF(t, "dlq", "list", nats_, "--stage=", "--json=false")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "SEQ") || !strings.Contains(lines[1], "writer") ||
		!strings.Contains(lines[1], "candles.kraken.XBTUSD.1440") || !strings.Contains(lines[1], "QuestDB rejected") ||
		!strings.Contains(lines[2], "parser") || !strings.Contains(lines[2], "files.work") {
		t.Fatalf("list:\n%s", out)
	}

	out, err = runFFF(t, "dlq", "list", nats_, "--stage", "writer", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var e deadletter.Entry
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &e); err != nil {
		t.Fatalf("json list %q: %v", out, err)
	}
	if e.Stage != "writer" || e.OriginalSubject != "candles.kraken.XBTUSD.1440" || e.Size != len(batch) ||
		time.Since(e.FailedAt) > time.Minute || !strings.Contains(e.Reason, "400") {
		t.Fatalf("entry %+v", e)
	}
	seq := strconv.FormatUint(e.Seq, 10)

	out, err = runFFF(t, "dlq", "show", nats_, seq)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Fff-Reason: QuestDB rejected the request", "Fff-Original-Subject: candles.kraken.XBTUSD.1440",
		"Fff-Original-Sequence: 7", "X-Custom: kept", `"pair": "XBTUSD"`, `"time": "2013-10-06T00:00:00Z"`, `"vwap": null`, `"trades": null`} {
		if !strings.Contains(out, want) {
			t.Fatalf("show lacks %q:\n%s", want, out)
		}
	}
	if _, err := runFFF(t, "dlq", "show", nats_, "999"); err == nil || !strings.Contains(err.Error(), "no dead letter with sequence 999") {
		t.Fatalf("show missing: %v", err)
	}

	out, err = runFFF(t, "dlq", "replay", nats_, "--all=false", "--stage=", seq)
	if err != nil || !strings.Contains(out, "re-sent "+seq+" to candles.kraken.XBTUSD.1440") {
		t.Fatalf("replay: %q %v", out, err)
	}
	s, _ := env.JS.Stream(ctx, topology.StreamCandles)
	m, err := s.GetLastMsgForSubject(ctx, "candles.kraken.XBTUSD.1440")
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Data) != string(batch) || m.Header.Get("X-Custom") != "kept" || m.Header.Get(deadletter.HeaderReason) != "" ||
		m.Header.Get(deadletter.HeaderSubject) != "" {
		t.Fatalf("republished message: %v", m.Header)
	}
	out, err = runFFF(t, "dlq", "list", nats_, "--stage", "writer", "--json=false")
	if err != nil || strings.TrimSpace(out) != "no dead letters" {
		t.Fatalf("after replay: %q %v", out, err)
	}

	if _, err := runFFF(t, "dlq", "purge", nats_, "--stage=", "--yes=false"); err == nil || !strings.Contains(err.Error(), "--yes") {
		t.Fatalf("purge without --yes: %v", err)
	}
	out, err = runFFF(t, "dlq", "purge", nats_, "--stage=", "--yes")
	if err != nil || !strings.Contains(out, "purged 1 dead letters") {
		t.Fatalf("purge: %q %v", out, err)
	}
	out, err = runFFF(t, "dlq", "list", nats_, "--stage=", "--json=false")
	if err != nil || strings.TrimSpace(out) != "no dead letters" {
		t.Fatalf("after purge: %q %v", out, err)
	}
}
