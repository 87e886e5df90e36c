// Package gaps owns the GAPS bucket: one contract.GapRecord per gap, written
// by the gap scanner (found, filled) and by the fetcher (requested, served),
// as package ledger owns LEDGER. Both read and change records here, so they
// follow the same compare-and-set retry and the same policy for a record
// that does not decode (jsplumb's: reading reports it, updating replaces it).
package gaps

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/jsplumb"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// MaxHistory keeps a record that is requested again and again readable: the
// first event (where the gap came from) and the newest ones are kept.
const MaxHistory = 50

// Open binds to the GAPS bucket (topology.Ensure must have created it).
func Open(ctx context.Context, js jetstream.JetStream) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, topology.BucketGaps)
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", topology.BucketGaps, err)
	}
	return kv, nil
}

// Get reads one gap record; ok is false when there is none. A record that
// does not decode is an error (wrapping jsplumb.ErrUnreadable).
func Get(ctx context.Context, kv jetstream.KeyValue, key string) (rec contract.GapRecord, ok bool, err error) {
	rec, _, ok, err = jsplumb.Get[contract.GapRecord](ctx, kv, key)
	if err != nil {
		return contract.GapRecord{}, false, fmt.Errorf("gap record %s: %w", key, err)
	}
	return rec, ok, nil
}

// Update applies fn to the record at key with compare-and-set, retrying
// when another writer (the scanner, the fetcher, a person) changed it
// meanwhile. fn gets a zero record and exists false when there is none or
// it does not decode; it returns false to leave the bucket alone. Update
// sets the record's Key and trims its history to MaxHistory; the record's
// Updated is fn's to set, from its caller's clock.
func Update(ctx context.Context, kv jetstream.KeyValue, key string, fn func(rec *contract.GapRecord, exists bool) bool) error {
	_, _, err := jsplumb.Update(ctx, kv, key, func(rec *contract.GapRecord, exists bool) (bool, error) {
		if !fn(rec, exists) {
			return false, nil
		}
		if n := len(rec.History); n > MaxHistory {
			rec.History = append(rec.History[:1], rec.History[n-MaxHistory+1:]...)
		}
		rec.Key = key
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("gap record %s: %w", key, err)
	}
	return nil
}

// Load reads every gap record, keyed by gap key. Records that do not decode
// are skipped: one broken record must not stop a scan of all the others.
func Load(ctx context.Context, kv jetstream.KeyValue) (map[string]contract.GapRecord, error) {
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("read gap records: %w", err)
	}
	defer func() { _ = w.Stop() }()
	out := map[string]contract.GapRecord{}
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("read gap records: %w", ctx.Err())
		case e, ok := <-w.Updates():
			if !ok || e == nil { // nil: every current value has been delivered
				return out, nil
			}
			var rec contract.GapRecord
			if err := json.Unmarshal(e.Value(), &rec); err != nil {
				continue
			}
			out[e.Key()] = rec
		}
	}
}
