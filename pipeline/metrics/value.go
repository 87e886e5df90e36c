package metrics

import (
	"fmt"
	"math"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Value is one counter or gauge series.
type Value struct {
	m   prometheus.Metric
	add func(float64)
	set func(float64) // nil for a counter
}

// Add adds d (a counter panics on a negative d: counters only grow).
func (v *Value) Add(d float64) { v.add(d) }

// Inc adds one.
func (v *Value) Inc() { v.add(1) }

// Set sets a gauge; a counter cannot be set and panics.
func (v *Value) Set(f float64) {
	if v.set == nil {
		panic(fmt.Sprintf("metrics: Set on a counter (%s)", v.m.Desc()))
	}
	v.set(f)
}

// Get reads the value as /metrics would show it (tests and summaries).
func (v *Value) Get() float64 {
	var d dto.Metric
	if err := v.m.Write(&d); err != nil {
		return math.NaN()
	}
	switch {
	case d.Counter != nil:
		return d.Counter.GetValue()
	case d.Gauge != nil:
		return d.Gauge.GetValue()
	}
	return math.NaN()
}
