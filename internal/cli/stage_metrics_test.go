package cli

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// A stage's /metrics is what Prometheus scrapes: it parses, carries the Go
// runtime and process families, and the lag of the pipeline's durables,
// including one no stage of this process reads.
func TestRunStageServesLagAndRuntime(t *testing.T) {
	env := testenv.StartJetStream(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := topology.EnsureConsumer(ctx, env.JS, topology.StreamFiles, topology.ParserConsumer()); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if _, err := env.JS.Publish(ctx, topology.SubjectFiles, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	metricsPort := testenv.FreePort(t)
	common := Common{
		NATS:    NATS{URL: env.URL, Replicas: 1},
		Log:     Log{Level: "error", Format: "text"},
		Metrics: Metrics{Addr: fmt.Sprintf("127.0.0.1:%d", metricsPort), LagEvery: 20 * time.Millisecond},
	}
	done := make(chan error, 1)
	go func() {
		done <- RunStage(ctx, common, "teststage", func(ctx context.Context, _ *Stage) error {
			<-ctx.Done()
			return nil
		})
	}()

	url := fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)
	testenv.WaitValue(t, "fff_consumer_pending of the parser's durable on /metrics", func() float64 {
		resp, err := http.Get(url)
		if err != nil {
			return -1
		}
		defer resp.Body.Close()
		p := expfmt.NewTextParser(model.LegacyValidation)
		fams, err := p.TextToMetricFamilies(resp.Body)
		if err != nil {
			t.Fatalf("/metrics does not parse: %v", err)
		}
		for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
			if fams[name] == nil {
				t.Fatalf("/metrics has no %s", name)
			}
		}
		pending := -1.0
		for _, m := range fams["fff_consumer_pending"].GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			if l["stream"] == topology.StreamFiles && l["consumer"] == topology.ConsumerParser {
				pending = m.GetGauge().GetValue()
			}
		}
		return pending
	}, 4, 10*time.Second)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("clean stop returned %v", err)
	}
}
