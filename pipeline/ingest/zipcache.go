package ingest

import (
	"archive/zip"
	"os"
	"sync"
	"time"
)

// zips keeps the last zip opened for its members, so that reading the
// members of one archive one after the other (each twice: hashed, then
// stored) parses its central directory once, not once a member: with the
// 1,600 members of Kraken's archive that was 3,200 parses of a 1,600-entry
// directory, a fifth of the CPU of the whole load (docs/PERFORMANCE.md).
//
// Members are opened concurrently from one *zip.Reader (it reads through
// ReadAt). The reader is closed once it is no longer the cached one and the
// last member opened from it is closed.
var zips zipCache

type zipCache struct {
	mu  sync.Mutex
	cur *sharedZip
}

type sharedZip struct {
	path  string
	size  int64
	mtime time.Time
	zr    *zip.ReadCloser
	refs  int // open members, plus one while cached
}

// acquire returns the open zip at path (opening it if the cached one is
// another file or changed since) and a release func for the caller's use.
func (c *zipCache) acquire(path string) (*zip.Reader, func(), error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if z := c.cur; z == nil || z.path != path || z.size != fi.Size() || !z.mtime.Equal(fi.ModTime()) {
		zr, err := zip.OpenReader(path)
		if err != nil {
			return nil, nil, err
		}
		if z != nil {
			c.unref(z)
		}
		c.cur = &sharedZip{path: path, size: fi.Size(), mtime: fi.ModTime(), zr: zr, refs: 1}
	}
	z := c.cur
	z.refs++
	var once sync.Once
	return &z.zr.Reader, func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.unref(z)
		})
	}, nil
}

// unref drops one reference; the caller holds mu.
func (c *zipCache) unref(z *sharedZip) {
	z.refs--
	if z.refs == 0 {
		_ = z.zr.Close()
	}
}
