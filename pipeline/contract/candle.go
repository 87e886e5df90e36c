// Package contract holds every message the pipeline puts on NATS: the binary
// candle batch on the hot path and the JSON records (fill requests, file
// events, ledger entries, assets, gap records) people and tools look at.
// Their schemas live in the repository's schemas/ folder.
package contract

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Origin says where a batch's candles came from.
type Origin uint8

const (
	OriginCSV    Origin = 1 // a Kraken OHLCVT CSV export
	OriginAPI    Origin = 2 // Kraken's REST OHLC endpoint
	OriginTrades Origin = 3 // rebuilt from Kraken's REST Trades endpoint
)

func (o Origin) String() string {
	switch o {
	case OriginCSV:
		return "csv"
	case OriginAPI:
		return "api"
	case OriginTrades:
		return "trades"
	}
	return fmt.Sprintf("origin(%d)", uint8(o))
}

// ParseOrigin is the inverse of Origin.String.
func ParseOrigin(s string) (Origin, error) {
	switch s {
	case "csv":
		return OriginCSV, nil
	case "api":
		return OriginAPI, nil
	case "trades":
		return OriginTrades, nil
	}
	return 0, fmt.Errorf("unknown origin %q (want csv, api or trades)", s)
}

// Candle is one OHLCV interval. Time is the candle's open time in unix
// seconds, UTC. VWAP is NaN when the source does not give one and Trades is
// -1 when the trade count is unknown; QuestDB then stores NULL.
type Candle struct {
	Time   int64
	Open   float64
	High   float64
	Low    float64
	Close  float64
	VWAP   float64
	Volume float64
	Trades int64
}

// NoVWAP and NoTrades mark absent optional values.
var NoVWAP = math.NaN()

const NoTrades int64 = -1

func (c Candle) HasVWAP() bool   { return !math.IsNaN(c.VWAP) }
func (c Candle) HasTrades() bool { return c.Trades >= 0 }

// Batch is the unit of work on the CANDLES stream: candles of one series
// (source, pair, interval) from one origin, with where they came from so a
// commit can be reported back to the file or fill request that produced them.
type Batch struct {
	Source          string // exchange, e.g. "kraken"
	Pair            string // Kraken altname, e.g. "XBTUSD"
	Base            string // normalised base asset, e.g. "BTC"
	Quote           string // normalised quote asset, e.g. "USD"
	IntervalMinutes uint32
	Origin          Origin
	// Provenance: FileID (ledger.FileID of the source file) and BatchIndex for CSV
	// batches, FillID and BatchIndex for API batches.
	FileID     string
	FileName   string
	FillID     string
	BatchIndex uint32
	// Last is set on the final batch of a file or fill request.
	Last    bool
	Candles []Candle
}

// MsgID is the JetStream message id of the batch: the same file batch or fill
// batch always gets the same id, so a re-publish within the duplicate window is
// dropped by the server (QuestDB's DEDUP covers later ones).
func (b *Batch) MsgID() string {
	if b.FileID != "" {
		return fmt.Sprintf("csv:%s:%d", b.FileID, b.BatchIndex)
	}
	return fmt.Sprintf("%s:%s:%d", b.Origin, b.FillID, b.BatchIndex)
}

// Binary layout, version 1 (all integers little-endian), documented for other
// languages in schemas/candle_batch.md:
//
//	0  [4]byte magic "FFCB"
//	4  uint8   version (1)
//	5  uint8   origin (1 csv, 2 api, 3 trades)
//	6  uint8   flags (bit 0: last batch)
//	7  uint8   reserved (0)
//	8  uint32  interval_minutes
//	12 uint32  batch_index
//	16 uint32  count (number of candles)
//	20 strings, each uint16 length + UTF-8 bytes, in this order:
//	   source, pair, base, quote, file_id, file_name, fill_id
//	then eight columns of count values each, in this order:
//	   time int64 (unix seconds), open, high, low, close, vwap (NaN = absent),
//	   volume float64 (IEEE 754), trades int64 (-1 = unknown)
//
// Columns rather than rows keep encode and decode to straight copies.
const (
	batchMagic   = "FFCB"
	batchVersion = 1
	headerSize   = 20
	flagLast     = 1
)

// BytesPerCandle is what one candle takes in an encoded batch, besides the
// batch's header: a reader can bound a pull of batches by bytes.
const BytesPerCandle = 64

// ErrNotBatch is returned for bytes that do not start with the batch magic.
var ErrNotBatch = errors.New("not a candle batch (bad magic)")

// EncodedSize is the exact size AppendBatch will add.
func (b *Batch) EncodedSize() int {
	n := headerSize
	for _, s := range b.strings() {
		n += 2 + len(s)
	}
	return n + len(b.Candles)*BytesPerCandle
}

func (b *Batch) strings() [7]string {
	return [7]string{b.Source, b.Pair, b.Base, b.Quote, b.FileID, b.FileName, b.FillID}
}

