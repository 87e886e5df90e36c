package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/metrics"
	"github.com/feefifofunds/feefifofunds/pipeline/redact"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// Stage is what RunStage hands a stage: a ready JetStream with the topology
// in place, its logger and its metrics registry.
type Stage struct {
	Name    string
	Conn    *nats.Conn
	JS      jetstream.JetStream
	Log     *slog.Logger
	Metrics *metrics.Registry

	mu     sync.Mutex
	checks []func() error
}

// AddHealthCheck adds a check to /healthz beside "connected to NATS"; the
// first failing check answers 503 with its error.
func (s *Stage) AddHealthCheck(check func() error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks = append(s.checks, check)
}

func (s *Stage) health() error {
	s.mu.Lock()
	checks := append([]func() error(nil), s.checks...)
	s.mu.Unlock()
	for _, c := range checks {
		if err := c(); err != nil {
			return err
		}
	}
	return nil
}

// Backoff bounds for waiting on NATS at start: a stage started before its
// server (compose, a restart loop) waits instead of dying, and resumes
// within a couple of seconds of the server coming up.
const (
	startWaitFirst = 250 * time.Millisecond
	startWaitMax   = 2 * time.Second
)

// RunStage runs one stage binary: it stops on SIGINT/SIGTERM, connects to
// NATS (waiting while it is unreachable), makes sure the topology exists
// (riding out elections and 503s), serves /metrics and /healthz (with the
// lag of every durable consumer), and calls run until it returns or the
// process is told to stop. A clean stop returns nil.
func RunStage(ctx context.Context, c Common, name string, run func(ctx context.Context, s *Stage) error) error {
	log, err := c.Log.Logger(os.Stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	log = log.With("stage", name)
	s := &Stage{Name: name, Log: log, Metrics: metrics.Default}
	var started atomic.Bool
	s.AddHealthCheck(func() error {
		if !started.Load() {
			return errors.New("starting: waiting for NATS and the JetStream topology")
		}
		return nil
	})

	// Listen before anything else: a taken port is a mistake to report now.
	var l net.Listener
	if c.Metrics.Addr != "" {
		if l, err = net.Listen("tcp", c.Metrics.Addr); err != nil {
			return fmt.Errorf("metrics listener on %s: %w", c.Metrics.Addr, err)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	if l != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := metrics.ServeListener(ctx, l, s.Metrics, s.health, log); err != nil {
				log.Error("metrics endpoint stopped", "err", err)
			}
		}()
	}

	nc, err := connectWaiting(ctx, c.NATS, "fff-"+name, log)
	if err != nil {
		return ignoreCancel(ctx, err)
	}
	defer nc.Close()
	s.Conn = nc
	s.AddHealthCheck(metrics.Connected(nc))
	if s.JS, err = jetstream.New(nc); err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	if err := EnsureTopology(ctx, s.JS, c.NATS.Topology(), log); err != nil {
		return ignoreCancel(ctx, err)
	}
	started.Store(true)
	// Stopped before the connection closes, so it never reports a closed
	// connection as NATS trouble.
	lagCtx, stopLag := context.WithCancel(ctx)
	lagDone := make(chan struct{})
	go func() {
		defer close(lagDone)
		_ = metrics.WatchConsumers(lagCtx, s.JS, s.Metrics, c.Metrics.LagEvery, log)
	}()
	defer func() {
		stopLag()
		<-lagDone
	}()
	wg.Add(1)
	go func() { defer wg.Done(); sampleJetStream(ctx, s.JS, name, s.Metrics, log) }()
	return ignoreCancel(ctx, run(ctx, s))
}

func ignoreCancel(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// connectWaiting dials NATS until it answers or ctx ends, logging once when
// it starts waiting and once when it got through.
func connectWaiting(ctx context.Context, n NATS, name string, log *slog.Logger) (*nats.Conn, error) {
	wait := startWaitFirst
	var waiting bool
	for {
		nc, err := n.Connect(name, log)
		if err == nil {
			if waiting {
				log.Info("NATS is reachable again; starting", "url", redact.Text(n.URL))
			}
			return nc, nil
		}
		if !waiting {
			log.Warn("waiting for NATS", "url", redact.Text(n.URL), "err", err)
			waiting = true
		}
		if err := sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("gave up waiting for NATS: %w", err)
		}
		wait = min(2*wait, startWaitMax)
	}
}

// EnsureTopology creates or updates the streams, consumers and buckets,
// retrying with capped backoff while JetStream is unavailable (a fresh
// cluster electing leaders, quorum lost). It logs once per state change.
func EnsureTopology(ctx context.Context, js jetstream.JetStream, o topology.Options, log *slog.Logger) error {
	wait := startWaitFirst
	var lastErr string
	for {
		err := topology.Ensure(ctx, js, o)
		if err == nil {
			if lastErr != "" {
				log.Info("JetStream topology in place")
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if msg := err.Error(); msg != lastErr {
			log.Warn("JetStream not ready; retrying", "err", err, "retry_in", wait)
			lastErr = msg
		}
		if err := sleep(ctx, wait); err != nil {
			return fmt.Errorf("gave up waiting for JetStream: %w", err)
		}
		wait = min(2*wait, startWaitMax)
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// JetStream connects once (a command a person typed fails fast when NATS is
// not there) and makes sure the topology exists.
func JetStream(ctx context.Context, n NATS, name string, log *slog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := n.Connect(name, log)
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := EnsureTopology(ctx, js, n.Topology(), log); err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}
