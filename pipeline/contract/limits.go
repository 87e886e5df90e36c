package contract

import (
	"encoding/json"
	"fmt"
)

// Message limits. A report, progress message or dead letter must never be
// what fails a file, so every one is kept under the server's max payload by
// construction rather than found too large at publish time.
const (
	// MaxReasonBytes caps a reason carried in a report or a header.
	MaxReasonBytes = 2048
	// MaxRowTextBytes caps the text and reason of one reported bad row.
	MaxRowTextBytes = 512
	// HeaderRoom is what a message's headers (message id, run, dead-letter
	// headers) may take of the max payload besides the data.
	HeaderRoom = 8 << 10
)

// EncodeProgress encodes p as JSON in at most limit bytes: the reason and
// every row error are clipped (saying their length), and rows are dropped
// from the end of Errors until the report fits; RowsRejected still counts
// every bad row. An error means the report cannot fit even without its row
// list, which no limit the server accepts allows.
func EncodeProgress(p Progress, limit int) ([]byte, error) {
	p.Reason = Shorten(p.Reason, MaxReasonBytes)
	if len(p.Errors) > 0 {
		errs := make([]RowError, len(p.Errors))
		for i, e := range p.Errors {
			e.Reason = Shorten(e.Reason, MaxRowTextBytes)
			e.Text = Shorten(e.Text, MaxRowTextBytes)
			errs[i] = e
		}
		p.Errors = errs
	}
	for {
		data, err := json.Marshal(p)
		if err != nil {
			return nil, err
		}
		if limit <= 0 || len(data) <= limit {
			return data, nil
		}
		if len(p.Errors) == 0 {
			return nil, fmt.Errorf("a %s report of %d bytes does not fit %d", p.Kind, len(data), limit)
		}
		// Halving keeps this a few rounds whatever the list's length.
		p.Errors = p.Errors[:len(p.Errors)/2]
	}
}
