package questdb_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
)

func TestMigrateUpTwiceDownStatus(t *testing.T) {
	pool, _, _ := testenv.ConnectQuestDB(t)
	table := testenv.NewTableName(t)
	t.Cleanup(func() { testenv.DropTable(t, pool, table) })
	ctx := testenv.Context(t, time.Minute)

	applied, err := questdb.Up(ctx, pool, table)
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	if len(applied) == 0 {
		t.Fatal("first up applied nothing")
	}
	again, err := questdb.Up(ctx, pool, table)
	if err != nil {
		t.Fatalf("second up: %v", err)
	}
	if len(again) != 0 {
		t.Fatalf("second up applied %d migrations, want none", len(again))
	}
	var ddl string
	if err := pool.QueryRow(ctx, "SHOW CREATE TABLE "+table).Scan(&ddl); err != nil {
		t.Fatalf("show create table: %v", err)
	}
	if !strings.Contains(ddl, "DEDUP UPSERT KEYS(ts,source,pair,interval_minutes)") &&
		!strings.Contains(ddl, "DEDUP UPSERT KEYS(ts, source, pair, interval_minutes)") {
		t.Fatalf("SHOW CREATE TABLE lacks the dedup keys:\n%s", ddl)
	}
	var wal bool
	if err := pool.QueryRow(ctx, "SELECT walEnabled FROM tables() WHERE table_name = $1", table).Scan(&wal); err != nil {
		t.Fatal(err)
	}
	if !wal {
		t.Fatal("table is not a WAL table; DEDUP needs WAL")
	}
	st, err := questdb.Status(ctx, pool, table)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if !s.Applied {
			t.Fatalf("migration %04d not applied after up", s.Version)
		}
	}
	if _, err := questdb.Down(ctx, pool, table, len(st)); err != nil {
		t.Fatalf("down: %v", err)
	}
	exists, err := questdb.TableExists(ctx, pool, table)
	if err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Fatal("table still exists after down")
	}
	st, _ = questdb.Status(ctx, pool, table)
	for _, s := range st {
		if s.Applied {
			t.Fatalf("migration %04d still applied after down", s.Version)
		}
	}
}

func TestServerVersion(t *testing.T) {
	pool, ilp, _ := testenv.ConnectQuestDB(t)
	ctx := context.Background()
	v, err := questdb.ServerVersion(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if !v.AtLeast(7, 3) {
		t.Fatalf("version %s below 7.3", v)
	}
	if err := questdb.PingILP(ctx, ilp); err != nil {
		t.Fatal(err)
	}
}

func TestParseBuild(t *testing.T) {
	v, err := questdb.ParseBuild("Build Information: QuestDB 9.3.4, JDK 25.0.3, Commit Hash abc")
	if err != nil || v.String() != "9.3.4" {
		t.Fatalf("got %v %v", v, err)
	}
	if _, err := questdb.ParseBuild("PostgreSQL 12.3"); err == nil {
		t.Fatal("want error for a non-QuestDB version string")
	}
}

// Two writers starting together (or test packages in parallel) migrate at
// once; QuestDB answers "table busy" to the loser of the writer lock, which
// must wait rather than fail.
func TestConcurrentMigrateUp(t *testing.T) {
	pool, _, _ := testenv.ConnectQuestDB(t)
	ctx := testenv.Context(t, 2*time.Minute)
	for round := 0; round < 3; round++ {
		table := testenv.NewTableName(t)
		t.Cleanup(func() { testenv.DropTable(t, pool, table) })
		const migrators = 6
		errs := make(chan error, migrators)
		start := make(chan struct{})
		for i := 0; i < migrators; i++ {
			go func() {
				<-start
				_, err := questdb.Up(ctx, pool, table)
				errs <- err
			}()
		}
		close(start)
		for i := 0; i < migrators; i++ {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: concurrent up: %v", round, err)
			}
		}
		st, err := questdb.Status(ctx, pool, table)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range st {
			if !s.Applied {
				t.Fatalf("round %d: migration %04d not applied", round, s.Version)
			}
		}
	}
}
