// Package parser turns Kraken OHLCVT CSV exports into candle batches: a
// streaming CSV reader (csv.go, bounded memory, no allocation per row) and the
// parser stage (stage.go) that takes files off the FILES work queue and
// publishes their candles on the CANDLES stream.
package parser

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
	"unsafe"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

// RowError is one bad input row. Next returns it as an error; the row is
// skipped and reading can go on.
type RowError contract.RowError

func (e *RowError) Error() string {
	return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
}

// Row is the error as the contract record that goes into progress reports.
func (e *RowError) Row() contract.RowError { return contract.RowError(*e) }

// Earliest is the first open time accepted: nothing traded on Kraken (or
// anywhere) before 2009.
var Earliest = time.Date(2009, 1, 1, 0, 0, 0, 0, time.UTC)

const (
	// DefaultBufferSize is the read buffer; it is also the longest line the
	// reader accepts (real rows are under 100 bytes).
	DefaultBufferSize = 256 << 10
	maxErrorText      = 200
)

// Option tunes a Reader.
type Option func(*Reader)

// WithNow sets the clock that bounds open times from above (tests pin it).
func WithNow(now func() time.Time) Option {
	return func(r *Reader) {
		if now != nil {
			r.now = now
		}
	}
}

// WithBufferSize sets the read buffer size (and so the longest accepted line).
func WithBufferSize(n int) Option {
	return func(r *Reader) {
		if n >= 64 {
			r.bufSize = n
		}
	}
}

// Reader reads candles from a Kraken OHLCVT CSV stream: no header (one is
// detected and skipped), columns time,open,high,low,close,volume[,trades].
// It holds one fixed buffer whatever the input size, and parses fields in
// place, so a row costs no allocation.
type Reader struct {
	src      io.Reader
	now      func() time.Time
	bufSize  int
	buf      []byte
	sniffed  bool  // the start of the bytes was checked for non-CSV content
	r, w     int   // unread bytes are buf[r:w]
	scanned  int   // buf[r:r+scanned] is known to hold no newline
	rerr     error // sticky error from src (io.EOF at the end)
	line     int   // number of the line last returned
	interval int
	step     int64 // interval in seconds
	minTime  int64
	maxTime  int64
	started  bool // first line (BOM) handled
	sawData  bool // a non-blank line was seen (the header can only be the first)
	header   bool
	rows     int64 // good rows returned
	bad      int64 // bad rows returned
	repeats  int64 // rows identical to an earlier one with the same open time, skipped
	times    *openTimes
}

// NewReader reads candles of the given interval (minutes) from src.
func NewReader(src io.Reader, interval int, opts ...Option) *Reader {
	r := &Reader{src: src, now: time.Now, bufSize: DefaultBufferSize, interval: interval, step: int64(interval) * 60}
	for _, o := range opts {
		o(r)
	}
	r.buf = make([]byte, r.bufSize)
	r.times = newOpenTimes(r.step)
	r.minTime = Earliest.Unix()
	r.maxTime = r.now().Unix()
	return r
}

// Line is the number (1-based) of the line last read, counting blank lines
// and the header.
func (r *Reader) Line() int { return r.line }

// HeaderSkipped reports whether a header line was found and skipped.
func (r *Reader) HeaderSkipped() bool { return r.header }

// Rows and BadRows count what Next returned so far.
func (r *Reader) Rows() int64    { return r.rows }
func (r *Reader) BadRows() int64 { return r.bad }

// Repeats counts rows skipped quietly because an earlier line had the same
// open time and the same values: loading them again would change nothing.
func (r *Reader) Repeats() int64 { return r.repeats }

var errLineTooLong = errors.New("line too long")

