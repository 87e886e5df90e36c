package contract

import (
	"encoding/json"
	"strconv"
	"time"
)

// FileEvent is the work item on the FILES stream: one accepted CSV whose bytes
// are in the FILEDATA object store under Object. Parsers need nothing else.
type FileEvent struct {
	// FileID is the file's identity: content, pair, interval and zip member
	// path together (ledger.FileID); the same bytes under two names are two
	// files. Ledgers written before carry the content's sha256 alone.
	FileID   string    `json:"file_id"`
	Content  string    `json:"content,omitempty"` // sha256 of the bytes, hex
	Name     string    `json:"name"`              // e.g. "XBTUSD_60.csv" (zip members: "archive.zip/XBTUSD_60.csv")
	Object   string    `json:"object"`            // object store key holding the bytes (the file id)
	Pair     string    `json:"pair"`
	Interval int       `json:"interval"`
	Size     int64     `json:"size"`
	Received time.Time `json:"received"`
	// OnBadRow is "skip" (default: report bad rows, land the good ones) or
	// "reject-file".
	OnBadRow string `json:"on_bad_row,omitempty"`
	Force    bool   `json:"force,omitempty"`
	// Run names a forced run of content ingested before (empty for the
	// first). Every message id of the run carries it (see RunMsgID), so
	// JetStream's duplicate window does not drop the new run as a repeat of
	// the old one, and the ledger ignores reports of earlier runs.
	Run string `json:"run,omitempty"`
}

// HeaderRun carries FileEvent.Run on candle batches, so the writer can tag
// its progress reports with the run they belong to.
const HeaderRun = "Fff-Run"

// RunMsgID is the message id of one step of a file's run: id itself for the
// first run, id@run for a forced one.
func RunMsgID(id, run string) string {
	if run == "" {
		return id
	}
	return id + "@" + run
}

// Ledger states of a file.
const (
	FileQueued    = "QUEUED"    // bytes stored, work published
	FileParsed    = "PARSED"    // every batch published to CANDLES; waiting for commits
	FileCommitted = "COMMITTED" // every candle committed in QuestDB
	FileRejected  = "REJECTED"  // nothing of it will land (empty, unreadable, reject-file)
	FileFailed    = "FAILED"    // a batch was dead-lettered by the writer
)

// RowError names one bad input row.
type RowError struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
	Text   string `json:"text,omitempty"`
}

// LedgerEntry is a file's record in the LEDGER key-value bucket, keyed by FileID.
type LedgerEntry struct {
	FileID         string     `json:"file_id"`           // ledger.FileID (the content's sha256 in older entries)
	Content        string     `json:"content,omitempty"` // sha256 of the bytes, hex
	Name           string     `json:"name"`
	Path           string     `json:"path,omitempty"` // where the watcher found it
	Size           int64      `json:"size"`
	Pair           string     `json:"pair"`
	Interval       int        `json:"interval"`
	State          string     `json:"state"`
	Batches        int        `json:"batches"`          // known once PARSED
	BatchesDone    int        `json:"batches_done"`     // committed batches
	RowsParsed     int64      `json:"rows_parsed"`      // good rows published
	RowsCommitted  int64      `json:"rows_committed"`   // rows in committed batches
	RowsRejected   int64      `json:"rows_rejected"`    // bad rows skipped
	Errors         []RowError `json:"errors,omitempty"` // first bad rows (capped)
	Reason         string     `json:"reason,omitempty"` // why REJECTED/FAILED
	Created        time.Time  `json:"created"`
	Updated        time.Time  `json:"updated"`
	CommittedBatch []uint32   `json:"committed_batches,omitempty"` // indices seen, to count each once
	Run            string     `json:"run,omitempty"`               // the current run (FileEvent.Run)
	// Waiting says why a QUEUED file is not getting on, when the cause is
	// the pipeline's own trouble (the store, the network), never its
	// content: such a file is retried, not rejected. Empty once it moves on.
	Waiting string `json:"waiting,omitempty"`
	// Reput asks whoever still has the source (the watcher, `fff ingest`)
	// to put the bytes in FILEDATA again: the stored copy cannot be read
	// back intact.
	Reput bool `json:"reput,omitempty"`
}

