package parser

import (
	"fmt"
	"math"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

// openTimes remembers, for each open time a file has had, the line that
// carried it and a hash of its values, so a repeated open time is caught
// wherever it is in the file (two exports pasted together repeat a whole
// stretch, far apart).
//
// Open times are multiples of the interval, so they index a slot array
// directly, in chunks allocated as the file reaches them: 8 bytes per
// candle the file spans (about 4 MB per year of 1-minute candles), whatever
// order the rows come in.
type openTimes struct {
	step   int64
	chunks map[int64]*[chunkSlots]uint64
}

const chunkSlots = 4096

func newOpenTimes(step int64) *openTimes {
	return &openTimes{step: step, chunks: map[int64]*[chunkSlots]uint64{}}
}

// add records open time t (aligned to the interval) from line with the
// candle's values. It returns the earlier line with the same open time (0
// for none) and whether its values were the same.
func (o *openTimes) add(t int64, line int, c *contract.Candle) (earlier int, same bool) {
	slot := t / o.step
	ch := o.chunks[slot/chunkSlots]
	if ch == nil {
		ch = new([chunkSlots]uint64)
		o.chunks[slot/chunkSlots] = ch
	}
	p := &ch[slot%chunkSlots]
	h := valuesHash(c)
	if *p != 0 {
		return int(*p >> 32), uint32(*p) == h
	}
	*p = uint64(uint32(line))<<32 | uint64(h)
	return 0, false
}

// valuesHash mixes every value of a candle but its time (FNV-1a over the
// bits): equal values always hash equal; different ones collide once in
// four billion.
func valuesHash(c *contract.Candle) uint32 {
	h := uint32(2166136261)
	for _, v := range [...]uint64{math.Float64bits(c.Open), math.Float64bits(c.High), math.Float64bits(c.Low),
		math.Float64bits(c.Close), math.Float64bits(c.Volume), uint64(c.Trades)} {
		for range 8 {
			h ^= uint32(v & 0xff)
			h *= 16777619
			v >>= 8
		}
	}
	return h
}

// repeatReason says why a row whose open time an earlier line had, with
// other values, is skipped.
func repeatReason(t int64, earlier int) string {
	return fmt.Sprintf("time %d (%s) repeats line %d with different values: line %d is kept and this row skipped "+
		"(QuestDB keeps the last row written for an open time, and which of two batches is written last is not fixed)",
		t, fmtTime(t), earlier, earlier)
}
