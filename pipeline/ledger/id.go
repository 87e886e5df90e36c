package ledger

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

// FileID is a file's identity in the pipeline: the LEDGER key, the FILEDATA
// object name and the file id in FileEvents, progress reports and candle
// batch ids. It is the sha256 of the content's sha256 together with the
// pair, interval and zip member path the file is loaded as, because the
// same bytes under another name (AAAUSD_60.csv, BBBUSD_60.csv) are other
// candles: keyed by the content alone, the second file was taken for the
// first and none of its rows were loaded.
//
// member is the path inside the zip ("Kraken_OHLCVT/XBTUSD_60.csv"), ""
// for a plain file: two members with the same base name in different
// folders are two files.
func FileID(content, pair string, interval int, member string) string {
	h := sha256.New()
	// One field a line, with a version tag: no two inputs hash the same
	// text, and a later scheme can never collide with this one.
	for _, s := range []string{"fff-file-id/2", content, pair, strconv.Itoa(interval), member} {
		h.Write([]byte(s))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// LegacyMatch says whether an entry stored under a content hash alone (the
// key of ledgers written before FileID included the pair and interval) is
// the file now submitted as pair and interval: such an entry stands for it,
// so a file ingested before the change is still recognised and not loaded
// again, while the same bytes under another name are loaded as their own
// file.
func LegacyMatch(e contract.LedgerEntry, content, pair string, interval int) bool {
	return e.FileID == content && e.Pair == pair && e.Interval == interval
}
