package contract_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

// A progress report always fits the limit it is given: reasons and row
// texts are clipped, the row list is cut, and the count of bad rows stays.
func TestEncodeProgressFitsTheLimit(t *testing.T) {
	many := make([]contract.RowError, 100)
	for i := range many {
		many[i] = contract.RowError{Line: i + 1, Reason: strings.Repeat("r", 4000), Text: strings.Repeat("x", 200<<10)}
	}
	cases := []struct {
		name      string
		p         contract.Progress
		limit     int
		wantErrs  int // rows kept; -1: fewer than all, more than none
		wantError bool
	}{
		{"small report unchanged", contract.Progress{FileID: "f", Kind: "parsed", Batches: 1, Errors: many[:2]}, 1 << 20, 2, false},
		{"100 huge rows in 1 MB", contract.Progress{FileID: "f", Kind: "parsed", Batches: 1, RowsRejected: 100, Errors: many}, 1 << 20, 100, false},
		{"100 huge rows in 32 KB", contract.Progress{FileID: "f", Kind: "rejected", Reason: strings.Repeat("why ", 1<<20), RowsRejected: 100, Errors: many}, 32 << 10, -1, false},
		{"no room at all", contract.Progress{FileID: "f", Kind: "rejected", Reason: "x"}, 10, 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data, err := contract.EncodeProgress(c.p, c.limit)
			if c.wantError {
				if err == nil {
					t.Fatalf("%d bytes fit a limit of %d", len(data), c.limit)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(data) > c.limit {
				t.Fatalf("%d bytes, limit %d", len(data), c.limit)
			}
			var got contract.Progress
			if err := json.Unmarshal(data, &got); err != nil {
				t.Fatal(err)
			}
			if got.RowsRejected != c.p.RowsRejected || got.Kind != c.p.Kind {
				t.Errorf("counts changed: %+v", got)
			}
			if len(got.Reason) > contract.MaxReasonBytes+32 {
				t.Errorf("reason of %d bytes", len(got.Reason))
			}
			switch {
			case c.wantErrs >= 0 && len(got.Errors) != c.wantErrs:
				t.Errorf("%d rows kept, want %d", len(got.Errors), c.wantErrs)
			case c.wantErrs < 0 && (len(got.Errors) == 0 || len(got.Errors) >= len(c.p.Errors)):
				t.Errorf("%d of %d rows kept", len(got.Errors), len(c.p.Errors))
			}
			for _, e := range got.Errors {
				if len(e.Text) > contract.MaxRowTextBytes+32 || !strings.Contains(e.Text, "bytes)") {
					t.Fatalf("row %d text of %d bytes does not say it was clipped", e.Line, len(e.Text))
				}
			}
		})
	}
}
