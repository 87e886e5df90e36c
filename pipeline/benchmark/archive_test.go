package benchmark

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/kraken"
)

// TestArchiveLayout checks the default archive's shape: every pair in
// every interval Kraken ships, the exact total, a few one-minute files of
// millions of rows and mostly small files.
func TestArchiveLayout(t *testing.T) {
	const rows = 20_000_000
	ms, err := archiveLayout(rows, 0, 1, archiveEnd)
	if err != nil {
		t.Fatal(err)
	}
	if want := DefaultArchivePairs * len(contract.CSVIntervals); len(ms) != want {
		t.Fatalf("%d members, want %d", len(ms), want)
	}
	var sum int64
	var millions, small int
	for _, m := range ms {
		if m.Rows < 1 {
			t.Errorf("%s: %d rows", m.Name, m.Rows)
		}
		sum += m.Rows
		if m.Rows >= 1_000_000 {
			millions++
			if m.Interval != 1 && m.Interval != 5 {
				t.Errorf("%s: %d rows in a coarse interval", m.Name, m.Rows)
			}
		}
		if m.Rows < SmallFileRows {
			small++
		}
		pair, iv, err := kraken.ParseFileName(m.Name)
		if err != nil || pair != m.Pair || iv != m.Interval || !strings.HasPrefix(m.Name, ArchiveFolder+"/") {
			t.Errorf("%s: %q %d %v", m.Name, pair, iv, err)
		}
	}
	if sum != rows {
		t.Errorf("%d rows in total, want %d", sum, rows)
	}
	if millions < 3 || millions > 8 {
		t.Errorf("%d members of a million rows or more, want a few", millions)
	}
	if small < len(ms)*3/4 {
		t.Errorf("%d small members of %d, want most", small, len(ms))
	}
	if !slices.IsSortedFunc(ms, func(a, b ArchiveMember) int { return strings.Compare(a.Name, b.Name) }) {
		t.Error("members not in name order")
	}
	again, _ := archiveLayout(rows, 0, 1, archiveEnd)
	if !slices.Equal(ms, again) {
		t.Error("the same seed gave another layout")
	}
	if _, err := archiveLayout(1000, 0, 1, archiveEnd); err == nil {
		t.Error("1,000 rows over 1,600 members: no error")
	}
	t.Logf("%d members, %d of ≥ 1 M rows, %d under %d rows; largest %+v", len(ms), millions, small, SmallFileRows, largest(ms))
}

func largest(ms []ArchiveMember) ArchiveMember {
	a := Archive{Members: ms}
	return a.Largest()
}

// TestGenerateArchive reads a small archive back: members where the layout
// put them, rows the parser's shape, the same bytes for the same seed
// whatever the number of workers.
func TestGenerateArchive(t *testing.T) {
	dir := t.TempDir()
	gen := func(name string, workers int) *Archive {
		a, err := GenerateArchive(context.Background(), ArchiveSpec{Path: filepath.Join(dir, name), Rows: 50_000, Seed: 7, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	a := gen("a.zip", 3)
	b := gen("b.zip", 1)
	if sha(t, a.Path) != sha(t, b.Path) {
		t.Error("the same spec gave other bytes")
	}
	zr, err := zip.OpenReader(a.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if len(zr.File) != len(a.Members) {
		t.Fatalf("%d members in the zip, %d generated", len(zr.File), len(a.Members))
	}
	var rows int64
	for i, zf := range zr.File {
		m := a.Members[i]
		if zf.Name != m.Name || zf.UncompressedSize64 != uint64(m.Bytes) {
			t.Fatalf("member %d: %s (%d bytes), want %s (%d)", i, zf.Name, zf.UncompressedSize64, m.Name, m.Bytes)
		}
		rc, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(rc) // checks the CRC too
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		n := int64(bytes.Count(body, []byte("\n")))
		if n != m.Rows {
			t.Errorf("%s: %d lines, want %d", m.Name, n, m.Rows)
		}
		rows += n
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Scan()
		if f := strings.Split(sc.Text(), ","); len(f) != 7 {
			t.Errorf("%s: first line %q: want 7 columns", m.Name, sc.Text())
		}
	}
	if rows != 50_000 || a.Rows != 50_000 {
		t.Errorf("%d rows read, %d said, want 50,000", rows, a.Rows)
	}
	if fi, _ := os.Stat(a.Path); fi.Size() != a.ZipBytes {
		t.Errorf("zip is %d bytes, said %d", fi.Size(), a.ZipBytes)
	}
}

func sha(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}
