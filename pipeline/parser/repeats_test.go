package parser

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

// Open times a file repeats: the same values again are dropped without a
// word, other values are a bad row naming both lines, wherever they are.
func TestRepeatedOpenTimes(t *testing.T) {
	const (
		a = "1381017600,122,124,121,123,1,1"
		b = "1381104000,123,125,122,124,2,2"
		c = "1381190400,124,126,123,125,3,3"
	)
	cases := []struct {
		name      string
		in        []string
		good      int
		repeats   int64
		wantLines [][2]int // bad line, earlier line it repeats
	}{
		{"identical repeat stays quiet", []string{a, b, b, c}, 3, 1, nil},
		{"different values name both lines", []string{a, b, "1381104000,123,125,122,124.5,2,2", c}, 3, 0, [][2]int{{3, 2}}},
		{"far apart, as when two exports are pasted together", []string{a, b, c, a, "1381104000,1,1,1,1,1,1"}, 3, 1, [][2]int{{5, 2}}},
		{"trades alone differ", []string{a, "1381017600,122,124,121,123,1,9"}, 1, 0, [][2]int{{2, 1}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(strings.NewReader(strings.Join(tc.in, "\n")+"\n"), 1440, WithNow(testNow))
			res := readAll(t, r)
			if len(res.candles) != tc.good || r.Repeats() != tc.repeats {
				t.Errorf("%d good rows, %d repeats; want %d, %d", len(res.candles), r.Repeats(), tc.good, tc.repeats)
			}
			if len(res.errs) != len(tc.wantLines) {
				t.Fatalf("errors %+v, want %d", res.errs, len(tc.wantLines))
			}
			for i, w := range tc.wantLines {
				e := res.errs[i]
				if e.Line != w[0] || !strings.Contains(e.Reason, "repeats line "+strconv.Itoa(w[1])+" with different values") ||
					!strings.Contains(e.Reason, "line "+strconv.Itoa(w[1])+" is kept") {
					t.Errorf("error %+v: want line %d repeating line %d, which is kept", e, w[0], w[1])
				}
			}
			// The earlier row is the one that comes through.
			for _, cd := range res.candles {
				if cd.Time == 1381104000 && cd.Close != 124 {
					t.Errorf("the later row won: %+v", cd)
				}
			}
		})
	}
}

// Bytes that are not CSV text, and times in milliseconds, say what they are.
func TestContentHints(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("1381017600,122,124,121,123,1,1\n"))
	zw.Close()
	cases := []struct {
		name    string
		in      []byte
		content string // ContentError reason contains
		row     string // first row error reason contains
	}{
		{"gzip", gz.Bytes(), "this is gzip", ""},
		{"zip", []byte("PK\x03\x04rest of a zip"), "this is a zip archive", ""},
		{"milliseconds", []byte("1736496000000,122,124,121,123,1,1\n1736582400000,122,124,121,123,1,1\n"), "",
			"looks like milliseconds (2025-01-10T08:00:00Z)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(bytes.NewReader(tc.in), 1440, WithNow(testNow))
			var c contract.Candle
			err := r.Next(&c)
			var ce *ContentError
			var re *RowError
			switch {
			case tc.content != "":
				if !errors.As(err, &ce) || !strings.Contains(ce.Reason, tc.content) {
					t.Fatalf("Next: %v, want a ContentError saying %q", err, tc.content)
				}
				if err := r.Next(&c); err != io.EOF {
					t.Errorf("after the ContentError: %v, want EOF", err)
				}
			default:
				if !errors.As(err, &re) || !strings.Contains(re.Reason, tc.row) {
					t.Fatalf("Next: %v, want a row error saying %q", err, tc.row)
				}
			}
		})
	}
}
