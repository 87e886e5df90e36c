package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/feefifofunds/feefifofunds/internal/testenv"

	"github.com/feefifofunds/feefifofunds/pipeline/natsembed"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// A stage started before its NATS server (compose, a restart loop) waits
// for it instead of exiting, serves /healthz as failing meanwhile, and runs
// with the topology in place soon after the server comes up.
func TestRunStageWaitsForNATS(t *testing.T) {
	port, metricsPort := testenv.FreePort(t), testenv.FreePort(t)
	common := Common{
		NATS:    NATS{URL: fmt.Sprintf("nats://127.0.0.1:%d", port), Replicas: 1},
		Log:     Log{Level: "error", Format: "text"},
		Metrics: Metrics{Addr: fmt.Sprintf("127.0.0.1:%d", metricsPort)},
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	done := make(chan error, 1)
	go func() {
		done <- RunStage(ctx, common, "teststage", func(ctx context.Context, s *Stage) error {
			_, err := s.JS.Stream(ctx, topology.StreamCandles)
			ran <- err
			<-ctx.Done()
			return nil
		})
	}()

	// While NATS is down the stage is alive but unhealthy.
	healthz := fmt.Sprintf("http://127.0.0.1:%d/healthz", metricsPort)
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(healthz)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Fatal("/healthz is OK while NATS is down")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz not served while waiting for NATS: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("stage exited while NATS was down: %v", err)
	case <-ran:
		t.Fatal("stage ran without NATS")
	default:
	}

	testenv.StartBareJetStreamWith(t, natsembed.Config{Port: port})
	up := time.Now()
	select {
	case err := <-ran:
		if err != nil {
			t.Fatalf("topology not in place when the stage ran: %v", err)
		}
	case err := <-done:
		t.Fatalf("stage exited: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("stage did not start within 15s of NATS coming up")
	}
	if took := time.Since(up); took > 5*time.Second {
		t.Errorf("stage started %s after NATS came up; want a few seconds at most", took)
	}
	resp, err := http.Get(healthz)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz %d once connected", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("clean stop returned %v", err)
	}
}
