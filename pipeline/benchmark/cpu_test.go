package benchmark

import (
	"fmt"
	"net"
	"os"
	"testing"
)

// The QuestDB CPU figure is the process listening on the bench's ILP port,
// whatever other java processes run: here the listener is this test.
func TestQuestDBCPUReadsTheListenerOfTheILPPort(t *testing.T) {
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		t.Skip("no /proc/net/tcp: not Linux")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	if pid := listenerPID(port); pid != os.Getpid() {
		t.Fatalf("listener of port %d: pid %d, want this process %d", port, pid, os.Getpid())
	}
	if cpu := questdbCPU(fmt.Sprintf("http::addr=127.0.0.1:%d;", port)); cpu < 0 {
		t.Fatalf("CPU of the listener of port %d: %v, want this process's", port, cpu)
	}
	ln.Close()
	if cpu := questdbCPU(fmt.Sprintf("http::addr=127.0.0.1:%d;", port)); cpu != -1 {
		t.Errorf("CPU with nothing listening on port %d: %v, want -1", port, cpu)
	}
}
