// Package s2repro holds a server-only reproduction of the nats-server S2
// issue of docs/RELIABILITY.md#s2-compression: three real nats-server
// processes (sync_interval: always, as nats-cluster.conf), two R3 file
// streams, one S2-compressed and one not, publishers on both, and kill -9 of
// two nodes at once, several times. Nothing of the pipeline runs: what
// breaks here is the server's.
//
// The test asserts what the pipeline relies on (the uncompressed stream keeps
// every acknowledged message intact and has a leader after every fault) and
// reports what happened to the compressed one. With FFF_S2_REPRO=1 it
// asserts instead that the S2 corruption reproduces, documenting the server
// bug; it then fails on the first server release that fixes it.
//
//	go test -run TestS2DoubleKill -v ./internal/s2repro/
//	FFF_S2_REPRO=1 go test -run TestS2DoubleKill -v ./internal/s2repro/
package s2repro
