package parser

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

// testNow pins "now" so the future-time rule does not depend on the clock.
var testNow = func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }

// expectCandles parses a clean CSV the slow, obvious way.
func expectCandles(t testing.TB, data []byte) []contract.Candle {
	t.Helper()
	var out []contract.Candle
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Split(strings.TrimSpace(line), ",")
		var c contract.Candle
		var err error
		if c.Time, err = strconv.ParseInt(f[0], 10, 64); err != nil {
			t.Fatal(err)
		}
		vals := []*float64{&c.Open, &c.High, &c.Low, &c.Close, &c.Volume}
		for i, p := range vals {
			if *p, err = strconv.ParseFloat(f[i+1], 64); err != nil {
				t.Fatal(err)
			}
		}
		c.VWAP = contract.NoVWAP
		c.Trades = contract.NoTrades
		if len(f) == 7 {
			if c.Trades, err = strconv.ParseInt(f[6], 10, 64); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, c)
	}
	return out
}

type result struct {
	candles []contract.Candle
	errs    []contract.RowError
}

func readAll(t testing.TB, r *Reader) result {
	t.Helper()
	var res result
	for {
		var c contract.Candle
		err := r.Next(&c)
		if err == io.EOF {
			return res
		}
		var re *RowError
		if errors.As(err, &re) {
			res.errs = append(res.errs, re.Row())
			continue
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		res.candles = append(res.candles, c)
	}
}

func sameCandle(a, b contract.Candle) bool {
	return a.Time == b.Time && a.Open == b.Open && a.High == b.High && a.Low == b.Low &&
		a.Close == b.Close && a.Volume == b.Volume && a.Trades == b.Trades &&
		math.IsNaN(a.VWAP) == math.IsNaN(b.VWAP)
}

func TestFixturesParseExactly(t *testing.T) {
	for _, tc := range []struct {
		name string
		rows int
	}{{"XBTUSD_1440.csv", 268}, {"ETHUSD_1440.csv", 295}} {
		t.Run(tc.name, func(t *testing.T) {
			data := testenv.Fixture(t, tc.name)
			want := expectCandles(t, data)
			for _, bufSize := range []int{DefaultBufferSize, 100, 131} {
				res := readAll(t, NewReader(bytes.NewReader(data), 1440, WithNow(testNow), WithBufferSize(bufSize)))
				if len(res.errs) > 0 {
					t.Fatalf("buffer %d: unexpected bad rows: %+v", bufSize, res.errs)
				}
				if len(res.candles) != tc.rows || len(want) != tc.rows {
					t.Fatalf("buffer %d: got %d candles, want %d", bufSize, len(res.candles), tc.rows)
				}
				for i := range want {
					if !sameCandle(res.candles[i], want[i]) {
						t.Fatalf("buffer %d: row %d: got %+v, want %+v", bufSize, i+1, res.candles[i], want[i])
					}
				}
			}
		})
	}
}

func TestFixtureValues(t *testing.T) {
	res := readAll(t, NewReader(bytes.NewReader(testenv.Fixture(t, "XBTUSD_1440.csv")), 1440, WithNow(testNow)))
	first := contract.Candle{Time: 1381017600, Open: 122, High: 122, Low: 122, Close: 122, VWAP: contract.NoVWAP, Volume: 0.1, Trades: 1}
	if !sameCandle(res.candles[0], first) || !math.IsNaN(res.candles[0].VWAP) {
		t.Errorf("first candle %+v, want %+v with NaN VWAP", res.candles[0], first)
	}
	third := contract.Candle{Time: 1381190400, Open: 123.91, High: 124.19, Low: 123.9, Close: 124.18, VWAP: contract.NoVWAP, Volume: 3.9916, Trades: 4}
	if !sameCandle(res.candles[2], third) {
		t.Errorf("third candle %+v, want %+v", res.candles[2], third)
	}
	// ETHUSD has a volume written as 4E+2.
	eth := readAll(t, NewReader(bytes.NewReader(testenv.Fixture(t, "ETHUSD_1440.csv")), 1440, WithNow(testNow)))
	found := false
	for _, c := range eth.candles {
		if c.Time == 1443744000 {
			found = true
			if c.Volume != 400 || c.Open != 0.66601 || c.Trades != 3 {
				t.Errorf("1443744000: %+v, want volume 400 from 4E+2", c)
			}
		}
	}
	if !found {
		t.Error("row 1443744000 missing")
	}
}

func TestTolerance(t *testing.T) {
	const want = "1381017600,122.0,122.0,122.0,122.0,0.1,1\n1381104000,123.61,123.61,123.61,123.61,0.1,1\n"
	wantC := expectCandles(t, []byte(want))
	cases := map[string]string{
		"bom":             "\xef\xbb\xbf" + want,
		"crlf":            strings.ReplaceAll(want, "\n", "\r\n"),
		"blank lines":     "\n\n" + strings.ReplaceAll(want, "\n", "\n\n \r\n"),
		"no final eol":    strings.TrimSuffix(want, "\n"),
		"header":          "time,open,high,low,close,volume,trades\n" + want,
		"bom+header+crlf": "\xef\xbb\xbf\"timestamp\",\"open\",\"high\",\"low\",\"close\",\"volume\",\"trades\"\r\n" + strings.ReplaceAll(want, "\n", "\r\n"),
		"spaces":          strings.ReplaceAll(want, ",", " , "),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			res := readAll(t, NewReader(strings.NewReader(in), 1440, WithNow(testNow)))
			if len(res.errs) > 0 {
				t.Fatalf("bad rows: %+v", res.errs)
			}
			if len(res.candles) != 2 || !sameCandle(res.candles[0], wantC[0]) || !sameCandle(res.candles[1], wantC[1]) {
				t.Fatalf("got %+v", res.candles)
			}
		})
	}
}

