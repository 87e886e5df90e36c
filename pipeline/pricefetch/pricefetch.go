// Package pricefetch is the fetcher stage of the daily price sources
// (Massive.com, Finnhub): it serves price requests from fills.<source>,
// fetches the candles through the source's REST client, validates them as
// CSV rows are validated, publishes them as candle batches on
// candles.<source>.<ticker>.1440 for the writer, records the outcome on the
// request's record in the GAPS bucket, and only then acknowledges.
//
//	nats pub fills.massive '{"ticker":"AAPL","start":"2023-01-09","end":"2023-02-10"}'
//	nats pub fills.finnhub '{"ticker":"AAPL","start":"2021-09-07","end":"2021-09-22"}'
//	nats kv get GAPS massive.AAPL.1440.1673222400
//
// A request that can never be served as written goes to dlq.fetcher-<source>
// with the reason. The API's refusals (403, an unknown key, throttling that
// outlasted the client's retries) are outcomes, FAILED with the API's words,
// so the person or command waiting on them learns why at once.
package pricefetch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/deadletter"
	"github.com/feefifofunds/feefifofunds/pipeline/fillreport"
	"github.com/feefifofunds/feefifofunds/pipeline/gaps"
	"github.com/feefifofunds/feefifofunds/pipeline/jsplumb"
	"github.com/feefifofunds/feefifofunds/pipeline/metrics"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// Stage is the stage's name for a source, in logs and the DLQ
// (dlq.fetcher-massive).
func Stage(source string) string { return "fetcher-" + source }

// DefaultBatchSize is the most candles per published batch.
const DefaultBatchSize = 8192

// Config configures one source's fetcher.
type Config struct {
	JS      jetstream.JetStream // required; the caller ensured the topology
	Source  Source              // required
	Log     *slog.Logger
	Metrics *metrics.Registry
	// BatchSize is the most candles per batch (default 8192).
	BatchSize int
	// RetryDelay is how long a request waits after NATS trouble before it is
	// served again (default 10 s).
	RetryDelay time.Duration
	// KeepAlive is how often a request being served is reported in progress
	// (default a third of the consumer's AckWait): a paced source may take
	// minutes for one request.
	KeepAlive time.Duration
	// ApplyTimeout is how long a request waits for the writer to report its
	// candles queryable before it is recorded FAILED (default 2 min).
	ApplyTimeout time.Duration
}

type stage struct {
	cfg  Config
	src  Source
	name string
	log  *slog.Logger
	js   jetstream.JetStream
	gaps jetstream.KeyValue

	requests func(outcome string) *metrics.Value
	candles  *metrics.Value
	rejected *metrics.Value
}