// Progress is published by parsers and writers on progress.file.<file_id> so
// the watcher (and `fff ingest`) learn how far a file got.
type Progress struct {
	FileID string `json:"file_id"`
	Kind   string `json:"kind"` // "parsed", "committed", "rejected", "failed" or "waiting"
	// For "committed": the batch and its row count.
	Batch uint32 `json:"batch,omitempty"`
	Rows  int64  `json:"rows,omitempty"`
	// For "parsed": totals.
	Batches      int        `json:"batches,omitempty"`
	RowsParsed   int64      `json:"rows_parsed,omitempty"`
	RowsRejected int64      `json:"rows_rejected,omitempty"`
	Errors       []RowError `json:"errors,omitempty"`
	Reason       string     `json:"reason,omitempty"`
	Table        string     `json:"table,omitempty"`
	// For "waiting" (the parser is retrying for a reason not in the file):
	// the attempt, and whether the stored bytes should be put again.
	Attempt int  `json:"attempt,omitempty"`
	Reput   bool `json:"reput,omitempty"`
	// Run is the FileEvent.Run the report belongs to; the ledger ignores
	// reports of any other run than the entry's.
	Run string `json:"run,omitempty"`
}

// Asset categories.
var AssetCategories = []string{"STOCK", "CRYPTO", "COMMODITY", "CURRENCY"}

// Asset is a record in the ASSETS key-value bucket, keyed by ticker.
type Asset struct {
	Ticker        string    `json:"ticker"`
	Name          string    `json:"name"`
	Category      string    `json:"category"`
	Tier          string    `json:"tier"` // TIER1..TIER4
	QuoteCurrency string    `json:"quote_currency,omitempty"`
	Description   string    `json:"description,omitempty"`
	Created       time.Time `json:"created"`
	CreatedBy     string    `json:"created_by,omitempty"` // "parser", "cli", ...
	// Active assets are the ones "every asset" means (fff prices backfill
	// --all, fff assets list). Records stored before the field existed have
	// none and read as active (see UnmarshalJSON).
	Active bool `json:"active"`
}

// UnmarshalJSON reads an asset record; a record without "active" is active.
func (a *Asset) UnmarshalJSON(data []byte) error {
	type plain Asset // no methods: no recursion
	v := plain{Active: true}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*a = Asset(v)
	return nil
}

// Gap states.
const (
	GapOpen       = "OPEN"
	GapRequested  = "REQUESTED"
	GapFilled     = "FILLED"
	GapFailed     = "FAILED"
	GapUnfillable = "UNFILLABLE"
	GapNoTrades   = "NO_TRADES"
)

// Gap classifications.
const (
	ClassFillable           = "fillable"
	ClassUnfillable         = "unfillable"
	ClassFillableFromTrades = "fillable_from_trades"
	ClassNoTrades           = "no_trades"
)

// GapEvent is one step in a gap's history.
type GapEvent struct {
	At     time.Time `json:"at"`
	State  string    `json:"state"`
	Detail string    `json:"detail,omitempty"`
}

// GapRecord is a record in the GAPS key-value bucket; its key is
// GapKey(source, pair, interval, start).
type GapRecord struct {
	Key            string     `json:"key"`
	Source         string     `json:"source"`
	Pair           string     `json:"pair"`
	Base           string     `json:"base,omitempty"`
	Interval       int        `json:"interval"`
	Start          time.Time  `json:"start"` // first missing open time
	End            time.Time  `json:"end"`   // last missing open time
	Missing        int64      `json:"missing"`
	Class          string     `json:"class"`
	State          string     `json:"state"`
	Reason         string     `json:"reason,omitempty"`
	TradeCalls     int64      `json:"trade_calls,omitempty"` // estimate, when fillable from trades
	CandlesWritten int64      `json:"candles_written,omitempty"`
	History        []GapEvent `json:"history"`
	Updated        time.Time  `json:"updated"`
}

// GapKey is a gap's key in the GAPS bucket, e.g. "kraken.XBTUSD.60.1736496000".
func GapKey(source, pair string, interval int, start time.Time) string {
	return source + "." + pair + "." + itoa(int64(interval)) + "." + itoa(start.Unix())
}

func itoa(n int64) string {
	return strconv.FormatInt(n, 10)
}
