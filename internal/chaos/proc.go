package chaos

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// proc is one supervised child process (a stage or a nats-server node). It
// is kept running: when it dies (killed by the suite or by itself) it is
// started again once its hold is over, so a fault is a kill plus the time the
// process stays down.
type proc struct {
	name string
	bin  string
	args []string
	env  []string
	logf string
	log  *slog.Logger

	mu        sync.Mutex
	cmd       *exec.Cmd
	exited    chan struct{} // closed when cmd has exited
	holdUntil time.Time     // not restarted before this
	killing   bool          // the suite ended it on purpose
	selfExits int           // exits the suite did not cause
	starts    int
}

func newProc(name, bin string, args, env []string, logf string, log *slog.Logger) *proc {
	return &proc{name: name, bin: bin, args: args, env: env, logf: logf, log: log.With("proc", name)}
}

// start launches the process if it is not running.
func (p *proc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return nil
	}
	out, err := os.OpenFile(p.logf, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("log of %s: %w", p.name, err)
	}
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, so a Ctrl-C of the suite reaches only the suite,
	// which then ends its children itself.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	p.starts++
	exited := make(chan struct{})
	p.cmd, p.exited, p.killing = cmd, exited, false
	go func() {
		err := cmd.Wait()
		out.Close()
		p.mu.Lock()
		if !p.killing {
			p.selfExits++
			p.log.Warn("exited by itself", "err", err)
		}
		p.cmd = nil
		p.mu.Unlock()
		close(exited)
	}()
	return nil
}

// signal sends sig and waits for the exit; the process stays down for hold.
func (p *proc) signal(sig syscall.Signal, hold time.Duration) bool {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.holdUntil = time.Now().Add(hold)
	if cmd == nil {
		p.mu.Unlock()
		return false
	}
	p.killing = true
	p.mu.Unlock()
	_ = cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		// A TERM that is not honoured within 30 s becomes a kill.
		_ = cmd.Process.Kill()
		<-exited
	}
	return true
}

// kill9 is kill -9; the process is restarted after hold.
func (p *proc) kill9(hold time.Duration) bool { return p.signal(syscall.SIGKILL, hold) }

// running says whether the process is up.
func (p *proc) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil
}

// hold keeps the process down (when it is down) until t.
func (p *proc) hold(t time.Time) {
	p.mu.Lock()
	p.holdUntil = t
	p.mu.Unlock()
}

// supervise restarts p whenever it is down and not held, until ctx ends.
func (p *proc) supervise(ctx context.Context, wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			p.mu.Lock()
			due := p.cmd == nil && time.Now().After(p.holdUntil)
			p.mu.Unlock()
			if due {
				if err := p.start(); err != nil {
					p.log.Error("restart failed", "err", err)
				}
			}
		}
	}()
}

// stop ends the process for good (TERM, then kill after 30 s).
func (p *proc) stop() { p.signal(syscall.SIGTERM, 24*time.Hour) }

// selfExited is how often the process ended without the suite killing it.
func (p *proc) selfExited() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.selfExits
}
