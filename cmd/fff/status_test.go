package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/status"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

func TestStatusCommand(t *testing.T) {
	env := testenv.StartJetStream(t)
	q := testenv.NewQuestDB(t)
	where := []string{"--nats", env.URL, "--questdb-pg", q.PG, "--table", q.Table}
	// troubles gives the pipeline a dead letter and a file half committed.
	troubles := func(t *testing.T) {
		ctx := context.Background()
		if _, err := env.JS.Publish(ctx, topology.DLQSubject("writer"), []byte("poison")); err != nil {
			t.Fatal(err)
		}
		kv, err := env.JS.KeyValue(ctx, topology.BucketLedger)
		if err != nil {
			t.Fatal(err)
		}
		e := contract.LedgerEntry{FileID: "f1", Name: "XBTUSD_60.csv", State: contract.FileParsed, Batches: 5, BatchesDone: 2,
			RowsParsed: 40000, RowsCommitted: 16384, Updated: time.Now()}
		data, _ := json.Marshal(e)
		if _, err := kv.Put(ctx, e.FileID, data); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name    string
		before  func(t *testing.T)
		args    []string
		code    int
		want    []string // in stdout
		wantErr string   // in the error
	}{
		{"healthy", nil, where, 0, []string{"STREAM", "FILES", "CANDLES", "dead letters: none", "files: none", "gaps: none",
			"QuestDB: reachable; table " + q.Table + " WAL applying", "\nhealthy\n"}, ""},
		{"QuestDB unreachable", nil, append(where, "--questdb-pg", "postgres://admin:quest@127.0.0.1:1/qdb"), 1,
			[]string{"QuestDB: not reachable (", "problems:\n  - QuestDB is not reachable"}, "QuestDB is not reachable"},
		{"dead letter and a file in flight", troubles, where, 1,
			[]string{"dead letters: writer 1", "files: PARSED 1", "XBTUSD_60.csv  PARSED  2/5", "16384", "problems:\n  - 1 dead letter(s) (writer 1): fff dlq list"},
			"1 dead letter(s)"},
		{"NATS unreachable", nil, append(where, "--nats", "nats://127.0.0.1:1"), 2, nil, "nats"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.before != nil {
				tc.before(t)
			}
			out, _, err := run(t, time.Minute, append([]string{"status"}, tc.args...)...)
			if exitCode(err) != tc.code {
				t.Fatalf("exit %d (%v), want %d\n%s", exitCode(err), err, tc.code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tc.wantErr))) {
				t.Errorf("error %v, want it to say %q", err, tc.wantErr)
			}
		})
	}
	t.Run("json", func(t *testing.T) {
		out, _, err := run(t, time.Minute, append([]string{"status", "--json"}, where...)...)
		var rep status.Report
		if exitCode(err) != 1 || json.Unmarshal([]byte(out), &rep) != nil {
			t.Fatalf("exit %d (%v)\n%s", exitCode(err), err, out)
		}
		if rep.DeadLetters["writer"] != 1 || len(rep.Files.InFlight) != 1 || rep.Files.InFlight[0].BatchesDone != 2 ||
			!rep.QuestDB.Reachable || !rep.QuestDB.TableFound || len(rep.Problems) != 1 {
			t.Errorf("report %+v", rep)
		}
	})
}
