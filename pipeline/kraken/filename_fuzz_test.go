package kraken

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

var pairRe = regexp.MustCompile(`^[A-Z0-9]{2,20}$`)

// FuzzParseFileName: any name, from a path or a zip member, is either a
// Kraken export name whose pair can be a subject token and whose interval
// Kraken ships, or an error quoting the name it judged. An accepted name is
// found the same under any folder and reads back from its canonical form.
//
// Seeds: the names of the real exports in testdata/kraken and the cases of
// TestParseFileName. Run longer with
// `go test -run '^$' -fuzz FuzzParseFileName -fuzztime 10m ./pipeline/kraken/`.
func FuzzParseFileName(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "kraken", "*"))
	if len(files) == 0 {
		f.Fatal("no seed files in testdata/kraken")
	}
	for _, name := range files {
		f.Add(filepath.Base(name))
		f.Add(name)
	}
	for _, s := range []string{"inbox/XBTUSD_60.csv", "XBTUSD_7.csv", "xbtusd.csv", "XBTUSD_60.txt",
		`C:\Users\me\Kraken_OHLCVT\ETHUSD_1440.csv`, "Kraken_OHLCVT/1INCHEUR_21600.csv", "XBTUSD_060.csv", "__MACOSX/._XBTUSD_60.csv"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		pair, interval, err := ParseFileName(name)
		base := filepath.Base(strings.ReplaceAll(name, "\\", "/"))
		if err != nil {
			if pair != "" || interval != 0 {
				t.Fatalf("%q: error %v with values %q %d", name, err, pair, interval)
			}
			if want := fmt.Sprintf("file name %q: ", base); !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("%q: error %q does not name the file (%q)", name, err, want)
			}
			return
		}
		if !pairRe.MatchString(pair) || !contract.Interval(interval).ShippedAsCSV() {
			t.Fatalf("%q accepted as pair %q interval %d", name, pair, interval)
		}
		canonical := fmt.Sprintf("%s_%d.csv", pair, interval)
		for _, again := range []string{canonical, "inbox/" + name, `dir\` + name, "a.zip/x/" + canonical} {
			p, iv, err := ParseFileName(again)
			if err != nil || p != pair || iv != interval {
				t.Fatalf("%q is %s %d, but %q is %q %d (%v)", name, pair, interval, again, p, iv, err)
			}
		}
	})
}
