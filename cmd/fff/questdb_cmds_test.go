package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
)

func TestCheckQuestDB(t *testing.T) {
	q := testenv.NewQuestDB(t)
	out, err := runFFF(t, "check-questdb", "--questdb", q.ILP, "--questdb-pg", q.PG, "--table", q.Table)
	if err != nil {
		t.Fatalf("check against the test QuestDB: %v\n%s", err, out)
	}
	for _, want := range []string{"QuestDB 9.", "DEDUP"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}

	// A closed port: a clear report, exit status 1.
	out, err = runFFF(t, "check-questdb", "--questdb", "http::addr=127.0.0.1:1;",
		"--questdb-pg", "postgres://admin:quest@127.0.0.1:1/qdb", "--table", q.Table)
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("closed port: err %v, want exit status 1\n%s", err, out)
	}
	if !strings.Contains(out, "127.0.0.1:1") {
		t.Errorf("the report does not name the address it tried:\n%s", out)
	}
	if strings.Contains(out, "quest@") {
		t.Errorf("the report shows the password:\n%s", out)
	}
}

func TestMigrateCommands(t *testing.T) {
	q := testenv.NewQuestDB(t)
	table := q.Table + "_cli"
	// rootCmd keeps flag values between runs: every run sets them all.
	args := func(action string, extra ...string) []string {
		return append([]string{"migrate", action, "--yes=false", "--steps=1",
			"--questdb", q.ILP, "--questdb-pg", q.PG, "--table", table}, extra...)
	}
	t.Cleanup(func() { _, _ = runFFF(t, args("down", "--steps", "99", "--yes")...) })

	out, err := runFFF(t, args("status")...)
	if err != nil || !strings.Contains(out, "pending") {
		t.Fatalf("status before up: %v\n%s", err, out)
	}
	out, err = runFFF(t, args("up")...)
	if err != nil || !strings.Contains(out, "applied 0001_") {
		t.Fatalf("up: %v\n%s", err, out)
	}
	out, err = runFFF(t, args("up")...)
	if err != nil || !strings.Contains(out, "up to date") {
		t.Fatalf("up twice: %v\n%s", err, out)
	}
	out, err = runFFF(t, args("status")...)
	if err != nil || strings.Contains(out, "pending") || !strings.Contains(out, "applied 20") {
		t.Fatalf("status after up: %v\n%s", err, out)
	}
	if _, err = runFFF(t, args("down")...); err == nil || !strings.Contains(err.Error(), "--yes") {
		t.Fatalf("down without --yes: %v", err)
	}
	out, err = runFFF(t, args("down", "--yes")...)
	if err != nil || !strings.Contains(out, "reverted") {
		t.Fatalf("down --yes: %v\n%s", err, out)
	}

	// A closed port: an error naming what failed, not a hang.
	_, err = runFFF(t, args("status", "--questdb-pg", "postgres://admin:quest@127.0.0.1:1/qdb")...)
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") || strings.Contains(err.Error(), "quest@") {
		t.Fatalf("closed port: %v", err)
	}
}
