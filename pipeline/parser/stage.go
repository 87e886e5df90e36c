package parser

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/assets"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/deadletter"
	"github.com/feefifofunds/feefifofunds/pipeline/jsplumb"
	"github.com/feefifofunds/feefifofunds/pipeline/kraken"
	"github.com/feefifofunds/feefifofunds/pipeline/ledger"
	"github.com/feefifofunds/feefifofunds/pipeline/metrics"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// What to do with a file that has bad rows.
const (
	OnBadRowSkip   = "skip"        // report the bad rows, publish the good ones
	OnBadRowReject = "reject-file" // publish nothing of the file
)

// Defaults and limits.
const (
	DefaultWorkers   = 2
	DefaultBatchSize = 8192
	// MaxBatchSize keeps an encoded batch well under the 8 MB message limit.
	MaxBatchSize       = 100_000
	DefaultMaxInFlight = 8
	// DefaultAlignWindow: how far in open time one file may run ahead of the
	// slowest file this process is parsing (timeGate says why). A batch of
	// 8,192 one-minute candles spans 5.7 days.
	DefaultAlignWindow = 7 * 24 * time.Hour
	// MaxReportedErrors bounds the bad rows carried in a progress report.
	MaxReportedErrors = 100
	stageName         = "parser"
)

// Config configures the parser stage.
type Config struct {
	JS          jetstream.JetStream // required; the caller ensured the topology
	Log         *slog.Logger        // nil: slog.Default()
	Metrics     *metrics.Registry   // nil: metrics.Default
	Workers     int                 // files parsed at once by this process (default 2)
	BatchSize   int                 // candles per batch (default 8192)
	OnBadRow    string              // "skip" (default) or "reject-file"; a FileEvent's own setting wins
	Now         func() time.Time    // upper bound of open times (default time.Now)
	MaxInFlight int                 // batches awaiting their PubAck, per worker (default 8)
	Heartbeat   time.Duration       // how often a file being parsed is marked in progress (default 5s)
	FetchWait   time.Duration       // how long one pull waits for work (default 1s; a stopping parser waits that long)
	AckTimeout  time.Duration       // how long to wait for one PubAck before re-publishing (default 5s; the same id makes a re-publish harmless)
	RetryDelay  time.Duration       // a failed file is retried after RetryDelay × attempts (default 2s)
	// MaxRetryDelay caps that delay (default 30s).
	MaxRetryDelay time.Duration
	// ReadTimeout bounds one request reading the file's object (its info,
	// or one 128 KB chunk), not the whole read (default 5s).
	ReadTimeout time.Duration
	// ReadAttempts is how often one such request is made before the read
	// fails and the file is retried later (default 6).
	ReadAttempts int
	// AlignWindow is how far in open time a worker's next batch may run
	// ahead of the slowest file the other workers are parsing (default
	// DefaultAlignWindow; negative: no alignment). Files parsed side by side
	// then reach QuestDB in time order, which it merges far more cheaply.
	AlignWindow time.Duration
	// SpoolDir holds each file's verified bytes while it is parsed (default
	// os.TempDir()): at most Workers files, deleted right after.
	SpoolDir string
}

func (c Config) withDefaults() (Config, error) {
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = metrics.Default
	}
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.BatchSize > MaxBatchSize {
		return c, fmt.Errorf("batch size %d: at most %d candles fit a message", c.BatchSize, MaxBatchSize)
	}
	if c.OnBadRow == "" {
		c.OnBadRow = OnBadRowSkip
	}
	if err := validOnBadRow(c.OnBadRow); err != nil {
		return c, err
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.AlignWindow == 0 {
		c.AlignWindow = DefaultAlignWindow
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = 5 * time.Second
	}
	if c.FetchWait <= 0 {
		c.FetchWait = time.Second
	}
	if c.AckTimeout <= 0 {
		c.AckTimeout = 5 * time.Second
	}
	if c.RetryDelay <= 0 {
		c.RetryDelay = 2 * time.Second
	}
	if c.MaxRetryDelay <= 0 {
		c.MaxRetryDelay = 30 * time.Second
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 5 * time.Second
	}
	if c.ReadAttempts <= 0 {
		c.ReadAttempts = 6
	}
	return c, nil
}

func validOnBadRow(v string) error {
	if v != OnBadRowSkip && v != OnBadRowReject {
		return fmt.Errorf("on-bad-row %q: want %s or %s", v, OnBadRowSkip, OnBadRowReject)
	}
	return nil
}

