package ledger_test

import (
	"testing"
	"time"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/ledger"
)

// A waiting report notes why a QUEUED file is not getting on, and never
// changes its state; the file's next real outcome clears the note, and a
// late waiting report cannot undo that outcome.
func TestApplyWaiting(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	wait := contract.Progress{FileID: "f", Kind: ledger.KindWaiting, Attempt: 3, Reput: true, Reason: "parser: digests do not match"}
	cases := []struct {
		name        string
		state       string
		then        []contract.Progress
		wantState   string
		wantWaiting bool
	}{
		{"queued file waits", contract.FileQueued, nil, contract.FileQueued, true},
		{"parsed after waiting", contract.FileQueued, []contract.Progress{{FileID: "f", Kind: ledger.KindParsed, Batches: 1}}, contract.FileParsed, false},
		{"rejected after waiting", contract.FileQueued, []contract.Progress{{FileID: "f", Kind: ledger.KindRejected, Reason: "empty"}}, contract.FileRejected, false},
		{"late wait after parsed", contract.FileQueued, []contract.Progress{{FileID: "f", Kind: ledger.KindParsed, Batches: 1}, wait}, contract.FileParsed, false},
		{"wait on a committed file", contract.FileCommitted, nil, contract.FileCommitted, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := contract.LedgerEntry{FileID: "f", State: c.state}
			changed := ledger.Apply(&e, wait, now)
			if changed != (c.state == contract.FileQueued) {
				t.Errorf("waiting report changed the entry: %v", changed)
			}
			if changed && (e.Waiting != wait.Reason || !e.Reput) {
				t.Errorf("entry %+v: want the reason and reput", e)
			}
			for _, p := range c.then {
				ledger.Apply(&e, p, now)
			}
			if e.State != c.wantState || (e.Waiting != "") != c.wantWaiting || e.Reput != c.wantWaiting {
				t.Errorf("state %s waiting %q reput %v; want %s, waiting %v", e.State, e.Waiting, e.Reput, c.wantState, c.wantWaiting)
			}
			if again := ledger.Apply(&e, wait, now); again && c.wantState != contract.FileQueued {
				t.Errorf("a late waiting report changed a %s entry", e.State)
			}
		})
	}
}
