// Package benchmark is `fff bench`: it generates a Kraken-like OHLCVT set
// and measures each step of the pipeline (parse, codec, end to end into a
// null ILP server and into QuestDB, QuestDB's own /imp as the yardstick, peak
// RSS per stage) against the bars of docs/PERFORMANCE.md. Run is the whole
// benchmark; cmd/fff only parses flags and prints the report. The null
// server and the /imp client are QuestDB adapters (pipeline/questdb).
package benchmark

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Format of a generated file.
type Format int

const (
	// Kraken is Kraken's OHLCVT export: no header, seven columns (unix open
	// time in seconds, open, high, low, close, volume, trades).
	Kraken Format = iota
	// Imp is the same rows for QuestDB's /imp: a header, the open time in
	// microseconds (what /imp reads into a TIMESTAMP column) and the pair as
	// a column, since /imp has no way to add a constant one.
	Imp
)

// ImpHeader is the header line of Imp files.
const ImpHeader = "ts,pair,open,high,low,close,volume,trades"

// pairSpec is a real-looking Kraken altname with a starting price and the
// decimals Kraken quotes it with.
type pairSpec struct {
	name     string
	price    float64
	decimals int
	volume   float64 // mean volume of a minute
}

var pairSpecs = []pairSpec{
	{"XBTUSD", 42000, 1, 3.5}, {"ETHUSD", 2300, 2, 40}, {"SOLUSD", 100, 2, 300}, {"XRPUSD", 0.6, 5, 50000},
	{"ADAUSD", 0.5, 6, 40000}, {"DOTUSD", 7, 4, 2000}, {"LTCUSD", 70, 2, 150}, {"LINKUSD", 15, 5, 800},
	{"XDGUSD", 0.08, 7, 300000}, {"ATOMUSD", 9, 4, 900}, {"AVAXUSD", 35, 3, 400}, {"XBTEUR", 39000, 1, 1.2},
	{"ETHEUR", 2100, 2, 12}, {"ETHXBT", 0.055, 5, 8}, {"XMRUSD", 160, 2, 60}, {"TRXUSD", 0.1, 6, 100000},
}

// PairName is the pair of file i of a set: real altnames first, then
// made-up ones the pair splitter still accepts (Q001USD, ...).
func PairName(i int) string {
	return pairOf(i).name
}

func pairOf(i int) pairSpec {
	if i < len(pairSpecs) {
		return pairSpecs[i]
	}
	p := pairSpecs[i%len(pairSpecs)]
	p.name = fmt.Sprintf("Q%03dUSD", i)
	return p
}

// File is one generated file.
type File struct {
	Path  string
	Pair  string
	Rows  int64
	Bytes int64
	First int64 // open time of the first row, unix seconds
}

// Spec describes a set of one-minute files.
type Spec struct {
	Dir   string
	Rows  int64 // total, split evenly across Files
	Files int
	Seed  uint64
	// End bounds the open times from above (default now): each file's rows
	// end a day before it, so the parser's future check never trips.
	End time.Time
}

// Earliest open time a generated row may have (the parser refuses rows
// before 2009).
var Earliest = time.Date(2009, 1, 2, 0, 0, 0, 0, time.UTC)

// MaxRowsPerFile is how many distinct one-minute candles fit between
// Earliest and end.
func MaxRowsPerFile(end time.Time) int64 {
	return int64(end.Add(-24*time.Hour).Sub(Earliest) / time.Minute)
}

// Generate writes the set in the given format: file i is
// {PAIR}_1.csv (Kraken) or {PAIR}_1.imp.csv (Imp) for the i-th pair. The same
// Spec always gives the same rows, whatever the format.
func Generate(s Spec, f Format) ([]File, error) {
	if s.Files <= 0 || s.Rows < int64(s.Files) {
		return nil, fmt.Errorf("want at least one row per file (rows %d, files %d)", s.Rows, s.Files)
	}
	if s.End.IsZero() {
		s.End = time.Now()
	}
	per := s.Rows / int64(s.Files)
	if per+1 > MaxRowsPerFile(s.End) {
		return nil, fmt.Errorf("%d one-minute rows per file do not fit between 2009 and now (at most %d): use more files",
			per+1, MaxRowsPerFile(s.End))
	}
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return nil, err
	}
	var out []File
	for i := 0; i < s.Files; i++ {
		n := per
		if int64(i) < s.Rows%int64(s.Files) {
			n++
		}
		p := pairOf(i)
		name := p.name + "_1.csv"
		if f == Imp {
			name = p.name + "_1.imp.csv"
		}
		gf, err := writeFile(filepath.Join(s.Dir, name), p, s.Seed+uint64(i), n, 0, s.End, f)
		if err != nil {
			return out, err
		}
		out = append(out, gf)
	}
	return out, nil
}

