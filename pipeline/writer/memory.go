package writer

import (
	"os"
	"runtime/debug"

	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
)

// LimitMemory sets the process's Go memory limit to SoftMemoryLimit, unless
// GOMEMLIMIT already set one. For the owner of a process that runs a writer
// and little else (the writer binary): the limit applies to the whole process.
func LimitMemory(workers, flushRows int) (limit int64, set bool) {
	if _, env := os.LookupEnv("GOMEMLIMIT"); env {
		return 0, false
	}
	limit = SoftMemoryLimit(workers, flushRows)
	debug.SetMemoryLimit(limit)
	return limit, true
}

// SoftMemoryLimit is the Go memory limit a writer process should run with:
// what its senders hold at most (a request buffer and the batches it
// carries, per worker) plus room for the rest. The held data is plain
// bytes, cheap for the collector to scan, so collecting close to it costs
// little; without a limit the heap doubles before each collection and the
// process sits near twice its working set.
func SoftMemoryLimit(workers, flushRows int) int64 {
	if workers <= 0 {
		workers = DefaultWorkers
	}
	if flushRows <= 0 {
		flushRows = DefaultFlushRows
	}
	// per row: the ILP bytes and the binary candle (72 B) in the held message
	const perRow = questdb.ILPBytesPerRow + 80
	return int64(workers)*int64(sinkRows(flushRows))*perRow + 48<<20
}
