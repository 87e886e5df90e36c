package questdb

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/feefifofunds/feefifofunds/schemas"
)

// MigrationsTable records which migrations ran against which candle table.
// It is an append-only log (QuestDB has no DELETE): the latest row of a
// version says whether it is applied.
const MigrationsTable = "fff_schema_migrations"

// Migration is one numbered schema step.
type Migration struct {
	Version int
	Name    string
	Up      string
	Down    string
}

var migrationFileRe = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.(up|down)\.sql$`)

// Migrations reads the embedded migrations in version order.
func Migrations() ([]Migration, error) {
	return readMigrations(schemas.QuestDB, "questdb")
}

func readMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	byVersion := map[int]*Migration{}
	for _, e := range entries {
		m := migrationFileRe.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration file %s: want NNNN_name.up.sql or NNNN_name.down.sql", e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		mig := byVersion[v]
		if mig == nil {
			mig = &Migration{Version: v, Name: m[2]}
			byVersion[v] = mig
		}
		if m[3] == "up" {
			mig.Up = string(b)
		} else {
			mig.Down = string(b)
		}
	}
	var out []Migration
	for _, m := range byVersion {
		if m.Up == "" || m.Down == "" {
			return nil, fmt.Errorf("migration %04d_%s needs both .up.sql and .down.sql", m.Version, m.Name)
		}
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Statements splits a migration into statements with {{table}} filled in.
func (m Migration) Statements(up bool, table string) []string {
	src := m.Down
	if up {
		src = m.Up
	}
	// Comments go first: they may hold semicolons.
	var lines []string
	for _, l := range strings.Split(src, "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "--") {
			lines = append(lines, l)
		}
	}
	var out []string
	for _, stmt := range strings.Split(strings.Join(lines, "\n"), ";") {
		if s := strings.TrimSpace(stmt); s != "" {
			out = append(out, strings.ReplaceAll(s, "{{table}}", table))
		}
	}
	return out
}

// MigrationState is a migration and whether it is applied to a table.
type MigrationState struct {
	Migration
	Applied   bool
	AppliedAt time.Time
}

func ensureMigrationsTable(ctx context.Context, db Querier) error {
	// PARTITION BY NONE keeps it a plain (non-WAL) table, so a row is
	// visible as soon as it is inserted.
	err := execBusy(ctx, db, `CREATE TABLE IF NOT EXISTS `+MigrationsTable+` (
		ts TIMESTAMP, target SYMBOL, version INT, name STRING, direction SYMBOL
	) TIMESTAMP(ts) PARTITION BY NONE`)
	if err != nil {
		return fmt.Errorf("create %s: %w", MigrationsTable, err)
	}
	return nil
}

// TableExists says whether a table is there.
func TableExists(ctx context.Context, db Querier, table string) (bool, error) {
	var n int64
	if err := db.QueryRow(ctx, "SELECT count() FROM tables() WHERE table_name = $1", table).Scan(&n); err != nil {
		return false, fmt.Errorf("look up table %s: %w", table, err)
	}
	return n > 0, nil
}

// Status lists every migration and whether it is applied to table.
func Status(ctx context.Context, db Querier, table string) ([]MigrationState, error) {
	if err := ValidTable(table); err != nil {
		return nil, err
	}
	migs, err := Migrations()
	if err != nil {
		return nil, err
	}
	if err := ensureMigrationsTable(ctx, db); err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, "SELECT version, direction, ts FROM "+MigrationsTable+" WHERE target = $1 ORDER BY ts", table)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", MigrationsTable, err)
	}
	type last struct {
		up bool
		at time.Time
	}
	state := map[int]last{}
	for rows.Next() {
		var v int32
		var dir string
		var at time.Time
		if err := rows.Scan(&v, &dir, &at); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read %s: %w", MigrationsTable, err)
		}
		state[int(v)] = last{up: dir == "up", at: at}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", MigrationsTable, err)
	}
	// A table dropped by hand leaves the log saying "applied": trust the
	// catalogue instead, so `migrate up` (and the writer) recreate it.
	exists, err := TableExists(ctx, db, table)
	if err != nil {
		return nil, err
	}
	out := make([]MigrationState, len(migs))
	for i, m := range migs {
		s := state[m.Version]
		out[i] = MigrationState{Migration: m, Applied: s.up && exists, AppliedAt: s.at}
	}
	return out, nil
}

func record(ctx context.Context, db Querier, table string, m Migration, dir string) error {
	err := execBusy(ctx, db, "INSERT INTO "+MigrationsTable+" (ts, target, version, name, direction) VALUES (systimestamp(), $1, $2, $3, $4)",
		table, m.Version, m.Name, dir)
	if err != nil {
		return fmt.Errorf("record migration %04d %s: %w", m.Version, dir, err)
	}
	return nil
}

// Up applies every pending migration to table, in order, and returns the ones
// it applied. Applying twice is a no-op.
func Up(ctx context.Context, db Querier, table string) ([]Migration, error) {
	states, err := Status(ctx, db, table)
	if err != nil {
		return nil, err
	}
	var pending []Migration
	for _, s := range states {
		if !s.Applied {
			pending = append(pending, s.Migration)
		}
	}
	return apply(ctx, db, table, pending, true)
}

// Down reverts the newest steps applied migrations of table.
func Down(ctx context.Context, db Querier, table string, steps int) ([]Migration, error) {
	states, err := Status(ctx, db, table)
	if err != nil {
		return nil, err
	}
	var applied []Migration
	for i := len(states) - 1; i >= 0 && len(applied) < steps; i-- {
		if states[i].Applied {
			applied = append(applied, states[i].Migration)
		}
	}
	return apply(ctx, db, table, applied, false)
}

// apply runs each migration's statements in the given order and records it;
// it returns the ones done before a failure.
func apply(ctx context.Context, db Querier, table string, migs []Migration, up bool) ([]Migration, error) {
	dir := "down"
	if up {
		dir = "up"
	}
	var done []Migration
	for _, m := range migs {
		for _, stmt := range m.Statements(up, table) {
			if err := execBusy(ctx, db, stmt); err != nil {
				return done, fmt.Errorf("migration %04d_%s %s on %s: %w", m.Version, m.Name, dir, table, err)
			}
		}
		if err := record(ctx, db, table, m, dir); err != nil {
			return done, err
		}
		done = append(done, m)
	}
	return done, nil
}

// WaitApplied waits until QuestDB has applied every WAL transaction of table,
// so that a query sees everything acknowledged so far.
func WaitApplied(ctx context.Context, db Querier, table string) error {
	for {
		var writer, sequencer int64
		var suspended bool
		err := db.QueryRow(ctx, "SELECT writerTxn, sequencerTxn, suspended FROM wal_tables() WHERE name = $1", table).
			Scan(&writer, &sequencer, &suspended)
		if err != nil {
			return fmt.Errorf("wal_tables() for %s: %w", table, err)
		}
		if suspended {
			return fmt.Errorf("table %s is suspended (WAL apply failed); see QuestDB's log, then ALTER TABLE %s RESUME WAL", table, table)
		}
		if writer >= sequencer {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s to apply its WAL (%d of %d): %w", table, writer, sequencer, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// execBusy runs one statement, retrying while QuestDB answers "table busy".
// A non-WAL table (the migrations log) and DDL take the table's writer lock,
// so two processes migrating at once (two writers starting together, test
// packages in parallel) collide; the lock is held for milliseconds, so
// waiting is the right answer, not failing.
func execBusy(ctx context.Context, db Querier, sql string, args ...any) error {
	wait := 10 * time.Millisecond
	for {
		_, err := db.Exec(ctx, sql, args...)
		if err == nil || !isTableBusy(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (gave up waiting: %w)", err, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}

func isTableBusy(err error) bool {
	return strings.Contains(strings.ToLower(err.Error()), "table busy")
}
