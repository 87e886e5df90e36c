package ingest

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/ledger"
)

// A group member stored but never queued (the load stopped in between) must
// not leave its bytes in FILEDATA: no ledger entry would ever delete them.
func TestStoredButNotQueuedBytesAreDeleted(t *testing.T) {
	ctx, sub, store := StartSubmitter(t)
	dir := t.TempDir()
	cand := func(name, body string) Candidate {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		c, skip, ignored := JudgeFile(p, fi, Filters{})
		if skip != nil || ignored {
			t.Fatalf("%s not a candidate: %+v", name, skip)
		}
		return c
	}
	stored := func(c Candidate, h hashed) bool {
		_, err := store.GetInfo(ctx, ledger.FileID(h.content, c.Pair, c.Interval, c.Member))
		if err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}

	alone := cand("XBTUSD_60.csv", "1600000000,1,2,0.5,1.5,10,5\n")
	h, err := sub.prepare(ctx, alone, SubmitOptions{})
	if err != nil || !h.stored || !stored(alone, h) {
		t.Fatalf("prepare: %v, stored %v", err, h.stored)
	}
	sub.unprepare(ctx, alone, h)
	if stored(alone, h) {
		t.Error("the bytes of a file that was never queued are still in FILEDATA")
	}

	// Queued meanwhile (the ledger has it): its bytes are its own and stay.
	queued := cand("ETHUSD_60.csv", "1600000000,3,4,2.5,3.5,10,5\n")
	h, err = sub.prepare(ctx, queued, SubmitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := sub.submitHashed(ctx, queued, h.content, h.size, SubmitOptions{}); err != nil || s.Outcome != Queued {
		t.Fatalf("queue: %v, %v", err, s.Outcome)
	}
	sub.unprepare(ctx, queued, h)
	if !stored(queued, h) {
		t.Error("unprepare deleted the bytes of a queued file")
	}
}
