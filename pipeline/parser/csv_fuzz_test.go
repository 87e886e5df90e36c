package parser

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

// FuzzReader feeds arbitrary bytes to the CSV reader and checks what a user
// relies on: it never panics or loops, every bad row is reported with the
// line it is on, every candle it returns passes the row rules, agrees with
// strconv on every number, and reads back the same when written out again.
//
// Seeds: the real Kraken exports in testdata/kraken (whole, and their first
// lines), and one row per rule of the reader. Run longer with
// `go test -run '^$' -fuzz FuzzReader -fuzztime 10m ./pipeline/parser/`.
func FuzzReader(f *testing.F) {
	for _, name := range []string{"XBTUSD_1440.csv", "ETHUSD_1440.csv"} {
		data := testenv.Fixture(f, name)
		f.Add(data, uint8(6), false)
		head := bytes.SplitAfterN(data, []byte("\n"), 4)
		f.Add(bytes.Join(head[:3], nil), uint8(6), true)
	}
	rows := []string{
		"time,open,high,low,close,volume,trades\n1381017600,122,124,121,123,1,1\n",
		"\xef\xbb\xbf1381017600,122.0,122.0,122.0,122.0,0.1,1\r\n\n  \n1381104000,1E+1,1E+1,5.5e-3,1,,\n",
		"1381017600,122,124,121,120.5,1,1", "1381017600,0,124,121,123,1,1",
		"1381017600,122,124,121,123,-0.5,1", "1381017600,122,124,121,123,1,2.5",
		"1381017600,NaN,inf,121,123,1,1", "1381017600,122,1e400,121,123,1e-400,1",
		"1381017600.5,122,124,121,123,1,1\n,1,1,1,1,1", "1199145600,122,124,121,123,1,1",
		"1798761600,122,124,121,123,1,1", "1381017601,122,124,121", "1381017600,1,1,1,1,1,1,9",
		"1381017600,123456789.123456789,1234567890123456789012,0.000000000000000000000001,1,1",
	}
	for _, s := range rows {
		f.Add([]byte(s), uint8(6), false)
	}

	f.Fuzz(func(t *testing.T, data []byte, ivPick uint8, smallBuffer bool) {
		interval := int(contract.CSVIntervals[int(ivPick)%len(contract.CSVIntervals)])
		// 4 KiB rather than the default 256 KiB: the same code, without
		// zeroing a quarter megabyte per execution; 64 bytes: the long-line path.
		opts := []Option{WithNow(testNow), WithBufferSize(4 << 10)}
		if smallBuffer {
			opts = append(opts, WithBufferSize(64))
		}
		lines := bytes.Split(data, []byte("\n"))
		r := NewReader(bytes.NewReader(data), interval, opts...)
		var good []contract.Candle
		lastLine := 0
		for calls := 0; ; calls++ {
			if calls > len(lines)+1 {
				t.Fatalf("%d calls to Next for %d lines: the reader does not advance", calls, len(lines))
			}
			var c contract.Candle
			err := r.Next(&c)
			if err == io.EOF {
				break
			}
			line := r.Line()
			if line <= lastLine || line > len(lines) {
				t.Fatalf("line %d after line %d, input has %d lines", line, lastLine, len(lines))
			}
			lastLine = line
			var rowErr *RowError
			if errors.As(err, &rowErr) {
				checkRowError(t, rowErr, line)
				continue
			}
			if err != nil {
				t.Fatalf("line %d: a bytes.Reader cannot fail, got %v", line, err)
			}
			checkCandle(t, c, interval, line)
			agreesWithStrconv(t, lines[line-1], line == 1, c)
			good = append(good, c)
		}
		if int64(len(good)) != r.Rows() {
			t.Fatalf("Rows() = %d, returned %d candles", r.Rows(), len(good))
		}
		rewrittenReadsBack(t, good, interval)
	})
}