// Run parses files from the FILES work queue until ctx is cancelled. Any
// number of workers and processes share the durable parser consumer.
func Run(ctx context.Context, cfg Config) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	log := cfg.Log.With("stage", stageName)
	js := cfg.JS
	if js == nil {
		return errors.New("parser: Config.JS is required")
	}

	s, err := newStage(ctx, cfg, js, log)
	if err != nil {
		return err
	}
	log.Info("parser started", "workers", cfg.Workers, "batch_size", cfg.BatchSize, "on_bad_row", cfg.OnBadRow)

	wctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	for i := 0; i < cfg.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.worker(wctx)
		}()
	}
	<-ctx.Done()
	stop()
	wg.Wait()
	log.Info("parser stopped")
	return nil
}

type stage struct {
	cfg        Config
	js         jetstream.JetStream
	log        *slog.Logger
	cons       jetstream.Consumer
	store      jetstream.ObjectStore
	registry   *assets.Registry
	ledger     *ledger.Ledger
	maxDeliver int
	maxMsg     int // the largest message the server takes (its max payload)

	objMu  sync.Mutex
	objStr jetstream.Stream // the stream behind FILEDATA, once looked up

	gate *timeGate // keeps the workers' files together in time

	files         func(result string) *metrics.Value
	rowsParsed    *metrics.Value
	rowsRejected  *metrics.Value
	batches       *metrics.Value
	retries       *metrics.Value
	waits         *metrics.Value
	inFlightFiles *metrics.Value
}

func newStage(ctx context.Context, cfg Config, js jetstream.JetStream, log *slog.Logger) (*stage, error) {
	cons, err := topology.WaitConsumer(ctx, js, topology.StreamFiles, topology.ParserConsumer(), log)
	if err != nil {
		return nil, err
	}
	store, err := js.ObjectStore(ctx, topology.BucketFileData)
	if err != nil {
		return nil, fmt.Errorf("open object store %s: %w", topology.BucketFileData, err)
	}
	reg, err := assets.Open(ctx, js)
	if err != nil {
		return nil, err
	}
	led, err := ledger.Open(ctx, js)
	if err != nil {
		return nil, err
	}
	m := cfg.Metrics
	s := &stage{
		cfg: cfg, js: js, log: log, cons: cons, store: store, registry: reg, ledger: led,
		maxDeliver: cons.CachedInfo().Config.MaxDeliver,
		maxMsg:     int(js.Conn().MaxPayload()),
		gate:       newTimeGate(int64(cfg.AlignWindow / time.Second)),
		files: func(result string) *metrics.Value {
			return m.Counter("fff_parser_files_total", "Files the parser finished, by result (parsed, rejected, deadlettered, already_committed)", "result", result)
		},
		rowsParsed:    m.Counter("fff_parser_rows_parsed_total", "Good CSV rows published as candles"),
		rowsRejected:  m.Counter("fff_parser_rows_rejected_total", "Bad CSV rows skipped or causing a file's rejection"),
		batches:       m.Counter("fff_parser_batches_published_total", "Candle batches published to CANDLES (all acknowledged before a file is reported parsed)"),
		retries:       m.Counter("fff_parser_retries_total", "Files handed back for a later attempt after an error"),
		waits:         m.Counter("fff_parser_waits_total", "Attempts that failed for the pipeline's own trouble (store, network); the file waits, it is never rejected for it"),
		inFlightFiles: m.Gauge("fff_parser_files_in_progress", "Files being parsed right now"),
	}
	return s, nil
}

// worker pulls one file at a time, so a slow file never holds others back
// from the other parsers.
func (s *stage) worker(ctx context.Context) {
	_ = jsplumb.Pull(ctx, s.cons, s.handle,
		jsplumb.WithFetchWait(s.cfg.FetchWait),
		jsplumb.WithKeepAlive(s.cfg.Heartbeat),
		jsplumb.WithDeadLetter(s.deadLetter, 0),
		jsplumb.WithLogger(s.log))
}

// committed says whether the ledger has this run of the file COMMITTED.
func (s *stage) committed(ctx context.Context, ev contract.FileEvent) bool {
	e, _, err := s.ledger.Get(ctx, ev.FileID)
	return err == nil && e.State == contract.FileCommitted && e.Run == ev.Run
}

// errObjectMissing marks a file whose bytes are not (yet) in the object store.
var errObjectMissing = errors.New("file bytes are not in the object store")

