package status

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
)

// Querier is what Collect asks QuestDB (a *pgxpool.Pool).
type Querier = questdb.Querier

// NoDB stands for a QuestDB that could not be connected to: every query
// fails with err, so Collect reports it unreachable, saying why.
func NoDB(err error) questdb.Querier { return noDB{err} }

type noDB struct{ err error }

func (d noDB) QueryRow(context.Context, string, ...any) pgx.Row { return errRow{d.err} }
func (d noDB) Query(context.Context, string, ...any) (pgx.Rows, error) {
	return nil, d.err
}

func (d noDB) Exec(context.Context, string, ...any) (pgconn.CommandTag, error) {
	return pgconn.CommandTag{}, d.err
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
