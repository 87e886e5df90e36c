package watcher

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

// replaced says whether the file at path is no longer the one taken: a
// new file moved over it, or new bytes written into it, while its earlier
// content was in flight. Moving it then would put content into ingested/
// that was never loaded.
func replaced(path string, fi fs.FileInfo) bool {
	if fi == nil {
		return false
	}
	now, err := os.Lstat(path)
	if err != nil {
		return false // gone: nothing to move, nothing to load
	}
	return !os.SameFile(fi, now) || now.Size() != fi.Size() || !now.ModTime().Equal(fi.ModTime())
}

// retake handles a file replaced while its earlier content was in flight:
// what became of the earlier content (outcome) is logged and kept for the
// new file's report, and the new content is observed like a new drop, so
// it is loaded (or rejected) on its own.
func (w *run) retake(path, outcome string) {
	delete(w.handled, path)
	name := filepath.Base(path)
	w.log.Warn("file replaced while in flight; its new content is taken now", "file", name, "earlier_content", outcome)
	w.notes[path] = fmt.Sprintf("%s was replaced while its earlier content was in flight: %s. "+
		"This file's new content was loaded on its own.\n", name, outcome)
	w.observe(path)
}

// entryOutcome says what became of a file's content, for retake.
func entryOutcome(e contract.LedgerEntry) string {
	s := fmt.Sprintf("file id %s ended %s with %d row(s) committed", e.FileID, e.State, e.RowsCommitted)
	if e.Reason != "" && e.State != contract.FileCommitted {
		s += " (" + e.Reason + ")"
	}
	return s
}

// zipOutcome says what became of a zip's members, for retake.
func zipOutcome(z *zipTrack) string {
	committed, rows := 0, int64(0)
	for _, m := range z.members {
		if m.entry.State == contract.FileCommitted {
			committed++
		}
		rows += m.entry.RowsCommitted
	}
	return fmt.Sprintf("%d of its %d member(s) ended COMMITTED, %d row(s) committed", committed, len(z.members), rows)
}

// takeNote returns (and forgets) what happened to an earlier content of
// path, for the report written beside it.
func (w *run) takeNote(path string) string {
	n := w.notes[path]
	delete(w.notes, path)
	return n
}
