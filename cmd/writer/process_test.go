package main

import (
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/natsembed"
)

func healthz(addr string) (int, string) {
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The writer binary started while NATS is down (compose, a restart loop)
// stays up, says what it waits for, answers 503 on /healthz, and is healthy
// within seconds of the server coming up; SIGTERM then stops it cleanly.
func TestWriterProcessWaitsForNATS(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the writer binary")
	}
	q := testenv.NewQuestDB(t)
	bin := filepath.Join(t.TempDir(), "writer")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	natsPort, metricsAddr := testenv.FreePort(t), fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	var logs testenv.SyncBuffer
	cmd := exec.Command(bin, "--nats", fmt.Sprintf("nats://127.0.0.1:%d", natsPort), "--metrics-addr", metricsAddr,
		"--questdb", q.ILP, "--questdb-pg", q.PG, "--table", q.Table, "--log-format", "json")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// exited is closed when the process is gone; waitErr is then its status.
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})

	// NATS is down: the process must stay alive and unhealthy.
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, body := healthz(metricsAddr)
		if code == http.StatusServiceUnavailable {
			break
		}
		if code == http.StatusOK {
			t.Fatalf("/healthz OK while NATS is down: %s", body)
		}
		select {
		case <-exited:
			t.Fatalf("writer exited while NATS was down: %v\n%s", waitErr, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no /healthz while waiting for NATS (%s)\n%s", body, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "waiting for NATS") {
		t.Errorf("the log does not say what the writer waits for:\n%s", logs.String())
	}

	testenv.StartBareJetStreamWith(t, natsembed.Config{Port: natsPort})
	up := time.Now()
	for {
		if code, _ := healthz(metricsAddr); code == http.StatusOK {
			break
		}
		select {
		case <-exited:
			t.Fatalf("writer exited after NATS came up: %v\n%s", waitErr, logs.String())
		default:
		}
		if time.Since(up) > 15*time.Second {
			t.Fatalf("not healthy 15 s after NATS came up\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("healthy %s after NATS came up", time.Since(up).Round(time.Millisecond))

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	ctx := testenv.Context(t, 20*time.Second)
	select {
	case <-exited:
		if waitErr != nil {
			t.Fatalf("SIGTERM: exit %v\n%s", waitErr, logs.String())
		}
	case <-ctx.Done():
		t.Fatalf("still running 20 s after SIGTERM\n%s", logs.String())
	}
}