// GenerateSize writes one Kraken one-minute file of about size bytes (for
// the memory figures), or of every minute from 2009 to a day ago when that
// is less (9.4M rows, about 520 MB): open times are never repeated. They
// used to wrap around, and since the parser refuses an open time repeated
// with other values, a 1 GiB file lost half its rows as bad ones.
func GenerateSize(dir string, size int64, seed uint64) (File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return File{}, err
	}
	p := pairSpecs[0]
	end := time.Now()
	return writeFile(filepath.Join(dir, p.name+"_1.csv"), p, seed, MaxRowsPerFile(end), size, end, Kraken)
}

// writeFile writes rows (or stops at maxBytes when it is positive) of
// one-minute candles to a new file at path.
func writeFile(path string, p pairSpec, seed uint64, rows, maxBytes int64, end time.Time, f Format) (File, error) {
	fh, err := os.Create(path)
	if err != nil {
		return File{}, err
	}
	gf, err := writeRows(fh, p, seed, rows, maxBytes, 60, end, f)
	if cerr := fh.Close(); cerr != nil && err == nil {
		err = cerr
	}
	gf.Path = path
	return gf, err
}

// writeRows writes rows candles of step seconds each (or stops at maxBytes
// when it is positive) to out, the last one opening a day before end.
func writeRows(out io.Writer, p pairSpec, seed uint64, rows, maxBytes, step int64, end time.Time, f Format) (File, error) {
	w := bufio.NewWriterSize(out, 1<<20)
	span := int64(end.Add(-24*time.Hour).Sub(Earliest) / (time.Duration(step) * time.Second))
	first := end.Add(-24*time.Hour).Unix()/step*step - step*min(rows, span)
	if first < Earliest.Unix() {
		first = Earliest.Unix()
	}
	rng := rand.New(rand.NewPCG(seed, 0x6b72616b656e))
	price := p.price
	minPrice := 100 * math.Pow10(-p.decimals)
	var (
		line    []byte
		written int64
		n       int64
	)
	if f == Imp {
		line = append(line[:0], ImpHeader...)
		line = append(line, '\n')
		if _, err := w.Write(line); err != nil {
			return File{}, err
		}
		written += int64(len(line))
	}
	for ; n < rows; n++ {
		if maxBytes > 0 && written >= maxBytes {
			break
		}
		t := first + step*(n%span)
		open := price
		var cl, hi, lo, vol float64
		var trades int64
		if rng.IntN(100) == 0 { // a minute without trades: flat, volume 0
			cl, hi, lo = open, open, open
		} else {
			cl = open * (1 + rng.NormFloat64()*0.0008)
			if cl < minPrice {
				cl = p.price
			}
			hi = max(open, cl) * (1 + math.Abs(rng.NormFloat64())*0.0004)
			lo = min(open, cl) * (1 - math.Abs(rng.NormFloat64())*0.0004)
			vol = rng.ExpFloat64() * p.volume
			trades = 1 + int64(rng.IntN(120))
		}
		price = cl
		line = line[:0]
		if f == Imp {
			line = strconv.AppendInt(line, t*1_000_000, 10)
			line = append(line, ',')
			line = append(line, p.name...)
		} else {
			line = strconv.AppendInt(line, t, 10)
		}
		for _, v := range [4]float64{open, hi, lo, cl} {
			line = append(line, ',')
			line = strconv.AppendFloat(line, v, 'f', p.decimals, 64)
		}
		line = append(line, ',')
		switch {
		case vol == 0:
			line = append(line, "0.00000000"...)
		case n%41 == 7: // Kraken writes some small volumes in scientific notation
			line = strconv.AppendFloat(line, vol*1e-6, 'e', 3, 64)
		default:
			line = strconv.AppendFloat(line, vol, 'f', 8, 64)
		}
		line = append(line, ',')
		line = strconv.AppendInt(line, trades, 10)
		line = append(line, '\n')
		if _, err := w.Write(line); err != nil {
			return File{}, err
		}
		written += int64(len(line))
	}
	if err := w.Flush(); err != nil {
		return File{}, err
	}
	return File{Pair: p.name, Rows: n, Bytes: written, First: first}, nil
}
