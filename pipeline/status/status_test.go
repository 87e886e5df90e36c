package status_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/status"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// seed puts into JetStream what an operator looks for: three files on the
// parser's queue (one taken and not yet acknowledged), files in flight and
// done in the ledger, gap records, dead letters of two stages.
func seed(t *testing.T, ctx context.Context, js jetstream.JetStream) {
	t.Helper()
	c, err := topology.EnsureConsumer(ctx, js, topology.StreamFiles, topology.ParserConsumer())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := js.Publish(ctx, topology.SubjectFiles, []byte(`{"file_id":"f`+string(rune('0'+i))+`"}`)); err != nil {
			t.Fatal(err)
		}
	}
	batch, err := c.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for range batch.Messages() { // taken, never acknowledged: ack pending
	}

	ledger, err := js.KeyValue(ctx, topology.BucketLedger)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for _, e := range []contract.LedgerEntry{
		{FileID: "aaa", Name: "XBTUSD_60.csv", State: contract.FileParsed, Batches: 4, BatchesDone: 1, RowsParsed: 30000, RowsCommitted: 8192, Updated: now},
		{FileID: "bbb", Name: "ETHUSD_60.csv", State: contract.FileQueued, Waiting: "QuestDB not reachable", Updated: now.Add(-time.Minute)},
		{FileID: "ccc", Name: "SOLUSD_60.csv", State: contract.FileCommitted, Batches: 1, BatchesDone: 1, Updated: now},
		{FileID: "ddd", Name: "empty_60.csv", State: contract.FileRejected, Updated: now},
	} {
		put(t, ctx, ledger, e.FileID, e)
	}
	gaps, err := js.KeyValue(ctx, topology.BucketGaps)
	if err != nil {
		t.Fatal(err)
	}
	for i, st := range []string{contract.GapFilled, contract.GapFilled, contract.GapUnfillable, contract.GapRequested} {
		key := "kraken.XBTUSD.60." + string(rune('1'+i))
		put(t, ctx, gaps, key, contract.GapRecord{Key: key, State: st})
	}
	for _, stage := range []string{"writer", "writer", "fetcher"} {
		if _, err := js.Publish(ctx, topology.DLQSubject(stage), []byte("poison")); err != nil {
			t.Fatal(err)
		}
	}
}

