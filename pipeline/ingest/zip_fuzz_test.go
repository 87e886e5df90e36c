package ingest

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/kraken"
)

// FuzzZipMembers feeds arbitrary bytes as a zip dropped into the inbox. The
// watcher and `fff ingest` must not panic on it; an unreadable zip is one
// FileError naming it; otherwise every member that is not a folder, a
// dotfile or macOS metadata is judged once, in order, as a candidate whose
// name Kraken ships (then reading it gives exactly its size in bytes, or a
// FileError naming the zip and the member) or as a skip with a reason.
//
// Seeds: zips generated from the real exports in testdata/kraken (stored and
// deflated, with folders, __MACOSX, misnamed and empty members). Run longer
// with `go test -run '^$' -fuzz FuzzZipMembers -fuzztime 10m ./pipeline/ingest/`.
func FuzzZipMembers(f *testing.F) {
	var members []zipMember
	for _, name := range []string{"XBTUSD_1440.csv", "ETHUSD_1440.csv"} {
		data := testenv.Fixture(f, name)
		head := data[:bytes.IndexByte(data, '\n')+1]
		members = append(members, zipMember{"Kraken_OHLCVT/" + name, data, zip.Deflate},
			zipMember{strings.Replace(name, "1440", "60", 1), head, zip.Store})
	}
	f.Add(makeZip(f, members...))
	f.Add(makeZip(f, members[1], zipMember{"__MACOSX/._XBTUSD_60.csv", []byte("x"), zip.Store},
		zipMember{"Kraken_OHLCVT/", nil, zip.Store}, zipMember{".DS_Store", []byte("x"), zip.Store},
		zipMember{"XBTUSD_7.csv", []byte("1,1,1,1,1,1\n"), zip.Deflate}, zipMember{"ETHUSD_15.csv", nil, zip.Deflate},
		zipMember{`win\XBTEUR_5.csv`, []byte("1381017600,1,1,1,1,1\n"), zip.Deflate}))
	f.Add(makeZip(f))
	f.Add([]byte("PK\x03\x04 not a zip"))

	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "drop.zip")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cands, skipped, err := ZipMembers(path, Filters{})
		zr, zerr := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) || fe.Path != path || !strings.Contains(err.Error(), "not a readable zip") || zerr == nil {
				t.Fatalf("ZipMembers: %v (archive/zip says %v): want a FileError naming the zip", err, zerr)
			}
			return
		}
		if zerr != nil {
			t.Fatalf("ZipMembers read a zip archive/zip refuses: %v", zerr)
		}
		var judged []string
		for _, zf := range zr.File {
			if !zf.FileInfo().IsDir() && !Ignored(zf.Name) && !strings.HasPrefix(zf.Name, "__MACOSX/") {
				judged = append(judged, zf.Name)
			}
		}
		if len(cands)+len(skipped) != len(judged) {
			t.Fatalf("%d members to judge, got %d candidates and %d skips", len(judged), len(cands), len(skipped))
		}
		ci, si := 0, 0
		for _, name := range judged {
			switch {
			case ci < len(cands) && cands[ci].Member == name:
				checkZipCandidate(t, path, cands[ci])
				ci++
			case si < len(skipped) && skipped[si].Member == name:
				s := skipped[si]
				if s.Path != path || s.Name != "drop.zip/"+name || s.Reason == "" || (s.Kind != SkipRejected && s.Kind != SkipFiltered) {
					t.Fatalf("skip %+v", s)
				}
				si++
			default:
				t.Fatalf("member %q is neither the next candidate nor the next skip", name)
			}
		}
	})
}

// checkZipCandidate: a candidate's name is a Kraken export name and reading
// it gives its declared size, or a FileError naming the zip and the member.
func checkZipCandidate(t *testing.T, path string, c Candidate) {
	t.Helper()
	pair, interval, err := kraken.ParseFileName(c.Member)
	if err != nil || pair != c.Pair || interval != c.Interval || c.Path != path || c.Name != "drop.zip/"+c.Member || c.Size <= 0 {
		t.Fatalf("candidate %+v (file name: %s %d %v)", c, pair, interval, err)
	}
	sum, n, err := hashOf(c)
	if err != nil {
		var fe *FileError
		if !errors.As(err, &fe) || fe.Path != path || !strings.Contains(err.Error(), c.Member) {
			t.Fatalf("reading member %q: %v: want a FileError naming the zip and the member", c.Member, err)
		}
		return
	}
	if n != c.Size || len(sum) != 64 {
		t.Fatalf("member %q: read %d bytes (sha256 %q), its size is %d", c.Member, n, sum, c.Size)
	}
}

// FuzzZipMemberContent puts one generated member next to a real export and
// checks that what the pipeline reads from the zip is byte for byte what was
// put in: same sha256 (the file id), same size, judged by its name alone.
//
// Run longer with `go test -run '^$' -fuzz FuzzZipMemberContent -fuzztime 10m ./pipeline/ingest/`.
func FuzzZipMemberContent(f *testing.F) {
	f.Add("XBTUSD_60.csv", []byte("1381017600,122,122,122,122,0.1,1\n"), true)
	f.Add("Kraken_OHLCVT/ETHUSD_1440.csv", []byte{}, false)
	f.Add("XBTUSD_7.csv", []byte("x"), true)
	f.Fuzz(func(t *testing.T, name string, content []byte, deflate bool) {
		method := zip.Store
		if deflate {
			method = zip.Deflate
		}
		if strings.HasSuffix(name, "/") && len(content) > 0 {
			t.Skip("a zip directory entry holds no bytes: archive/zip refuses to write any")
		}
		path := filepath.Join(t.TempDir(), "drop.zip")
		data := makeZip(t, zipMember{"ETHUSD_60.csv", []byte("1438905600,3,3,3,3,1,4\n"), zip.Deflate}, zipMember{name, content, method})
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cands, skipped, err := ZipMembers(path, Filters{})
		if err != nil {
			t.Fatalf("a zip archive/zip wrote: %v", err)
		}
		var got *Candidate
		for i := range cands {
			if cands[i].Member == name {
				got = &cands[i]
			}
		}
		_, _, nameErr := kraken.ParseFileName(name)
		looked := !strings.HasSuffix(name, "/") && !Ignored(name) && !strings.HasPrefix(name, "__MACOSX/")
		wantCand := looked && nameErr == nil && len(content) > 0 && name != "ETHUSD_60.csv"
		if (got != nil) != wantCand {
			t.Fatalf("member %q (%d bytes, name error %v): candidate %v; skipped %+v", name, len(content), nameErr, got != nil, skipped)
		}
		if got == nil {
			return
		}
		sum, n, err := hashOf(*got)
		want := sha256.Sum256(content)
		if err != nil || n != int64(len(content)) || sum != hex.EncodeToString(want[:]) {
			t.Fatalf("member %q: read %d bytes sha256 %s (%v), want %d bytes %x", name, n, sum, err, len(content), want)
		}
	})
}

type zipMember struct {
	name   string
	data   []byte
	method uint16
}

func makeZip(tb testing.TB, members ...zipMember) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range members {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: m.name, Method: m.method})
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := w.Write(m.data); err != nil {
			tb.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}
