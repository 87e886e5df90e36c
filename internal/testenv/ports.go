package testenv

import (
	"net"
	"testing"
)

// FreePort is a TCP port on 127.0.0.1 nothing listens on now: for a server
// a test starts later (NATS that comes up after its stage, a metrics
// endpoint of a child process).
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
