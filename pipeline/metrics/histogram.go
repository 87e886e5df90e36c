package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Histogram is one histogram series: latencies, so a dashboard can show
// percentiles and not only a mean.
type Histogram struct {
	o prometheus.Observer
	m prometheus.Metric
}

// Observe records one value (seconds, for a _seconds family).
func (h *Histogram) Observe(v float64) { h.o.Observe(v) }

// ObserveSince records the seconds since start.
func (h *Histogram) ObserveSince(start time.Time) { h.o.Observe(time.Since(start).Seconds()) }

// Count is how many values were observed.
func (h *Histogram) Count() uint64 {
	var d dto.Metric
	if err := h.m.Write(&d); err != nil || d.Histogram == nil {
		return 0
	}
	return d.Histogram.GetSampleCount()
}

// Sum is the total of the observed values.
func (h *Histogram) Sum() float64 {
	var d dto.Metric
	if err := h.m.Write(&d); err != nil || d.Histogram == nil {
		return 0
	}
	return d.Histogram.GetSampleSum()
}
