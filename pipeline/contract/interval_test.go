package contract

import (
	"fmt"
	"testing"
)

func TestFloorCeilTime(t *testing.T) {
	cases := []struct {
		t, step     int64
		floor, ceil int64
	}{
		{0, 60, 0, 0},
		{1, 60, 0, 60},
		{59, 60, 0, 60},
		{60, 60, 60, 60},
		{61, 60, 60, 120},
		{-1, 60, -60, 0},
		{-59, 60, -60, 0},
		{-60, 60, -60, -60},
		{-61, 60, -120, -60},
		{1_736_500_000, 3600, 1_736_499_600, 1_736_503_200},
		{7, 1, 7, 7},
		{-7, 1, -7, -7},
		{-86_400*365 - 1, 86_400, -86_400 * 366, -86_400 * 365},
		{1_736_500_000_123_456_789, 1e9, 1_736_500_000_000_000_000, 1_736_500_001_000_000_000},
		{-1_500_000_001, 1e9, -2_000_000_000, -1_000_000_000},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%d/%d", c.t, c.step), func(t *testing.T) {
			if got := FloorTime(c.t, c.step); got != c.floor {
				t.Errorf("FloorTime(%d, %d) = %d, want %d", c.t, c.step, got, c.floor)
			}
			if got := CeilTime(c.t, c.step); got != c.ceil {
				t.Errorf("CeilTime(%d, %d) = %d, want %d", c.t, c.step, got, c.ceil)
			}
		})
	}
}

func TestInterval(t *testing.T) {
	cases := []struct {
		iv        Interval
		ohlc, csv bool
		seconds   int64
	}{
		{1, true, true, 60},
		{60, true, true, 3600},
		{720, false, true, 43200},
		{1440, true, true, 86400},
		{10080, true, false, 604800},
		{21600, true, false, 1296000},
		{2, false, false, 120},
		{0, false, false, 0},
	}
	for _, c := range cases {
		t.Run(c.iv.String(), func(t *testing.T) {
			if got := c.iv.ServedByOHLC(); got != c.ohlc {
				t.Errorf("ServedByOHLC = %v, want %v", got, c.ohlc)
			}
			if got := c.iv.ShippedAsCSV(); got != c.csv {
				t.Errorf("ShippedAsCSV = %v, want %v", got, c.csv)
			}
			if got := c.iv.Seconds(); got != c.seconds {
				t.Errorf("Seconds = %d, want %d", got, c.seconds)
			}
			if got := c.iv.Minutes(); got != int(c.iv) {
				t.Errorf("Minutes = %d, want %d", got, int(c.iv))
			}
		})
	}
	if got, want := intervalList(OHLCIntervals), "1, 5, 15, 30, 60, 240, 1440, 10080 or 21600"; got != want {
		t.Errorf("intervalList = %q, want %q", got, want)
	}
}