func checkRowError(t *testing.T, e *RowError, line int) {
	t.Helper()
	if e.Line != line || e.Reason == "" {
		t.Fatalf("row error %+v at line %d: want its line and a reason", e, line)
	}
	if want := fmt.Sprintf("line %d: ", line); !strings.HasPrefix(e.Error(), want) {
		t.Fatalf("error %q does not start with %q", e.Error(), want)
	}
	// A reason travels in progress reports and ledger entries: bounded.
	if len(e.Reason) > 400 || len(e.Text) > maxErrorText+3 {
		t.Fatalf("line %d: reason of %d bytes, text of %d: unbounded echo of the input", line, len(e.Reason), len(e.Text))
	}
}

// checkCandle: the row rules the reader promises (and the writer relies on).
func checkCandle(t *testing.T, c contract.Candle, interval, line int) {
	t.Helper()
	finite := func(v float64) bool { return !math.IsInf(v, 0) && !math.IsNaN(v) }
	switch {
	case c.Time < Earliest.Unix() || c.Time > testNow().Unix():
		t.Fatalf("line %d: time %d outside 2009..now", line, c.Time)
	case c.Time%(int64(interval)*60) != 0:
		t.Fatalf("line %d: time %d not aligned to %d minutes", line, c.Time, interval)
	case !(c.Open > 0 && c.High > 0 && c.Low > 0 && c.Close > 0) || !finite(c.Open) || !finite(c.High) || !finite(c.Low) || !finite(c.Close):
		t.Fatalf("line %d: prices not positive and finite: %+v", line, c)
	case c.Low > c.Open || c.Low > c.Close || c.High < c.Open || c.High < c.Close:
		t.Fatalf("line %d: open/close outside low..high: %+v", line, c)
	case !(c.Volume >= 0) || !finite(c.Volume):
		t.Fatalf("line %d: volume %v", line, c.Volume)
	case c.Trades < contract.NoTrades || c.HasVWAP():
		t.Fatalf("line %d: trades %d vwap %v", line, c.Trades, c.VWAP)
	}
}

// agreesWithStrconv re-reads a good row with the standard library: the
// reader's fast number parsing must give the very same float64s.
func agreesWithStrconv(t *testing.T, raw []byte, first bool, c contract.Candle) {
	t.Helper()
	if first {
		raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf"))
	}
	fields := strings.Split(string(trimSpace(raw)), ",")
	got := []float64{c.Open, c.High, c.Low, c.Close, c.Volume}
	for k, want := range got {
		s := string(trimSpace([]byte(fields[k+1])))
		if s == "" && k == 4 {
			continue // empty volume reads as 0
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			t.Fatalf("row %q: field %q accepted but strconv says %v", raw, s, err)
		}
		if v != want {
			t.Fatalf("row %q: field %q read as %v, strconv says %v", raw, s, want, v)
		}
	}
}

// rewrittenReadsBack writes the candles out as Kraken would and reads them
// again: the same candles, no errors.
func rewrittenReadsBack(t *testing.T, good []contract.Candle, interval int) {
	t.Helper()
	var buf bytes.Buffer
	for _, c := range good {
		fmt.Fprintf(&buf, "%d,%s,%s,%s,%s,%s", c.Time, g(c.Open), g(c.High), g(c.Low), g(c.Close), g(c.Volume))
		if c.HasTrades() {
			fmt.Fprintf(&buf, ",%d", c.Trades)
		}
		buf.WriteByte('\n')
	}
	r := NewReader(&buf, interval, WithNow(testNow), WithBufferSize(4<<10))
	for i, want := range good {
		var c contract.Candle
		if err := r.Next(&c); err != nil {
			t.Fatalf("rewritten row %d: %v", i+1, err)
		}
		c.VWAP, want.VWAP = 0, 0
		if c != want {
			t.Fatalf("rewritten row %d: got %+v, want %+v", i+1, c, want)
		}
	}
	var c contract.Candle
	if err := r.Next(&c); err != io.EOF {
		t.Fatalf("after the rewritten rows: %v, want EOF", err)
	}
}

func g(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
