package testenv

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Proxy is a TCP forwarder the test can take down and bring back, standing
// in for a QuestDB that goes away without stopping the shared one.
type Proxy struct {
	t      testing.TB
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	// mute drops QuestDB's answers (the request still reaches it), as a
	// network that fails after the commit.
	mute bool
}

// NewProxy forwards a free local port to target until the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{t: t, target: target, addr: ln.Addr().String(), conns: map[net.Conn]struct{}{}}
	p.serve(ln)
	t.Cleanup(p.Down)
	return p
}

// Conf is an ILP conf string pointing at the proxy.
func (p *Proxy) Conf() string { return "http::addr=" + p.addr + ";" }

func (p *Proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.handle(c)
		}
	}()
}

func (p *Proxy) handle(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.ln == nil {
		p.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	p.conns[c], p.conns[up] = struct{}{}, struct{}{}
	mute := p.mute
	p.mu.Unlock()
	go func() { _, _ = io.Copy(up, c); up.Close() }()
	if mute {
		// Let the request reach QuestDB and commit, then hang up without
		// passing its answer on.
		go func() { _, _ = io.Copy(io.Discard, up) }()
		time.Sleep(700 * time.Millisecond)
		c.Close()
		return
	}
	_, _ = io.Copy(c, up)
	c.Close()
}

// Down closes the listener and every open connection.
func (p *Proxy) Down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]struct{}{}
}

// Up listens again on the same address.
func (p *Proxy) Up() {
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("proxy relisten: %v", err)
	}
	p.serve(ln)
}

// SetMute switches mute mode and drops open connections, so the next
// request sees the new mode.
func (p *Proxy) SetMute(m bool) {
	p.mu.Lock()
	p.mute = m
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]struct{}{}
	p.mu.Unlock()
}
