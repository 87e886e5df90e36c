package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/jsplumb"
	"github.com/feefifofunds/feefifofunds/pipeline/ledger"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// ErrChanged means the file changed while it was read; it is tried again
// once it has settled.
var ErrChanged = errors.New("the file changed while it was read")

// SubmitOptions tune one submission.
type SubmitOptions struct {
	// Force ingests again content the ledger already has (committed,
	// rejected or failed) as a new run: the ledger entry starts over and
	// every message id of the run carries the run's name (FileEvent.Run), so
	// nothing of it is dropped as a duplicate of the previous run.
	Force bool
	// OnBadRow is passed to the parsers: "skip" (default) or "reject-file".
	OnBadRow string
}

// Outcome of a submission.
type Outcome string

const (
	// Queued: bytes stored, ledger QUEUED, work published.
	Queued Outcome = "queued"
	// InFlight: the same content is already queued or parsed; wait for it.
	InFlight Outcome = "in-flight"
	// Settled: the ledger already has this content COMMITTED, REJECTED or
	// FAILED and Force was not given; nothing was published.
	Settled Outcome = "settled"
)

// Submission is what Submit did.
type Submission struct {
	Outcome  Outcome
	Entry    contract.LedgerEntry // the ledger entry as Submit left or found it
	Revision uint64               // its revision: later changes have higher ones
}

// Submitter stores files and queues them; safe for concurrent use.
type Submitter struct {
	js  jetstream.JetStream
	led *ledger.Ledger
	obj jetstream.ObjectStore
	log *slog.Logger
}

// NewSubmitter binds to the ledger and the FILEDATA object store.
func NewSubmitter(ctx context.Context, js jetstream.JetStream, log *slog.Logger) (*Submitter, error) {
	if log == nil {
		log = slog.Default()
	}
	led, err := ledger.Open(ctx, js)
	if err != nil {
		return nil, err
	}
	obj, err := js.ObjectStore(ctx, topology.BucketFileData)
	if err != nil {
		return nil, fmt.Errorf("open object store %s: %w", topology.BucketFileData, err)
	}
	return &Submitter{js: js, led: led, obj: obj, log: log}, nil
}

// Ledger is the ledger the submitter writes.
func (s *Submitter) Ledger() *ledger.Ledger { return s.led }

// Submit stores and queues one plain file, named {PAIR}_{INTERVAL}.csv: the
// whole of accepting a file, for callers that hold no Submitter.
func Submit(ctx context.Context, js jetstream.JetStream, path string, opts SubmitOptions) (Submission, error) {
	s, err := NewSubmitter(ctx, js, nil)
	if err != nil {
		return Submission{}, err
	}
	path, err = filepath.Abs(path)
	if err != nil {
		return Submission{}, err
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return Submission{}, &FileError{Path: path, Err: err}
	}
	c, skip, ignored := JudgeFile(path, fi, Filters{})
	if ignored {
		return Submission{}, &FileError{Path: path, Err: fmt.Errorf("%s is not a file that is ingested", fi.Name())}
	}
	if skip != nil {
		return Submission{}, &FileError{Path: path, Err: errors.New(skip.Reason)}
	}
	return s.Submit(ctx, c, opts)
}

// Submit stores and queues one candidate (plain file or zip member):
// hashes it, and unless the ledger already knows that file (its content
// under the same pair, interval and member path: ledger.FileID) puts the
// bytes in FILEDATA, writes the QUEUED ledger entry and publishes the
// FileEvent. Memory use is bounded whatever the file size.
func (s *Submitter) Submit(ctx context.Context, c Candidate, opts SubmitOptions) (Submission, error) {
	content, size, err := hashOf(c)
	if err != nil {
		return Submission{}, err
	}
	return s.submitHashed(ctx, c, content, size, opts)
}

// hashed is a candidate's content hash and size, as hashOf read them, and
// whether prepare stored its bytes.
type hashed struct {
	content string
	size    int64
	stored  bool
}

