package parser

import (
	"context"
	"math"
	"sync"
)

// timeGate keeps the files one parser process reads at once moving through
// time together: a worker may publish a batch only while the batch's first
// open time is at most window seconds ahead of the slowest file in progress.
//
// Why: every file of a bulk load covers its pair's whole history. Parsed
// one after the other, each file lands in QuestDB partitions that already
// hold the other pairs' rows for the same months, and QuestDB rewrites those
// partitions to merge it in (its WAL apply log says ampl=4.5 for 8 files).
// Parsed side by side in time, the writer's requests carry every pair for
// the same stretch of time and QuestDB mostly appends. docs/PERFORMANCE.md
// has the figures.
//
// The slowest worker never waits, so the gate cannot deadlock; a worker that
// waits holds its file (its heartbeat keeps the message in progress).
type timeGate struct {
	window int64 // seconds; <= 0: no gate

	mu      sync.Mutex
	pos     map[*gateSlot]int64 // open time of each worker's next batch
	changed chan struct{}       // closed (and replaced) on every change
}

type gateSlot struct {
	g      *timeGate
	placed bool
}

func newTimeGate(window int64) *timeGate {
	return &timeGate{window: window, pos: make(map[*gateSlot]int64), changed: make(chan struct{})}
}

// join gives a worker its place; it has no position until its first wait.
func (g *timeGate) join() *gateSlot { return &gateSlot{g: g} }

// hold places the slot before every open time. A worker calls it when it
// takes a file, before reading the file's bytes back from the store: the
// others then wait for this file's first batch instead of running ahead
// while it is read (on two cores the running parsers would otherwise
// finish their files before a new one is even spooled).
func (s *gateSlot) hold() {
	g := s.g
	if g == nil || g.window <= 0 {
		return
	}
	g.mu.Lock()
	g.pos[s] = math.MinInt64
	s.placed = true
	g.broadcast()
	g.mu.Unlock()
}

// broadcast wakes every waiter; the caller holds mu.
func (g *timeGate) broadcast() {
	close(g.changed)
	g.changed = make(chan struct{})
}

// wait records t as the slot's position and returns once t is at most the
// window ahead of every other placed slot, or the context ends.
func (s *gateSlot) wait(ctx context.Context, t int64) error {
	if s == nil {
		return nil
	}
	g := s.g
	if g == nil || g.window <= 0 {
		return nil
	}
	g.mu.Lock()
	prev, had := g.pos[s]
	g.pos[s] = t
	s.placed = true
	if !had || prev != t {
		g.broadcast()
	}
	for {
		slowest, others := t, false
		for o, p := range g.pos {
			if o != s && (!others || p < slowest) {
				slowest, others = p, true
			}
		}
		if !others || (slowest != math.MinInt64 && t <= slowest+g.window) {
			g.mu.Unlock()
			return nil
		}
		ch := g.changed
		g.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		g.mu.Lock()
	}
}

// leave removes the slot (its file is done, or failed): nobody waits for it.
func (s *gateSlot) leave() {
	if s == nil {
		return
	}
	g := s.g
	if g == nil || !s.placed {
		return
	}
	g.mu.Lock()
	delete(g.pos, s)
	s.placed = false
	g.broadcast()
	g.mu.Unlock()
}
