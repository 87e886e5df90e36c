package questdb

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// WALState is a table's row of wal_tables() (QuestDB 9.x): how far the
// table's writer has applied the transactions its sequencer handed out, and
// whether applying stopped on an error.
type WALState struct {
	Table        string
	Suspended    bool
	WriterTxn    int64 // last transaction applied: visible to queries
	SequencerTxn int64 // last transaction committed to the WAL
	ErrorTag     string
	ErrorMessage string
}

// Applied reports whether every committed transaction is visible.
func (s WALState) Applied() bool { return s.WriterTxn >= s.SequencerTxn }

// SuspendedError says a WAL table stopped applying, with QuestDB's reason
// and what an operator does about it.
func (s WALState) SuspendedError() error {
	if !s.Suspended {
		return nil
	}
	reason := s.ErrorMessage
	if s.ErrorTag != "" {
		reason = s.ErrorTag + ": " + reason
	}
	if reason == "" {
		reason = "no reason given"
	}
	return fmt.Errorf("QuestDB table %s is suspended (WAL apply stopped at txn %d of %d: %s); fix the cause (see QuestDB's log), then ALTER TABLE %s RESUME WAL",
		s.Table, s.WriterTxn, s.SequencerTxn, reason, s.Table)
}

// ErrNotWAL says a table has no row in wal_tables(): it is not a WAL table
// (its commits are visible at once) or it does not exist.
var ErrNotWAL = errors.New("not a WAL table")

// TableWAL reads table's row of wal_tables().
func TableWAL(ctx context.Context, db Querier, table string) (WALState, error) {
	s := WALState{Table: table}
	var tag, msg *string
	err := db.QueryRow(ctx,
		"SELECT suspended, writerTxn, sequencerTxn, errorTag, errorMessage FROM wal_tables() WHERE name = $1", table).
		Scan(&s.Suspended, &s.WriterTxn, &s.SequencerTxn, &tag, &msg)
	if errors.Is(err, pgx.ErrNoRows) {
		return s, fmt.Errorf("wal_tables() has no row for %s: %w", table, ErrNotWAL)
	}
	if err != nil {
		return s, fmt.Errorf("wal_tables() for %s: %w", table, err)
	}
	if tag != nil {
		s.ErrorTag = *tag
	}
	if msg != nil {
		s.ErrorMessage = *msg
	}
	return s, nil
}