// Run serves price requests until ctx ends; it returns nil then.
func Run(ctx context.Context, cfg Config) error {
	if cfg.JS == nil {
		return errors.New("pricefetch: Config.JS is required")
	}
	if cfg.Source == nil {
		return errors.New("pricefetch: Config.Source is required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.Default
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = 10 * time.Second
	}
	name := cfg.Source.Name()
	if cfg.ApplyTimeout <= 0 {
		cfg.ApplyTimeout = fillreport.DefaultTimeout
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = topology.FetcherConsumer(name).AckWait / 3
	}
	log := cfg.Log.With("stage", Stage(name))
	cons, err := topology.WaitConsumer(ctx, cfg.JS, topology.StreamFills, topology.FetcherConsumer(name), log)
	if err != nil {
		return err
	}
	kv, err := gaps.Open(ctx, cfg.JS)
	if err != nil {
		return err
	}
	s := &stage{cfg: cfg, src: cfg.Source, name: name, log: log, js: cfg.JS, gaps: kv}
	reg := cfg.Metrics
	s.requests = func(outcome string) *metrics.Value {
		return reg.Counter("fff_pricefetch_requests_total", "Price requests finished, by source and outcome", "source", name, "outcome", outcome)
	}
	s.candles = reg.Counter("fff_pricefetch_candles_published_total", "Candles published to CANDLES by a price source", "source", name)
	s.rejected = reg.Counter("fff_pricefetch_candles_rejected_total", "Candles from a price source failing validation", "source", name)
	log.Info("price fetcher serving requests", "subject", topology.FillSubject(name))
	_ = jsplumb.Pull(ctx, cons, s.handle,
		jsplumb.WithKeepAlive(cfg.KeepAlive),
		jsplumb.WithRetryDelay(func(jetstream.Msg, error) time.Duration { return cfg.RetryDelay }),
		jsplumb.WithDeadLetter(s.deadLetter, cfg.RetryDelay),
		jsplumb.WithLogger(log))
	log.Info("price fetcher stopped")
	return nil
}

// badRequest can never be served as written.
type badRequest struct{ reason string }

func (b *badRequest) Error() string { return b.reason }

func (s *stage) handle(ctx context.Context, msg jetstream.Msg) error {
	req, err := contract.DecodePriceRequest(msg.Data())
	if err != nil {
		return jsplumb.DeadLetter(&badRequest{err.Error()})
	}
	log := s.log.With("request", req.ID, "ticker", req.Ticker, "start", req.Start.Format(time.DateOnly), "end", req.End.Format(time.DateOnly))
	received := time.Now().UTC()
	if md, err := msg.Metadata(); err == nil && !md.Timestamp.IsZero() {
		received = md.Timestamp.UTC()
	}
	var out outcome
	if req.Grouped {
		g, ok := s.src.(GroupedSource)
		if !ok {
			return jsplumb.DeadLetter(&badRequest{fmt.Sprintf("%s has no grouped daily endpoint: ask for one ticker at a time", s.name)})
		}
		out, err = s.serveGrouped(ctx, g, req)
	} else {
		out, err = s.serveDaily(ctx, req)
	}
	if err == nil {
		err = s.record(ctx, req, received, out)
	}
	switch {
	case ctx.Err() != nil:
		log.Info("price request handed back on shutdown")
		return jsplumb.Retry(fmt.Errorf("%s stopping: %w", Stage(s.name), ctx.Err()), 0)
	case err != nil:
		log.Error("price request not finished; it will be retried", "err", err, "retry_in", s.cfg.RetryDelay)
		s.requests("retried").Inc()
		return jsplumb.Retry(err, s.cfg.RetryDelay)
	}
	s.requests(out.state).Inc()
	log.Info("price request served", "state", out.state, "candles", out.written, "detail", out.detail)
	return nil
}

func (s *stage) deadLetter(ctx context.Context, msg jetstream.Msg, cause error) error {
	s.log.Warn("bad price request dead-lettered", "reason", cause.Error(), "subject", msg.Subject())
	if err := deadletter.Msg(ctx, s.js, Stage(s.name), msg, cause.Error()); err != nil {
		return fmt.Errorf("dead-letter a bad price request: %w", err)
	}
	s.requests("dead_lettered").Inc()
	return nil
}

// record writes the outcome on the request's record in GAPS, creating it
// for a request a person published.
func (s *stage) record(ctx context.Context, req contract.PriceRequest, received time.Time, out outcome) error {
	key := RecordKey(s.name, req)
	now := time.Now().UTC()
	err := gaps.Update(ctx, s.gaps, key, func(r *contract.GapRecord, exists bool) bool {
		if !exists {
			pair := req.Ticker
			if req.Grouped {
				pair = GroupedPair
			}
			*r = contract.GapRecord{Source: s.name, Pair: pair, Base: req.Ticker, Interval: contract.PriceInterval,
				Start: req.Start, End: req.End, Missing: int64(req.Days()), Class: contract.ClassFillable}
		}
		r.History = append(r.History,
			contract.GapEvent{At: received, State: contract.GapRequested, Detail: eventPrefix(req.ID) + "received on " + topology.FillSubject(s.name)},
			contract.GapEvent{At: now, State: out.state, Detail: eventPrefix(req.ID) + out.detail})
		r.State, r.Reason, r.CandlesWritten, r.Updated = out.state, "", out.written, now
		if out.state == contract.GapFailed {
			r.Reason = out.detail
		}
		if out.state == contract.GapNoTrades {
			r.Class = contract.ClassNoTrades
		}
		return true
	})
	if err != nil {
		return fmt.Errorf("record the outcome of %s: %w", req.ID, err)
	}
	return nil
}