func TestOptionalColumns(t *testing.T) {
	in := "1381017600,122,123,121,122.5,1E+1\n" + // 6 columns: no trades
		"1381104000,122,123,121,122.5,,\n" + // empty volume and trades
		"1381190400,122,123,121,122.5,5.5E+2,\n" + // empty trades
		"1381276800,122,123,121,122.5,,7\n" // empty volume
	res := readAll(t, NewReader(strings.NewReader(in), 1440, WithNow(testNow)))
	if len(res.errs) > 0 {
		t.Fatalf("bad rows: %+v", res.errs)
	}
	want := []struct {
		vol    float64
		trades int64
	}{{10, contract.NoTrades}, {0, contract.NoTrades}, {550, contract.NoTrades}, {0, 7}}
	if len(res.candles) != len(want) {
		t.Fatalf("got %d candles", len(res.candles))
	}
	for i, w := range want {
		c := res.candles[i]
		if c.Volume != w.vol || c.Trades != w.trades || c.HasTrades() != (w.trades >= 0) || c.HasVWAP() {
			t.Errorf("row %d: volume %v trades %d, want %v %d", i+1, c.Volume, c.Trades, w.vol, w.trades)
		}
	}
}

// A bad row's reason echoes its fields clipped: 50 rows holding 200 KB
// fields once made a progress report larger than the server's max payload,
// which rejected a file whose good rows had landed.
func TestBadRowReasonsStayShort(t *testing.T) {
	const good = "1381017600,122,124,121,123,1,1"
	long := strings.Repeat("7", 200_000)
	var in strings.Builder
	in.WriteString(good + "\n")
	rows := []string{
		"1381104000," + long + ",124,121,123,1,1",     // a number, but 200 KB of it
		"1381104000,x" + long + ",124,121,123,1,1",    // not a number
		"1381104000,122,124,121,123,1,1.5" + long,     // trades not whole
		"1381104000,122,1" + long + ",121,123,1,1",    // high far above: fine, then volume
		"1381104000." + long + ",122,124,121,123,1,1", // time not whole
	}
	for i := 0; i < 50; i++ {
		in.WriteString(rows[i%len(rows)] + "\n")
	}
	in.WriteString(strings.Replace(good, "1381017600", "1381190400", 1) + "\n")
	res := readAll(t, NewReader(strings.NewReader(in.String()), 1440, WithNow(testNow)))
	if len(res.candles) < 2 {
		t.Errorf("got %d good candles, want the 2 good rows at least", len(res.candles))
	}
	if len(res.errs) < 40 {
		t.Fatalf("got %d errors, want the long rows reported", len(res.errs))
	}
	for _, e := range res.errs {
		if len(e.Reason) > 160 || len(e.Text) > maxErrorText+3 {
			t.Fatalf("line %d: reason of %d bytes, text of %d bytes: %.200s", e.Line, len(e.Reason), len(e.Text), e.Reason)
		}
		if strings.Contains(e.Reason, long[:100]) || !strings.Contains(e.Reason, " bytes)") {
			t.Fatalf("line %d: reason does not clip the field and say its length: %.200s", e.Line, e.Reason)
		}
	}
}

