package benchmark

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
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

// questdbCPU is the CPU time of a local QuestDB process (a java process
// whose command line names questdb), or -1 when there is none.
func questdbCPU() float64 {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return -1
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cl, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || !bytes.Contains(cl, []byte("java")) || !bytes.Contains(bytes.ToLower(cl), []byte("questdb")) {
			continue
		}
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// Fields after the command (which may hold spaces) start after ')'.
		i := bytes.LastIndexByte(st, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(st[i+1:]))
		if len(f) < 13 {
			continue
		}
		ut, _ := strconv.ParseFloat(f[11], 64)
		stt, _ := strconv.ParseFloat(f[12], 64)
		return (ut + stt) / 100 // clock ticks; 100 a second on Linux
	}
	return -1
}
