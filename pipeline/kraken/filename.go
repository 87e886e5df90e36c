package kraken

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

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
	if !contract.Interval(interval).ShippedAsCSV() {
		return "", 0, fmt.Errorf("file name %q: interval %d is not one Kraken ships (%v)", base, interval, contract.CSVIntervals)
	}
	return m[1], interval, nil
}
