package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

func TestTail(t *testing.T) {
	env := testenv.StartJetStream(t)
	nats_ := "--nats=" + env.URL
	ctx := context.Background()
	batch := testBatch(t)
	for i := range 3 {
		if _, err := env.JS.Publish(ctx, "candles.kraken.XBTUSD.1440", batch, jetstream.WithMsgID(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := env.JS.Publish(ctx, "candles.kraken.ETHUSD.60", []byte("not a batch")); err != nil {
		t.Fatal(err)
	}
	p, _ := json.Marshal(contract.Progress{FileID: "f1", Kind: "committed", Batch: 3, Rows: 2})
	if _, err := env.JS.Publish(ctx, topology.ProgressSubject("f1"), p); err != nil {
		t.Fatal(err)
	}

	lines := func(out string) []map[string]any {
		var res []map[string]any
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
			res = append(res, m)
		}
		return res
	}

	out, err := runFFF(t, "tail", nats_, "candles.kraken.XBTUSD.1440", "--all", "--last=0", "--count", "3")
	if err != nil {
		t.Fatal(err)
	}
	ls := lines(out)
	if len(ls) != 3 || ls[0]["subject"] != "candles.kraken.XBTUSD.1440" || ls[0]["seq"] != float64(1) {
		t.Fatalf("tail --all:\n%s", out)
	}
	data := ls[0]["data"].(map[string]any)
	candles := data["candles"].([]any)
	c1 := candles[1].(map[string]any)
	if data["pair"] != "XBTUSD" || data["interval_minutes"] != float64(1440) || data["file_id"] != "f1" ||
		c1["time"] != "2013-10-07T00:00:00Z" || c1["vwap"] != nil || c1["trades"] != nil || c1["open"] != 123.61 {
		t.Fatalf("rendered batch: %v", data)
	}
	if ls[0]["headers"].(map[string]any)["Nats-Msg-Id"] != "0" {
		t.Fatalf("headers: %v", ls[0]["headers"])
	}

	out, err = runFFF(t, "tail", nats_, "candles.>", "--all=false", "--last", "2", "--count", "2")
	if err != nil {
		t.Fatal(err)
	}
	ls = lines(out)
	if len(ls) != 2 || ls[0]["seq"] != float64(3) || ls[1]["seq"] != float64(4) || ls[1]["data"] != "not a batch" {
		t.Fatalf("tail --last 2:\n%s", out)
	}

	out, err = runFFF(t, "tail", nats_, "progress.>", "--all", "--last=0", "--count", "1")
	if err != nil {
		t.Fatal(err)
	}
	ls = lines(out)
	if d, ok := ls[0]["data"].(map[string]any); !ok || d["kind"] != "committed" || d["rows"] != float64(2) {
		t.Fatalf("tail progress:\n%s", out)
	}

	// New messages only, on a subject no stream keeps: a core subscription.
	go func() {
		for range 50 {
			time.Sleep(100 * time.Millisecond)
			_ = env.Conn.Publish("scratch.hello", []byte(`{"hi":1}`))
		}
	}()
	out, err = runFFF(t, "tail", nats_, "scratch.*", "--all=false", "--last=0", "--count", "1")
	if err != nil {
		t.Fatal(err)
	}
	ls = lines(out)
	if ls[0]["subject"] != "scratch.hello" || ls[0]["seq"] != nil || ls[0]["data"].(map[string]any)["hi"] != float64(1) {
		t.Fatalf("tail core:\n%s", out)
	}

	// A work queue (FILLS) is read without taking the work from the fetchers.
	for i := range 3 {
		req := fmt.Sprintf(`{"pair":"XBTUSD","interval":60,"start":%d,"end":%d}`, 1736496000+i*3600, 1736496000+i*3600)
		if _, err := env.JS.Publish(ctx, "fills.kraken", []byte(req)); err != nil {
			t.Fatal(err)
		}
	}
	out, err = runFFF(t, "tail", nats_, "fills.kraken", "--all", "--last=0", "--count", "3")
	if err != nil {
		t.Fatal(err)
	}
	ls = lines(out)
	if len(ls) != 3 || ls[0]["seq"] != float64(1) || ls[2]["data"].(map[string]any)["start"] != float64(1736496000+2*3600) {
		t.Fatalf("tail a work queue --all:\n%s", out)
	}
	out, err = runFFF(t, "tail", nats_, "fills.kraken", "--all=false", "--last", "1", "--count", "1")
	if err != nil {
		t.Fatal(err)
	}
	if ls = lines(out); len(ls) != 1 || ls[0]["seq"] != float64(3) {
		t.Fatalf("tail a work queue --last 1:\n%s", out)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		_, _ = env.JS.Publish(ctx, "fills.kraken", []byte(`{"pair":"ETHUSD","interval":60,"start":1736496000,"end":1736496000}`))
	}()
	out, err = runFFF(t, "tail", nats_, "fills.kraken", "--all=false", "--last=0", "--count", "1")
	if err != nil {
		t.Fatal(err)
	}
	if ls = lines(out); len(ls) != 1 || ls[0]["seq"] != float64(4) || ls[0]["data"].(map[string]any)["pair"] != "ETHUSD" {
		t.Fatalf("tail a work queue, new messages:\n%s", out)
	}
	fills, err := env.JS.Stream(ctx, topology.StreamFills)
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := fills.Info(ctx); info.State.Msgs != 4 {
		t.Fatalf("FILLS holds %d requests after tail, want all 4 still there", info.State.Msgs)
	}
}
