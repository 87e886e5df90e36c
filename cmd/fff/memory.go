package main

import (
	"github.com/spf13/pflag"

	"github.com/feefifofunds/feefifofunds/internal/cli"
	"github.com/feefifofunds/feefifofunds/pipeline/local"
)

// addMemoryLimitFlag registers --memory-limit (FFF_MEMORY_LIMIT) for the
// commands that run the pipeline in this process (fff up, fff ingest
// --embedded).
func addMemoryLimitFlag(fs *pflag.FlagSet, on *bool) {
	cli.Flag(fs, fs.BoolVar, on, "memory-limit", true, "collect garbage near the working set the stages' settings imply (writers × flush rows, parser batches, plus 64 MiB), unless GOMEMLIMIT is set", "FFF_MEMORY_LIMIT")
}

// limitMemory sets the process's soft memory limit for the stages of o
// when on.
func (a *app) limitMemory(on bool, o local.Options) {
	if !on {
		return
	}
	if limit, set := local.LimitMemory(o); set {
		a.log.Debug("memory limit", "bytes", limit)
	}
}
