package benchmark

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/klauspost/compress/flate"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

// ArchiveName is the zip the archive step generates, named like Kraken's
// download, and ArchiveFolder the folder its members are in.
const (
	ArchiveName   = "Kraken_OHLCVT.zip"
	ArchiveFolder = "Kraken_OHLCVT"
)

// DefaultArchivePairs is how many pairs the generated archive has.
const DefaultArchivePairs = 200

// SmallFileRows: a member with fewer rows is a small file (files/s).
const SmallFileRows = 10_000

// archiveEnd bounds the archive's open times, so that the same seed gives
// the same bytes whatever the day (the rows end a day before it).
var archiveEnd = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// ArchiveSpec describes a generated Kraken_OHLCVT-like zip.
type ArchiveSpec struct {
	Path  string // the zip to write
	Rows  int64  // rows over every member (at least one per member)
	Pairs int    // default DefaultArchivePairs
	Seed  uint64
	// Workers generate and deflate members in parallel (default
	// GOMAXPROCS); the zip's bytes do not depend on it.
	Workers int
	// SmallOnly writes only the members under SmallFileRows rows, each with
	// the same bytes as in the whole archive.
	SmallOnly bool
}

// ArchiveMember is one CSV of the archive.
type ArchiveMember struct {
	Name     string `json:"name"` // Kraken_OHLCVT/XBTUSD_1.csv
	Pair     string `json:"pair"`
	Interval int    `json:"interval"`
	Rows     int64  `json:"rows"`
	Bytes    int64  `json:"bytes"` // uncompressed
	spec     pairSpec
	index    int // in the layout: the member's seed
}

// Archive is a generated zip.
type Archive struct {
	Path     string
	Members  []ArchiveMember // in the zip's order (by name)
	Rows     int64
	Bytes    int64 // uncompressed CSV
	ZipBytes int64
}

// Small is how many members have fewer than SmallFileRows rows, and their rows.
func (a *Archive) Small() (files int, rows int64) {
	for _, m := range a.Members {
		if m.Rows < SmallFileRows {
			files++
			rows += m.Rows
		}
	}
	return files, rows
}

// Largest is the member with the most rows.
func (a *Archive) Largest() ArchiveMember {
	var l ArchiveMember
	for _, m := range a.Members {
		if m.Rows > l.Rows {
			l = m
		}
	}
	return l
}