// AppendBatch appends b's encoding to dst.
func AppendBatch(dst []byte, b *Batch) ([]byte, error) {
	if len(b.Candles) > math.MaxUint32 {
		return dst, fmt.Errorf("batch too large: %d candles", len(b.Candles))
	}
	size := b.EncodedSize()
	start := len(dst)
	if cap(dst)-start < size {
		grown := make([]byte, start, start+size)
		copy(grown, dst)
		dst = grown
	}
	dst = dst[:start+size]
	p := dst[start:]
	copy(p, batchMagic)
	p[4] = batchVersion
	p[5] = byte(b.Origin)
	p[6] = 0
	if b.Last {
		p[6] = flagLast
	}
	p[7] = 0
	binary.LittleEndian.PutUint32(p[8:], b.IntervalMinutes)
	binary.LittleEndian.PutUint32(p[12:], b.BatchIndex)
	binary.LittleEndian.PutUint32(p[16:], uint32(len(b.Candles)))
	off := headerSize
	for _, s := range b.strings() {
		if len(s) > math.MaxUint16 {
			return dst[:start], fmt.Errorf("string field too long (%d bytes)", len(s))
		}
		binary.LittleEndian.PutUint16(p[off:], uint16(len(s)))
		off += 2
		off += copy(p[off:], s)
	}
	n := len(b.Candles)
	cols := p[off:]
	t, o, h, l, c, v, vol, tr := columns(cols, n)
	for i := range b.Candles {
		k := &b.Candles[i]
		j := 8 * i
		binary.LittleEndian.PutUint64(t[j:], uint64(k.Time))
		binary.LittleEndian.PutUint64(o[j:], math.Float64bits(k.Open))
		binary.LittleEndian.PutUint64(h[j:], math.Float64bits(k.High))
		binary.LittleEndian.PutUint64(l[j:], math.Float64bits(k.Low))
		binary.LittleEndian.PutUint64(c[j:], math.Float64bits(k.Close))
		binary.LittleEndian.PutUint64(v[j:], math.Float64bits(k.VWAP))
		binary.LittleEndian.PutUint64(vol[j:], math.Float64bits(k.Volume))
		binary.LittleEndian.PutUint64(tr[j:], uint64(k.Trades))
	}
	return dst, nil
}

// EncodeBatch returns b's encoding in a new slice.
func EncodeBatch(b *Batch) ([]byte, error) {
	return AppendBatch(make([]byte, 0, b.EncodedSize()), b)
}

// DecodeBatch decodes data into b, reusing b.Candles' capacity. Strings are
// copied, so data may be reused after the call.
func DecodeBatch(data []byte, b *Batch) error {
	if len(data) < headerSize {
		return fmt.Errorf("candle batch: %d bytes is shorter than the %d-byte header", len(data), headerSize)
	}
	if string(data[:4]) != batchMagic {
		return ErrNotBatch
	}
	if data[4] != batchVersion {
		return fmt.Errorf("candle batch: unsupported version %d", data[4])
	}
	b.Origin = Origin(data[5])
	b.Last = data[6]&flagLast != 0
	b.IntervalMinutes = binary.LittleEndian.Uint32(data[8:])
	b.BatchIndex = binary.LittleEndian.Uint32(data[12:])
	n := int(binary.LittleEndian.Uint32(data[16:]))
	off := headerSize
	var strs [7]string
	for i := range strs {
		if off+2 > len(data) {
			return errors.New("candle batch: truncated header strings")
		}
		l := int(binary.LittleEndian.Uint16(data[off:]))
		off += 2
		if off+l > len(data) {
			return errors.New("candle batch: truncated header strings")
		}
		strs[i] = string(data[off : off+l])
		off += l
	}
	b.Source, b.Pair, b.Base, b.Quote, b.FileID, b.FileName, b.FillID = strs[0], strs[1], strs[2], strs[3], strs[4], strs[5], strs[6]
	if len(data)-off != n*BytesPerCandle {
		return fmt.Errorf("candle batch: %d column bytes for %d candles, want %d", len(data)-off, n, n*BytesPerCandle)
	}
	if cap(b.Candles) < n {
		b.Candles = make([]Candle, n)
	}
	b.Candles = b.Candles[:n]
	cols := data[off:]
	t, o, h, l, c, v, vol, tr := columns(cols, n)
	for i := range b.Candles {
		k := &b.Candles[i]
		j := 8 * i
		k.Time = int64(binary.LittleEndian.Uint64(t[j:]))
		k.Open = math.Float64frombits(binary.LittleEndian.Uint64(o[j:]))
		k.High = math.Float64frombits(binary.LittleEndian.Uint64(h[j:]))
		k.Low = math.Float64frombits(binary.LittleEndian.Uint64(l[j:]))
		k.Close = math.Float64frombits(binary.LittleEndian.Uint64(c[j:]))
		k.VWAP = math.Float64frombits(binary.LittleEndian.Uint64(v[j:]))
		k.Volume = math.Float64frombits(binary.LittleEndian.Uint64(vol[j:]))
		k.Trades = int64(binary.LittleEndian.Uint64(tr[j:]))
	}
	return nil
}

// IsBatch reports whether data starts like an encoded candle batch.
func IsBatch(data []byte) bool {
	return len(data) >= headerSize && string(data[:4]) == batchMagic
}

// columns splits the column section of a batch of n candles: time, open,
// high, low, close, vwap, volume, trades, 8 bytes a value each.
func columns(cols []byte, n int) (t, o, h, l, c, v, vol, tr []byte) {
	col := func(k int) []byte { return cols[k*8*n : (k+1)*8*n] }
	return col(0), col(1), col(2), col(3), col(4), col(5), col(6), col(7)
}
