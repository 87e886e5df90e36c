package questdb

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
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

	noPairColumns bool
	// capBytes is the request buffer's size as created (init_buf_size),
	// 0 when the client's default applies.
	capBytes int
}

// SinkOptions are an ILPSink's optional behaviours.
type SinkOptions struct {
	// Rows, when positive, sizes the request buffer for that many rows from
	// the start: grown by doubling instead, a 200,000-row request leaves a
	// 64 MB buffer and as much garbage behind, per sender.
	Rows int
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
	capBytes := 0
	if rows > 0 && !strings.Contains(ilpConf, "init_buf_size=") {
		capBytes = min(rows*ILPBytesPerRow, 512<<20)
		conf += fmt.Sprintf("init_buf_size=%d;", capBytes)
	}
	return &ILPSink{conf: conf, table: table, noPairColumns: o.WithoutPairColumns, capBytes: capBytes}, nil
}

// Room is how many more rows fit the request buffer as it was sized, at
// the bytes a row has taken so far (ILPBytesPerRow before the first). Past
// that the client doubles the buffer, and the old one is garbage: two
// writers that each overshot by a few rows held 171 MB of buffers instead of
// 85 (heap profile of fff bench's archive load, longer pair names than
// ILPBytesPerRow assumes).
func (s *ILPSink) Room() int {
	if s.capBytes == 0 {
		return math.MaxInt
	}
	used := 0
	if b, ok := s.sender.(interface{ BufLen() int }); ok {
		used = b.BufLen()
	} else if s.sender != nil {
		return math.MaxInt
	}
	per := ILPBytesPerRow
	if s.rows > 0 {
		per = max(per, (used+s.rows-1)/s.rows)
	}
	return max(0, (s.capBytes-used)/per)
}

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
func (s *ILPSink) Add(ctx context.Context, b *contract.Batch) error {
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
	snd := s.sender
	origin := b.Origin.String()
	iv := int64(b.IntervalMinutes)
	for i := range b.Candles {
		c := &b.Candles[i]
		snd.Table(s.table).Symbol("source", b.Source).Symbol("pair", b.Pair)
		if !s.noPairColumns {
			// An empty symbol would be stored as "" rather than NULL.
			if b.Base != "" {
				snd.Symbol("base", b.Base)
			}
			if b.Quote != "" {
				snd.Symbol("quote", b.Quote)
			}
			snd.Symbol("origin", origin)
		}
		snd.Int64Column("interval_minutes", iv).
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
		if err := snd.At(ctx, time.Unix(c.Time, 0)); err != nil {
			return fmt.Errorf("candle %d (open time %d): %w", i, c.Time, err)
		}
	}
	return nil
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
		if err := s.Add(ctx, b); err != nil {
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
	for i := lo; i < hi; i++ {
		b, err := get(i)
		if err != nil {
			s.discard(ctx)
			return 0, &rejectedError{err}
		}
		if err := s.Add(ctx, b); err != nil {
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
