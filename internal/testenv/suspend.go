package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BlockPartition makes QuestDB suspend the table's WAL, for real, at the
// next transaction that rewrites partition (a write out of order into it,
// e.g. "2020-01" for a PARTITION BY MONTH table): it puts files where
// QuestDB would create the partition's new copy, so applying fails and the
// table is suspended with QuestDB's own error. (ALTER TABLE ... SUSPEND WAL
// needs QuestDB's dev mode, which the shared test server does not run.)
// unblock removes the files; resume the table with ALTER TABLE ... RESUME WAL.
//
// It needs the QuestDB's data directory on this machine: QUESTDB_ROOT, or
// the -d argument of a local QuestDB process; the test is skipped otherwise.
func (q *QuestDB) BlockPartition(t testing.TB, partition string) (unblock func()) {
	t.Helper()
	root := questDBRoot()
	if root == "" {
		const why = "QuestDB's data directory is not on this machine (set QUESTDB_ROOT to it to run this test)"
		if os.Getenv("CI") == "true" {
			t.Fatal(why + ": CI starts QuestDB here, so the suspended-table test must run")
		}
		t.Skip(why)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var dir string
	if err := q.Pool.QueryRow(ctx, "SELECT directoryName FROM tables() WHERE table_name = $1", q.Table).Scan(&dir); err != nil {
		t.Fatalf("directory of %s: %v", q.Table, err)
	}
	var txn int64
	if err := q.Pool.QueryRow(ctx, "SELECT sequencerTxn FROM wal_tables() WHERE name = $1", q.Table).Scan(&txn); err != nil {
		t.Fatalf("txn of %s: %v", q.Table, err)
	}
	tdir := filepath.Join(root, "db", dir)
	if _, err := os.Stat(tdir); err != nil {
		t.Skipf("table directory %s not found (%v); set QUESTDB_ROOT", tdir, err)
	}
	var made []string
	for i := int64(0); i <= txn+50; i++ {
		p := filepath.Join(tdir, fmt.Sprintf("%s.%d", partition, i))
		if _, err := os.Stat(p); err == nil {
			continue
		}
		if err := os.WriteFile(p, []byte("blocked by a test\n"), 0o644); err != nil {
			t.Fatalf("block %s: %v", p, err)
		}
		made = append(made, p)
	}
	done := false
	unblock = func() {
		if done {
			return
		}
		done = true
		for _, p := range made {
			_ = os.Remove(p)
		}
	}
	t.Cleanup(unblock)
	return unblock
}

// questDBRoot finds the local QuestDB's data directory.
func questDBRoot() string {
	if r := os.Getenv("QUESTDB_ROOT"); r != "" {
		return r
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(b), "io.questdb.ServerMain") {
			continue
		}
		args := strings.Split(string(b), "\x00")
		for i, a := range args {
			if a == "-d" && i+1 < len(args) {
				return args[i+1]
			}
		}
	}
	return ""
}
