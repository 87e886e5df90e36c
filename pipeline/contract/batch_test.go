package contract_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

const sampleFileID = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

func sampleBatch(n int) *contract.Batch {
	b := &contract.Batch{
		Source: "kraken", Pair: "XBTUSD", Base: "BTC", Quote: "USD",
		IntervalMinutes: 60, Origin: contract.OriginCSV,
		FileID: sampleFileID, FileName: "XBTUSD_60.csv", BatchIndex: 7, Last: true,
	}
	for i := range n {
		b.Candles = append(b.Candles, contract.Candle{
			Time: 1736496000 + int64(i)*3600, Open: 94500.1 + float64(i), High: 94800, Low: 94400.5,
			Close: 94700.25, VWAP: 94650.125, Volume: 12.5e-3 * float64(i+1), Trades: int64(300 + i),
		})
	}
	return b
}

// equalBatch compares batches treating NaN as equal to NaN (absent VWAP).
func equalBatch(t *testing.T, got, want *contract.Batch) {
	t.Helper()
	g, w := *got, *want
	g.Candles, w.Candles = nil, nil
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("header differs:\n got %+v\nwant %+v", g, w)
	}
	if len(got.Candles) != len(want.Candles) {
		t.Fatalf("got %d candles, want %d", len(got.Candles), len(want.Candles))
	}
	for i := range want.Candles {
		a, b := got.Candles[i], want.Candles[i]
		if math.IsNaN(a.VWAP) != math.IsNaN(b.VWAP) || (!math.IsNaN(b.VWAP) && a.VWAP != b.VWAP) {
			t.Fatalf("candle %d vwap: got %v want %v", i, a.VWAP, b.VWAP)
		}
		a.VWAP, b.VWAP = 0, 0
		if a != b {
			t.Fatalf("candle %d:\n got %+v\nwant %+v", i, a, b)
		}
	}
}

func roundTrip(t *testing.T, b *contract.Batch) *contract.Batch {
	t.Helper()
	data, err := contract.EncodeBatch(b)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	if !contract.IsBatch(data) {
		t.Fatal("IsBatch is false for an encoded batch")
	}
	var got contract.Batch
	if err := contract.DecodeBatch(data, &got); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if got.Candles == nil {
		got.Candles = []contract.Candle{}
	}
	want := *b
	if want.Candles == nil {
		want.Candles = []contract.Candle{}
	}
	equalBatch(t, &got, &want)
	return &got
}

func TestBatchRoundTrip(t *testing.T) {
	t.Run("all fields csv", func(t *testing.T) { roundTrip(t, sampleBatch(100)) })

	t.Run("api with fill id, not last", func(t *testing.T) {
		b := sampleBatch(3)
		b.Origin, b.FileID, b.FileName, b.FillID, b.Last, b.BatchIndex = contract.OriginAPI, "", "", "XBTUSD-60-1736496000-1736517600", false, 0
		roundTrip(t, b)
	})

	t.Run("absent vwap and trades", func(t *testing.T) {
		b := sampleBatch(4)
		b.Origin = contract.OriginTrades
		b.Candles[1].VWAP = contract.NoVWAP
		b.Candles[2].Trades = contract.NoTrades
		b.Candles[3].VWAP, b.Candles[3].Trades = contract.NoVWAP, contract.NoTrades
		got := roundTrip(t, b)
		if got.Candles[1].HasVWAP() || !got.Candles[1].HasTrades() {
			t.Errorf("candle 1: HasVWAP=%v HasTrades=%v, want false true", got.Candles[1].HasVWAP(), got.Candles[1].HasTrades())
		}
		if got.Candles[2].HasTrades() || !got.Candles[2].HasVWAP() {
			t.Errorf("candle 2: HasVWAP=%v HasTrades=%v, want true false", got.Candles[2].HasVWAP(), got.Candles[2].HasTrades())
		}
	})

	t.Run("empty candles", func(t *testing.T) {
		b := sampleBatch(0)
		data, _ := contract.EncodeBatch(b)
		if len(data) != b.EncodedSize() {
			t.Fatalf("empty batch is %d bytes, EncodedSize says %d", len(data), b.EncodedSize())
		}
		got := roundTrip(t, b)
		if len(got.Candles) != 0 {
			t.Fatalf("got %d candles", len(got.Candles))
		}
	})

	t.Run("unicode and empty strings", func(t *testing.T) {
		b := sampleBatch(2)
		b.Source, b.Pair, b.Base, b.Quote = "kräken", "ÉTHÜSD", "ÉTH", ""
		b.FileName = "données/日本_60.csv"
		roundTrip(t, b)
	})

	t.Run("extreme values", func(t *testing.T) {
		b := sampleBatch(3)
		b.IntervalMinutes, b.BatchIndex = math.MaxUint32, math.MaxUint32
		b.Candles[0] = contract.Candle{Time: math.MinInt64, Open: math.SmallestNonzeroFloat64, High: math.MaxFloat64, Low: math.Inf(-1), Close: math.Inf(1), VWAP: -0.0, Volume: 0, Trades: math.MaxInt64}
		b.Candles[1].Time = math.MaxInt64
		roundTrip(t, b)
	})
}

