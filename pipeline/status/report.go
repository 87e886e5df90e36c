// Package status is what `fff status` reports: the pipeline's streams and
// their consumers' lag, dead letters by stage, files in flight, gaps by
// state and QuestDB's table, collected in one pass and judged healthy or not.
package status

import "time"

// Report is the pipeline as one look saw it.
type Report struct {
	Taken       time.Time      `json:"taken"`
	Streams     []Stream       `json:"streams"`
	DeadLetters map[string]int `json:"dead_letters"` // by stage (dlq.<stage>)
	Files       Files          `json:"files"`
	Gaps        map[string]int `json:"gaps"` // GAPS records by state
	QuestDB     QuestDB        `json:"questdb"`
	// Problems are why the pipeline is not healthy; empty when it is.
	Problems []string `json:"problems"`
}

// Stream is one JetStream stream and its durable consumers.
type Stream struct {
	Name      string     `json:"name"`
	Messages  uint64     `json:"messages"`
	Bytes     uint64     `json:"bytes"`
	Consumers []Consumer `json:"consumers"`
}

// Consumer is one durable consumer's lag.
type Consumer struct {
	Name string `json:"name"`
	// Pending messages not yet delivered; AckPending delivered but not yet
	// acknowledged (being worked on, or stuck); Redelivered of those.
	Pending     uint64 `json:"pending"`
	AckPending  int    `json:"ack_pending"`
	Redelivered int    `json:"redelivered"`
}

// Files is the ledger: files in flight one by one, the others counted.
type Files struct {
	InFlight []FileInFlight `json:"in_flight"`
	ByState  map[string]int `json:"by_state"` // every LEDGER entry
}

// FileInFlight is a LEDGER entry not yet COMMITTED, REJECTED or FAILED.
type FileInFlight struct {
	FileID        string    `json:"file_id"`
	Name          string    `json:"name"`
	State         string    `json:"state"`
	BatchesDone   int       `json:"batches_done"`
	Batches       int       `json:"batches"` // 0 until PARSED: the parser is still at it
	RowsParsed    int64     `json:"rows_parsed"`
	RowsCommitted int64     `json:"rows_committed"`
	Waiting       string    `json:"waiting,omitempty"` // why the parser waits for the pipeline
	Updated       time.Time `json:"updated"`
}

// QuestDB is the table's state.
type QuestDB struct {
	Table     string `json:"table"`
	Reachable bool   `json:"reachable"`
	Error     string `json:"error,omitempty"` // why unreachable, or the table unreadable
	// WAL, from wal_tables(): WriterTxn is the last transaction applied
	// (visible to queries), SequencerTxn the last committed; Lag the
	// difference. Suspended tables apply nothing until RESUME WAL.
	TableFound   bool  `json:"table_found"`
	WriterTxn    int64 `json:"writer_txn"`
	SequencerTxn int64 `json:"sequencer_txn"`
	Lag          int64 `json:"lag"`
	Suspended    bool  `json:"suspended"`
}

// OK says whether nothing is wrong.
func (r Report) OK() bool { return len(r.Problems) == 0 }