// handle works on one FILES message and says how to settle it: nil when
// the file's outcome is published, a retry later, or a dead letter.
func (s *stage) handle(ctx context.Context, msg jetstream.Msg) error {
	delivered := jsplumb.Delivered(msg)
	var ev contract.FileEvent
	if err := json.Unmarshal(msg.Data(), &ev); err != nil {
		return jsplumb.DeadLetter(fmt.Errorf("not a FileEvent (JSON): %w", err))
	}
	if ev.FileID == "" || ev.Object == "" {
		return jsplumb.DeadLetter(errors.New("FileEvent without file_id or object: nothing to parse"))
	}
	log := s.log.With("file", ev.Name, "file_id", ev.FileID, "delivery", delivered)
	if s.maxDeliver > 0 && delivered >= uint64(s.maxDeliver) {
		return jsplumb.DeadLetter(fmt.Errorf("delivered %d times without being parsed (a parser failed or stopped on it each time)", delivered))
	}

	s.inFlightFiles.Add(1)
	defer s.inFlightFiles.Add(-1)
	outcome, err := s.process(ctx, ev, log)
	if errors.Is(err, errObjectMissing) && s.committed(ctx, ev) {
		// A late redelivery of a file already committed, whose bytes the
		// ledger keeper has since deleted: there is nothing left to do.
		log.Info("file already committed; stale work dropped")
		outcome, err = "already_committed", nil
	}
	switch {
	case err == nil:
		// Acknowledged even if shutdown began meanwhile: the work is done and
		// published, and a redelivery after a lost ack repeats it harmlessly.
		s.files(outcome).Inc()
		return nil
	case ctx.Err() != nil:
		// Shutting down: Pull hands the file to another parser right away.
		log.Info("stopped mid-file; handed back", "err", err)
		return err
	default:
		// Only its content rejects a file (process did that already); what
		// is left is the pipeline's own trouble, which waiting mends.
		return s.wait(ctx, msg, ev, delivered, err, log)
	}
}

// deadLetter moves a message to dlq.parser and, when the file is known,
// reports it rejected so the watcher does not wait for it forever.
func (s *stage) deadLetter(ctx context.Context, msg jetstream.Msg, cause error) error {
	reason := cause.Error()
	log := s.log
	var ev contract.FileEvent
	if json.Unmarshal(msg.Data(), &ev) == nil && ev.FileID != "" && ev.Object != "" {
		log = log.With("file", ev.Name, "file_id", ev.FileID)
		if err := s.publishProgress(ctx, contract.Progress{FileID: ev.FileID, Run: ev.Run, Kind: "rejected", Reason: ledger.GaveUpPrefix + reason}); err != nil {
			log.Warn("could not report the dead-lettered file as rejected", "err", err)
		}
	}
	if err := deadletter.Msg(ctx, s.js, stageName, msg, reason); err != nil {
		return fmt.Errorf("dead-letter file event: %w", err)
	}
	log.Warn("dead-lettered file event", "reason", reason)
	s.files("deadlettered").Inc()
	return nil
}

var pairRe = regexp.MustCompile(`^[A-Z0-9]{2,20}$`)

// summary is what reading a file found.
type summary struct {
	lines   int
	header  bool
	good    int64
	bad     int64
	errs    []contract.RowError
	batches int
	content string // why the bytes are not CSV text at all (ContentError)
}

func (s *summary) addError(re *RowError) {
	s.bad++
	if len(s.errs) < MaxReportedErrors {
		s.errs = append(s.errs, re.Row())
	}
}

// emptyReason says why a file with no good row is rejected.
func (s *summary) emptyReason() string {
	switch {
	case s.content != "":
		return s.content
	case s.bad > 0:
		return fmt.Sprintf("no valid row: all %d rows are bad (first: line %d: %s)", s.bad, s.errs[0].Line, s.errs[0].Reason)
	case s.header:
		return "the file has a header but no data rows"
	case s.lines > 0:
		return "the file has no data rows (only blank lines)"
	}
	return "the file is empty"
}