func TestDecodeBatchReusesCandles(t *testing.T) {
	big, _ := contract.EncodeBatch(sampleBatch(50))
	small, _ := contract.EncodeBatch(sampleBatch(3))
	var b contract.Batch
	if err := contract.DecodeBatch(big, &b); err != nil {
		t.Fatal(err)
	}
	first := &b.Candles[0]
	if err := contract.DecodeBatch(small, &b); err != nil {
		t.Fatal(err)
	}
	if len(b.Candles) != 3 || &b.Candles[0] != first {
		t.Fatalf("decode into a used batch: len %d, reused backing array %v", len(b.Candles), &b.Candles[0] == first)
	}
	// Strings are copied: scribbling over the input must not change them.
	for i := range small {
		small[i] = 'x'
	}
	if b.Pair != "XBTUSD" || b.FileName != "XBTUSD_60.csv" {
		t.Fatalf("decoded strings alias the input: pair %q file %q", b.Pair, b.FileName)
	}
}

func TestAppendBatchAppends(t *testing.T) {
	b := sampleBatch(5)
	prefix := []byte("prefix")
	out, err := contract.AppendBatch(append([]byte(nil), prefix...), b)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := contract.EncodeBatch(b)
	if !bytes.Equal(out[:len(prefix)], prefix) || !bytes.Equal(out[len(prefix):], want) {
		t.Fatal("AppendBatch did not append the same bytes EncodeBatch returns")
	}
}

func TestAppendBatchRejectsLongString(t *testing.T) {
	b := sampleBatch(1)
	b.FileName = strings.Repeat("a", math.MaxUint16+1)
	if _, err := contract.EncodeBatch(b); err == nil {
		t.Fatal("a string longer than 65535 bytes was encoded")
	}
}

// TestEncodedSizeIsDocumented pins the size schemas/candle_batch.md gives:
// 20 header bytes + (2 + len) per string + 64 per candle.
func TestEncodedSizeIsDocumented(t *testing.T) {
	for _, n := range []int{0, 1, 2, 8192} {
		b := sampleBatch(n)
		strs := len(b.Source) + len(b.Pair) + len(b.Base) + len(b.Quote) + len(b.FileID) + len(b.FileName) + len(b.FillID)
		want := 20 + 7*2 + strs + 64*n
		data, err := contract.EncodeBatch(b)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) != want || b.EncodedSize() != want {
			t.Errorf("%d candles: encoded %d bytes, EncodedSize %d, documented %d", n, len(data), b.EncodedSize(), want)
		}
	}
	// The default 8192-candle CSV batch must fit the 8 MB max_payload with room to spare.
	if size := sampleBatch(8192).EncodedSize(); size > 1<<20 {
		t.Errorf("an 8192-candle batch is %d bytes, more than 1 MiB", size)
	}
}