// put stores v as JSON under key, as the pipeline's writers do.
func put(t *testing.T, ctx context.Context, kv jetstream.KeyValue, key string, v any) {
	t.Helper()
	data, err := json.Marshal(v)
	if err == nil {
		_, err = kv.Put(ctx, key, data)
	}
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func TestCollect(t *testing.T) {
	env := testenv.StartJetStream(t)
	q := testenv.NewQuestDB(t)
	ctx := testenv.Context(t, 60*time.Second)
	seed(t, ctx, env.JS)

	rep, err := status.Collect(ctx, env.JS, q.Pool, q.Table)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("streams and lag", func(t *testing.T) {
		var names []string
		for _, s := range rep.Streams {
			names = append(names, s.Name)
		}
		if strings.Join(names, " ") != "FILES CANDLES FILLS PROGRESS DLQ GAPSCANNER" {
			t.Fatalf("streams %v", names)
		}
		files := rep.Streams[0]
		if files.Messages != 3 || files.Bytes == 0 {
			t.Errorf("FILES: %d messages, %d bytes; want 3 and some", files.Messages, files.Bytes)
		}
		if len(files.Consumers) != 1 || files.Consumers[0] != (status.Consumer{Name: "parser", Pending: 2, AckPending: 1}) {
			t.Errorf("FILES consumers %+v, want parser with 2 pending, 1 ack pending", files.Consumers)
		}
		if dlq := rep.Streams[4]; dlq.Messages != 3 {
			t.Errorf("DLQ holds %d, want 3", dlq.Messages)
		}
	})
	t.Run("dead letters by stage", func(t *testing.T) {
		if len(rep.DeadLetters) != 2 || rep.DeadLetters["writer"] != 2 || rep.DeadLetters["fetcher"] != 1 {
			t.Errorf("dead letters %v", rep.DeadLetters)
		}
	})
	t.Run("files in flight", func(t *testing.T) {
		want := []status.FileInFlight{
			{FileID: "bbb", Name: "ETHUSD_60.csv", State: "QUEUED", Waiting: "QuestDB not reachable"},
			{FileID: "aaa", Name: "XBTUSD_60.csv", State: "PARSED", Batches: 4, BatchesDone: 1, RowsParsed: 30000, RowsCommitted: 8192},
		}
		got := slices.Clone(rep.Files.InFlight)
		for i := range got {
			got[i].Updated = time.Time{}
		}
		if !slices.Equal(got, want) {
			t.Errorf("in flight (oldest first):\n got %+v\nwant %+v", got, want)
		}
		if rep.Files.ByState["COMMITTED"] != 1 || rep.Files.ByState["REJECTED"] != 1 || len(rep.Files.ByState) != 4 {
			t.Errorf("by state %v", rep.Files.ByState)
		}
	})
	t.Run("gaps by state", func(t *testing.T) {
		if len(rep.Gaps) != 3 || rep.Gaps["FILLED"] != 2 || rep.Gaps["UNFILLABLE"] != 1 || rep.Gaps["REQUESTED"] != 1 {
			t.Errorf("gaps %v", rep.Gaps)
		}
	})
	t.Run("QuestDB table", func(t *testing.T) {
		d := rep.QuestDB
		if !d.Reachable || !d.TableFound || d.Suspended || d.Lag != 0 || d.WriterTxn != d.SequencerTxn || d.Table != q.Table {
			t.Errorf("questdb %+v", d)
		}
	})
	t.Run("problems: the dead letters only", func(t *testing.T) {
		if rep.OK() || len(rep.Problems) != 1 || rep.Problems[0] != "3 dead letter(s) (fetcher 1, writer 2): fff dlq list" {
			t.Errorf("problems %q", rep.Problems)
		}
	})
}

// A suspended table is judged in problems_test.go: suspending one for real
// needs QuestDB's dev mode or its data directory (testenv.BlockPartition,
// on another branch).
func TestCollectJudgesQuestDB(t *testing.T) {
	env := testenv.StartJetStream(t)
	q := testenv.NewQuestDB(t)
	ctx := testenv.Context(t, 60*time.Second)
	cases := []struct {
		name    string
		prepare func(t *testing.T) (db status.Querier, table string)
		check   func(d status.QuestDB) bool
		problem string
	}{
		{"healthy", func(*testing.T) (status.Querier, string) { return q.Pool, q.Table },
			func(d status.QuestDB) bool { return d.Reachable && d.TableFound && !d.Suspended }, ""},
		{"missing table", func(*testing.T) (status.Querier, string) { return q.Pool, "no_such_table" },
			func(d status.QuestDB) bool { return d.Reachable && !d.TableFound },
			"table no_such_table is not a WAL table in QuestDB"},
		{"unreachable", func(*testing.T) (status.Querier, string) {
			return status.NoDB(errors.New("questdb pg wire at 127.0.0.1:1 does not answer")), q.Table
		}, func(d status.QuestDB) bool { return !d.Reachable && strings.Contains(d.Error, "does not answer") },
			"QuestDB is not reachable: questdb pg wire at 127.0.0.1:1 does not answer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db, table := tc.prepare(t)
			rep, err := status.Collect(ctx, env.JS, db, table)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(rep.QuestDB) {
				t.Errorf("questdb %+v", rep.QuestDB)
			}
			if tc.problem == "" {
				if !rep.OK() {
					t.Errorf("problems %q, want none", rep.Problems)
				}
				return
			}
			if len(rep.Problems) != 1 || !strings.HasPrefix(rep.Problems[0], tc.problem) {
				t.Errorf("problems %q, want one starting %q", rep.Problems, tc.problem)
			}
		})
	}
}
