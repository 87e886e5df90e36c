package metrics

import "github.com/prometheus/client_golang/prometheus"

// CommitSecondsName is the writer's commit latency: one ILP request
// QuestDB accepted, from send to answer, by table. It lives here, not in
// the writer, so that its name has one definition for the dashboard too.
const CommitSecondsName = "fff_writer_commit_seconds"

// CommitBuckets spans a small flush on a local QuestDB (5 ms) to a large
// one on a loaded server (about 40 s).
var CommitBuckets = prometheus.ExponentialBuckets(0.005, 2, 14)

// CommitSeconds is the writer's commit latency histogram for table; the
// writer observes each accepted ILP request:
//
//	reg.CommitSeconds(table).Observe(took.Seconds())
func (r *Registry) CommitSeconds(table string) *Histogram {
	return r.Histogram(CommitSecondsName, "Duration of ILP requests QuestDB accepted (commit latency)", CommitBuckets, "table", table)
}