// archiveLayout decides every member's rows: the same arguments give the
// same layout. Pair k has an age (days since it was listed) and an
// activity (the chance that a minute has a trade); a file of interval iv
// has one candle per interval with at least one trade:
// age·1440/iv · (1 − (1 − activity)^iv) rows. Four majors (XBTUSD, ETHUSD,
// SOLUSD, XRPUSD) trade every minute for 8.2 to 3.3 years, 16 mid pairs for
// 1.6 to 5 years with 1–8 % of minutes traded, and the rest are young or
// illiquid: listed 30 days to 4 years ago, 0.05–1 % of minutes traded, so
// that their files hold hundreds to a few thousand rows; the coarse
// intervals are small by construction. The counts are then scaled to rows
// in total (at the default 200 pairs, 20 M rows is a scale of about 1),
// each member keeping at least one row and at most what fits since 2009.
func archiveLayout(rows int64, pairs int, seed uint64, end time.Time) ([]ArchiveMember, error) {
	if pairs <= 0 {
		pairs = DefaultArchivePairs
	}
	ivs := contract.CSVIntervals
	n := pairs * len(ivs)
	if rows < int64(n) {
		return nil, fmt.Errorf("%d rows over %d pairs × %d intervals: want at least one row per member (%d)", rows, pairs, len(ivs), n)
	}
	rng := rand.New(rand.NewPCG(seed, 0x61726368697665)) // "archive"
	uniform := func(lo, hi float64) float64 { return lo + (hi-lo)*rng.Float64() }
	logUniform := func(lo, hi float64) float64 { return math.Exp(uniform(math.Log(lo), math.Log(hi))) }
	type weighted struct {
		m      ArchiveMember
		weight float64
		limit  int64
	}
	ws := make([]weighted, 0, n)
	var total float64
	for k := range pairs {
		var days, active float64
		switch {
		case k < 4:
			days, active = 3000-600*float64(k), 1
		case k < 20:
			days, active = uniform(600, 1800), logUniform(0.01, 0.08)
		default:
			days, active = uniform(30, 1500), logUniform(0.0005, 0.01)
		}
		p := pairOf(k)
		for _, iv := range ivs {
			w := days * 1440 / float64(iv) * (1 - math.Pow(1-active, float64(iv)))
			limit := int64(end.Add(-24*time.Hour).Sub(Earliest) / (time.Duration(iv) * time.Minute))
			ws = append(ws, weighted{m: ArchiveMember{Name: fmt.Sprintf("%s/%s_%d.csv", ArchiveFolder, p.name, iv), Pair: p.name, Interval: int(iv), spec: p},
				weight: max(w, 1), limit: limit})
			total += max(w, 1)
		}
	}
	var sum int64
	for i := range ws {
		r := int64(ws[i].weight * float64(rows) / total)
		ws[i].m.Rows = min(max(r, 1), ws[i].limit)
		sum += ws[i].m.Rows
	}
	// Hand the rounding (and what did not fit) to the biggest members, or
	// take the excess of the one-row floor back from them.
	order := make([]int, len(ws))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return ws[order[a]].weight > ws[order[b]].weight })
	for _, i := range order {
		if sum == rows {
			break
		}
		if sum < rows {
			add := min(rows-sum, ws[i].limit-ws[i].m.Rows)
			ws[i].m.Rows += add
			sum += add
		} else {
			take := min(sum-rows, ws[i].m.Rows-1)
			ws[i].m.Rows -= take
			sum -= take
		}
	}
	if sum != rows {
		return nil, fmt.Errorf("%d rows do not fit in %d pairs of candles since 2009 (at most %d)", rows, pairs, sum)
	}
	out := make([]ArchiveMember, len(ws))
	for i, w := range ws {
		out[i] = w.m
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	for i := range out {
		out[i].index = i
	}
	return out, nil
}

