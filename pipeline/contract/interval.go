package contract

import (
	"slices"
	"strconv"
	"strings"
)

// Interval is a candle length in minutes, the unit Kraken names its series
// by (XBTUSD_60.csv, interval=60). It lives in contract rather than kraken
// because fill requests are validated here and kraken imports contract for
// its candles: kraken owning the type would make the import cycle.
type Interval int

// OHLCIntervals are the intervals Kraken's REST OHLC endpoint serves. Its CSV
// exports also ship 720, which REST does not.
var OHLCIntervals = []Interval{1, 5, 15, 30, 60, 240, 1440, 10080, 21600}

// CSVIntervals are the intervals Kraken's downloadable OHLCVT history ships.
var CSVIntervals = []Interval{1, 5, 15, 30, 60, 240, 720, 1440}

// ServedByOHLC reports whether Kraken's REST OHLC endpoint serves i.
func (i Interval) ServedByOHLC() bool { return slices.Contains(OHLCIntervals, i) }

// ShippedAsCSV reports whether Kraken's OHLCVT history ships files of i.
func (i Interval) ShippedAsCSV() bool { return slices.Contains(CSVIntervals, i) }

// Minutes is i as a plain number of minutes, as messages and tables store it.
func (i Interval) Minutes() int { return int(i) }

// Seconds is the distance between two candle open times of i.
func (i Interval) Seconds() int64 { return int64(i) * 60 }

// String is the minutes in decimal, the form subject tokens and file names
// use (candles.kraken.XBTUSD.60).
func (i Interval) String() string { return strconv.Itoa(int(i)) }

// intervalList renders intervals for a person: "1, 5, 15 or 60".
func intervalList(ivs []Interval) string {
	parts := make([]string, len(ivs))
	for k, iv := range ivs {
		parts[k] = iv.String()
	}
	if len(parts) < 2 {
		return strings.Join(parts, "")
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " or " + parts[len(parts)-1]
}

// FloorTime is the last multiple of step at or before t (unix seconds, or
// any unit step shares), also for t before 1970: Go's % keeps the sign of
// t, so t - t%step would round negative times up. step must be positive.
func FloorTime(t, step int64) int64 {
	m := t % step
	if m < 0 {
		m += step
	}
	return t - m
}

// CeilTime is the first multiple of step at or after t; see FloorTime.
func CeilTime(t, step int64) int64 {
	if f := FloorTime(t, step); f != t {
		return f + step
	}
	return t
}
