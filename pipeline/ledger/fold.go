package ledger

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

// GaveUpPrefix starts the reason of a "rejected" report the parser sends
// when it dead-letters a file it could not process (as opposed to one whose
// content it refused): a later "parsed" report, after the letter was
// replayed, reopens such an entry.
const GaveUpPrefix = "parser: "

// Progress kinds (contract.Progress.Kind).
const (
	KindParsed    = "parsed"
	KindCommitted = "committed"
	KindRejected  = "rejected"
	KindFailed    = "failed"
	// KindWaiting: the parser is retrying a file for a reason not in its
	// content (the store, the network). The entry stays QUEUED and notes
	// the reason (Waiting) and whether the bytes should be put again.
	KindWaiting = "waiting"
)

// Apply folds one progress report into an entry and says whether anything
// changed. It is idempotent (the same report twice changes nothing) and
// order tolerant: commits may arrive before "parsed"; the file becomes
// COMMITTED once both the batch count and every batch's commit are known.
//
// A report of another run than the entry's (a late report of the run a
// forced re-ingest replaced) changes nothing.
func Apply(e *contract.LedgerEntry, p contract.Progress, now time.Time) bool {
	if p.Run != e.Run {
		return false
	}
	before := clone(*e)
	switch p.Kind {
	case KindParsed:
		e.Batches = p.Batches
		e.RowsParsed = p.RowsParsed
		e.RowsRejected = p.RowsRejected
		e.Errors = capErrors(p.Errors)
		e.Waiting, e.Reput = "", false
		switch {
		case e.State == "" || e.State == contract.FileQueued:
			e.State = contract.FileParsed
		case e.State == contract.FileRejected && strings.HasPrefix(e.Reason, GaveUpPrefix):
			// The parser had given up (not judged the content); its event,
			// replayed from the DLQ, has now been parsed after all.
			e.State = contract.FileParsed
			e.Reason = ""
		}
		settle(e, true)
	case KindCommitted:
		if !slices.Contains(e.CommittedBatch, p.Batch) {
			e.CommittedBatch = append(e.CommittedBatch, p.Batch)
			e.BatchesDone++
			e.RowsCommitted += p.Rows
		}
		settle(e, parsedSeen(e))
	case KindRejected:
		if e.State == contract.FileCommitted {
			// Every candle of this run is in QuestDB; a late rejection
			// (a stale redelivery of the file's event) cannot undo that.
			return false
		}
		e.State = contract.FileRejected
		e.Reason = p.Reason
		e.Waiting, e.Reput = "", false
		if p.RowsRejected > 0 {
			e.RowsRejected = p.RowsRejected
		}
		if len(p.Errors) > 0 {
			e.Errors = capErrors(p.Errors)
		}
	case KindFailed:
		reason := fmt.Sprintf("batch %d: %s", p.Batch, p.Reason)
		switch {
		case e.State != contract.FileFailed:
			e.State = contract.FileFailed
			e.Reason = reason
		case !strings.Contains(e.Reason, reason) && len(e.Reason) < contract.MaxReasonBytes:
			// Capped, so the entry always fits a KV value.
			e.Reason += "; " + reason
		}
	case KindWaiting:
		if e.State != "" && e.State != contract.FileQueued {
			// A late report: the file got on meanwhile.
			return false
		}
		e.Waiting = p.Reason
		e.Reput = p.Reput
	default:
		return false
	}
	if reflect.DeepEqual(before, *e) {
		return false
	}
	if e.Created.IsZero() {
		e.Created = now
	}
	e.Updated = now
	return true
}

// parsedSeen: the batch count is known once the parser reported, which the
// state or a non-zero count shows.
func parsedSeen(e *contract.LedgerEntry) bool {
	return e.Batches > 0 || e.State == contract.FileParsed || e.State == contract.FileCommitted
}

// settle promotes a parsed file whose every batch is committed. A FAILED
// file whose dead-lettered batch was later committed (replayed from the DLQ)
// becomes COMMITTED too: the ledger says what is in QuestDB.
func settle(e *contract.LedgerEntry, parsed bool) {
	if !parsed || e.BatchesDone < e.Batches {
		return
	}
	switch e.State {
	case contract.FileParsed, contract.FileQueued, "":
		e.State = contract.FileCommitted
	case contract.FileFailed:
		e.State = contract.FileCommitted
		e.Reason = ""
	}
}

func capErrors(errs []contract.RowError) []contract.RowError {
	if len(errs) > MaxErrors {
		errs = errs[:MaxErrors]
	}
	if len(errs) == 0 {
		return nil
	}
	return slices.Clone(errs)
}

func clone(e contract.LedgerEntry) contract.LedgerEntry {
	e.Errors = slices.Clone(e.Errors)
	e.CommittedBatch = slices.Clone(e.CommittedBatch)
	return e
}