// GenerateArchive writes the zip: one deflated member per pair and
// interval, rows as Generate writes them (Kraken's OHLCVT, no header, seven
// columns). Members are generated and compressed in parallel, each into a
// file of its own next to the zip, then copied into the zip in name order;
// the same spec gives the same bytes.
func GenerateArchive(ctx context.Context, s ArchiveSpec) (*Archive, error) {
	end := archiveEnd
	if now := time.Now().UTC().Truncate(24 * time.Hour); now.Before(end) {
		end = now
	}
	members, err := archiveLayout(s.Rows, s.Pairs, s.Seed, end)
	if err != nil {
		return nil, err
	}
	if s.SmallOnly {
		members = slices.DeleteFunc(members, func(m ArchiveMember) bool { return m.Rows >= SmallFileRows })
		if len(members) == 0 {
			return nil, fmt.Errorf("no member of %d rows is under %d rows", s.Rows, SmallFileRows)
		}
	}
	workers := s.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(s.Path), ".archive-members-")
	if err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	defer os.RemoveAll(tmp)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type done struct {
		path       string       // the deflated member, or
		mem        bytes.Buffer // held in memory when small
		crc        uint32
		compressed int64
		err        error
	}
	results := make([]chan *done, len(members))
	for i := range results {
		results[i] = make(chan *done, 1)
	}
	next := make(chan int)
	var wg sync.WaitGroup
	defer wg.Wait() // after cancel (deferred later, runs first)
	defer cancel()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := newDeflater()
			for i := range next {
				r := &done{}
				var dst io.Writer = &r.mem
				var f *os.File
				if members[i].Rows >= memberInMemoryRows {
					r.path = filepath.Join(tmp, fmt.Sprintf("%05d.deflate", i))
					if f, r.err = os.Create(r.path); r.err != nil {
						results[i] <- r
						continue
					}
					dst = f
				}
				r.crc, r.compressed, members[i].Bytes, r.err = d.member(ctx, dst, members[i], s.Seed*1_000_003+uint64(members[i].index), end)
				if f != nil {
					if err := f.Close(); err != nil && r.err == nil {
						r.err = err
					}
				}
				results[i] <- r
			}
		}()
	}
	// The feeder is owned by this function too: it stops at cancel.
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(next)
		for i := range members {
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
		}
	}()

	zf, err := os.Create(s.Path)
	if err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	defer zf.Close()
	zw := zip.NewWriter(zf)
	a := &Archive{Path: s.Path}
	for i := range members {
		var d *done
		select {
		case d = <-results[i]:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if d.err != nil {
			return nil, fmt.Errorf("archive member %s: %w", members[i].Name, d.err)
		}
		m := members[i]
		w, err := zw.CreateRaw(&zip.FileHeader{Name: m.Name, Method: zip.Deflate, Modified: end,
			CRC32: d.crc, CompressedSize64: uint64(d.compressed), UncompressedSize64: uint64(m.Bytes)})
		if err != nil {
			return nil, fmt.Errorf("archive member %s: %w", m.Name, err)
		}
		if d.path == "" {
			_, err = w.Write(d.mem.Bytes())
		} else {
			err = copyFile(w, d.path)
			os.Remove(d.path)
		}
		if err != nil {
			return nil, fmt.Errorf("archive member %s: %w", m.Name, err)
		}
		a.Rows += m.Rows
		a.Bytes += m.Bytes
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	fi, err := zf.Stat()
	if err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	if err := zf.Close(); err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	a.Members, a.ZipBytes = members, fi.Size()
	return a, nil
}

// memberInMemoryRows: members with fewer rows are deflated into memory,
// bigger ones into a file of their own.
const memberInMemoryRows = 50_000

// deflater is one worker's compressor and buffer, reused for every member
// (a new 1 MiB buffer and flate state per small member would cost more
// than its rows).
type deflater struct {
	fw  *flate.Writer
	bw  *bufio.Writer
	crc hash.Hash32
	n   countingWriter
}

func newDeflater() *deflater {
	fw, _ := flate.NewWriter(io.Discard, flate.BestSpeed) // the level is valid
	return &deflater{fw: fw, bw: bufio.NewWriterSize(io.Discard, 1<<20), crc: crc32.NewIEEE()}
}

// member writes m's rows, deflated (raw, as zip stores them), to dst and
// returns their CRC-32, the compressed and the uncompressed size.
func (d *deflater) member(ctx context.Context, dst io.Writer, m ArchiveMember, seed uint64, end time.Time) (crc uint32, compressed, size int64, err error) {
	d.n = countingWriter{w: dst}
	d.fw.Reset(&d.n)
	d.crc.Reset()
	d.bw.Reset(ctxWriter{ctx, io.MultiWriter(d.fw, d.crc)})
	p := m.spec
	p.volume *= float64(m.Interval) // an interval trades the volume of its minutes
	// writeRows writes through d.bw itself: bufio.NewWriterSize returns a
	// big enough *bufio.Writer as it is.
	gf, err := writeRows(d.bw, p, seed, m.Rows, 0, int64(m.Interval)*60, end, Kraken)
	if err != nil {
		return 0, 0, 0, err
	}
	if gf.Rows != m.Rows {
		return 0, 0, 0, fmt.Errorf("wrote %d rows, want %d", gf.Rows, m.Rows)
	}
	if err := d.fw.Close(); err != nil {
		return 0, 0, 0, err
	}
	return d.crc.Sum32(), d.n.n, gf.Bytes, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

func copyFile(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.Copy(w, f); err != nil {
		return err
	}
	return nil
}

// ctxWriter fails its writes once ctx ends, so a long member stops early.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(b)
}
