package kraken

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// CSVIntervals are the intervals Kraken ships in its downloadable OHLCVT history.
var CSVIntervals = []int{1, 5, 15, 30, 60, 240, 720, 1440}

var fileNameRe = regexp.MustCompile(`^([A-Z0-9]{2,20})_([0-9]{1,5})\.csv$`)

// ParseFileName reads a Kraken OHLCVT export name, {PAIR}_{INTERVAL}.csv
// (e.g. XBTUSD_60.csv), from a path or a zip member name.
func ParseFileName(name string) (pair string, interval int, err error) {
	base := filepath.Base(strings.ReplaceAll(name, "\\", "/"))
	m := fileNameRe.FindStringSubmatch(base)
	if m == nil {
		return "", 0, fmt.Errorf("file name %q: want {PAIR}_{INTERVAL}.csv, e.g. XBTUSD_60.csv", base)
	}
	interval, _ = strconv.Atoi(m[2])
	if !slices.Contains(CSVIntervals, interval) {
		return "", 0, fmt.Errorf("file name %q: interval %d is not one Kraken ships (%v)", base, interval, CSVIntervals)
	}
	return m[1], interval, nil
}
