package testenv

import (
	"bytes"
	"fmt"
)

// HourlyCSV is n valid 60-minute Kraken rows from open time start on (unix
// seconds, aligned to the hour); price sets the values, so two calls with
// different prices give different candles for the same times.
func HourlyCSV(start int64, n int, price float64) []byte {
	var b bytes.Buffer
	for i := range n {
		p := price + float64(i)
		fmt.Fprintf(&b, "%d,%g,%g,%g,%g,%g,%d\n", start+int64(i)*3600, p, p+2, p-1, p+1, 1.5+float64(i), 3+i)
	}
	return b.Bytes()
}
