package cli

import (
	"testing"
	"time"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/gaps"
	"github.com/feefifofunds/feefifofunds/pipeline/metrics"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// TestSampleJetStream: what the dashboard shows as lag, DLQ size and gaps by
// state is what the server holds.
func TestSampleJetStream(t *testing.T) {
	env := testenv.StartJetStream(t)
	ctx := testenv.Context(t, 30*time.Second)
	// The parser creates its durable when it starts; here nothing consumes.
	if _, err := topology.EnsureConsumer(ctx, env.JS, topology.StreamFiles, topology.ParserConsumer()); err != nil {
		t.Fatal(err)
	}
	for subject, n := range map[string]int{topology.SubjectFiles: 3, "dlq.writer": 2} {
		for range n {
			if _, err := env.JS.Publish(ctx, subject, []byte("{}")); err != nil {
				t.Fatal(err)
			}
		}
	}
	kv, err := gaps.Open(ctx, env.JS)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2025, 1, 10, 8, 0, 0, 0, time.UTC)
	for i, state := range []string{contract.GapOpen, contract.GapOpen, contract.GapUnfillable} {
		key := contract.GapKey("kraken", "XBTUSD", 60, start.Add(time.Duration(i)*time.Hour))
		if err := gaps.Update(ctx, kv, key, func(r *contract.GapRecord, _ bool) bool {
			r.Key, r.State = key, state
			return true
		}); err != nil {
			t.Fatal(err)
		}
	}
	reg := metrics.NewRegistry()
	sampleOnce(ctx, env.JS, "gapscanner", reg, testenv.Logger(t))
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"fff_nats_stream_messages", []string{"stream", topology.StreamDLQ}, 2},
		{"fff_gaps", []string{"state", contract.GapOpen}, 2},
		{"fff_gaps", []string{"state", contract.GapUnfillable}, 1},
		{"fff_gaps", []string{"state", contract.GapFilled}, 0},
	} {
		t.Run(c.name+"/"+c.labels[1], func(t *testing.T) {
			if got := reg.Gauge(c.name, "", c.labels...).Get(); got != c.want {
				t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
			}
		})
	}
}
