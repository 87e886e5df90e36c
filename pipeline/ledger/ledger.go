// Package ledger is the file ledger: one contract.LedgerEntry per file id in
// the LEDGER key-value bucket, and the keeper (Run) that folds the parsers'
// and writers' progress reports into it. The watcher and `fff ingest` learn
// that a file is fully committed from the ledger, never from the stages.
package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/jsplumb"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// MaxErrors caps the bad rows kept in one entry, so a file of garbage does
// not make a huge ledger entry.
const MaxErrors = 100

// ErrNotFound is returned by Get for a file id the ledger does not know.
var ErrNotFound = errors.New("file not in the ledger")

// ErrExists is returned by Create when the file id is already in the ledger.
var ErrExists = errors.New("file already in the ledger")

// ErrConflict is returned by Put when the entry changed since the revision
// the caller read.
var ErrConflict = errors.New("ledger entry changed concurrently")

// Ledger reads and writes LEDGER entries.
type Ledger struct {
	kv jetstream.KeyValue
}

// Open binds to the LEDGER bucket (topology.Ensure must have created it).
func Open(ctx context.Context, js jetstream.JetStream) (*Ledger, error) {
	kv, err := js.KeyValue(ctx, topology.BucketLedger)
	if err != nil {
		return nil, fmt.Errorf("open ledger bucket %s: %w", topology.BucketLedger, err)
	}
	return &Ledger{kv: kv}, nil
}

// Terminal says whether a file in this state will not change any more by
// itself: COMMITTED, REJECTED or FAILED.
func Terminal(state string) bool {
	switch state {
	case contract.FileCommitted, contract.FileRejected, contract.FileFailed:
		return true
	}
	return false
}

// Get returns the entry of a file and its revision, or ErrNotFound.
func (l *Ledger) Get(ctx context.Context, fileID string) (contract.LedgerEntry, uint64, error) {
	kve, err := l.kv.Get(ctx, fileID)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return contract.LedgerEntry{}, 0, fmt.Errorf("file %s: %w", short(fileID), ErrNotFound)
	}
	if err != nil {
		return contract.LedgerEntry{}, 0, fmt.Errorf("ledger get %s: %w", short(fileID), err)
	}
	e, err := decode(kve.Value())
	if err != nil {
		return contract.LedgerEntry{}, 0, fmt.Errorf("ledger entry %s: %w", short(fileID), err)
	}
	return e, kve.Revision(), nil
}

// Create writes a new entry; ErrExists when the file id is already there.
func (l *Ledger) Create(ctx context.Context, e contract.LedgerEntry) (uint64, error) {
	b, err := encode(&e)
	if err != nil {
		return 0, err
	}
	rev, err := l.kv.Create(ctx, e.FileID, b)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return 0, fmt.Errorf("file %s: %w", short(e.FileID), ErrExists)
	}
	if err != nil {
		return 0, fmt.Errorf("ledger create %s: %w", short(e.FileID), err)
	}
	return rev, nil
}

// Put replaces the entry read at revision rev (compare and set); ErrConflict
// when someone changed it in between. rev 0 writes unconditionally.
func (l *Ledger) Put(ctx context.Context, e contract.LedgerEntry, rev uint64) (uint64, error) {
	b, err := encode(&e)
	if err != nil {
		return 0, err
	}
	var n uint64
	if rev == 0 {
		n, err = l.kv.Put(ctx, e.FileID, b)
	} else {
		n, err = l.kv.Update(ctx, e.FileID, b, rev)
	}
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
		return 0, fmt.Errorf("file %s: %w", short(e.FileID), ErrConflict)
	}
	if err != nil {
		return 0, fmt.Errorf("ledger put %s: %w", short(e.FileID), err)
	}
	return n, nil
}

// Delete removes the entry read at revision rev (used to undo a QUEUED entry
// whose work message could not be published, so a retry starts clean).
func (l *Ledger) Delete(ctx context.Context, fileID string, rev uint64) error {
	err := l.kv.Delete(ctx, fileID, jetstream.LastRevision(rev))
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("file %s: %w", short(fileID), ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("ledger delete %s: %w", short(fileID), err)
	}
	return nil
}

// Update applies fn to the current entry (exists false and a zero entry
// with FileID set when there is none) and writes the result with compare and
// set, retrying from a fresh read on conflicts (jsplumb.Update: the same
// retry and the same unreadable-entry policy as the GAPS bucket, so an entry
// that does not decode is handed to fn as absent and replaced). fn returns
// false when it changed nothing, and then nothing is written.
func (l *Ledger) Update(ctx context.Context, fileID string, fn func(e *contract.LedgerEntry, exists bool) bool) (contract.LedgerEntry, uint64, error) {
	e, rev, err := jsplumb.Update(ctx, l.kv, fileID, func(e *contract.LedgerEntry, exists bool) (bool, error) {
		if !exists {
			*e = contract.LedgerEntry{FileID: fileID}
		}
		if !fn(e, exists) {
			return false, nil
		}
		if e.FileID == "" {
			return false, fmt.Errorf("ledger entry without a file id")
		}
		return true, nil
	})
	if errors.Is(err, jsplumb.ErrConflict) {
		return e, 0, fmt.Errorf("ledger update %s: %w: %w", short(fileID), ErrConflict, err)
	}
	if err != nil {
		return e, 0, fmt.Errorf("ledger update %s: %w", short(fileID), err)
	}
	return e, rev, nil
}

// Event is one change seen by Watch.
type Event struct {
	Entry    contract.LedgerEntry
	Revision uint64
	// Initial is true for entries delivered as the current state when the
	// watch started, false for changes after.
	Initial bool
}

// Watch delivers every entry (the current state first, then each change) on
// the returned channel until ctx ends; the channel is closed then. Deleted
// entries and entries that do not decode are skipped.
func (l *Ledger) Watch(ctx context.Context) (<-chan Event, error) {
	w, err := l.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("watch ledger: %w", err)
	}
	out := make(chan Event, 256)
	go func() {
		defer close(out)
		defer func() { _ = w.Stop() }()
		initial := true
		for {
			select {
			case <-ctx.Done():
				return
			case kve, ok := <-w.Updates():
				if !ok {
					return
				}
				if kve == nil { // end of the current state
					initial = false
					continue
				}
				if kve.Operation() != jetstream.KeyValuePut {
					continue
				}
				e, err := decode(kve.Value())
				if err != nil {
					continue
				}
				select {
				case out <- Event{Entry: e, Revision: kve.Revision(), Initial: initial}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

func encode(e *contract.LedgerEntry) ([]byte, error) {
	if e.FileID == "" {
		return nil, fmt.Errorf("ledger entry without a file id")
	}
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode ledger entry %s: %w", short(e.FileID), err)
	}
	return b, nil
}

func decode(b []byte) (contract.LedgerEntry, error) {
	var e contract.LedgerEntry
	if err := json.Unmarshal(b, &e); err != nil {
		return e, fmt.Errorf("decode ledger entry: %w", err)
	}
	return e, nil
}

// short abbreviates a sha256 file id for messages.
func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
