package fetcher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/deadletter"
	"github.com/feefifofunds/feefifofunds/pipeline/fillreport"
	"github.com/feefifofunds/feefifofunds/pipeline/jsplumb"
	"github.com/feefifofunds/feefifofunds/pipeline/kraken"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// badRequest is a request that can never be served as written: it goes to
// the DLQ with its reason.
type badRequest struct {
	reason string
	key    string // the gap record to mark FAILED, once known
}

func (b *badRequest) Error() string { return b.reason }

func bad(format string, args ...any) error { return &badRequest{reason: fmt.Sprintf(format, args...)} }

// natsError is trouble publishing or recording on NATS: the request is handed
// back to be served again later.
type natsError struct{ err error }

func (e *natsError) Error() string { return e.err.Error() }
func (e *natsError) Unwrap() error { return e.err }

// outcome is what a served request ends as on its gap record.
type outcome struct {
	State   string // contract.Gap*
	Class   string // contract.Class*, for a record the fetcher creates or reclassifies
	Detail  string // for the history and, for UNFILLABLE/FAILED, the reason
	Written int64
}

// request is a decoded fill request with what the fetcher learned about it.
type request struct {
	contract.FillRequest
	pair        kraken.PairInfo
	base, quote string
	key         string // gap record key
	part        bool   // one of the scanner's requests for the gap under key
}