func TestBadRows(t *testing.T) {
	const good = "1381017600,122,124,121,123,1,1"
	cases := []struct {
		row, reason string
	}{
		{"1381017600,122,124,121,120.5,1,1", "low 121 is above close 120.5"},
		{"1381017600,122,120,119,123.9,1,1", "high 120 is below open 122"},
		{"1381017600,122,120,121,123,1,1", "high 120 is below low 121"},
		{"1381017600,119,120,118,123.9,1,1", "high 120 is below close 123.9"},
		{"1381017600,122,124,122.5,123,1,1", "low 122.5 is above open 122"},
		{"1381017600,0,124,121,123,1,1", "open 0 is not positive"},
		{"1381017600,122,124,-1,123,1,1", "low -1 is not positive"},
		{"1381017600,122,124,121,123,-0.5,1", "volume -0.5 is negative"},
		{"1381017600,122,124,121,123,1,-2", "trades -2 is negative"},
		{"1381017600,122,124,121,123,1,2.5", `trades "2.5" is not a whole number`},
		{"1381017600,abc,124,121,123,1,1", `open "abc" is not a number`},
		{"1381017600,NaN,124,121,123,1,1", `open "NaN" is not a number`},
		{"1381017600,122,inf,121,123,1,1", `high "inf" is not a number`},
		{"1381017600,122,1e400,121,123,1,1", "high 1e400 is not finite"},
		{"1381017600,122,124,121,,1,1", "close is empty"},
		{"1381017600.5,122,124,121,123,1,1", `time "1381017600.5" is not a whole number of seconds`},
		{",122,124,121,123,1,1", "time is empty"},
		{"1381017601,122,124,121,123,1,1", "time 1381017601 (2013-10-06T00:00:01Z) is not aligned to the 1440-minute interval"},
		{"1199145600,122,124,121,123,1,1", "time 1199145600 (2008-01-01T00:00:00Z) is before 2009-01-01"},
		{"1798761600,122,124,121,123,1,1", "time 1798761600 (2027-01-01T00:00:00Z) is in the future"},
		{"1381017600,122,124,121", "want 6 or 7 columns (time,open,high,low,close,volume[,trades]), got 4"},
		{"1381017600,122,124,121,123,1,1,9", "want 6 or 7 columns (time,open,high,low,close,volume[,trades]), got 8"},
		{"garbage", "want 6 or 7 columns (time,open,high,low,close,volume[,trades]), got 1"},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			// The bad row is line 3 (after a good row and a blank line); the
			// good rows around it still come through.
			in := good + "\n\n" + tc.row + "\n" + strings.Replace(good, "1381017600", "1381104000", 1) + "\n"
			res := readAll(t, NewReader(strings.NewReader(in), 1440, WithNow(testNow)))
			if len(res.candles) != 2 {
				t.Errorf("got %d good candles, want 2", len(res.candles))
			}
			if len(res.errs) != 1 {
				t.Fatalf("got errors %+v, want one", res.errs)
			}
			want := contract.RowError{Line: 3, Reason: tc.reason, Text: tc.row}
			if res.errs[0] != want {
				t.Errorf("got  %+v\nwant %+v", res.errs[0], want)
			}
		})
	}
}

