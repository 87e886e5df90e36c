package gapscanner

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/gaps"
)

// CleanupOptions tune Cleanup.
type CleanupOptions struct {
	// OlderThan: FILLED and FAILED records whose last state change is older
	// are purged (DefaultRetention when 0).
	OlderThan time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// DryRun only counts.
	DryRun bool
}

// CleanupStats is what Cleanup purged (or, in a dry run, would purge) and
// what it kept.
type CleanupStats struct {
	OlderThanDays float64 `json:"older_than_days"`
	FilledPurged  int     `json:"filled_purged"`
	FailedPurged  int     `json:"failed_purged"`
	// UnfillableKept and NoTradesKept are never purged: they are verdicts
	// that keep the scanner from asking Kraken again.
	UnfillableKept int  `json:"unfillable_kept"`
	NoTradesKept   int  `json:"no_trades_kept"`
	Remaining      int  `json:"remaining"` // records left in the bucket
	DryRun         bool `json:"dry_run,omitempty"`
}

// Purged is how many records went.
func (s CleanupStats) Purged() int { return s.FilledPurged + s.FailedPurged }

// Cleanup purges the FILLED and FAILED gap records older than o.OlderThan,
// the old tool's cleanup_old_gaps. UNFILLABLE and NO_TRADES records stay.
func Cleanup(ctx context.Context, kv jetstream.KeyValue, o CleanupOptions) (CleanupStats, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.OlderThan <= 0 {
		o.OlderThan = DefaultRetention
	}
	now := o.Now().UTC()
	st := CleanupStats{OlderThanDays: o.OlderThan.Hours() / 24, DryRun: o.DryRun}
	records, err := gaps.Load(ctx, kv)
	if err != nil {
		return st, err
	}
	for key, rec := range records {
		switch rec.State {
		case contract.GapUnfillable:
			st.UnfillableKept++
		case contract.GapNoTrades:
			st.NoTradesKept++
		}
		if !purgeDue(rec, now, o.OlderThan) {
			st.Remaining++
			continue
		}
		if !o.DryRun {
			if err := kv.Purge(ctx, key); err != nil {
				return st, fmt.Errorf("purge gap record %s: %w", key, err)
			}
		}
		if rec.State == contract.GapFilled {
			st.FilledPurged++
		} else {
			st.FailedPurged++
		}
	}
	return st, nil
}

// purgeDue says whether a record is FILLED or FAILED and its last state
// change is more than retention ago (a negative retention keeps everything).
func purgeDue(rec contract.GapRecord, now time.Time, retention time.Duration) bool {
	if rec.State != contract.GapFilled && rec.State != contract.GapFailed {
		return false
	}
	return retention > 0 && now.Sub(lastActivity(rec)) > retention
}
