// Package local runs the pipeline in one process: an embedded NATS server
// with JetStream, a connection to it, the topology, and the stages asked for
// (ledger keeper, watcher, parser, writer, Kraken fetcher, price fetchers,
// gap scanner). `fff up`,
// `fff ingest --embedded`, the benchmark and tests start it.
package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/fetcher"
	"github.com/feefifofunds/feefifofunds/pipeline/gapscanner"
	"github.com/feefifofunds/feefifofunds/pipeline/ledger"
	"github.com/feefifofunds/feefifofunds/pipeline/metrics"
	"github.com/feefifofunds/feefifofunds/pipeline/natsembed"
	"github.com/feefifofunds/feefifofunds/pipeline/parser"
	"github.com/feefifofunds/feefifofunds/pipeline/pricefetch"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
	"github.com/feefifofunds/feefifofunds/pipeline/watcher"
	"github.com/feefifofunds/feefifofunds/pipeline/writer"
)

// Options say where the embedded server stores and listens and which stages
// run on it. A stage runs when its config is set; its JS is filled in, and
// so are its Log and Metrics when nil. Zero Options run JetStream alone.
type Options struct {
	// Store is the folder of the JetStream store (its jetstream/ subfolder);
	// "" uses a temporary folder, removed by Stop.
	Store string
	// Listen is the host:port of the embedded server; "" picks a free port
	// on 127.0.0.1.
	Listen string
	// Name is the connection's name (default "fff-embedded").
	Name    string
	Log     *slog.Logger      // nil: slog.Default()
	Metrics *metrics.Registry // nil: a registry of the pipeline's own

	Keeper  *ledger.Config
	Watcher *watcher.Config // the watcher runs its own keeper unless NoLedgerKeeper
	Parser  *parser.Config
	Writer  *writer.Config
	Fetcher *fetcher.Config
	// PriceSources each run a price fetcher (pricefetch.Run) serving
	// fills.<source>.
	PriceSources []pricefetch.Source
	// Scanner runs the gap scanner's jobs (gapscanner.Run).
	Scanner *gapscanner.Config
}

// Pipeline owns the server, the connection and every stage started on it.
type Pipeline struct {
	JS  jetstream.JetStream
	URL string // nats:// URL of the embedded server

	srv      *natsembed.Server
	nc       *nats.Conn
	tempDir  string
	ctx      context.Context // ends when Stop is called, the parent ends or a stage fails
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	mu       sync.Mutex
	err      error // the first stage failure
	stopOnce sync.Once
}

// Start starts the server, connects, makes sure the topology exists and
// starts the stages of o. The stages run until Stop, until ctx ends, or
// until one of them fails (which stops the others).
func Start(ctx context.Context, o Options) (*Pipeline, error) {
	host, port, err := splitListen(o.Listen)
	if err != nil {
		return nil, err
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Metrics == nil {
		o.Metrics = metrics.NewRegistry()
	}
	if o.Name == "" {
		o.Name = "fff-embedded"
	}
	p := &Pipeline{}
	store := o.Store
	if store == "" {
		if p.tempDir, err = os.MkdirTemp("", "fff-local-"); err != nil {
			return nil, fmt.Errorf("embedded jetstream store: %w", err)
		}
		store = p.tempDir
	}
	if p.srv, err = natsembed.Start(natsembed.Config{Host: host, Port: port, StoreDir: filepath.Join(store, "jetstream")}); err != nil {
		p.close()
		return nil, err
	}
	if p.nc, err = nats.Connect(p.srv.URL(), nats.Name(o.Name)); err != nil {
		p.close()
		return nil, fmt.Errorf("connect embedded nats: %w", err)
	}
	js, err := jetstream.New(p.nc)
	if err == nil {
		err = topology.Ensure(ctx, js, topology.DefaultOptions())
	}
	if err != nil {
		p.close()
		return nil, fmt.Errorf("embedded jetstream: %w", err)
	}
	p.JS, p.URL = js, p.srv.URL()
	o.Log.Info("embedded JetStream up", "url", p.URL, "store", store)
	p.ctx, p.cancel = context.WithCancel(ctx)
	p.startStages(o)
	return p, nil
}

func splitListen(listen string) (string, int, error) {
	if listen == "" {
		return "127.0.0.1", 0, nil
	}
	host, ps, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, fmt.Errorf("listen address %q: want host:port: %w", listen, err)
	}
	port, err := strconv.Atoi(ps)
	if err != nil {
		return "", 0, fmt.Errorf("listen address %q: port: %w", listen, err)
	}
	return host, port, nil
}

