package testenv

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// FilesPublished is the last sequence of the FILES stream: how many files
// were submitted so far.
func FilesPublished(t testing.TB, js jetstream.JetStream) uint64 {
	t.Helper()
	s, err := js.Stream(context.Background(), topology.StreamFiles)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.LastSeq
}

// CopyKrakenFixture copies testdata/kraken/name into dir and returns its
// bytes. The fixtures are found from this file, whichever package's test
// runs.
func CopyKrakenFixture(t testing.TB, dir, name string) []byte {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(here), "..", "..", "testdata", "kraken", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}
