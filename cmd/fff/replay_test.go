package main

import (
	"context"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
)

func TestReplayCommand(t *testing.T) {
	env := testenv.StartJetStream(t)
	q := testenv.NewQuestDB(t)
	if _, err := env.JS.Publish(context.Background(), "candles.kraken.XBTUSD.1440", testBatch(t), jetstream.WithMsgID("r1")); err != nil {
		t.Fatal(err)
	}
	args := []string{"replay", "--nats=" + env.URL, "--questdb=" + q.ILP, "--questdb-pg=" + q.PG, "--table=" + q.Table,
		"--pair=XBTUSD", "--interval=1440", "--since=2013-10-06", "--until=2013-10-06", "--source=kraken"}
	out, err := runFFF(t, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// --until as a date covers the whole day: only the first candle.
	if !strings.Contains(out, "replayed 1 of 1 messages into "+q.Table+": 2 candles read, 1 in the window, 1 written") {
		t.Fatalf("summary:\n%s", out)
	}
	if n := q.Count(t); n != 1 {
		t.Fatalf("%d rows", n)
	}
	if _, err := runFFF(t, "replay", "--nats="+env.URL, "--since=soon", "--until="); err == nil || !strings.Contains(err.Error(), "--since") {
		t.Fatalf("bad --since: %v", err)
	}
}
