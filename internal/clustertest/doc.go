// Package clustertest holds the cluster run of `make test`: the real
// watcher, parser and writer on a 3-node embedded JetStream cluster with
// every stream and bucket R3, into the test QuestDB, with the CANDLES
// stream's leader shut down mid-ingest. The process-level version with
// kill -9s is the fault suite (internal/chaos, `make chaos`).
package clustertest
