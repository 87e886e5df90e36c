package watcher_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/metrics"
	"github.com/feefifofunds/feefifofunds/pipeline/parser"
	"github.com/feefifofunds/feefifofunds/pipeline/writer"
)

// startStages runs the real parser and writer on the harness's JetStream
// until the test ends; the writer's QuestDB is set by the caller (the test
// table, or a proxy in front of it). The stages log to log.
func (h *harness) startStages(log *slog.Logger, pc parser.Config, wc writer.Config) {
	h.t.Helper()
	h.startParser(log, pc)
	h.startWriter(log, wc)
}

func (h *harness) startParser(log *slog.Logger, pc parser.Config) {
	pc.JS, pc.Log, pc.Metrics = h.env.JS, log, metrics.NewRegistry()
	h.runStage("parser", func(ctx context.Context) error { return parser.Run(ctx, pc) })
}

func (h *harness) startWriter(log *slog.Logger, wc writer.Config) {
	wc.JS, wc.Log, wc.Metrics = h.env.JS, log, metrics.NewRegistry()
	h.runStage("writer", func(ctx context.Context) error { return writer.Run(ctx, wc) })
}

// runStage runs a stage until the test ends, and fails the test if it fails.
func (h *harness) runStage(name string, run func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 1)
	go func() { errs <- run(ctx) }()
	h.t.Cleanup(func() {
		cancel()
		if err := <-errs; err != nil {
			h.t.Errorf("%s: %v", name, err)
		}
	})
}

// questCount is the rows QuestDB holds for one pair, once it holds at
// least want or a timeout passed: a commit becomes visible when QuestDB
// has applied its WAL, a moment later (issue 10, point 1, is about making
// ingested/ wait for that).
func questCount(t *testing.T, q *testenv.QuestDB, pair string, want int64) int64 {
	t.Helper()
	var n int64
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := q.Pool.QueryRow(context.Background(), "SELECT count() FROM "+q.Table+" WHERE pair = $1", pair).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", pair, err)
		}
		if n >= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(50 * time.Millisecond)
	}
}