// prepare hashes a candidate and, unless the ledger already has that file
// (and opts.Force is off), stores its bytes, without queuing it: a bulk
// load stores a group of files first and then queues them together, so that
// the parsers take them at once and read them side by side in time. The
// queuing (submitHashed) finds the bytes stored and does not store them
// again.
func (s *Submitter) prepare(ctx context.Context, c Candidate, opts SubmitOptions) (hashed, error) {
	content, size, err := hashOf(c)
	if err != nil {
		return hashed{}, err
	}
	h := hashed{content: content, size: size}
	if size == 0 {
		return h, nil // submitHashed says why not
	}
	id := ledger.FileID(content, c.Pair, c.Interval, c.Member)
	if !opts.Force {
		if _, _, err := s.led.Get(ctx, id); err == nil {
			return h, nil // known: submitHashed decides, nothing to store
		} else if !errors.Is(err, ledger.ErrNotFound) {
			return h, err
		}
	}
	if err := s.store(ctx, c, id, content, size); err != nil {
		return h, err
	}
	h.stored = true
	return h, nil
}

// unprepare deletes the bytes prepare stored for a candidate that will not
// be queued after all (the load stops first): without a ledger entry
// nothing else would ever delete them. Bytes another submission queued
// meanwhile (the ledger has the file) stay.
func (s *Submitter) unprepare(ctx context.Context, c Candidate, h hashed) {
	if !h.stored {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	id := ledger.FileID(h.content, c.Pair, c.Interval, c.Member)
	if _, _, err := s.led.Get(ctx, id); !errors.Is(err, ledger.ErrNotFound) {
		return
	}
	if err := s.obj.Delete(ctx, id); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		s.log.Warn("cannot delete the stored bytes of a file that was not queued", "file", c.Name, "err", err)
	}
}

// SubmitGroup submits candidates the way a bulk load does: every one stored
// first, then all queued back to back, so that the parsers take them
// together and read them side by side in time (see prepare). Results and
// errors are by index; an error concerns its candidate alone.
func (s *Submitter) SubmitGroup(ctx context.Context, cands []Candidate, opts SubmitOptions) ([]Submission, []error) {
	subs := make([]Submission, len(cands))
	errs := make([]error, len(cands))
	prepared := make([]hashed, len(cands))
	for i, c := range cands {
		if err := ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		prepared[i], errs[i] = s.prepare(ctx, c, opts)
	}
	for i, c := range cands {
		if errs[i] != nil {
			continue
		}
		if err := ctx.Err(); err != nil {
			s.unprepare(ctx, c, prepared[i])
			errs[i] = err
			continue
		}
		subs[i], errs[i] = s.submitHashed(ctx, c, prepared[i].content, prepared[i].size, opts)
	}
	return subs, errs
}

func (s *Submitter) submitHashed(ctx context.Context, c Candidate, content string, size int64, opts SubmitOptions) (Submission, error) {
	if size == 0 {
		return Submission{}, &FileError{Path: c.Path, Err: errors.New("the file is empty")}
	}
	id := ledger.FileID(content, c.Pair, c.Interval, c.Member)
	for attempt := 0; attempt < 10; attempt++ {
		have, rev, err := s.led.Get(ctx, id)
		exists := err == nil
		if err != nil && !errors.Is(err, ledger.ErrNotFound) {
			return Submission{}, err
		}
		if !exists && !opts.Force {
			// A ledger written before ids included the pair and interval
			// keys the file by its content alone.
			if old, orev, err := s.led.Get(ctx, content); err == nil && ledger.LegacyMatch(old, content, c.Pair, c.Interval) {
				have, rev, exists = old, orev, true
			}
		}
		if exists && !opts.Force {
			if ledger.Terminal(have.State) {
				return Submission{Outcome: Settled, Entry: have, Revision: rev}, nil
			}
			return Submission{Outcome: InFlight, Entry: have, Revision: rev}, nil
		}
		if err := s.store(ctx, c, id, content, size); err != nil {
			return Submission{}, err
		}
		now := time.Now().UTC()
		e := contract.LedgerEntry{
			FileID: id, Content: content, Name: c.Name, Path: c.Path, Size: size, Pair: c.Pair, Interval: c.Interval,
			State: contract.FileQueued, Created: now, Updated: now,
		}
		if exists {
			// Base 36 of the time: short, and later runs sort after earlier ones.
			e.Run = strconv.FormatInt(now.UnixNano(), 36)
		}
		var nrev uint64
		if exists {
			nrev, err = s.led.Put(ctx, e, rev)
		} else {
			nrev, err = s.led.Create(ctx, e)
		}
		if errors.Is(err, ledger.ErrConflict) || errors.Is(err, ledger.ErrExists) {
			continue // someone else queued it or progress arrived: decide again
		}
		if err != nil {
			return Submission{}, err
		}
		if err := s.publishRetrying(ctx, e, size, opts); err != nil {
			// The entry stays. A publish that failed may still have been
			// stored (its PubAck lost with a leader): undoing the entry then
			// made the parser's reports land on no entry and be dropped, and
			// the retry's event was dropped as a duplicate of the first, so
			// the file waited QUEUED for ever (seen on a 3-node cluster).
			// A retry of the submission finds the entry in flight; if the
			// event was in fact lost, RequeueLost publishes it again.
			return Submission{Outcome: Queued, Entry: e, Revision: nrev}, &UnconfirmedError{Name: c.Name, Err: err}
		}
		return Submission{Outcome: Queued, Entry: e, Revision: nrev}, nil
	}
	return Submission{}, fmt.Errorf("%s: the ledger entry kept changing under us", c.Name)
}

