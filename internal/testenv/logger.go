package testenv

import (
	"log/slog"
	"strings"
	"testing"
)

// Logger logs at debug level into the test's own log, which go test prints
// for a failed test (and for every test under -v). A benchmark's log is
// printed always, so there it logs only under -v.
func Logger(t testing.TB) *slog.Logger {
	if _, bench := t.(*testing.B); bench && !testing.Verbose() {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// logWriter hands each line slog writes to t.Log.
type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
