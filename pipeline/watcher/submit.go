package watcher

import "github.com/feefifofunds/feefifofunds/pipeline/ingest"

// Submit and SubmitOptions stay reachable here for the benchmark until it
// calls package ingest itself (cmd/fff/bench.go is being rewritten).
var Submit = ingest.Submit

// SubmitOptions: see Submit.
type SubmitOptions = ingest.SubmitOptions
