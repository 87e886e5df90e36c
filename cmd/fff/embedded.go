package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/fetcher"
	"github.com/feefifofunds/feefifofunds/pipeline/ledger"
	"github.com/feefifofunds/feefifofunds/pipeline/metrics"
	"github.com/feefifofunds/feefifofunds/pipeline/natsembed"
	"github.com/feefifofunds/feefifofunds/pipeline/parser"
	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
	"github.com/feefifofunds/feefifofunds/pipeline/watcher"
	"github.com/feefifofunds/feefifofunds/pipeline/writer"
)

// pipelineOptions say which stages run in this process on an embedded
// JetStream (fff up runs them all, fff ingest --embedded parsers and writers).
type pipelineOptions struct {
	Store   string // JetStream store folder (its jetstream/ subfolder)
	Listen  string // host:port of the embedded server; "" picks a free port on 127.0.0.1
	QuestDB questdb.Config
	Parsers int
	Writers int
	// Inbox runs a watcher on it when set.
	Inbox  string
	Settle time.Duration
	// Keeper runs the ledger keeper (fff ingest runs its own).
	Keeper bool
	// KrakenURL runs a Kraken fetcher against it when set.
	KrakenURL string
	Metrics   *metrics.Registry
}

// embeddedPipeline owns the server, the connection and every stage started.
type embeddedPipeline struct {
	JS     jetstream.JetStream
	URL    string
	srv    *natsembed.Server
	nc     *nats.Conn
	ctx    context.Context // ends when Stop is called or a stage fails
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	err    error // the first stage failure
}

func startPipeline(ctx context.Context, o pipelineOptions) (*embeddedPipeline, error) {
	host, port := "127.0.0.1", 0
	if o.Listen != "" {
		h, ps, err := net.SplitHostPort(o.Listen)
		if err != nil {
			return nil, fmt.Errorf("--listen %q: want host:port: %w", o.Listen, err)
		}
		if port, err = strconv.Atoi(ps); err != nil {
			return nil, fmt.Errorf("--listen %q: port: %w", o.Listen, err)
		}
		host = h
	}
	if o.Metrics == nil {
		o.Metrics = metrics.Default
	}
	srv, err := natsembed.Start(natsembed.Config{Host: host, Port: port, StoreDir: filepath.Join(o.Store, "jetstream")})
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(srv.URL(), nats.Name("fff-embedded"))
	if err != nil {
		srv.Stop()
		return nil, fmt.Errorf("connect embedded nats: %w", err)
	}
	js, err := jetstream.New(nc)
	if err == nil {
		err = topology.Ensure(ctx, js, topology.DefaultOptions())
	}
	if err != nil {
		nc.Close()
		srv.Stop()
		return nil, fmt.Errorf("embedded jetstream: %w", err)
	}
	logger.Info("embedded JetStream up", "url", srv.URL(), "store", o.Store)
	p := &embeddedPipeline{JS: js, URL: srv.URL(), srv: srv, nc: nc}
	p.ctx, p.cancel = context.WithCancel(ctx)
	reg := o.Metrics
	if o.Keeper {
		p.start("ledger", func(ctx context.Context) error {
			return ledger.Run(ctx, ledger.Config{JS: js, Log: logger, Metrics: reg})
		})
	}
	if o.Inbox != "" {
		p.start("watcher", func(ctx context.Context) error {
			return watcher.Run(ctx, watcher.Config{JS: js, Log: logger, Metrics: reg,
				Inbox: o.Inbox, Settle: o.Settle, NoLedgerKeeper: true})
		})
	}
	p.start("parser", func(ctx context.Context) error {
		return parser.Run(ctx, parser.Config{JS: js, Log: logger, Metrics: reg, Workers: o.Parsers})
	})
	p.start("writer", func(ctx context.Context) error {
		return writer.Run(ctx, writer.Config{JS: js, Log: logger, Metrics: reg,
			QuestDB: o.QuestDB, Workers: o.Writers, Migrate: true})
	})
	if o.KrakenURL != "" {
		p.start("fetcher", func(ctx context.Context) error {
			return fetcher.Run(ctx, fetcher.Config{JS: js, Log: logger, Metrics: reg, KrakenURL: o.KrakenURL})
		})
	}
	return p, nil
}

// start runs a stage until the pipeline stops; the first to fail stops the rest.
func (p *embeddedPipeline) start(name string, run func(context.Context) error) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		if err := run(p.ctx); err != nil && !errors.Is(err, context.Canceled) {
			p.mu.Lock()
			if p.err == nil {
				p.err = fmt.Errorf("%s: %w", name, err)
			}
			p.mu.Unlock()
			p.cancel()
		}
	}()
}

// Done is closed when Stop was called, ctx ended or a stage failed.
func (p *embeddedPipeline) Done() <-chan struct{} { return p.ctx.Done() }

// Stop stops every stage, then the connection and the server, and returns
// the first stage failure.
func (p *embeddedPipeline) Stop() error {
	p.cancel()
	p.wg.Wait()
	p.nc.Close()
	p.srv.Stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}