// Next reads the next candle into c. It returns io.EOF at the end, a
// *RowError for a bad row (c is then unspecified; call Next again for the
// following rows), a *ContentError when the bytes are not CSV text, or
// another error when the source cannot be read. A row repeating an earlier
// open time is a bad row when its values differ (the earlier one is kept)
// and skipped quietly when they are the same.
func (r *Reader) Next(c *contract.Candle) error {
	if r.step <= 0 {
		return fmt.Errorf("interval %d minutes: must be positive", r.interval)
	}
	if !r.sniffed {
		// Once, before the first line: started is set by the first line
		// read, which a too-long first line never is.
		r.sniffed = true
		if err := r.sniff(); err != nil {
			return err
		}
	}
	for {
		line, err := r.readLine()
		if err != nil {
			if err == io.EOF {
				return io.EOF
			}
			if err == errLineTooLong {
				r.bad++
				return &RowError{Line: r.line, Reason: fmt.Sprintf("line is longer than %d bytes", len(r.buf)), Text: errText(line)}
			}
			return fmt.Errorf("read line %d: %w", r.line+1, err)
		}
		if !r.started {
			r.started = true
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		line = trimSpace(line)
		if len(line) == 0 {
			continue
		}
		if !r.sawData {
			r.sawData = true
			if isHeader(line) {
				r.header = true
				continue
			}
		}
		if reason := r.parse(line, c); reason != "" {
			r.bad++
			return &RowError{Line: r.line, Reason: reason, Text: errText(line)}
		}
		if earlier, same := r.times.add(c.Time, r.line, c); earlier != 0 {
			if same {
				r.repeats++
				continue
			}
			r.bad++
			return &RowError{Line: r.line, Reason: repeatReason(c.Time, earlier), Text: errText(line)}
		}
		r.rows++
		return nil
	}
}

// sniff reads the first bytes and refuses input that is not text.
func (r *Reader) sniff() error {
	for r.w-r.r < 6 && r.rerr == nil {
		if err := r.fill(); err != nil {
			return fmt.Errorf("read line 1: %w", err)
		}
	}
	if reason := sniff(r.buf[r.r:r.w]); reason != "" {
		r.started = true
		r.r, r.w, r.rerr = 0, 0, io.EOF
		return &ContentError{Reason: reason}
	}
	return nil
}

// readLine returns the next line without its '\n'. The slice points into the
// buffer and is valid until the next call.
func (r *Reader) readLine() ([]byte, error) {
	for {
		if i := bytes.IndexByte(r.buf[r.r+r.scanned:r.w], '\n'); i >= 0 {
			end := r.r + r.scanned + i
			line := r.buf[r.r:end]
			r.r = end + 1
			r.scanned = 0
			r.line++
			return line, nil
		}
		r.scanned = r.w - r.r
		if r.rerr != nil {
			if r.r < r.w {
				line := r.buf[r.r:r.w]
				r.r, r.scanned = r.w, 0
				r.line++
				return line, nil
			}
			return nil, r.rerr
		}
		if r.r > 0 {
			copy(r.buf, r.buf[r.r:r.w])
			r.w -= r.r
			r.r = 0
		}
		if r.w == len(r.buf) {
			return r.skipLongLine()
		}
		if err := r.fill(); err != nil {
			return nil, err
		}
	}
}

// fill reads once into the free part of the buffer.
func (r *Reader) fill() error {
	for tries := 0; tries < 100; tries++ {
		n, err := r.src.Read(r.buf[r.w:])
		r.w += n
		if err != nil {
			r.rerr = err
			if err != io.EOF {
				return err
			}
			return nil
		}
		if n > 0 {
			return nil
		}
	}
	r.rerr = io.ErrNoProgress
	return io.ErrNoProgress
}

// skipLongLine drops a line that does not fit the buffer, keeping its start
// for the error report.
func (r *Reader) skipLongLine() ([]byte, error) {
	head := append([]byte(nil), r.buf[:min(len(r.buf), maxErrorText)]...)
	r.line++
	for {
		if i := bytes.IndexByte(r.buf[r.r:r.w], '\n'); i >= 0 {
			r.r += i + 1
			r.scanned = 0
			return head, errLineTooLong
		}
		r.r, r.w, r.scanned = 0, 0, 0
		if r.rerr != nil {
			return head, errLineTooLong
		}
		if err := r.fill(); err != nil {
			return nil, err
		}
	}
}

// maxEchoedField bounds a field quoted in a reason: a reason travels in
// progress reports and ledger entries, which must stay far below the
// server's max payload whatever the file holds.
const maxEchoedField = 40

// echo is a field as a reason shows it, clipped with its length when long.
func echo(b []byte) string { return contract.Shorten(string(b), maxEchoedField) }

// quoted is echo in quotes (a field that is not the number it should be).
func quoted(b []byte) string { return contract.Clip(string(b), maxEchoedField) }

func errText(line []byte) string {
	if len(line) > maxErrorText {
		return string(line[:maxErrorText]) + "..."
	}
	return string(line)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' }

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// isHeader: a first line that starts with a letter or a quote and has the
// column count of a data row. Anything else is parsed (and reported) as data.
func isHeader(line []byte) bool {
	c := line[0]
	if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '"') {
		return false
	}
	n := bytes.Count(line, []byte{','})
	return n == 5 || n == 6
}

var columnNames = [7]string{"time", "open", "high", "low", "close", "volume", "trades"}

// parse fills c from one non-blank line and returns "" or why the row is bad.
func (r *Reader) parse(line []byte, c *contract.Candle) string {
	var f [7][]byte
	n := 0
	rest := line
	for {
		i := bytes.IndexByte(rest, ',')
		if n == 7 {
			return fmt.Sprintf("want 6 or 7 columns (time,open,high,low,close,volume[,trades]), got %d", 1+bytes.Count(line, []byte{','}))
		}
		if i < 0 {
			f[n] = trimSpace(rest)
			n++
			break
		}
		f[n] = trimSpace(rest[:i])
		n++
		rest = rest[i+1:]
	}
	if n < 6 {
		return fmt.Sprintf("want 6 or 7 columns (time,open,high,low,close,volume[,trades]), got %d", n)
	}

	t, ok := parseInt(f[0])
	if !ok {
		if len(f[0]) == 0 {
			return "time is empty"
		}
		return fmt.Sprintf("time %s is not a whole number of seconds", quoted(f[0]))
	}
	var v [5]float64
	for k := 1; k <= 5; k++ {
		if len(f[k]) == 0 {
			if k == 5 { // Kraken leaves volume empty when nothing traded
				v[4] = 0
				continue
			}
			return columnNames[k] + " is empty"
		}
		x, ok, finite := parseFloat(f[k])
		if !ok {
			return fmt.Sprintf("%s %s is not a number", columnNames[k], quoted(f[k]))
		}
		if !finite {
			return fmt.Sprintf("%s %s is not finite", columnNames[k], echo(f[k]))
		}
		v[k-1] = x
	}
	trades := contract.NoTrades
	if n == 7 && len(f[6]) > 0 {
		tr, ok := parseInt(f[6])
		if !ok {
			return fmt.Sprintf("trades %s is not a whole number", quoted(f[6]))
		}
		if tr < 0 {
			return fmt.Sprintf("trades %s is negative", echo(f[6]))
		}
		trades = tr
	}

	switch {
	case t < r.minTime:
		return fmt.Sprintf("time %s (%s) is before 2009-01-01", echo(f[0]), fmtTime(t))
	case t > r.maxTime:
		return fmt.Sprintf("time %s (%s) is in the future%s", echo(f[0]), fmtTime(t), r.msHint(t))
	case t%r.step != 0:
		return fmt.Sprintf("time %s (%s) is not aligned to the %d-minute interval", echo(f[0]), fmtTime(t), r.interval)
	}
	for k := 0; k < 4; k++ {
		if !(v[k] > 0) {
			return fmt.Sprintf("%s %s is not positive", columnNames[k+1], echo(f[k+1]))
		}
	}
	if v[4] < 0 {
		return fmt.Sprintf("volume %s is negative", echo(f[5]))
	}
	open, high, low, cl := v[0], v[1], v[2], v[3]
	switch {
	case high < low:
		return fmt.Sprintf("high %s is below low %s", echo(f[2]), echo(f[3]))
	case low > open:
		return fmt.Sprintf("low %s is above open %s", echo(f[3]), echo(f[1]))
	case low > cl:
		return fmt.Sprintf("low %s is above close %s", echo(f[3]), echo(f[4]))
	case high < open:
		return fmt.Sprintf("high %s is below open %s", echo(f[2]), echo(f[1]))
	case high < cl:
		return fmt.Sprintf("high %s is below close %s", echo(f[2]), echo(f[4]))
	}
	*c = contract.Candle{Time: t, Open: open, High: high, Low: low, Close: cl, VWAP: contract.NoVWAP, Volume: v[4], Trades: trades}
	return ""
}

func fmtTime(t int64) string {
	return time.Unix(t, 0).UTC().Format(time.RFC3339)
}

// parseInt parses an optionally signed decimal integer of at most 18 digits.
func parseInt(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseFloat parses a decimal number (digits, optional sign, point and
// exponent: 123, 0.5, 1E+1, 5.5e-3) exactly as strconv.ParseFloat does. ok is
// false for anything else (including inf, nan and hex); finite is false when
// the value overflows float64.
//
// Most prices and volumes have at most 15 significant digits and a small
// exponent; then mantissa and power of ten are both exact float64s and one
// IEEE multiplication or division rounds correctly (strconv's own fast path).
// Other inputs go to strconv, on a string sharing the bytes.
func parseFloat(s []byte) (v float64, ok, finite bool) {
	i := 0
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	var mant uint64
	nd, dp := 0, 0
	digits, dot, trunc := false, false, false
	for ; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			digits = true
			switch {
			case c == '0' && nd == 0:
				if dot {
					dp--
				}
			case nd < 19:
				mant = mant*10 + uint64(c-'0')
				nd++
				if dot {
					dp--
				}
			default:
				trunc = true
				if !dot {
					dp++
				}
			}
			continue
		}
		if c == '.' && !dot {
			dot = true
			continue
		}
		break
	}
	if !digits {
		return 0, false, false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		esign := 1
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			if s[i] == '-' {
				esign = -1
			}
			i++
		}
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return 0, false, false
		}
		e := 0
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			if e < 100000 {
				e = e*10 + int(s[i]-'0')
			}
		}
		dp += esign * e
	}
	if i != len(s) {
		return 0, false, false
	}
	if !trunc && mant < 1<<53 {
		f := float64(mant)
		if neg {
			f = -f
		}
		switch {
		case mant == 0:
			return f, true, true
		case dp == 0:
			return f, true, true
		case dp > 0 && dp <= 22:
			return f * pow10[dp], true, true
		case dp < 0 && dp >= -22:
			return f / pow10[-dp], true, true
		}
	}
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(s), len(s)), 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
			// Underflow to zero is a finite (if silly) value; overflow is not.
			return f, true, f == 0
		}
		return 0, false, false
	}
	return f, true, true
}