// process parses one file and publishes its outcome ("parsed" with its
// batches, or "rejected"). An error means nothing final happened: retry.
func (s *stage) process(ctx context.Context, ev contract.FileEvent, log *slog.Logger) (string, error) {
	start := time.Now()
	onBad := ev.OnBadRow
	if onBad == "" {
		onBad = s.cfg.OnBadRow
	}
	if err := validOnBadRow(onBad); err != nil {
		return s.reject(ctx, ev, &summary{}, "file event: "+err.Error(), log)
	}
	if !pairRe.MatchString(ev.Pair) {
		return s.reject(ctx, ev, &summary{}, fmt.Sprintf("pair %q: want 2 to 20 characters A-Z, 0-9 (a Kraken altname such as XBTUSD)", ev.Pair), log)
	}
	if ev.Interval <= 0 {
		return s.reject(ctx, ev, &summary{}, fmt.Sprintf("interval %d: must be a positive number of minutes", ev.Interval), log)
	}
	base, quote, err := kraken.SplitPair(ev.Pair)
	if err != nil {
		return s.reject(ctx, ev, &summary{}, err.Error(), log)
	}

	// The file keeps pace with the others being parsed from now on, its
	// first batch included (timeGate).
	slot := s.gate.join()
	slot.hold()
	defer slot.leave()

	// Nothing is published before every byte is read back and verified.
	f, err := s.spool(ctx, ev)
	if err != nil {
		return "", err
	}
	defer func() {
		f.Close()
		os.Remove(f.Name())
	}()
	if onBad == OnBadRowReject {
		// First pass: validate only, so a file with a bad row publishes nothing.
		sum, err := s.read(ctx, ev, f, nil, nil)
		if err != nil {
			return "", err
		}
		if sum.bad > 0 {
			reason := fmt.Sprintf("%d bad rows and on-bad-row is reject-file: nothing of the file was published (first: line %d: %s)",
				sum.bad, sum.errs[0].Line, sum.errs[0].Reason)
			return s.reject(ctx, ev, sum, reason, log)
		}
		if sum.good == 0 {
			return s.reject(ctx, ev, sum, sum.emptyReason(), log)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return "", fmt.Errorf("rewind spooled %s: %w", ev.Object, err)
		}
	}

	tmpl := contract.Batch{
		Source: topology.SourceKraken, Pair: ev.Pair, Base: base, Quote: quote,
		IntervalMinutes: uint32(ev.Interval), Origin: contract.OriginCSV,
		FileID: ev.FileID, FileName: ev.Name,
	}
	sum, err := s.read(ctx, ev, f, &tmpl, slot)
	var ce *contentError
	if errors.As(err, &ce) {
		return s.reject(ctx, ev, sum, ce.Error(), log)
	}
	if err != nil {
		return "", err
	}
	if sum.good == 0 {
		return s.reject(ctx, ev, sum, sum.emptyReason(), log)
	}
	p := contract.Progress{
		FileID: ev.FileID, Run: ev.Run, Kind: "parsed", Batches: sum.batches,
		RowsParsed: sum.good, RowsRejected: sum.bad, Errors: sum.errs,
	}
	if err := s.publishProgress(ctx, p); err != nil {
		return "", err
	}
	s.registerAssets(ctx, base, quote, log)
	s.rowsParsed.Add(float64(sum.good))
	s.rowsRejected.Add(float64(sum.bad))
	el := time.Since(start)
	log.Info("file parsed", "rows", sum.good, "bad_rows", sum.bad, "batches", sum.batches,
		"took", el.Round(time.Millisecond), "rows_per_s", int64(float64(sum.good)/max(el.Seconds(), 1e-9)))
	return "parsed", nil
}

func (s *stage) reject(ctx context.Context, ev contract.FileEvent, sum *summary, reason string, log *slog.Logger) (string, error) {
	p := contract.Progress{FileID: ev.FileID, Run: ev.Run, Kind: "rejected", Reason: reason, RowsRejected: sum.bad, Errors: sum.errs}
	if err := s.publishProgress(ctx, p); err != nil {
		return "", err
	}
	s.rowsRejected.Add(float64(sum.bad))
	log.Warn("file rejected", "reason", reason, "bad_rows", sum.bad)
	return "rejected", nil
}

func (s *stage) publishProgress(ctx context.Context, p contract.Progress) error {
	data, err := contract.EncodeProgress(p, s.maxMsg-contract.HeaderRoom)
	if err != nil {
		return fmt.Errorf("encode progress: %w", err)
	}
	id := contract.RunMsgID(p.Kind+":"+p.FileID, p.Run)
	if p.Kind == ledger.KindWaiting {
		// Every wait is its own report: the ledger notes the latest reason.
		id = contract.RunMsgID(fmt.Sprintf("%s:%s:%d", p.Kind, p.FileID, p.Attempt), p.Run)
	}
	if _, err := s.js.Publish(ctx, topology.ProgressSubject(p.FileID), data, jetstream.WithMsgID(id)); err != nil {
		return fmt.Errorf("publish %s progress: %w", p.Kind, err)
	}
	return nil
}

