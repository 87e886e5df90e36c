package status

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// streams in the order a report lists them: the flow's order.
var streams = []string{
	topology.StreamFiles, topology.StreamCandles, topology.StreamFills,
	topology.StreamProgress, topology.StreamDLQ, topology.StreamScanner,
}

// Collect looks at the pipeline once: JetStream through js, QuestDB through
// db (NoDB when it could not be reached) and its candle table. What cannot
// be read from JetStream is an error; what QuestDB does not answer is part
// of the report, as are the problems found (see Report.Problems).
func Collect(ctx context.Context, js jetstream.JetStream, db questdb.Querier, table string) (Report, error) {
	r := Report{Taken: time.Now().UTC(), DeadLetters: map[string]int{}, Gaps: map[string]int{},
		Files: Files{InFlight: []FileInFlight{}, ByState: map[string]int{}}}
	var err error
	if r.Streams, err = collectStreams(ctx, js); err != nil {
		return r, err
	}
	if err := collectDeadLetters(ctx, js, r.DeadLetters); err != nil {
		return r, err
	}
	if err := collectFiles(ctx, js, &r.Files); err != nil {
		return r, err
	}
	if err := collectGaps(ctx, js, r.Gaps); err != nil {
		return r, err
	}
	r.QuestDB = collectQuestDB(ctx, db, table)
	r.Problems = problems(r)
	return r, nil
}

func collectStreams(ctx context.Context, js jetstream.JetStream) ([]Stream, error) {
	out := make([]Stream, 0, len(streams))
	for _, name := range streams {
		s, err := js.Stream(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("stream %s: %w", name, err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			return nil, fmt.Errorf("stream %s: %w", name, err)
		}
		st := Stream{Name: name, Messages: info.State.Msgs, Bytes: info.State.Bytes, Consumers: []Consumer{}}
		lister := s.ListConsumers(ctx)
		for ci := range lister.Info() {
			if ci.Config.Durable == "" {
				continue // ordered consumers of fff tail and watches: nobody's lag
			}
			st.Consumers = append(st.Consumers, Consumer{Name: ci.Name, Pending: ci.NumPending,
				AckPending: ci.NumAckPending, Redelivered: ci.NumRedelivered})
		}
		if err := lister.Err(); err != nil {
			return nil, fmt.Errorf("consumers of %s: %w", name, err)
		}
		sort.Slice(st.Consumers, func(i, j int) bool { return st.Consumers[i].Name < st.Consumers[j].Name })
		out = append(out, st)
	}
	return out, nil
}

func collectDeadLetters(ctx context.Context, js jetstream.JetStream, by map[string]int) error {
	s, err := js.Stream(ctx, topology.StreamDLQ)
	if err != nil {
		return fmt.Errorf("stream %s: %w", topology.StreamDLQ, err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(topology.SubjectDLQ))
	if err != nil {
		return fmt.Errorf("dead letters by stage: %w", err)
	}
	for subj, n := range info.State.Subjects {
		by[strings.TrimPrefix(subj, "dlq.")] += int(n)
	}
	return nil
}

func collectFiles(ctx context.Context, js jetstream.JetStream, f *Files) error {
	return eachValue(ctx, js, topology.BucketLedger, func(key string, data []byte) {
		var e contract.LedgerEntry
		if json.Unmarshal(data, &e) != nil {
			f.ByState["unreadable"]++
			return
		}
		f.ByState[e.State]++
		switch e.State {
		case contract.FileCommitted, contract.FileRejected, contract.FileFailed:
			return
		}
		f.InFlight = append(f.InFlight, FileInFlight{FileID: key, Name: e.Name, State: e.State,
			BatchesDone: e.BatchesDone, Batches: e.Batches, RowsParsed: e.RowsParsed,
			RowsCommitted: e.RowsCommitted, Waiting: e.Waiting, Updated: e.Updated})
	}, func() {
		sort.Slice(f.InFlight, func(i, j int) bool { return f.InFlight[i].Updated.Before(f.InFlight[j].Updated) })
	})
}

func collectGaps(ctx context.Context, js jetstream.JetStream, by map[string]int) error {
	return eachValue(ctx, js, topology.BucketGaps, func(_ string, data []byte) {
		var g contract.GapRecord
		if json.Unmarshal(data, &g) != nil {
			by["unreadable"]++
			return
		}
		by[g.State]++
	}, func() {})
}

// eachValue hands f the latest value of every key of a bucket, read as one
// watch (a single ordered stream of the last values, not a request per key),
// then calls done.
func eachValue(ctx context.Context, js jetstream.JetStream, bucket string, f func(key string, value []byte), done func()) error {
	kv, err := js.KeyValue(ctx, bucket)
	if err != nil {
		return fmt.Errorf("bucket %s: %w", bucket, err)
	}
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return fmt.Errorf("read bucket %s: %w", bucket, err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("read bucket %s: %w", bucket, ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return fmt.Errorf("read bucket %s: the watch ended early", bucket)
			}
			if e == nil { // every current value delivered
				done()
				return nil
			}
			f(e.Key(), e.Value())
		}
	}
}

func collectQuestDB(ctx context.Context, db questdb.Querier, table string) QuestDB {
	q := QuestDB{Table: table}
	var one int
	if err := db.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		q.Error = err.Error()
		return q
	}
	q.Reachable = true
	err := db.QueryRow(ctx, "SELECT writerTxn, sequencerTxn, suspended FROM wal_tables() WHERE name = $1", table).
		Scan(&q.WriterTxn, &q.SequencerTxn, &q.Suspended)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		q.Error = fmt.Sprintf("wal_tables(): %v", err)
	default:
		q.TableFound = true
		q.Lag = max(0, q.SequencerTxn-q.WriterTxn)
	}
	return q
}

// problems are the states that make the pipeline unhealthy: QuestDB out of
// reach, the table missing or suspended (files would wait for ever), dead
// letters (messages a stage gave up on, waiting for a person). Lag and
// files in flight are work under way, not problems.
func problems(r Report) []string {
	p := []string{}
	q := r.QuestDB
	switch {
	case !q.Reachable:
		p = append(p, "QuestDB is not reachable: "+q.Error)
	case q.Error != "":
		p = append(p, fmt.Sprintf("table %s: %s", q.Table, q.Error))
	case !q.TableFound:
		p = append(p, fmt.Sprintf("table %s is not a WAL table in QuestDB (missing? fff migrate up, or start a writer)", q.Table))
	case q.Suspended:
		p = append(p, fmt.Sprintf("table %s is suspended: its WAL is not applied, files wait; see QuestDB's log, then ALTER TABLE %s RESUME WAL", q.Table, q.Table))
	}
	var stages []string
	total := 0
	for s, n := range r.DeadLetters {
		if n > 0 {
			stages = append(stages, fmt.Sprintf("%s %d", s, n))
			total += n
		}
	}
	if total > 0 {
		sort.Strings(stages)
		p = append(p, fmt.Sprintf("%d dead letter(s) (%s): fff dlq list", total, strings.Join(stages, ", ")))
	}
	return p
}
