package questdb

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	qdb "github.com/questdb/go-questdb-client/v4"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/redact"
)

// ILPSink turns candle batches into ILP-over-HTTP requests for one table. All
// rows added between two flushes travel in one HTTP request, which QuestDB
// commits as one transaction (one table per request).
//
// An ILPSink wraps one go-questdb-client LineSender and, like it, must not be
// used from several goroutines at once: give each worker its own.
//
// What the v4 client does, read from its source (http_sender.go) and relied
// on here: Flush always resets its buffer, whether the request succeeded or
// not, so a failed request must be rebuilt from the batches (Commit does);
// it retries network errors and some 5xx statuses by itself until
// retry_timeout, sleeping without looking at the context, so the ILPSink turns
// that off (retry_timeout=0) and leaves waiting to the caller, who can keep
// its JetStream messages alive meanwhile; creating a sender probes GET
// /settings, so it fails while QuestDB is down.
type ILPSink struct {
	conf  string
	table string

	sender qdb.LineSender
	// batches is how many batches were added since the last flush; dirty is
	// set when an Add failed half way, leaving partial rows in the buffer.
	batches int
	rows    int
	dirty   bool
	// lastFlush is how long the last accepted request took.
	lastFlush time.Duration

	// timeOrder sends each request's rows in open-time order across its
	// batches (SinkOptions.TimeOrder); copies and heap are its buffers.
	timeOrder     bool
	noPairColumns bool
	copies        []*contract.Batch
	heap          [][2]int
}

// SinkOptions are an ILPSink's optional behaviours.
type SinkOptions struct {
	// Rows, when positive, sizes the request buffer for that many rows from
	// the start: grown by doubling instead, a 200,000-row request leaves a
	// 64 MB buffer and as much garbage behind, per sender.
	Rows int
	// TimeOrder sends the rows of a request in open-time order across its
	// batches rather than batch after batch. A request that mixes pairs (or
	// files) whose times overlap is then one ordered run, which QuestDB's
	// WAL apply need not sort; see docs/PERFORMANCE.md for what it measured.
	TimeOrder bool
	// WithoutPairColumns leaves base, quote and origin out of every row
	// (NULL in the table). Only the benchmark sets it, to measure what the
	// three constant-per-batch symbols cost.
	WithoutPairColumns bool
}

// SinkConf is the ILP configuration an ILPSink really uses: the caller's, with
// the client's own auto-flush and retries turned off (the ILPSink decides what a
// request holds and the caller decides how to wait), and a buffer large
// enough for big requests unless max_buf_size is given.
func SinkConf(ilpConf string) (string, error) {
	scheme, addr, err := ILPAddr(ilpConf)
	if err != nil {
		return "", err
	}
	if scheme != "http" && scheme != "https" {
		return "", fmt.Errorf("ILP transport %q: the writer needs http or https (TCP has no acknowledgements)", scheme)
	}
	if addr == "" {
		return "", fmt.Errorf("ILP conf %q has an empty addr=", redact.Text(ilpConf))
	}
	conf := strings.TrimSpace(ilpConf)
	if !strings.HasSuffix(conf, ";") {
		conf += ";"
	}
	// Later keys win in the client's parser.
	conf += "auto_flush=off;retry_timeout=0;"
	if !strings.Contains(conf, "max_buf_size=") {
		conf += "max_buf_size=1073741824;"
	}
	return conf, nil
}