// TestBatchLayout checks the documented offsets byte by byte.
func TestBatchLayout(t *testing.T) {
	b := sampleBatch(2)
	b.Candles[1].VWAP, b.Candles[1].Trades = contract.NoVWAP, contract.NoTrades
	data, _ := contract.EncodeBatch(b)
	le := binary.LittleEndian
	if string(data[0:4]) != "FFCB" || data[4] != 1 || data[5] != 1 || data[6] != 1 || data[7] != 0 {
		t.Fatalf("fixed header % x", data[:8])
	}
	if le.Uint32(data[8:]) != 60 || le.Uint32(data[12:]) != 7 || le.Uint32(data[16:]) != 2 {
		t.Fatalf("interval/batch/count % x", data[8:20])
	}
	off := 20
	for _, want := range []string{"kraken", "XBTUSD", "BTC", "USD", sampleFileID, "XBTUSD_60.csv", ""} {
		l := int(le.Uint16(data[off:]))
		if got := string(data[off+2 : off+2+l]); got != want {
			t.Fatalf("string at %d: %q, want %q", off, got, want)
		}
		off += 2 + l
	}
	col := func(c, i int) uint64 { return le.Uint64(data[off+(c*2+i)*8:]) }
	if int64(col(0, 1)) != 1736496000+3600 {
		t.Errorf("time column")
	}
	if math.Float64frombits(col(1, 0)) != 94500.1 || math.Float64frombits(col(4, 0)) != 94700.25 {
		t.Errorf("open/close columns")
	}
	if !math.IsNaN(math.Float64frombits(col(5, 1))) || int64(col(7, 1)) != -1 {
		t.Errorf("vwap NaN / trades -1 conventions")
	}
	if math.Float64frombits(col(6, 1)) != 12.5e-3*2 {
		t.Errorf("volume column")
	}
}

func TestDecodeBatchRejectsBadInput(t *testing.T) {
	good, _ := contract.EncodeBatch(sampleBatch(3))
	var b contract.Batch
	for i := 0; i < len(good); i++ {
		if err := contract.DecodeBatch(good[:i], &b); err == nil {
			t.Fatalf("truncated to %d of %d bytes: no error", i, len(good))
		}
	}
	if err := contract.DecodeBatch(append(append([]byte(nil), good...), 0), &b); err == nil {
		t.Fatal("one trailing byte: no error")
	}
	badMagic := append([]byte(nil), good...)
	badMagic[0] = 'X'
	if err := contract.DecodeBatch(badMagic, &b); !errors.Is(err, contract.ErrNotBatch) {
		t.Fatalf("bad magic: %v, want ErrNotBatch", err)
	}
	badVersion := append([]byte(nil), good...)
	badVersion[4] = 2
	if err := contract.DecodeBatch(badVersion, &b); err == nil || !strings.Contains(err.Error(), "version 2") {
		t.Fatalf("version 2: %v", err)
	}
	hugeCount := append([]byte(nil), good...)
	binary.LittleEndian.PutUint32(hugeCount[16:], math.MaxUint32)
	if err := contract.DecodeBatch(hugeCount, &b); err == nil {
		t.Fatal("count 2^32-1 with 3 candles of data: no error")
	}
	hugeString := append([]byte(nil), good...)
	binary.LittleEndian.PutUint16(hugeString[20:], math.MaxUint16)
	if err := contract.DecodeBatch(hugeString, &b); err == nil {
		t.Fatal("string length past the end: no error")
	}
	for _, garbage := range [][]byte{nil, []byte("{}"), []byte(`{"pair":"XBTUSD"}`), bytes.Repeat([]byte{0xff}, 200)} {
		if err := contract.DecodeBatch(garbage, &b); err == nil {
			t.Fatalf("garbage %q decoded", garbage)
		}
		if contract.IsBatch(garbage) {
			t.Fatalf("IsBatch(%q) is true", garbage)
		}
	}
}