// gapKeyOf names the gap record a request reports to. The scanner sets a
// request's ID to its gap's key, with "-2", "-3"... when it splits a long
// gap into several requests: those report to the gap's record. Any other
// request reports to GapKey(pair, interval, start), the key the scanner
// would give the same gap.
func gapKeyOf(r contract.FillRequest, altname string) (key string, part bool) {
	prefix := topology.SourceKraken + "." + altname + "." + strconv.Itoa(r.Interval) + "."
	if rest, ok := strings.CutPrefix(r.ID, prefix); ok {
		unix, n, _ := strings.Cut(rest, "-")
		if _, err := strconv.ParseInt(unix, 10, 64); err == nil && (n == "" || isDigits(n)) {
			return prefix + unix, true
		}
	}
	return contract.GapKey(topology.SourceKraken, altname, r.Interval, r.Start), false
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// handle serves one fill request and says how to settle it; jsplumb.Pull
// acknowledges, hands back or dead-letters accordingly.
func (f *fetcher) handle(ctx context.Context, msg jetstream.Msg) error {
	fr, err := contract.DecodeFillRequest(msg.Data())
	if err != nil {
		return jsplumb.DeadLetter(&badRequest{reason: err.Error()})
	}
	log := f.log.With("request", fr.ID, "pair", fr.Pair, "interval", fr.Interval,
		"start", fr.Start.Format(time.RFC3339), "end", fr.End.Format(time.RFC3339))
	req := &request{FillRequest: fr}
	req.key, req.part = gapKeyOf(fr, fr.Pair)
	out, err := f.serve(ctx, req, log)
	if err == nil {
		err = f.record(ctx, msg, req, out)
	}
	var br *badRequest
	switch {
	case errors.As(err, &br):
		br.key = req.key
		return jsplumb.DeadLetter(br)
	case ctx.Err() != nil:
		// Shutting down: hand the request back so the next fetcher serves it.
		log.Info("fill request handed back on shutdown")
		return jsplumb.Retry(fmt.Errorf("fetcher stopping: %w", ctx.Err()), 0)
	case err != nil:
		delay := min(10*f.cfg.Backoff.Initial, f.cfg.Backoff.Max)
		log.Error("fill request not finished; it will be retried", "err", err, "retry_in", delay)
		f.m.requests("retried").Inc()
		return jsplumb.Retry(err, delay)
	}
	// The outcome is recorded; should the ack be lost, a redelivery serves
	// it again harmlessly (same batch ids, QuestDB dedups).
	f.m.requests(outcomeLabel(out.State)).Inc()
	log.Info("fill request served", "state", out.State, "candles", out.Written, "detail", out.Detail, "gap", req.key)
	return nil
}

func outcomeLabel(state string) string {
	switch state {
	case contract.GapFilled:
		return "filled"
	case contract.GapNoTrades:
		return "no_trades"
	case contract.GapUnfillable:
		return "unfillable"
	}
	return "failed"
}

// deadLetter stores the request on dlq.fetcher and, when the gap scanner
// already keeps a record for it, marks that FAILED with the same reason so
// the record does not stay REQUESTED forever.
func (f *fetcher) deadLetter(ctx context.Context, msg jetstream.Msg, cause error) error {
	reason := cause.Error()
	f.log.Warn("bad fill request dead-lettered", "reason", reason, "subject", msg.Subject(), "data", preview(msg.Data()))
	if err := deadletter.Msg(ctx, f.js, Stage, msg, reason); err != nil {
		return fmt.Errorf("dead-letter a bad fill request: %w", err)
	}
	f.m.requests("dead_lettered").Inc()
	var br *badRequest
	if !errors.As(cause, &br) || br.key == "" {
		return nil
	}
	key := br.key
	err := f.updateGap(ctx, key, func(r *contract.GapRecord, exists bool) bool {
		if !exists {
			return false
		}
		r.State, r.Reason = contract.GapFailed, "request dead-lettered: "+reason
		r.History = append(r.History, contract.GapEvent{At: time.Now().UTC(), State: contract.GapFailed, Detail: r.Reason})
		return true
	})
	if err != nil {
		f.log.Warn("could not mark the gap record of a dead-lettered request", "gap", key, "err", err)
	}
	return nil
}

func preview(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}

// serve fetches and publishes the candles of one request.
func (f *fetcher) serve(ctx context.Context, req *request, log *slog.Logger) (outcome, error) {
	pair, err := f.resolve(ctx, req.Pair)
	if err != nil {
		if kraken.IsUnknownPair(err) {
			return outcome{}, bad("unknown pair %q: Kraken does not list it (use an altname such as XBTUSD, ETHUSD or XDGUSD)", req.Pair)
		}
		return outcome{}, err
	}
	req.pair = pair
	req.key, req.part = gapKeyOf(req.FillRequest, pair.Altname)
	req.base, req.quote, err = kraken.SplitPair(pair.Altname)
	if err != nil {
		req.base, req.quote = kraken.NormalizeAsset(pair.Base), kraken.NormalizeAsset(pair.Quote)
	}
	if n := req.Candles(); n > f.cfg.MaxRequestCandles {
		return outcome{}, bad("%s to %s is %d candles of %d minutes, more than the %d one request may ask for (--max-request-candles); split it into smaller ranges",
			ts(req.Start.Unix()), ts(req.End.Unix()), n, req.Interval, f.cfg.MaxRequestCandles)
	}
	step := int64(req.Interval) * 60
	first := contract.CeilTime(req.Start.Unix(), step)
	end := contract.FloorTime(req.End.Unix(), step)
	if first > end {
		return outcome{}, bad("%s to %s holds no %d-minute candle (candles open at whole multiples of %d seconds since 1970-01-01)",
			ts(req.Start.Unix()), ts(req.End.Unix()), req.Interval, step)
	}
	now := f.cfg.Now().UTC()
	open := contract.FloorTime(now.Unix(), step)
	lastClosed := open - step
	oldest := open - OHLCWindow*step
	if first > lastClosed {
		return outcome{State: contract.GapFailed, Class: contract.ClassFillable,
			Detail: fmt.Sprintf("no closed candle in the range yet: at %s the newest closed %d-minute candle opens at %s",
				ts(now.Unix()), req.Interval, ts(lastClosed))}, nil
	}
	var notClosed int64
	if end > lastClosed {
		notClosed = (end - lastClosed) / step
		end = lastClosed
	}
	useTrades := f.cfg.Trades || req.Trades
	// FILLED means queryable: listen for the writer's reports on this
	// fill's batches before publishing the first.
	reports, err := fillreport.Listen(f.js.Conn(), topology.SourceKraken)
	if err != nil {
		return outcome{}, &natsError{err}
	}
	defer reports.Close()
	pub := f.newPublisher(ctx, req)
	var (
		served    int64 // intervals asked of Kraken
		fromTr    int64
		unfillMsg string
		krakenErr error
	)
	if first < oldest {
		oldEnd := min(end, oldest-step)
		n := (oldEnd-first)/step + 1
		if useTrades {
			served += n
			krakenErr = f.fromTrades(ctx, pub, req, first, oldEnd)
			fromTr = pub.added[contract.OriginTrades]
		} else {
			unfillMsg = fmt.Sprintf("%d of the %d candles (%s to %s) are older than Kraken's 720-candle OHLC window (oldest servable %s at %s); enable --trades to rebuild from trades",
				n, (end-first)/step+1, ts(first), ts(oldEnd), ts(oldest), ts(now.Unix()))
		}
	}
	if krakenErr == nil && end >= oldest {
		from := max(first, oldest)
		served += (end-from)/step + 1
		krakenErr = f.fromOHLC(ctx, pub, req, from, end)
	}
	var ne *natsError
	if errors.As(krakenErr, &ne) || ctx.Err() != nil {
		return outcome{}, krakenErr
	}
	if kraken.IsUnknownPair(krakenErr) {
		return outcome{}, bad("unknown pair %q: Kraken answered %v", req.Pair, krakenErr)
	}
	// Whatever was gathered before a Kraken failure is good: publish it.
	if err := pub.finish(); err != nil {
		return outcome{}, err
	}
	written := pub.written
	var out outcome
	switch {
	case krakenErr != nil:
		out = outcome{State: contract.GapFailed, Detail: fmt.Sprintf("Kraken: %v (%d candles written before it)", krakenErr, written)}
	case unfillMsg != "":
		out = outcome{State: contract.GapUnfillable, Class: contract.ClassUnfillable, Detail: unfillMsg}
		if written > 0 {
			out.Detail += fmt.Sprintf("; %d candles inside the window were written", written)
		}
	case written == 0:
		out = outcome{State: contract.GapNoTrades, Class: contract.ClassNoTrades,
			Detail: fmt.Sprintf("Kraken has no trades from %s to %s: 0 candles, %d intervals had no trades", ts(first), ts(end), served)}
	default:
		out = outcome{State: contract.GapFilled, Detail: fmt.Sprintf("%d candles, %d intervals had no trades", written, served-written)}
		if fromTr > 0 {
			out.Detail += fmt.Sprintf(" (%d rebuilt from trades, %d from OHLC)", fromTr, written-fromTr)
		}
		if err := reports.Wait(ctx, map[string]uint32{req.ID: pub.next}, written, f.cfg.ApplyTimeout); err != nil {
			if ctx.Err() != nil {
				return outcome{}, err
			}
			out = outcome{State: contract.GapFailed, Detail: "not queryable: " + err.Error()}
		}
	}
	if notClosed > 0 {
		out.Detail += fmt.Sprintf("; %d candles at the end were not closed yet and were left for later", notClosed)
	}
	if out.Class == "" {
		switch {
		case first >= oldest:
			out.Class = contract.ClassFillable
		case useTrades:
			out.Class = contract.ClassFillableFromTrades
		default:
			out.Class = contract.ClassUnfillable
		}
	}
	out.Written = written
	log.Debug("fill request fetched", "kraken_key", pair.Key, "batches", pub.next, "candles", written)
	return out, nil
}

// fromOHLC publishes the candles with trades in [from, end] (inside the
// window) from one OHLC call. since is exclusive, so from-1 includes from;
// rows after Kraken's last (the open candle) and flat count-0 rows (no
// trades) are dropped.
func (f *fetcher) fromOHLC(ctx context.Context, pub *publisher, req *request, from, end int64) error {
	var res kraken.OHLCResult
	err := f.call(ctx, "OHLC", func(ctx context.Context) error {
		var err error
		res, err = f.client.OHLC(ctx, req.pair.Altname, req.Interval, from-1)
		return err
	})
	if err != nil {
		return err
	}
	if res.Last > 0 {
		// Kraken's own idea of the newest closed candle wins over our clock.
		end = min(end, res.Last)
	}
	for _, c := range res.Candles {
		if c.Time < from || c.Time > end {
			continue
		}
		if c.Trades == 0 && c.Volume == 0 {
			continue
		}
		if err := pub.add(contract.OriginAPI, c); err != nil {
			return err
		}
	}
	return nil
}

// fromTrades pages /Trades from first until past end and publishes the
// candles rebuilt from them.
func (f *fetcher) fromTrades(ctx context.Context, pub *publisher, req *request, first, end int64) error {
	step := int64(req.Interval) * 60
	b := kraken.NewCandleBuilder(req.Interval, first, end)
	endNS := (end + step) * 1e9 // the first instant after the range
	since := first*1e9 - 1
	var lastID int64
	for {
		var res kraken.TradesResult
		err := f.call(ctx, "Trades", func(ctx context.Context) error {
			var err error
			res, err = f.client.Trades(ctx, req.pair.Altname, since)
			return err
		})
		if err != nil {
			return err
		}
		// Pages may overlap at their edges: skip trades already seen (by id
		// when Kraken sends one, else by time).
		page := res.Trades[:0]
		for _, t := range res.Trades {
			if (t.ID > 0 && t.ID <= lastID) || (t.ID == 0 && t.UnixNano() <= since) {
				continue
			}
			lastID = max(lastID, t.ID)
			page = append(page, t)
		}
		b.Add(page)
		for _, c := range b.Take() {
			if err := pub.add(contract.OriginTrades, c); err != nil {
				return err
			}
		}
		if len(res.Trades) == 0 || res.Last >= endNS || res.Last <= since {
			break
		}
		if n := len(res.Trades); n > 0 && res.Trades[n-1].UnixNano() >= endNS {
			break
		}
		since = res.Last
	}
	for _, c := range b.Flush() {
		if err := pub.add(contract.OriginTrades, c); err != nil {
			return err
		}
	}
	return nil
}

// publisher cuts candles into batches, one origin each, and publishes them
// with their message ids through a window of async publishes. The final
// batch is held back until finish so it can carry Last; finish waits for
// every PubAck, and only then are the candles counted as written.
type publisher struct {
	f       *fetcher
	ctx     context.Context
	pub     *jsplumb.Publisher
	subject string
	tmpl    contract.Batch
	cur     contract.Batch
	next    uint32
	written int64                     // candles published and acknowledged
	queued  map[contract.Origin]int64 // candles published, by origin, not yet counted
	added   map[contract.Origin]int64 // candles taken, by origin
}

func (f *fetcher) newPublisher(ctx context.Context, req *request) *publisher {
	return &publisher{
		f:       f,
		ctx:     ctx,
		pub:     jsplumb.NewPublisher(f.js, jsplumb.WithPublishLogger(f.log)),
		queued:  map[contract.Origin]int64{},
		added:   map[contract.Origin]int64{},
		subject: topology.CandleSubject(topology.SourceKraken, req.pair.Altname, req.Interval),
		tmpl: contract.Batch{
			Source:          topology.SourceKraken,
			Pair:            req.pair.Altname,
			Base:            req.base,
			Quote:           req.quote,
			IntervalMinutes: uint32(req.Interval),
			FillID:          req.ID,
		},
	}
}

func (p *publisher) add(o contract.Origin, c contract.Candle) error {
	if len(p.cur.Candles) > 0 && (p.cur.Origin != o || len(p.cur.Candles) >= p.f.cfg.BatchSize) {
		if err := p.flush(false); err != nil {
			return err
		}
	}
	p.cur.Origin = o
	p.cur.Candles = append(p.cur.Candles, c)
	p.added[o]++
	return nil
}

func (p *publisher) finish() error {
	if len(p.cur.Candles) > 0 {
		if err := p.flush(true); err != nil {
			return err
		}
	}
	if err := p.pub.Wait(p.ctx); err != nil {
		return &natsError{fmt.Errorf("publish batches to %s: %w", p.subject, err)}
	}
	for o, n := range p.queued {
		p.written += n
		p.f.m.candles(o.String()).Add(float64(n))
	}
	clear(p.queued)
	return nil
}

func (p *publisher) flush(last bool) error {
	b := p.tmpl
	b.Origin = p.cur.Origin
	b.Candles = p.cur.Candles
	b.BatchIndex = p.next
	b.Last = last
	data, err := contract.AppendBatch(p.pub.Buffer(), &b)
	if err != nil {
		return &natsError{fmt.Errorf("encode batch %d: %w", b.BatchIndex, err)}
	}
	if err := p.pub.Publish(p.ctx, &nats.Msg{Subject: p.subject, Data: data}, b.MsgID()); err != nil {
		return &natsError{fmt.Errorf("publish batch %d to %s: %w", b.BatchIndex, p.subject, err)}
	}
	p.next++
	p.queued[b.Origin] += int64(len(b.Candles))
	p.cur.Candles = p.cur.Candles[:0]
	return nil
}

func ts(unix int64) string { return time.Unix(unix, 0).UTC().Format(time.RFC3339) }
