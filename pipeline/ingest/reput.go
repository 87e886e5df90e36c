package ingest

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// NeedsReput says whether the parser asked, through the ledger, for a
// file's bytes to be put in FILEDATA again: the stored copy could not be
// read back intact (a store fault, not the file's), and the file waits
// QUEUED instead of being rejected.
func NeedsReput(e contract.LedgerEntry) bool {
	return e.State == contract.FileQueued && e.Reput
}

// Reput puts a candidate's bytes in FILEDATA again, replacing the stored
// copy, when its ledger entry asks for it (NeedsReput); it says whether it
// did. The parser retrying the file then reads the new copy. The store's
// digest of what it took is checked against the content hash, as on the
// first put: a source that changed since is not stored under the old id (the
// object is removed and ErrChanged returned; the file keeps waiting).
func (s *Submitter) Reput(ctx context.Context, c Candidate, e contract.LedgerEntry) (bool, error) {
	if !NeedsReput(e) {
		return false, nil
	}
	rc, err := open(c)
	if err != nil {
		return false, err
	}
	defer rc.Close()
	info, err := s.obj.Put(ctx, jetstream.ObjectMeta{Name: e.FileID, Description: c.Name}, rc)
	if err != nil {
		return false, fmt.Errorf("put %s in %s again: %w", c.Name, topology.BucketFileData, err)
	}
	// The id names the content under a pair, interval and member path; the
	// digest is of the content alone (entries from before ids named more
	// than the content have no Content: their id is it).
	content := e.Content
	if content == "" {
		content = e.FileID
	}
	if sum, err := jetstream.DecodeObjectDigest(info.Digest); err != nil || hex.EncodeToString(sum) != content {
		_ = s.obj.Delete(ctx, e.FileID)
		return false, fmt.Errorf("%s: %w", c.Name, ErrChanged)
	}
	s.log.Warn("put a file's bytes again: the stored copy could not be read back intact",
		"file", c.Name, "file_id", ShortID(e.FileID), "reason", e.Waiting)
	return true, nil
}

// AnswerReput acts on a parser's request for a file's bytes (see
// Tracker.Reputs): it puts them again and logs what it did. A failure is
// only logged: the file keeps waiting, QUEUED, and the parser keeps
// retrying it.
func (s *Submitter) AnswerReput(ctx context.Context, c Candidate, e contract.LedgerEntry) {
	s.log.Info("the parser asks for a file's bytes again; putting them", "file", c.Name,
		"file_id", ShortID(e.FileID), "reason", e.Waiting)
	if _, err := s.Reput(ctx, c, e); err != nil && ctx.Err() == nil {
		s.log.Warn("could not put a file's bytes again; it keeps waiting", "file", c.Name,
			"file_id", ShortID(e.FileID), "err", err)
	}
}

// reput answers the requests for bytes during a bulk load, in the load's
// own loop: they are rare (a store fault), and the progress bar may well
// pause while a file is put again.
func reput(ctx context.Context, sub *Submitter, reqs []ReputRequest[*tracked]) {
	for _, r := range reqs {
		sub.AnswerReput(ctx, r.Ref.cand, r.Entry)
	}
}
