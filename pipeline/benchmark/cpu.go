package benchmark

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
)

type cpuUse struct {
	self, questdb float64
	// redelivered: messages the writer and parser consumers delivered
	// again (after their AckWait) during the run.
	writerRedelivered, parserRedelivered int
}

// selfCPU is the CPU time (user + system) this process used so far.
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// questdbCPU is the CPU time of the process that listens on the TCP port of
// the ILP address (the QuestDB the bench writes to), or -1 when it cannot
// be told. Taking the first java process that names questdb read another
// QuestDB whenever one more ran on the machine (a test's, a fault suite's).
func questdbCPU(ilpConf string) float64 {
	_, addr, err := questdb.ILPAddr(ilpConf)
	if err != nil {
		return -1
	}
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return -1
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return -1
	}
	pid := listenerPID(port)
	if pid <= 0 {
		return -1
	}
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// Fields after the command (which may hold spaces) start after ')'.
	i := bytes.LastIndexByte(st, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(string(st[i+1:]))
	if len(f) < 13 {
		return -1
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	stt, _ := strconv.ParseFloat(f[12], 64)
	return (ut + stt) / 100 // clock ticks; 100 a second on Linux
}

// listenerPID is the process holding the socket that listens on port
// (Linux: /proc/net/tcp{,6} give the socket's inode, a process's fd links
// name it), or 0.
func listenerPID(port int) int {
	inodes := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			// sl local_address rem_address st ... inode (field 9); 0A is LISTEN.
			if len(f) < 10 || f[3] != "0A" {
				continue
			}
			_, hexPort, ok := strings.Cut(f[1], ":")
			if n, err := strconv.ParseUint(hexPort, 16, 16); ok && err == nil && int(n) == port {
				inodes["socket:["+f[9]+"]"] = true
			}
		}
	}
	if len(inodes) == 0 {
		return 0
	}
	procs, _ := os.ReadDir("/proc")
	for _, e := range procs {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		for _, fd := range fds {
			if l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); err == nil && inodes[l] {
				return pid
			}
		}
	}
	return 0
}
