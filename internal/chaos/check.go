package chaos

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/jsplumb"
	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// Outcome is what a trial's checks found once the pipeline settled.
type Outcome struct {
	Expected   int64 // rows generated
	Rows       int64 // count() of the table
	Distinct   int64 // distinct (ts, pair, interval_minutes)
	Ingested   int   // files in ingested/
	Rejected   int   // files in rejected/
	DLQ        uint64
	Settled    bool          // every file left the inbox and the rows match
	Recover    time.Duration // from the last fault to settled
	Kills      int           // kill -9s
	Terms      int           // TERM restarts
	SelfExits  int           // stage or node exits the suite did not cause
	FaultsSeen []string      // each fault kind, once per time it ran
}

// Lost is expected rows missing from the table.
func (o Outcome) Lost() int64 { return max(0, o.Expected-o.Distinct) }

// Duplicated is rows beyond one per key.
func (o Outcome) Duplicated() int64 { return o.Rows - o.Distinct }

// Pass is the suite's verdict on a trial.
func (o Outcome) Pass(files int) bool {
	return o.Settled && o.Rows == o.Expected && o.Duplicated() == 0 && o.Ingested == files && o.Rejected == 0 && o.DLQ == 0
}

// csvIn counts the data files (not notes) in dir.
func csvIn(dir string) int {
	ents, _ := os.ReadDir(dir)
	n := 0
	for _, e := range ents {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".csv") {
			n++
		}
	}
	return n
}

// counts is count() and the number of distinct keys of table, after the WAL
// is applied.
func counts(ctx context.Context, pg, table string) (rows, distinct int64, err error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	pool, err := questdb.Connect(ctx, pg)
	if err != nil {
		return 0, 0, err
	}
	defer pool.Close()
	if err := questdb.WaitApplied(ctx, pool, table); err != nil {
		return 0, 0, fmt.Errorf("wait applied: %w", err)
	}
	if err := pool.QueryRow(ctx, "SELECT count() FROM "+table).Scan(&rows); err != nil {
		return 0, 0, fmt.Errorf("count: %w", err)
	}
	q := "SELECT count() FROM (SELECT DISTINCT ts, pair, interval_minutes FROM " + table + ")"
	if err := pool.QueryRow(ctx, q).Scan(&distinct); err != nil {
		return 0, 0, fmt.Errorf("count distinct: %w", err)
	}
	return rows, distinct, nil
}

// dlqDepth is the number of dead letters.
func dlqDepth(ctx context.Context, js jetstream.JetStream) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, topology.StreamDLQ)
	if err != nil {
		return 0, fmt.Errorf("DLQ stream: %w", err)
	}
	return s.CachedInfo().State.Msgs, nil
}

// waitSettled polls until every file has left the inbox for ingested/ or
// rejected/ (a file moves to ingested/ only once its rows are committed), or
// timeout passes.
func waitSettled(ctx context.Context, inbox string, files int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if csvIn(filepath.Join(inbox, "ingested"))+csvIn(filepath.Join(inbox, "rejected")) == files {
			return true
		}
		if !jsplumb.Sleep(ctx, 500*time.Millisecond) {
			return false
		}
	}
	return false
}
