package testenv

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

var (
	rootOnce sync.Once
	root     string
	rootErr  error
)

// moduleRoot is the directory holding go.mod, found from the working
// directory up (go test runs in the package's directory).
func moduleRoot() (string, error) {
	rootOnce.Do(func() {
		dir, err := os.Getwd()
		if err != nil {
			rootErr = err
			return
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				root = dir
				return
			}
			up := filepath.Dir(dir)
			if up == dir {
				rootErr = os.ErrNotExist
				return
			}
			dir = up
		}
	})
	return root, rootErr
}

// Fixture is the content of testdata/kraken/name (real Kraken files; see
// its README.md).
func Fixture(t testing.TB, name string) []byte {
	t.Helper()
	dir, err := moduleRoot()
	if err != nil {
		t.Fatalf("fixture %s: module root: %v", name, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "testdata", "kraken", name))
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	return b
}

// FixtureCandles reads a Kraken OHLCVT CSV fixture with a minimal reader of
// its own (the parser is tested separately, so tests of later stages do not
// lean on it). A row without trades gets contract.NoTrades; VWAP is always
// contract.NoVWAP, as in Kraken's CSVs.
func FixtureCandles(t testing.TB, name string) []contract.Candle {
	t.Helper()
	var out []contract.Candle
	sc := bufio.NewScanner(bytes.NewReader(Fixture(t, name)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		p := strings.Split(line, ",")
		if len(p) < 6 {
			t.Fatalf("fixture %s: short row %q", name, line)
		}
		num := func(s string) float64 {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatalf("fixture %s: %q: %v", name, line, err)
			}
			return v
		}
		ts, err := strconv.ParseInt(p[0], 10, 64)
		if err != nil {
			t.Fatalf("fixture %s: %q: %v", name, line, err)
		}
		c := contract.Candle{Time: ts, Open: num(p[1]), High: num(p[2]), Low: num(p[3]), Close: num(p[4]),
			Volume: num(p[5]), VWAP: contract.NoVWAP, Trades: contract.NoTrades}
		if len(p) > 6 && p[6] != "" {
			c.Trades = int64(num(p[6]))
		}
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return out
}