func (p *Pipeline) startStages(o Options) {
	// deps gives a stage config the pipeline's JetStream, and its logger and
	// registry unless the config has its own.
	deps := func(js *jetstream.JetStream, log **slog.Logger, reg **metrics.Registry) {
		*js = p.JS
		if *log == nil {
			*log = o.Log
		}
		if *reg == nil {
			*reg = o.Metrics
		}
	}
	startStage(p, "ledger", o.Keeper, func(c *ledger.Config) { deps(&c.JS, &c.Log, &c.Metrics) }, ledger.Run)
	startStage(p, "watcher", o.Watcher, func(c *watcher.Config) { deps(&c.JS, &c.Log, &c.Metrics) }, watcher.Run)
	startStage(p, "parser", o.Parser, func(c *parser.Config) { deps(&c.JS, &c.Log, &c.Metrics) }, parser.Run)
	startStage(p, "writer", o.Writer, func(c *writer.Config) { deps(&c.JS, &c.Log, &c.Metrics) }, writer.Run)
	startStage(p, "fetcher", o.Fetcher, func(c *fetcher.Config) { deps(&c.JS, &c.Log, &c.Metrics) }, fetcher.Run)
	for _, src := range o.PriceSources {
		startStage(p, pricefetch.Stage(src.Name()), &pricefetch.Config{Source: src},
			func(c *pricefetch.Config) { deps(&c.JS, &c.Log, &c.Metrics) }, pricefetch.Run)
	}
	startStage(p, "gapscanner", o.Scanner, func(c *gapscanner.Config) { deps(&c.JS, &c.Log, &c.Metrics) }, gapscanner.Run)
}

// startStage runs a copy of cfg, completed by fill, when cfg is set.
func startStage[C any](p *Pipeline, name string, cfg *C, fill func(*C), run func(context.Context, C) error) {
	if cfg == nil {
		return
	}
	c := *cfg
	fill(&c)
	p.Go(name, func(ctx context.Context) error { return run(ctx, c) })
}

// Go runs fn as one more part of the pipeline (a metrics server, a load):
// its context ends with the pipeline's, Stop waits for it, and its failure
// stops the pipeline and is what Stop returns, as a stage's would be.
func (p *Pipeline) Go(name string, fn func(ctx context.Context) error) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		if err := fn(p.ctx); err != nil && !errors.Is(err, context.Canceled) {
			p.mu.Lock()
			if p.err == nil {
				p.err = fmt.Errorf("%s: %w", name, err)
			}
			p.mu.Unlock()
			p.cancel()
		}
	}()
}

// Context ends when Stop is called, the context given to Start ends or a
// stage fails: work done against the pipeline (a load) runs under it.
func (p *Pipeline) Context() context.Context { return p.ctx }

// Done is closed when Stop was called, the context given to Start ended or
// a stage failed.
func (p *Pipeline) Done() <-chan struct{} { return p.ctx.Done() }

// Err is the first stage failure so far, nil while none failed.
func (p *Pipeline) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Stop stops every stage, then closes the connection and stops the server
// (removing a temporary store), and returns the first stage failure. It may
// be called more than once.
func (p *Pipeline) Stop() error {
	p.cancel()
	p.wg.Wait()
	p.stopOnce.Do(p.close)
	return p.Err()
}

func (p *Pipeline) close() {
	if p.nc != nil {
		p.nc.Close()
	}
	if p.srv != nil {
		p.srv.Stop()
	}
	if p.tempDir != "" {
		_ = os.RemoveAll(p.tempDir)
	}
}
