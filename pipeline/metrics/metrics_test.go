package metrics_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

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

// scrape reads /metrics as Prometheus would: it must parse.
func scrape(t *testing.T, r *metrics.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := get(t, r.Handler(nil), "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d\n%s", code, body)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, body)
	}
	return fams
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

// The default registry carries the Go runtime and process collectors, and
// every kind of series comes out in a format Prometheus parses.
func TestDefaultExposition(t *testing.T) {
	r := metrics.Default
	r.Counter("fff_test_files_total", "Files", "result", "parsed").Add(2)
	r.Gauge("fff_test_files_in_progress", "Files now").Set(4)
	h := r.Histogram("fff_test_call_seconds", "Calls", []float64{0.1, 1}, "endpoint", "OHLC")
	h.Observe(0.05)
	h.Observe(0.5)
	h.Observe(3)

	fams := scrape(t, r)
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_cpu_seconds_total", "process_resident_memory_bytes"} {
		if fams[name] == nil {
			t.Errorf("no %s family on the default registry", name)
		}
	}
	if f := fams["fff_test_files_total"]; f == nil || f.GetType() != dto.MetricType_COUNTER || f.Metric[0].GetCounter().GetValue() != 2 {
		t.Errorf("counter: %v", f)
	}
	if f := fams["fff_test_files_in_progress"]; f == nil || f.GetType() != dto.MetricType_GAUGE || f.Metric[0].GetGauge().GetValue() != 4 {
		t.Errorf("gauge: %v", f)
	}
	f := fams["fff_test_call_seconds"]
	if f == nil || f.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("histogram: %v", f)
	}
	hist := f.Metric[0].GetHistogram()
	var cum []uint64
	for _, b := range hist.GetBucket() {
		cum = append(cum, b.GetCumulativeCount())
	}
	if hist.GetSampleCount() != 3 || hist.GetSampleSum() != 3.55 || len(cum) != 3 || cum[0] != 1 || cum[1] != 2 || cum[2] != 3 {
		t.Errorf("histogram: count %d sum %v buckets %v; want 3, 3.55, [1 2 3] (0.1, 1, +Inf)", hist.GetSampleCount(), hist.GetSampleSum(), cum)
	}
	if h.Count() != 3 || h.Sum() != 3.55 {
		t.Errorf("Count/Sum: %d %v", h.Count(), h.Sum())
	}
}

// The façade finds a series again by name and labels, in any label order,
// and refuses to mix kinds or label names in one family.
func TestSameSeriesAgain(t *testing.T) {
	r := metrics.NewRegistry()
	r.Counter("fff_test_requests_total", "Requests", "source", "kraken", "outcome", "filled").Inc()
	r.Counter("fff_test_requests_total", "", "outcome", "filled", "source", "kraken").Add(2)
	if got := r.Counter("fff_test_requests_total", "", "source", "kraken", "outcome", "filled").Get(); got != 3 {
		t.Fatalf("same series: %v, want 3", got)
	}
	for name, f := range map[string]func(){
		"other labels": func() { r.Counter("fff_test_requests_total", "", "outcome", "filled") },
		"other kind":   func() { r.Gauge("fff_test_requests_total", "", "source", "kraken", "outcome", "filled") },
		"odd labels":   func() { r.Gauge("fff_test_x", "", "source") },
		"set counter":  func() { r.Counter("fff_test_requests_total", "", "source", "kraken", "outcome", "filled").Set(1) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
