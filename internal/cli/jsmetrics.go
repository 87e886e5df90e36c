package cli

import (
	"context"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/gaps"
	"github.com/feefifofunds/feefifofunds/pipeline/metrics"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// jsSampleEvery is how often a stage samples the JetStream state below: as
// often as Prometheus scrapes (deploy/prometheus/prometheus.yml).
const jsSampleEvery = 15 * time.Second

// sampleJetStream keeps the gauges a dashboard needs and no stage counts
// itself (consumer lag is metrics.WatchConsumers'): messages per stream
// (DLQ size) and, in the gap scanner, gap records by state. Every stage serves the same
// numbers, so a stage alone still shows them; the dashboard takes the max.
func sampleJetStream(ctx context.Context, js jetstream.JetStream, stage string, reg *metrics.Registry, log *slog.Logger) {
	t := time.NewTicker(jsSampleEvery)
	defer t.Stop()
	for {
		sampleOnce(ctx, js, stage, reg, log)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func sampleOnce(ctx context.Context, js jetstream.JetStream, stage string, reg *metrics.Registry, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, jsSampleEvery)
	defer cancel()
	for _, name := range []string{topology.StreamFiles, topology.StreamCandles, topology.StreamFills, topology.StreamDLQ} {
		s, err := js.Stream(ctx, name)
		if err != nil {
			continue
		}
		info, err := s.Info(ctx)
		if err != nil {
			continue
		}
		reg.Gauge("fff_nats_stream_messages", "Messages stored in a stream (DLQ: dead letters waiting)",
			"stream", name).Set(float64(info.State.Msgs))
	}
	if stage != "gapscanner" {
		return // reading every gap record is the scanner's business, once
	}
	kv, err := gaps.Open(ctx, js)
	if err != nil {
		return
	}
	recs, err := gaps.Load(ctx, kv)
	if err != nil {
		log.Debug("gap records", "err", err)
		return
	}
	byState := map[string]int{}
	for _, r := range recs {
		byState[r.State]++
	}
	for _, st := range []string{contract.GapOpen, contract.GapRequested, contract.GapFilled, contract.GapFailed, contract.GapUnfillable, contract.GapNoTrades} {
		reg.Gauge("fff_gaps", "Gap records in the GAPS bucket, by state", "state", st).Set(float64(byState[st]))
	}
}