func TestHeaderOnlyFirstLine(t *testing.T) {
	in := "1381017600,122,124,121,123,1,1\ntime,open,high,low,close,volume,trades\n"
	r := NewReader(strings.NewReader(in), 1440, WithNow(testNow))
	res := readAll(t, r)
	if len(res.candles) != 1 || len(res.errs) != 1 || res.errs[0].Line != 2 {
		t.Fatalf("a header-like line after data must be a bad row: %+v", res)
	}
	r = NewReader(strings.NewReader("time,open,high,low,close,volume,trades\n\n"), 1440)
	res = readAll(t, r)
	if len(res.candles) != 0 || len(res.errs) != 0 || !r.HeaderSkipped() {
		t.Fatalf("header only: %+v header=%v", res, r.HeaderSkipped())
	}
}

func TestLongLine(t *testing.T) {
	long := "1381017600," + strings.Repeat("1", 300) + ",1,1,1,1,1"
	in := long + "\n1381017600,122,124,121,123,1,1\n"
	res := readAll(t, NewReader(strings.NewReader(in), 1440, WithNow(testNow), WithBufferSize(128)))
	if len(res.candles) != 1 || len(res.errs) != 1 || res.errs[0].Line != 1 ||
		res.errs[0].Reason != "line is longer than 128 bytes" {
		t.Fatalf("got %+v", res)
	}
}

type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n > 0 {
		f.n--
		return copy(p, "1381017600,122,124,121,123,1,1\n"), nil
	}
	return 0, errors.New("disk on fire")
}

func TestReadErrorIsFatal(t *testing.T) {
	r := NewReader(&failingReader{n: 1}, 1440, WithNow(testNow))
	var c contract.Candle
	if err := r.Next(&c); err != nil {
		t.Fatal(err)
	}
	err := r.Next(&c)
	var re *RowError
	if err == nil || err == io.EOF || errors.As(err, &re) || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("got %v, want the read error", err)
	}
}

func TestParseFloatMatchesStrconv(t *testing.T) {
	inputs := []string{"0", "0.0", "-0", "1", "122.0", "0.1", "3.9916", "124.01687", "1E+1", "5.5E+2", "4E+2",
		"1e-7", "1.5e-10", "123456789012345678901234", "0.000000000000000000000000001", "9007199254740993",
		"9007199254740992", "1e22", "1e23", "1.7976931348623157e308", "4.9e-324", "2.2250738585072014e-308",
		"0.30000000000000004", "1.", ".5", "+7", "00012.5000", "99999999999999999999.5", "1e-400"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var b strings.Builder
		for range 1 + rng.IntN(20) {
			b.WriteByte(byte('0' + rng.IntN(10)))
		}
		if rng.IntN(2) == 0 {
			s := b.String()
			p := rng.IntN(len(s) + 1)
			b.Reset()
			b.WriteString(s[:p] + "." + s[p:])
		}
		if rng.IntN(4) == 0 {
			fmt.Fprintf(&b, "E%+d", rng.IntN(60)-30)
		}
		inputs = append(inputs, b.String())
	}
	for _, s := range inputs {
		if s == "." {
			continue
		}
		want, werr := strconv.ParseFloat(s, 64)
		got, ok, finite := parseFloat([]byte(s))
		if !ok {
			t.Fatalf("%q: not accepted (strconv: %v, %v)", s, want, werr)
		}
		if math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("%q: got %v (%x), strconv %v (%x)", s, got, math.Float64bits(got), want, math.Float64bits(want))
		}
		if finite != !math.IsInf(want, 0) {
			t.Fatalf("%q: finite=%v", s, finite)
		}
	}
	for _, s := range []string{"", ".", "-", "e5", "1e", "1e+", "1.2.3", "0x10", "inf", "NaN", "1_000", "1,5", "12a"} {
		if _, ok, _ := parseFloat([]byte(s)); ok {
			t.Errorf("%q accepted", s)
		}
	}
}

