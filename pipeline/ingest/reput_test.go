package ingest_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/ingest"
	"github.com/feefifofunds/feefifofunds/pipeline/ledger"
)

// Reput puts the bytes again only when the ledger asks, and never stores a
// source that changed under the old id.
func TestReput(t *testing.T) {
	ctx, sub, store := ingest.StartSubmitter(t)
	data := []byte("1600000000,1,2,0.5,1.5,10,5\n")
	sum := sha256.Sum256(data)
	id := hex.EncodeToString(sum[:]) // a legacy id: the content alone
	named := ledger.FileID(id, "XBTUSD", 60, "")
	cases := []struct {
		name    string
		entry   contract.LedgerEntry
		content []byte
		want    bool
		wantErr error
	}{
		{"not asked", contract.LedgerEntry{FileID: id, State: contract.FileQueued}, data, false, nil},
		{"asked but settled", contract.LedgerEntry{FileID: id, State: contract.FileCommitted, Reput: true}, data, false, nil},
		{"asked", contract.LedgerEntry{FileID: id, State: contract.FileQueued, Reput: true, Waiting: "digests do not match"}, data, true, nil},
		{"source changed", contract.LedgerEntry{FileID: id, State: contract.FileQueued, Reput: true}, []byte("1600000000,9,9,9,9,9,9\n"), false, ingest.ErrChanged},
		{"asked, id of content and name", contract.LedgerEntry{FileID: named, Content: id, State: contract.FileQueued, Reput: true}, data, true, nil},
		{"source changed, id of content and name", contract.LedgerEntry{FileID: named, Content: id, State: contract.FileQueued, Reput: true}, []byte("1600000000,9,9,9,9,9,9\n"), false, ingest.ErrChanged},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_ = store.Delete(ctx, c.entry.FileID)
			path := filepath.Join(t.TempDir(), "XBTUSD_60.csv")
			if err := os.WriteFile(path, c.content, 0o644); err != nil {
				t.Fatal(err)
			}
			cand := ingest.Candidate{Path: path, Name: "XBTUSD_60.csv", Pair: "XBTUSD", Interval: 60, Size: int64(len(c.content))}
			did, err := sub.Reput(ctx, cand, c.entry)
			if did != c.want || !errors.Is(err, c.wantErr) {
				t.Fatalf("Reput = %v, %v; want %v, %v", did, err, c.want, c.wantErr)
			}
			got, err := store.GetBytes(ctx, c.entry.FileID)
			switch {
			case c.want && (err != nil || string(got) != string(data)):
				t.Errorf("stored %q, %v", got, err)
			case !c.want && err == nil:
				t.Errorf("bytes stored under %s although nothing was to be put: %q", c.entry.FileID[:12], got)
			}
		})
	}
}