// registerAssets adds the pair's assets to the registry the first time they
// are seen. A registry hiccup does not fail the file: the candles matter more.
func (s *stage) registerAssets(ctx context.Context, base, quote string, log *slog.Logger) {
	for _, a := range [][2]string{{base, quote}, {quote, ""}} {
		created, err := s.registry.EnsureSeen(ctx, a[0], a[1])
		if err != nil {
			log.Warn("could not register asset", "asset", a[0], "err", err)
			continue
		}
		if created {
			log.Info("registered new asset", "asset", a[0], "tier", assets.TierOf(a[0]))
		}
	}
}

// read parses the file's verified bytes once. With tmpl nil it only
// validates; otherwise it publishes the good rows in batches built from tmpl
// and waits until JetStream acknowledged every one.
//
// slot, when not nil, is the file's place in the time gate: each batch waits
// there before it is published.
func (s *stage) read(ctx context.Context, ev contract.FileEvent, src io.Reader, tmpl *contract.Batch, slot *gateSlot) (*summary, error) {
	rd := NewReader(src, ev.Interval, WithNow(s.cfg.Now))
	sum := &summary{}
	var (
		pub   *jsplumb.Publisher
		batch contract.Batch
		subj  string
	)
	if tmpl != nil {
		pub = jsplumb.NewPublisher(s.js, jsplumb.WithWindow(s.cfg.MaxInFlight),
			jsplumb.WithAckTimeout(s.cfg.AckTimeout), jsplumb.WithPublishLogger(s.log))
		batch = *tmpl
		batch.Candles = make([]contract.Candle, 0, s.cfg.BatchSize)
		subj = topology.CandleSubject(batch.Source, batch.Pair, int(batch.IntervalMinutes))
	}
	var c contract.Candle
	for {
		err := rd.Next(&c)
		if err == io.EOF {
			break
		}
		if err != nil {
			var re *RowError
			if errors.As(err, &re) {
				sum.addError(re)
				continue
			}
			var ce *ContentError
			if errors.As(err, &ce) {
				sum.content = ce.Reason
				break
			}
			return nil, fmt.Errorf("read spooled %s/%s: %w", topology.BucketFileData, ev.Object, err)
		}
		sum.good++
		if sum.good&0xffff == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if pub == nil {
			continue
		}
		// A full batch goes out only when the next row shows it is not the last.
		if len(batch.Candles) == s.cfg.BatchSize {
			if err := slot.wait(ctx, batch.Candles[0].Time); err != nil {
				return nil, err
			}
			if err := publishBatch(ctx, pub, subj, &batch, ev.Run); err != nil {
				return nil, err
			}
			s.batches.Inc()
			batch.BatchIndex++
			batch.Candles = batch.Candles[:0]
		}
		batch.Candles = append(batch.Candles, c)
	}
	sum.lines, sum.header = rd.Line(), rd.HeaderSkipped()
	if pub == nil || len(batch.Candles) == 0 {
		return sum, nil
	}
	batch.Last = true
	if err := slot.wait(ctx, batch.Candles[0].Time); err != nil {
		return nil, err
	}
	if err := publishBatch(ctx, pub, subj, &batch, ev.Run); err != nil {
		return nil, err
	}
	s.batches.Inc()
	slot.leave() // nothing more of this file: nobody waits for it while its acks come in
	if err := pub.Wait(ctx); err != nil {
		return nil, err
	}
	sum.batches = int(batch.BatchIndex) + 1
	return sum, nil
}

// publishBatch queues one batch on pub. Its message id carries the file's
// run (a forced re-ingest is not a duplicate), and so does the Fff-Run
// header, for the writer's reports.
func publishBatch(ctx context.Context, pub *jsplumb.Publisher, subj string, b *contract.Batch, run string) error {
	data, err := contract.AppendBatch(pub.Buffer(), b)
	if err != nil {
		// The batch is built from the file and its event alone: no retry mends it.
		return &contentError{fmt.Errorf("encode batch %d: %w", b.BatchIndex, err)}
	}
	m := nats.NewMsg(subj)
	m.Data = data
	if run != "" {
		m.Header.Set(contract.HeaderRun, run)
	}
	if err := pub.Publish(ctx, m, contract.RunMsgID(b.MsgID(), run)); err != nil {
		return fmt.Errorf("publish batch %d: %w", b.BatchIndex, err)
	}
	return nil
}
