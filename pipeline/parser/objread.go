package parser

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// errUnreadable marks a file whose stored bytes could not be read back
// intact (their digest does not match, chunks are missing): a fault of the
// store, not of the file. Nothing of the file is published from such a read,
// and the watcher, which still has the source, is asked to put it again.
var errUnreadable = errors.New("the stored bytes cannot be read back intact")

// spool reads a file's object from FILEDATA into a temporary file and checks
// the object's SHA-256 digest before anything is parsed: a bad read must
// never stand for the file, since the batch ids it would publish (file id +
// batch index) would make the later correct read look like a duplicate.
//
// Every chunk is its own short request (Config.ReadTimeout), retried with
// capped backoff (Config.ReadAttempts), instead of one long deadline for the
// whole object: a stuck read gives the file back within seconds rather than
// holding it, and a replica that has not yet caught up with a put made on
// another node is waited for. The caller closes and removes the file.
func (s *stage) spool(ctx context.Context, ev contract.FileEvent) (*os.File, error) {
	where := topology.BucketFileData + "/" + ev.Object
	var info *jetstream.ObjectInfo
	err := s.retryCall(ctx, func(cctx context.Context) error {
		var err error
		info, err = s.store.GetInfo(cctx, ev.Object)
		return err
	}, func(err error) bool { return errors.Is(err, jetstream.ErrObjectNotFound) })
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, fmt.Errorf("%s: %w", where, errObjectMissing)
	}
	if err != nil {
		return nil, fmt.Errorf("look up %s: %w", where, err)
	}
	want, err := jetstream.DecodeObjectDigest(info.Digest)
	if err != nil {
		return nil, fmt.Errorf("%s: object digest %s: %w", where, contract.Clip(info.Digest, 80), errUnreadable)
	}

	f, err := os.CreateTemp(s.cfg.SpoolDir, "fff-parser-*.csv")
	if err != nil {
		return nil, fmt.Errorf("spool %s: %w", where, err)
	}
	keep := false
	defer func() {
		if !keep {
			f.Close()
			os.Remove(f.Name())
		}
	}()

	stream, err := s.objStream(ctx)
	if err != nil {
		return nil, err
	}
	subj := fmt.Sprintf("$O.%s.C.%s", topology.BucketFileData, info.NUID)
	h := sha256.New()
	w := io.MultiWriter(f, h)
	var (
		next   uint64 = 1
		size   uint64
		chunks uint32
	)
	for chunks < info.Chunks {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var m *jetstream.RawStreamMsg
		err := s.retryCall(ctx, func(cctx context.Context) error {
			var err error
			m, err = stream.GetMsg(cctx, next, jetstream.WithGetMsgSubject(subj))
			return err
		}, func(err error) bool { return errors.Is(err, jetstream.ErrMsgNotFound) })
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil, fmt.Errorf("%s: chunk %d of %d is not in the store: %w", where, chunks+1, info.Chunks, errUnreadable)
		}
		if err != nil {
			return nil, fmt.Errorf("read %s chunk %d of %d: %w", where, chunks+1, info.Chunks, err)
		}
		if _, err := w.Write(m.Data); err != nil {
			return nil, fmt.Errorf("spool %s: %w", where, err)
		}
		size += uint64(len(m.Data))
		chunks++
		next = m.Sequence + 1
	}
	if size != info.Size {
		return nil, fmt.Errorf("%s: read %d bytes, the object has %d: %w", where, size, info.Size, errUnreadable)
	}
	if got := h.Sum(nil); string(got) != string(want) {
		return nil, fmt.Errorf("%s: digests do not match: %w", where, errUnreadable)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("spool %s: %w", where, err)
	}
	keep = true
	return f, nil
}

// objStream is the stream behind FILEDATA, looked up once.
func (s *stage) objStream(ctx context.Context) (jetstream.Stream, error) {
	s.objMu.Lock()
	defer s.objMu.Unlock()
	if s.objStr != nil {
		return s.objStr, nil
	}
	name := "OBJ_" + topology.BucketFileData
	var st jetstream.Stream
	err := s.retryCall(ctx, func(cctx context.Context) error {
		var err error
		st, err = s.js.Stream(cctx, name)
		return err
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("look up stream %s: %w", name, err)
	}
	s.objStr = st
	return st, nil
}

// retryCall makes one request with a short deadline, again after capped
// backoff while it fails, up to Config.ReadAttempts times. A "not found"
// answer (lagging) is retried too: right after a put on another node a
// replica may not have the object yet. It returns the last error.
func (s *stage) retryCall(ctx context.Context, call func(context.Context) error, notFound func(error) bool) error {
	delay := 50 * time.Millisecond
	var err error
	for attempt := 1; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, s.cfg.ReadTimeout)
		err = call(cctx)
		cancel()
		if err == nil || ctx.Err() != nil || attempt >= s.cfg.ReadAttempts {
			return err
		}
		if notFound != nil && notFound(err) && attempt >= 5 {
			// Five answers over ~0.75 s that it is not there: not lag.
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
		delay = min(2*delay, 2*time.Second)
	}
}
