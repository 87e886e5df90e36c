package local

import (
	"os"
	"runtime/debug"

	"github.com/feefifofunds/feefifofunds/pipeline/parser"
	"github.com/feefifofunds/feefifofunds/pipeline/writer"
)

// embeddedOverhead is room for what Options do not size: the embedded
// server's caches and buffers, the watcher, the ledger keeper, the fetcher
// and the Go runtime.
const embeddedOverhead = 64 << 20

// candleBytes is what one candle costs a parser while its batch waits for
// the PubAck: the 72-byte binary candle and its share of the message.
const candleBytes = 80

// SoftMemoryLimit is the Go memory limit a process running o should have:
// the writer's own limit (writer.SoftMemoryLimit, what its senders hold),
// what the parsers hold (each worker's batches awaiting their PubAck, one
// more being filled, and its read buffer), and room for the rest. Without a
// limit the heap doubles before each collection, and one big file takes the
// process to about twice its working set.
func SoftMemoryLimit(o Options) int64 {
	limit := int64(embeddedOverhead)
	if w := o.Writer; w != nil {
		limit += writer.SoftMemoryLimit(w.Workers, w.FlushRows)
	}
	if p := o.Parser; p != nil {
		workers, batch, inFlight := p.Workers, p.BatchSize, p.MaxInFlight
		if workers <= 0 {
			workers = parser.DefaultWorkers
		}
		if batch <= 0 {
			batch = parser.DefaultBatchSize
		}
		if inFlight <= 0 {
			inFlight = parser.DefaultMaxInFlight
		}
		perWorker := int64(inFlight+1)*int64(batch)*candleBytes + 2*parser.DefaultBufferSize
		limit += int64(workers) * perWorker
	}
	return limit
}

// LimitMemory sets the process's Go memory limit to SoftMemoryLimit(o),
// unless GOMEMLIMIT already set one (the operator's word wins). For the owner
// of a process that runs the pipeline and little else (fff up, fff ingest
// --embedded): the limit applies to the whole process.
func LimitMemory(o Options) (limit int64, set bool) {
	if _, env := os.LookupEnv("GOMEMLIMIT"); env {
		return 0, false
	}
	limit = SoftMemoryLimit(o)
	debug.SetMemoryLimit(limit)
	return limit, true
}
