// Package jsplumb is the JetStream plumbing every stage shares: the pull
// loop (with in-progress keep-alive and settlement decided by what a
// handler returns), a compare-and-set update of a key-value record, a batch
// publisher with a bounded async window, and a context-aware sleep.
//
// It exists so that each stage states its policy (what is a retry, what is
// dead) and none of them re-implements the mechanics, which is where the
// subtle bugs were: a fetch context that dropped delivered messages, a
// keep-alive goroutine nobody stopped, a compare-and-set that treated an
// unreadable record differently depending on who wrote it.
package jsplumb