// DialILPSink connects a sink for table. It fails when QuestDB does not
// answer (the client asks /settings for the protocol version).
func DialILPSink(ctx context.Context, ilpConf, table string) (*ILPSink, error) {
	s, err := NewILPSink(ilpConf, table, SinkOptions{})
	if err != nil {
		return nil, err
	}
	if err := s.connect(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Sender sizing, measured on the 2-core reference machine
// (docs/PERFORMANCE.md): two parallel senders beat one, and requests of a few
// hundred thousand rows amortise QuestDB's per-transaction cost without
// making a retry costly.
const (
	DefaultSenders   = 2
	DefaultFlushRows = 200_000
)

// ILPBytesPerRow is about what one candle takes in an ILP v2 request (204
// bytes measured by fff bench for six-letter pairs), rounded up.
const ILPBytesPerRow = 224

// NewILPSink checks the settings without connecting; the first Add or Commit
// connects.
func NewILPSink(ilpConf, table string, o SinkOptions) (*ILPSink, error) {
	rows := o.Rows
	if err := ValidTable(table); err != nil {
		return nil, err
	}
	conf, err := SinkConf(ilpConf)
	if err != nil {
		return nil, err
	}
	if rows > 0 && !strings.Contains(ilpConf, "init_buf_size=") {
		conf += fmt.Sprintf("init_buf_size=%d;", min(rows*ILPBytesPerRow, 512<<20))
	}
	return &ILPSink{conf: conf, table: table, timeOrder: o.TimeOrder, noPairColumns: o.WithoutPairColumns}, nil
}

// TimeOrdered tells whether requests are sent in open-time order; such a
// sink encodes at Commit, so adding while gathering would be wasted.
func (s *ILPSink) TimeOrdered() bool { return s.timeOrder }

// Table is the table the sink writes to.
func (s *ILPSink) Table() string { return s.table }

func (s *ILPSink) connect(ctx context.Context) error {
	if s.sender != nil {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	snd, err := qdb.LineSenderFromConf(cctx, s.conf)
	if err != nil {
		return &unreachableError{fmt.Errorf("connect ILP sender to %s: %w", redactedAddr(s.conf), err)}
	}
	s.sender = snd
	s.batches, s.rows, s.dirty = 0, 0, false
	return nil
}

// discard drops whatever is buffered. The client has no reset, so the
// sender is closed (with auto-flush off, Close sends nothing) and a new one
// is made on next use.
func (s *ILPSink) discard(ctx context.Context) {
	if s.sender != nil {
		_ = s.sender.Close(ctx)
		s.sender = nil
	}
	s.batches, s.rows, s.dirty = 0, 0, false
}

// LastFlush is how long the last accepted request took.
func (s *ILPSink) LastFlush() time.Duration { return s.lastFlush }

// Pending is the number of rows added since the last flush.
func (s *ILPSink) Pending() int { return s.rows }

// Add appends a batch's candles to the pending request. vwap and trades are
// left out (NULL in QuestDB) when the batch does not have them.
//
// A time-ordered sink (SinkOptions.TimeOrder) encodes at Commit, when it has
// every batch of the request, so Add does nothing there.
func (s *ILPSink) Add(ctx context.Context, b *contract.Batch) error {
	if s.timeOrder {
		return nil
	}
	return s.addBatch(ctx, b)
}

func (s *ILPSink) addBatch(ctx context.Context, b *contract.Batch) error {
	if err := s.connect(ctx); err != nil {
		return err
	}
	if err := s.add(ctx, b); err != nil {
		s.dirty = true
		return &rejectedError{fmt.Errorf("batch %s of %s: %w", b.MsgID(), b.Pair, err)}
	}
	s.batches++
	s.rows += len(b.Candles)
	return nil
}

func (s *ILPSink) add(ctx context.Context, b *contract.Batch) error {
	for i := range b.Candles {
		if err := s.addRow(ctx, b, &b.Candles[i]); err != nil {
			return fmt.Errorf("candle %d (open time %d): %w", i, b.Candles[i].Time, err)
		}
	}
	return nil
}

func (s *ILPSink) addRow(ctx context.Context, b *contract.Batch, c *contract.Candle) error {
	snd := s.sender
	snd.Table(s.table).Symbol("source", b.Source).Symbol("pair", b.Pair)
	if !s.noPairColumns {
		// An empty symbol would be stored as "" rather than NULL.
		if b.Base != "" {
			snd.Symbol("base", b.Base)
		}
		if b.Quote != "" {
			snd.Symbol("quote", b.Quote)
		}
		snd.Symbol("origin", b.Origin.String())
	}
	snd.Int64Column("interval_minutes", int64(b.IntervalMinutes)).
		Float64Column("open", c.Open).
		Float64Column("high", c.High).
		Float64Column("low", c.Low).
		Float64Column("close", c.Close)
	if c.HasVWAP() {
		snd.Float64Column("vwap", c.VWAP)
	}
	snd.Float64Column("volume", c.Volume)
	if c.HasTrades() {
		snd.Int64Column("trades", c.Trades)
	}
	return snd.At(ctx, time.Unix(c.Time, 0))
}

// Flush sends the pending rows as one request. Whatever the outcome, nothing
// is pending afterwards (the client resets its buffer).
func (s *ILPSink) Flush(ctx context.Context) error {
	if s.sender == nil {
		s.batches, s.rows = 0, 0
		return nil
	}
	if s.dirty {
		s.discard(ctx)
		return &rejectedError{errors.New("a batch could not be encoded; the request was dropped")}
	}
	start := time.Now()
	err := s.sender.Flush(ctx)
	s.batches, s.rows = 0, 0
	if err != nil {
		return classify(err)
	}
	s.lastFlush = time.Since(start)
	return nil
}

// Write sends batches as one request: one QuestDB transaction.
func (s *ILPSink) Write(ctx context.Context, batches []*contract.Batch) error {
	if s.batches > 0 || s.dirty {
		s.discard(ctx)
	}
	for _, b := range batches {
		if err := s.addBatch(ctx, b); err != nil {
			s.discard(ctx)
			return err
		}
	}
	return s.Flush(ctx)
}

// Close releases the sender; rows not flushed are dropped.
func (s *ILPSink) Close(ctx context.Context) error {
	if s.sender == nil {
		return nil
	}
	err := s.sender.Close(ctx)
	s.sender = nil
	return err
}

// Commit writes batches [0, n) as one request. When QuestDB refuses the
// request (a 4xx: the data is wrong, not the server), it bisects: each half
// is sent on its own, recursively, until every batch is either committed or
// refused alone, so one bad batch costs about 2·log2(n) extra requests and
// the good ones still land. When QuestDB is unreachable it calls Hold and
// sends the same range again; nothing is skipped.
//
// The sink may already hold exactly batches [0, n), added in order since the
// last flush (the writer encodes while it gathers); otherwise what it holds
// is dropped and rebuilt. Commit returns nil when every batch was reported
// committed or rejected, or Hold's error.
func (s *ILPSink) Commit(ctx context.Context, n int, get BatchFunc, h Hooks) error {
	type span struct{ lo, hi int }
	todo := []span{{0, n}}
	attempt := 0
	for len(todo) > 0 {
		sp := todo[0]
		rows, err := s.sendRange(ctx, sp.lo, sp.hi, n, get)
		switch {
		case err == nil:
			attempt = 0
			todo = todo[1:]
			if h.Committed != nil {
				h.Committed(sp.lo, sp.hi)
			}
		case Rejected(err):
			attempt = 0
			if sp.hi-sp.lo == 1 {
				todo = todo[1:]
				if h.Rejected != nil {
					h.Rejected(sp.lo, err)
				}
				continue
			}
			mid := sp.lo + (sp.hi-sp.lo)/2
			todo = append([]span{{sp.lo, mid}, {mid, sp.hi}}, todo[1:]...)
		default:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			attempt++
			if h.Hold == nil {
				return err
			}
			if herr := h.Hold(ctx, attempt, rows, err); herr != nil {
				return herr
			}
		}
	}
	return nil
}

// sendRange sends batches [lo, hi) as one request and returns how many rows
// it carried.
func (s *ILPSink) sendRange(ctx context.Context, lo, hi, n int, get BatchFunc) (int, error) {
	if s.sender != nil && !s.dirty && lo == 0 && hi == n && s.batches == n {
		rows := s.rows
		return rows, s.Flush(ctx)
	}
	if s.batches > 0 || s.dirty {
		s.discard(ctx)
	}
	if err := s.connect(ctx); err != nil {
		return 0, err
	}
	if s.timeOrder {
		return s.sendInTimeOrder(ctx, lo, hi, get)
	}
	for i := lo; i < hi; i++ {
		b, err := get(i)
		if err != nil {
			s.discard(ctx)
			return 0, &rejectedError{err}
		}
		if err := s.addBatch(ctx, b); err != nil {
			rows := s.rows
			s.discard(ctx)
			return rows, err
		}
	}
	rows := s.rows
	return rows, s.Flush(ctx)
}

var statusRe = regexp.MustCompile(`^(\d{3}): `)

func classify(err error) error {
	status := 0
	var he *qdb.HttpError
	if errors.As(err, &he) {
		status = he.HttpStatus()
	} else if m := statusRe.FindStringSubmatch(err.Error()); m != nil {
		// Statuses the client could not parse as QuestDB JSON come as "NNN: ...".
		status, _ = strconv.Atoi(m[1])
	}
	if status >= 400 && status < 500 {
		switch status {
		case 401, 403, 404, 407, 408, 421, 425, 429:
			// Credentials, a wrong address or throttling: the operator or
			// time fixes these, not dropping the data.
			return &unreachableError{fmt.Errorf("QuestDB answered %d: %w", status, err)}
		}
		return &rejectedError{fmt.Errorf("QuestDB rejected the request: %w", err)}
	}
	return &unreachableError{err}
}

func redactedAddr(conf string) string {
	_, addr, err := ILPAddr(conf)
	if err != nil {
		return "QuestDB"
	}
	return addr
}

// sendInTimeOrder sends batches [lo, hi) as one request whose rows are in
// open-time order across the batches. Each batch is copied (get may reuse
// its result), sorted if it is not already, and the copies are merged.
func (s *ILPSink) sendInTimeOrder(ctx context.Context, lo, hi int, get BatchFunc) (int, error) {
	n := hi - lo
	for len(s.copies) < n {
		s.copies = append(s.copies, new(contract.Batch))
	}
	bs := s.copies[:n]
	rows := 0
	for i := lo; i < hi; i++ {
		b, err := get(i)
		if err != nil {
			s.discard(ctx)
			return 0, &rejectedError{err}
		}
		c := bs[i-lo]
		cs := c.Candles[:0]
		*c = *b
		c.Candles = append(cs, b.Candles...)
		if !slices.IsSortedFunc(c.Candles, func(x, y contract.Candle) int { return cmp.Compare(x.Time, y.Time) }) {
			slices.SortStableFunc(c.Candles, func(x, y contract.Candle) int { return cmp.Compare(x.Time, y.Time) })
		}
		rows += len(c.Candles)
	}
	if err := s.addInTimeOrder(ctx, bs); err != nil {
		s.discard(ctx)
		if n == 1 {
			return rows, &rejectedError{fmt.Errorf("batch %s of %s: %w", bs[0].MsgID(), bs[0].Pair, err)}
		}
		return rows, &rejectedError{err}
	}
	s.batches, s.rows = n, rows
	return rows, s.Flush(ctx)
}

// addInTimeOrder encodes the candles of bs (each sorted by open time) in
// open-time order across them: a k-way merge over a binary heap of cursors
// (batch, candle), ties taken in batch order.
func (s *ILPSink) addInTimeOrder(ctx context.Context, bs []*contract.Batch) error {
	h := s.heap[:0]
	for bi, b := range bs {
		if len(b.Candles) > 0 {
			h = append(h, [2]int{bi, 0})
		}
	}
	less := func(x, y [2]int) bool {
		tx, ty := bs[x[0]].Candles[x[1]].Time, bs[y[0]].Candles[y[1]].Time
		return tx < ty || (tx == ty && x[0] < y[0])
	}
	down := func(i int) {
		for {
			l := 2*i + 1
			if l >= len(h) {
				return
			}
			m := l
			if r := l + 1; r < len(h) && less(h[r], h[l]) {
				m = r
			}
			if !less(h[m], h[i]) {
				return
			}
			h[i], h[m] = h[m], h[i]
			i = m
		}
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		down(i)
	}
	for len(h) > 0 {
		top := h[0]
		b := bs[top[0]]
		if err := s.addRow(ctx, b, &b.Candles[top[1]]); err != nil {
			s.heap = h
			return fmt.Errorf("batch %s candle %d (open time %d): %w", b.MsgID(), top[1], b.Candles[top[1]].Time, err)
		}
		if top[1]+1 < len(b.Candles) {
			h[0][1]++
		} else {
			h[0] = h[len(h)-1]
			h = h[:len(h)-1]
		}
		down(0)
	}
	s.heap = h
	return nil
}
