package ingest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// TableCheck names the table the pipeline writes the files' rows into, so
// that Load can check that files the ledger says are already ingested still
// have their rows there. The ledger remembers a commit for good; a table
// dropped (or a partition detached) afterwards would otherwise make a load
// say "already ingested" over rows that are gone.
type TableCheck struct {
	PG    string // QuestDB's PG wire URL; Load connects only when a file was already ingested
	Table string
}

// Missing is one series (pair, interval) whose rows, committed by files
// loaded before, are no longer all in the table.
type Missing struct {
	Pair     string
	Interval int
	Files    []string // the files of the series this load found already ingested
	// Committed is the most rows one of those files committed: the table
	// must hold at least that many candles of the series.
	Committed int64
	InTable   int64 // candles of the series in the table now
}

// ingested is a file Load found already committed by an earlier load.
type ingested struct {
	name  string
	entry contract.LedgerEntry
}

type seriesKey struct {
	pair     string
	interval int
}

// missingRows counts the table's candles of every series the files belong
// to, in one query, and returns the series holding fewer than the most rows
// one file of it committed (a lower bound that holds whatever the files'
// overlap). A table that does not exist holds none.
func (c TableCheck) missingRows(ctx context.Context, files []ingested) ([]Missing, error) {
	if len(files) == 0 {
		return nil, nil
	}
	if err := questdb.ValidTable(c.Table); err != nil {
		return nil, err
	}
	want := map[seriesKey]*Missing{}
	for _, f := range files {
		k := seriesKey{f.entry.Pair, f.entry.Interval}
		m := want[k]
		if m == nil {
			m = &Missing{Pair: k.pair, Interval: k.interval}
			want[k] = m
		}
		m.Files = append(m.Files, f.name)
		m.Committed = max(m.Committed, f.entry.RowsCommitted)
	}
	db, err := questdb.Connect(ctx, c.PG)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	have, err := countSeries(ctx, db, c.Table, want)
	if err != nil {
		return nil, err
	}
	var out []Missing
	for k, m := range want {
		if m.InTable = have[k]; m.InTable < m.Committed {
			out = append(out, *m)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Pair != out[j].Pair {
			return out[i].Pair < out[j].Pair
		}
		return out[i].Interval < out[j].Interval
	})
	return out, nil
}

// countSeries is the number of candles per series of want in table, after
// the WAL has caught up (so that rows an earlier load committed a moment
// ago are counted).
func countSeries(ctx context.Context, db questdb.Querier, table string, want map[seriesKey]*Missing) (map[seriesKey]int64, error) {
	var exists int
	if err := db.QueryRow(ctx, "SELECT count() FROM tables() WHERE table_name = $1", table).Scan(&exists); err != nil {
		return nil, fmt.Errorf("look for table %s: %w", table, err)
	}
	have := map[seriesKey]int64{}
	if exists == 0 {
		return have, nil
	}
	// Bounded: a table written to without pause may never look caught up;
	// then the count is of what is applied so far.
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err := questdb.WaitApplied(wctx, db, table)
	cancel()
	if err != nil && ctx.Err() == nil && wctx.Err() == nil {
		return nil, err
	}
	args := []any{topology.SourceKraken}
	var pairs []string
	seen := map[string]bool{}
	for k := range want {
		if !seen[k.pair] {
			seen[k.pair] = true
			args = append(args, k.pair)
			pairs = append(pairs, fmt.Sprintf("$%d", len(args)))
		}
	}
	rows, err := db.Query(ctx, "SELECT pair, interval_minutes, count() FROM "+table+
		" WHERE source = $1 AND pair IN ("+strings.Join(pairs, ", ")+") GROUP BY pair, interval_minutes", args...)
	if err != nil {
		return nil, fmt.Errorf("count the rows of %s: %w", table, err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			k seriesKey
			n int64
		)
		if err := rows.Scan(&k.pair, &k.interval, &n); err != nil {
			return nil, fmt.Errorf("count the rows of %s: %w", table, err)
		}
		have[k] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count the rows of %s: %w", table, err)
	}
	return have, nil
}