// UnconfirmedError is a submission whose ledger entry is QUEUED but whose
// work's publish was never acknowledged: it may be stored (an
// acknowledgement lost with a leader) or lost. The Submission returned with
// it is valid: the file is in flight, and a caller that follows the ledger
// (and requeues work lost for good, RequeueLost) sees it settle.
type UnconfirmedError struct {
	Name string
	Err  error
}

func (e *UnconfirmedError) Error() string {
	return fmt.Sprintf("%s is QUEUED in the ledger, but its work may not be published: %v", e.Name, e.Err)
}

func (e *UnconfirmedError) Unwrap() error { return e.Err }

// publishRetrying publishes a file's work, trying again twice soon after a
// failure (a leader election takes a few seconds). The message id is the
// same every time, so an attempt that was stored after all is not stored twice.
func (s *Submitter) publishRetrying(ctx context.Context, e contract.LedgerEntry, size int64, opts SubmitOptions) error {
	var err error
	for i, pause := range []time.Duration{0, 500 * time.Millisecond, 2 * time.Second} {
		if i > 0 {
			s.log.Debug("publish of a file's work failed; trying again", "file", e.Name, "in", pause, "err", err)
			if !jsplumb.Sleep(ctx, pause) {
				return err
			}
		}
		if err = s.publish(ctx, e, size, opts); err == nil {
			return nil
		}
	}
	return err
}

func (s *Submitter) publish(ctx context.Context, e contract.LedgerEntry, size int64, opts SubmitOptions) error {
	ev := contract.FileEvent{
		FileID: e.FileID, Content: e.Content, Name: e.Name, Object: e.FileID, Pair: e.Pair, Interval: e.Interval,
		Size: size, Received: e.Created, OnBadRow: opts.OnBadRow, Force: opts.Force, Run: e.Run,
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode file event: %w", err)
	}
	msgID := contract.RunMsgID("file:"+e.FileID, e.Run)
	if _, err := s.js.Publish(ctx, topology.SubjectFiles, b, jetstream.WithMsgID(msgID)); err != nil {
		return fmt.Errorf("publish %s to %s: %w", e.Name, topology.SubjectFiles, err)
	}
	return nil
}

// store puts the bytes in FILEDATA under the file id, unless an earlier
// submission did. The store's own digest of what it took is checked against
// the content hash, so a file that changed after it was hashed is never
// stored under the wrong id. Identical bytes under two names are stored
// twice: the ledger keeper deletes a file's object when that file commits,
// which must not take the bytes from under the other.
func (s *Submitter) store(ctx context.Context, c Candidate, id, content string, size int64) error {
	if info, err := s.obj.GetInfo(ctx, id); err == nil && !info.Deleted && int64(info.Size) == size {
		return nil
	}
	rc, err := open(c)
	if err != nil {
		return err
	}
	defer rc.Close()
	meta := jetstream.ObjectMeta{Name: id, Description: c.Name}
	info, err := s.obj.Put(ctx, meta, rc)
	if err != nil {
		var fe *FileError
		if errors.As(err, &fe) {
			return err
		}
		return fmt.Errorf("store %s in %s: %w", c.Name, topology.BucketFileData, err)
	}
	// The object store hashes what it stored (SHA-256, like the file id):
	// its digest tells a file that changed since it was hashed.
	if sum, err := jetstream.DecodeObjectDigest(info.Digest); err != nil || hex.EncodeToString(sum) != content {
		_ = s.obj.Delete(ctx, id)
		return fmt.Errorf("%s: %w", c.Name, ErrChanged)
	}
	return nil
}