func FuzzDecodeBatch(f *testing.F) {
	good, _ := contract.EncodeBatch(sampleBatch(3))
	empty, _ := contract.EncodeBatch(sampleBatch(0))
	nan := sampleBatch(1)
	nan.Candles[0].VWAP, nan.Candles[0].Trades = contract.NoVWAP, contract.NoTrades
	nanData, _ := contract.EncodeBatch(nan)
	f.Add(good)
	f.Add(empty)
	f.Add(nanData)
	f.Add(good[:len(good)-1])
	f.Add(good[:21])
	f.Add([]byte("FFCB"))
	f.Add([]byte("FFCB\x01\x01\x00\x00\x3c\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff"))
	f.Add([]byte(`{"pair":"XBTUSD","interval":60}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var b contract.Batch
		if err := contract.DecodeBatch(data, &b); err != nil {
			return
		}
		// Whatever decodes must re-encode to something that decodes the same.
		once, err := contract.EncodeBatch(&b)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		var b2 contract.Batch
		if err := contract.DecodeBatch(once, &b2); err != nil {
			t.Fatalf("decode of re-encoded batch: %v", err)
		}
		twice, _ := contract.EncodeBatch(&b2)
		if !bytes.Equal(once, twice) {
			t.Fatal("encode(decode(x)) is not stable")
		}
		if _, err := contract.Render(data); err != nil {
			t.Fatalf("render of a decodable batch: %v", err)
		}
	})
}

func TestMsgIDStable(t *testing.T) {
	b := sampleBatch(2)
	b.BatchIndex = 3
	if got, want := b.MsgID(), "csv:"+sampleFileID+":3"; got != want {
		t.Fatalf("csv MsgID %q, want %q", got, want)
	}
	// Only provenance counts: other candles or a different Last flag keep the id.
	c := sampleBatch(9)
	c.BatchIndex, c.Last = 3, false
	if c.MsgID() != b.MsgID() {
		t.Fatalf("MsgID depends on content: %q vs %q", c.MsgID(), b.MsgID())
	}
	c.BatchIndex = 4
	if c.MsgID() == b.MsgID() {
		t.Fatal("different batch index, same MsgID")
	}
	api := &contract.Batch{Origin: contract.OriginAPI, FillID: "XBTUSD-60-1736496000-1736517600", BatchIndex: 0}
	if got, want := api.MsgID(), "api:XBTUSD-60-1736496000-1736517600:0"; got != want {
		t.Fatalf("api MsgID %q, want %q", got, want)
	}
	tr := &contract.Batch{Origin: contract.OriginTrades, FillID: "gap-1", BatchIndex: 12}
	if got, want := tr.MsgID(), "trades:gap-1:12"; got != want {
		t.Fatalf("trades MsgID %q, want %q", got, want)
	}
	// A batch survives the wire with the same id.
	data, _ := contract.EncodeBatch(b)
	var d contract.Batch
	if err := contract.DecodeBatch(data, &d); err != nil {
		t.Fatal(err)
	}
	if d.MsgID() != b.MsgID() {
		t.Fatalf("MsgID changed across encode/decode: %q vs %q", d.MsgID(), b.MsgID())
	}
}

func TestOriginStrings(t *testing.T) {
	for _, o := range []contract.Origin{contract.OriginCSV, contract.OriginAPI, contract.OriginTrades} {
		p, err := contract.ParseOrigin(o.String())
		if err != nil || p != o {
			t.Fatalf("ParseOrigin(%q) = %v, %v", o.String(), p, err)
		}
	}
	if _, err := contract.ParseOrigin("ftp"); err == nil {
		t.Fatal("ParseOrigin(ftp) succeeded")
	}
}

// BenchmarkCodec is the hot path's cost: encode plus decode of a full
// default-size batch, reported per candle (requirement: ≤ 100 ns/candle).
func BenchmarkCodec(b *testing.B) {
	const n = 8192
	batch := sampleBatch(n)
	buf := make([]byte, 0, batch.EncodedSize())
	var out contract.Batch
	b.SetBytes(int64(batch.EncodedSize()))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		data, err := contract.AppendBatch(buf[:0], batch)
		if err != nil {
			b.Fatal(err)
		}
		if err := contract.DecodeBatch(data, &out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/candle")
}
