package watcher

// queueReputs hands the parser's requests for bytes (a stored copy that
// could not be read back intact) to the workers, which answer them with
// Submitter.AnswerReput: putting a file again reads all of it, which the
// event loop must not wait for.
func (w *run) queueReputs() {
	for _, r := range w.tr.Reputs() {
		e := r.Entry
		w.queue = append(w.queue, job{path: r.Ref.path, cand: r.Ref.cand, reput: &e})
	}
}
