package main

import (
	"runtime/debug"
	"testing"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/local"
	"github.com/feefifofunds/feefifofunds/pipeline/parser"
	"github.com/feefifofunds/feefifofunds/pipeline/writer"
)

// fff ingest --embedded (like fff up) runs with the soft memory limit its
// stages' settings imply, unless --memory-limit=false or GOMEMLIMIT says
// otherwise.
func TestIngestEmbeddedMemoryLimit(t *testing.T) {
	const unset = int64(1) << 62
	old := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(old) })
	want := local.SoftMemoryLimit(local.Options{Parser: &parser.Config{Workers: 3}, Writer: &writer.Config{Workers: 3}})
	for _, tc := range []struct {
		name  string
		flag  string
		env   string
		limit int64
	}{
		{name: "default", flag: "--memory-limit", limit: want},
		{name: "off", flag: "--memory-limit=false", limit: unset},
		{name: "GOMEMLIMIT set", flag: "--memory-limit", env: "1GiB", limit: unset},
	} {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetMemoryLimit(unset)
			if tc.env != "" {
				t.Setenv("GOMEMLIMIT", tc.env)
			}
			q := testenv.NewQuestDB(t)
			dir := t.TempDir()
			copyFixture(t, dir, "XBTUSD_1440.csv")
			out, _, err := runIngestCmd(t, dir, "--yes", "--embedded", "--store", t.TempDir(), "--workers", "3", tc.flag,
				"--questdb", q.ILP, "--questdb-pg", q.PG, "--table", q.Table)
			if err != nil {
				t.Fatalf("ingest --embedded: %v\n%s", err, out)
			}
			if got := debug.SetMemoryLimit(-1); got != tc.limit {
				t.Errorf("memory limit %d, want %d", got, tc.limit)
			}
		})
	}
}