// hashOf reads a candidate once for the sha256 of its bytes and its size.
func hashOf(c Candidate) (string, int64, error) {
	rc, err := open(c)
	if err != nil {
		return "", 0, err
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// open opens a plain file or a zip member for reading; read errors are
// FileErrors.
func open(c Candidate) (io.ReadCloser, error) {
	if c.Member == "" {
		f, err := os.Open(c.Path)
		if err != nil {
			return nil, &FileError{Path: c.Path, Err: fmt.Errorf("cannot read: %w", err)}
		}
		return fileReader{r: f, c: f, path: c.Path}, nil
	}
	zr, release, err := zips.acquire(c.Path)
	if err != nil {
		return nil, &FileError{Path: c.Path, Err: fmt.Errorf("not a readable zip: %w", err)}
	}
	for _, zf := range zr.File {
		if zf.Name != c.Member {
			continue
		}
		r, err := zf.Open()
		if err != nil {
			release()
			return nil, &FileError{Path: c.Path, Err: fmt.Errorf("zip member %s: %w", c.Member, err)}
		}
		return fileReader{r: r, c: multiCloser{r, closerFunc(release)}, path: c.Path, member: c.Member}, nil
	}
	release()
	return nil, &FileError{Path: c.Path, Err: fmt.Errorf("zip member %s is gone", c.Member)}
}

// fileReader turns read errors into FileErrors naming the file.
type fileReader struct {
	r            io.Reader
	c            io.Closer
	path, member string
}

func (f fileReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err != nil && err != io.EOF {
		what := "read failed"
		if f.member != "" {
			what = "zip member " + f.member
		}
		return n, &FileError{Path: f.path, Err: fmt.Errorf("%s: %w", what, err)}
	}
	return n, err
}

func (f fileReader) Close() error { return f.c.Close() }

type multiCloser []io.Closer

func (m multiCloser) Close() error {
	var first error
	for _, c := range m {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// RequeueLost publishes again the work of files whose ledger entry is QUEUED
// while no work is left in the FILES stream: the event was lost between the
// ledger write and the publish (a crash, or a publish that failed three
// times), and nothing else would ever parse the file. The event goes out
// under the run's own message id, so one that was in fact published is
// dropped as a duplicate within the window, and parsed again harmlessly
// after it. Entries changed less than minAge ago are left alone: their
// event may be on its way. It returns the files requeued.
func (s *Submitter) RequeueLost(ctx context.Context, fileIDs []string, minAge time.Duration, onBadRow string) ([]contract.LedgerEntry, error) {
	if len(fileIDs) == 0 {
		return nil, nil
	}
	st, err := s.js.Stream(ctx, topology.StreamFiles)
	if err != nil {
		return nil, fmt.Errorf("look up stream %s: %w", topology.StreamFiles, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("stream %s info: %w", topology.StreamFiles, err)
	}
	if info.State.Msgs > 0 {
		return nil, nil // work is waiting or being parsed: maybe theirs
	}
	var out []contract.LedgerEntry
	for _, id := range fileIDs {
		e, _, err := s.led.Get(ctx, id)
		if errors.Is(err, ledger.ErrNotFound) {
			continue
		}
		if err != nil {
			return out, err
		}
		if e.State != contract.FileQueued || time.Since(e.Updated) < minAge {
			continue
		}
		if oi, err := s.obj.GetInfo(ctx, id); err != nil || oi.Deleted || int64(oi.Size) != e.Size {
			return out, fmt.Errorf("%s is QUEUED but its bytes are not in %s (submit the file again with force): %v",
				e.Name, topology.BucketFileData, err)
		}
		if err := s.publish(ctx, e, e.Size, SubmitOptions{OnBadRow: onBadRow, Force: e.Run != ""}); err != nil {
			return out, err
		}
		s.log.Warn("requeued a file whose work was lost", "file", e.Name, "file_id", ShortID(id), "queued", e.Updated.Format(time.RFC3339))
		out = append(out, e)
	}
	return out, nil
}

// ShortID is a file id cut to what a log line needs to tell files apart.
func ShortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// closerFunc makes a func a Closer.
type closerFunc func()

func (f closerFunc) Close() error { f(); return nil }
