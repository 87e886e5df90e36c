package ingest

import (
	"archive/zip"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func writeZip(t *testing.T, path string, members map[string]string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for name, body := range members {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func readMember(t *testing.T, c Candidate) string {
	t.Helper()
	rc, err := open(c)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestZipMembersAreReadFromOneOpenedZipAndAChangedZipIsOpenedAgain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "Kraken_OHLCVT.zip")
	writeZip(t, path, map[string]string{"a/XBTUSD_1.csv": "one", "a/ETHUSD_1.csv": "two"})
	x := Candidate{Path: path, Member: "a/XBTUSD_1.csv"}
	e := Candidate{Path: path, Member: "a/ETHUSD_1.csv"}

	// Two members open at once, from the same reader.
	r1, err := open(x)
	if err != nil {
		t.Fatal(err)
	}
	if got := readMember(t, e); got != "two" {
		t.Fatalf("member ETHUSD_1.csv: %q", got)
	}
	first := zips.cur
	b, _ := io.ReadAll(r1)
	r1.Close()
	if string(b) != "one" || zips.cur != first {
		t.Fatalf("member XBTUSD_1.csv: %q; cached zip replaced: %v", b, zips.cur != first)
	}

	// The same path with new bytes (and a new modification time) is read anew.
	writeZip(t, path, map[string]string{"a/XBTUSD_1.csv": "three"})
	later := time.Now().Add(2 * time.Second)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	if got := readMember(t, x); got != "three" {
		t.Fatalf("after the zip changed, member XBTUSD_1.csv reads %q", got)
	}
	if zips.cur == first || first.refs != 0 {
		t.Fatalf("the old zip is still cached or open (refs %d)", first.refs)
	}
	if _, err := open(e); err == nil {
		t.Fatal("a member that is no longer in the changed zip was opened")
	}
}
