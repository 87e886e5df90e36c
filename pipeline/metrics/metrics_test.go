package metrics_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/feefifofunds/feefifofunds/pipeline/metrics"
)

type conn struct{ up bool }

func (c *conn) IsConnected() bool { return c.up }

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b)
}

func TestHealthFollowsNATS(t *testing.T) {
	r := metrics.NewRegistry()
	c := &conn{up: true}
	h := r.Handler(metrics.Connected(c))
	if code, body := get(t, h, "/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("connected: %d %q", code, body)
	}
	c.up = false
	if code, body := get(t, h, "/healthz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "NATS") {
		t.Fatalf("disconnected: %d %q", code, body)
	}
}

func TestMetricsText(t *testing.T) {
	r := metrics.NewRegistry()
	r.Counter("fff_rows_total", "Rows", "stage", "writer").Add(3)
	code, body := get(t, r.Handler(nil), "/metrics")
	if code != 200 || !strings.Contains(body, `fff_rows_total{stage="writer"} 3`) || !strings.Contains(body, "# HELP fff_rows_total Rows") {
		t.Fatalf("%d\n%s", code, body)
	}
}
