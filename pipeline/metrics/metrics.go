// Package metrics exposes counters and gauges in the Prometheus text format
// on /metrics, and liveness on /healthz, without pulling in a client library.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Registry holds a process's metrics.
type Registry struct {
	mu      sync.Mutex
	metrics map[string]*family
}

type family struct {
	name, help, kind string
	mu               sync.Mutex
	series           map[string]*Value
}

// Value is one time series: a float stored atomically.
type Value struct{ bits atomic.Uint64 }

// Add adds d (counters only grow).
func (v *Value) Add(d float64) {
	for {
		old := v.bits.Load()
		if v.bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+d)) {
			return
		}
	}
}

// Inc adds one.
func (v *Value) Inc() { v.Add(1) }

// Set sets a gauge.
func (v *Value) Set(f float64) { v.bits.Store(math.Float64bits(f)) }

// Get reads the value.
func (v *Value) Get() float64 { return math.Float64frombits(v.bits.Load()) }

// NewRegistry makes an empty registry.
func NewRegistry() *Registry { return &Registry{metrics: map[string]*family{}} }

// Default is the process-wide registry the stages use.
var Default = NewRegistry()

func (r *Registry) fam(name, help, kind string) *family {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.metrics[name]
	if f == nil {
		f = &family{name: name, help: help, kind: kind, series: map[string]*Value{}}
		r.metrics[name] = f
	}
	return f
}

// Counter returns the counter name{labels}; labels are key, value pairs.
func (r *Registry) Counter(name, help string, labels ...string) *Value {
	return r.fam(name, help, "counter").get(labels)
}

// Gauge returns the gauge name{labels}.
func (r *Registry) Gauge(name, help string, labels ...string) *Value {
	return r.fam(name, help, "gauge").get(labels)
}

func (f *family) get(labels []string) *Value {
	var b strings.Builder
	for i := 0; i+1 < len(labels); i += 2 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", labels[i], labels[i+1])
	}
	key := b.String()
	f.mu.Lock()
	defer f.mu.Unlock()
	v := f.series[key]
	if v == nil {
		v = &Value{}
		f.series[key] = v
	}
	return v
}

// WriteText writes every metric in the Prometheus text format.
func (r *Registry) WriteText(w *strings.Builder) {
	r.mu.Lock()
	names := make([]string, 0, len(r.metrics))
	for n := range r.metrics {
		names = append(names, n)
	}
	r.mu.Unlock()
	sort.Strings(names)
	for _, n := range names {
		r.mu.Lock()
		f := r.metrics[n]
		r.mu.Unlock()
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", f.name, f.help, f.name, f.kind)
		f.mu.Lock()
		keys := make([]string, 0, len(f.series))
		for k := range f.series {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if k == "" {
				fmt.Fprintf(w, "%s %v\n", f.name, f.series[k].Get())
			} else {
				fmt.Fprintf(w, "%s{%s} %v\n", f.name, k, f.series[k].Get())
			}
		}
		f.mu.Unlock()
	}
}

// Handler serves /metrics and /healthz; health returns nil when healthy.
func (r *Registry) Handler(health func() error) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		var b strings.Builder
		r.WriteText(&b)
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write([]byte(b.String()))
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if health != nil {
			if err := health(); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}

// Serve serves the registry on addr until ctx ends. An empty addr is a no-op.
func Serve(ctx context.Context, addr string, r *Registry, health func() error, log *slog.Logger) error {
	if addr == "" {
		<-ctx.Done()
		return nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics listener on %s: %w", addr, err)
	}
	return ServeListener(ctx, l, r, health, log)
}

// ServeListener serves the registry on l until ctx ends, then closes l. A
// caller that listens first learns of a taken port before it starts work.
func ServeListener(ctx context.Context, l net.Listener, r *Registry, health func() error, log *slog.Logger) error {
	srv := &http.Server{Handler: r.Handler(health), ReadHeaderTimeout: 5 * time.Second}
	if log != nil {
		log.Info("serving metrics", "addr", l.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-errc
		return nil
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("metrics server: %w", err)
	}
}

// Connected is a health check that fails while the NATS connection is down:
// a stage cut off from NATS does no work, whatever else it reports.
func Connected(nc interface{ IsConnected() bool }) func() error {
	return func() error {
		if !nc.IsConnected() {
			return errors.New("not connected to NATS")
		}
		return nil
	}
}