func FuzzParseFloat(f *testing.F) {
	for _, s := range []string{"1", "1E+1", "5.5E+2", "0.000123", "123456789.123456789"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok, _ := parseFloat([]byte(s))
		if !ok {
			return
		}
		want, err := strconv.ParseFloat(s, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			t.Fatalf("%q accepted but strconv says %v", s, err)
		}
		if math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("%q: got %v, strconv %v", s, got, want)
		}
	})
}

func TestNoAllocationPerRow(t *testing.T) {
	data := generateCSV(20000, 1)
	r := NewReader(bytes.NewReader(data), 1, WithNow(testNow))
	var c contract.Candle
	allocs := testing.AllocsPerRun(10000, func() {
		if err := r.Next(&c); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per row, want 0", allocs)
	}
}

// generateCSV writes n Kraken-like one-minute rows with the variety real
// files have: fractional prices, scientific volumes, some empty trades.
func generateCSV(n, interval int) []byte {
	var b bytes.Buffer
	rng := rand.New(rand.NewPCG(7, 8))
	t := int64(1600000000 / (interval * 60) * (interval * 60))
	price := 10000.0
	for i := 0; i < n; i++ {
		price *= 1 + (rng.Float64()-0.5)*0.002
		o := math.Round(price*10) / 10
		c := math.Round(price*(1+(rng.Float64()-0.5)*0.001)*10) / 10
		h := math.Max(o, c) + math.Round(rng.Float64()*50)/10
		l := math.Min(o, c) - math.Round(rng.Float64()*50)/10
		vol := strconv.FormatFloat(rng.Float64()*20, 'f', 8, 64)
		if i%50 == 0 {
			vol = "1E+1"
		}
		fmt.Fprintf(&b, "%d,%s,%s,%s,%s,%s,%d\n", t,
			strconv.FormatFloat(o, 'f', 1, 64), strconv.FormatFloat(h, 'f', 1, 64),
			strconv.FormatFloat(l, 'f', 1, 64), strconv.FormatFloat(c, 'f', 1, 64), vol, rng.IntN(500))
		t += int64(interval * 60)
	}
	return b.Bytes()
}

func BenchmarkParse(b *testing.B) {
	const rows = 1 << 20
	data := generateCSV(rows, 1)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	total := 0
	for b.Loop() {
		r := NewReader(bytes.NewReader(data), 1, WithNow(testNow))
		var c contract.Candle
		for {
			err := r.Next(&c)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			total++
		}
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "candles/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(total), "ns/candle")
}

// A first line longer than the buffer is one bad row and the rows after it
// still come through (the content check at the start used to run again after
// it and fail the read, found by FuzzReader).
func TestLongFirstLine(t *testing.T) {
	// 124 bytes: the skip ends 3 bytes before the end of the 64-byte buffer.
	in := strings.Repeat("x", 124) + "\n1381017600,122,124,121,123,1,1\n1381104000,122,124,121,123,1,1\n"
	res := readAll(t, NewReader(strings.NewReader(in), 1440, WithNow(testNow), WithBufferSize(64)))
	if len(res.candles) != 2 || len(res.errs) != 1 || res.errs[0].Line != 1 || !strings.Contains(res.errs[0].Reason, "longer than 64 bytes") {
		t.Fatalf("candles %d, errors %+v", len(res.candles), res.errs)
	}
}
