// Package metrics is the pipeline's thin façade over prometheus/client_golang:
// stages ask a Registry for a counter, gauge or histogram by name and label
// pairs, the way they always have, and /metrics is served by promhttp in the
// standard exposition format.
//
// A family's label names are fixed by its first use; a later call with other
// names is a programming error and panics, as client_golang itself does.
package metrics

import (
	"fmt"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Registry holds a process's metrics.
type Registry struct {
	prom *prometheus.Registry

	mu   sync.Mutex
	fams map[string]*family
}

// family is one metric name: its kind, label names and client_golang vector.
type family struct {
	kind string // counter, gauge or histogram
	keys []string

	counter *prometheus.CounterVec
	gauge   *prometheus.GaugeVec
	hist    *prometheus.HistogramVec
}

// NewRegistry makes an empty registry (no runtime collectors: tests make
// many of them and only want their own series).
func NewRegistry() *Registry {
	return &Registry{prom: prometheus.NewRegistry(), fams: map[string]*family{}}
}

// Default is the process-wide registry the stages use. It also exports the
// Go runtime (go_*) and the process (process_*: CPU, RSS, open files), which
// an operator looks at first when a stage misbehaves.
var Default = func() *Registry {
	r := NewRegistry()
	r.prom.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}()

// Gatherer is the underlying client_golang registry, for code that wants
// the families themselves (tests, a push gateway).
func (r *Registry) Gatherer() prometheus.Gatherer { return r.prom }

// Counter returns the counter name{labels}; labels are key, value pairs.
func (r *Registry) Counter(name, help string, labels ...string) *Value {
	f, l := r.fam(name, help, "counter", nil, labels)
	c := f.counter.With(l)
	return &Value{m: c, add: c.Add}
}

// Gauge returns the gauge name{labels}.
func (r *Registry) Gauge(name, help string, labels ...string) *Value {
	f, l := r.fam(name, help, "gauge", nil, labels)
	g := f.gauge.With(l)
	return &Value{m: g, add: g.Add, set: g.Set}
}

// Histogram returns the histogram name{labels} with the given bucket upper
// bounds (nil: client_golang's defaults, 5 ms to 10 s). The buckets of a
// family are those of its first use.
func (r *Registry) Histogram(name, help string, buckets []float64, labels ...string) *Histogram {
	f, l := r.fam(name, help, "histogram", buckets, labels)
	o := f.hist.With(l)
	return &Histogram{o: o, m: o.(prometheus.Metric)}
}

// fam finds or registers the family name and splits labels into the
// prometheus.Labels of one series.
func (r *Registry) fam(name, help, kind string, buckets []float64, labels []string) (*family, prometheus.Labels) {
	if len(labels)%2 != 0 {
		panic(fmt.Sprintf("metrics: %s: labels must be key, value pairs, got %q", name, labels))
	}
	keys := make([]string, 0, len(labels)/2)
	l := make(prometheus.Labels, len(labels)/2)
	for i := 0; i < len(labels); i += 2 {
		keys = append(keys, labels[i])
		l[labels[i]] = labels[i+1]
	}
	slices.Sort(keys)

	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.fams[name]
	if f == nil {
		f = &family{kind: kind, keys: keys}
		var c prometheus.Collector
		switch kind {
		case "counter":
			f.counter = prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, keys)
			c = f.counter
		case "gauge":
			f.gauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, keys)
			c = f.gauge
		case "histogram":
			f.hist = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, keys)
			c = f.hist
		}
		r.prom.MustRegister(c)
		r.fams[name] = f
	}
	if f.kind != kind {
		panic(fmt.Sprintf("metrics: %s is a %s, asked for as a %s", name, f.kind, kind))
	}
	if !slices.Equal(f.keys, keys) {
		panic(fmt.Sprintf("metrics: %s has labels %q, asked for with %q", name, f.keys, keys))
	}
	return f, l
}

// forget removes the series name{labels} (a consumer that no longer
// exists); it is a no-op for an unknown family or series.
func (r *Registry) forget(name string, labels prometheus.Labels) {
	r.mu.Lock()
	f := r.fams[name]
	r.mu.Unlock()
	if f == nil {
		return
	}
	switch {
	case f.counter != nil:
		f.counter.Delete(labels)
	case f.gauge != nil:
		f.gauge.Delete(labels)
	case f.hist != nil:
		f.hist.Delete(labels)
	}
}
