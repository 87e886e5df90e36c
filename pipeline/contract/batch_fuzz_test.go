package contract_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

// FuzzDecodeBatchExact goes further than FuzzDecodeBatch (batch_test.go):
// whatever bytes reach a writer or `fff tail`, DecodeBatch either names what
// is wrong ("candle batch: ..." or ErrNotBatch when a header-long input
// is not IsBatch) or decodes a batch that encodes back to the very same bytes (but for
// the reserved byte and unknown flag bits, which it ignores).
//
// Seeds: encoded batches like the ones the parser and fetcher publish, and
// the broken shapes of TestDecodeBatchRejects. Run longer with
// `go test -run '^$' -fuzz FuzzDecodeBatchExact -fuzztime 10m ./pipeline/contract/`.
func FuzzDecodeBatchExact(f *testing.F) {
	for _, b := range []*contract.Batch{sampleBatch(0), sampleBatch(1), sampleBatch(3), apiBatch()} {
		data, err := contract.EncodeBatch(b)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		f.Add(data[:len(data)-1])
		f.Add(data[:contractHeader+3])
	}
	f.Add([]byte("FFCB"))
	f.Add([]byte("{\"pair\":\"XBTUSD\"}"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var b contract.Batch
		err := contract.DecodeBatch(data, &b)
		if err != nil {
			if !errors.Is(err, contract.ErrNotBatch) && !strings.HasPrefix(err.Error(), "candle batch: ") {
				t.Fatalf("error %q names neither the batch nor the bad magic", err)
			}
			if notBatch := errors.Is(err, contract.ErrNotBatch); notBatch && contract.IsBatch(data) ||
				!notBatch && !contract.IsBatch(data) && len(data) >= contractHeader {
				t.Fatalf("IsBatch %v but error %v", contract.IsBatch(data), err)
			}
			return
		}
		if !contract.IsBatch(data) || b.EncodedSize() != len(data) {
			t.Fatalf("decoded %d bytes: IsBatch %v, EncodedSize %d", len(data), contract.IsBatch(data), b.EncodedSize())
		}
		enc, err := contract.EncodeBatch(&b)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		want := bytes.Clone(data)
		want[6] &= 1 // flags: only "last" is defined
		want[7] = 0  // reserved
		if !bytes.Equal(enc, want) {
			t.Fatalf("re-encoded batch differs from the input:\n got %x\nwant %x", enc, want)
		}
		// Decoding into a batch that already holds candles reuses it cleanly.
		reused := contract.Batch{Candles: make([]contract.Candle, 5, 9)}
		if err := contract.DecodeBatch(data, &reused); err != nil || len(reused.Candles) != len(b.Candles) {
			t.Fatalf("decode into a used batch: %v, %d candles, want %d", err, len(reused.Candles), len(b.Candles))
		}
	})
}

// contractHeader is the fixed header size of the layout (schemas/candle_batch.md).
const contractHeader = 20

// FuzzBatchRoundTrip: any batch the pipeline can hold encodes, decodes to
// itself (NaN VWAP stays absent, every float bit-exact), appends after other
// bytes without touching them, and is refused with a reason when a string is
// too long for the layout.
//
// Run longer with `go test -run '^$' -fuzz FuzzBatchRoundTrip -fuzztime 10m ./pipeline/contract/`.
func FuzzBatchRoundTrip(f *testing.F) {
	f.Add("kraken", "XBTUSD", "BTC", "USD", sampleFileID, "XBTUSD_60.csv", "", uint32(60), uint8(1), uint32(7), true, candleBytes(sampleBatch(3)))
	f.Add("kraken", "ETHUSD", "ETH", "USD", "", "", "XBTUSD-60-1736496000-1736517600", uint32(1440), uint8(2), uint32(0), false, candleBytes(apiBatch()))
	f.Add("", "", "", "", "", "", "", uint32(0), uint8(0), uint32(0), false, []byte{})
	f.Fuzz(func(t *testing.T, source, pair, base, quote, fileID, fileName, fillID string,
		interval uint32, origin uint8, index uint32, last bool, raw []byte) {
		b := &contract.Batch{
			Source: source, Pair: pair, Base: base, Quote: quote, FileID: fileID, FileName: fileName, FillID: fillID,
			IntervalMinutes: interval, Origin: contract.Origin(origin), BatchIndex: index, Last: last,
			Candles: candlesFrom(raw),
		}
		prefix := []byte("prefix")
		data, err := contract.AppendBatch(bytes.Clone(prefix), b)
		tooLong := false
		for _, s := range []string{source, pair, base, quote, fileID, fileName, fillID} {
			tooLong = tooLong || len(s) > math.MaxUint16
		}
		if tooLong {
			if err == nil || !strings.Contains(err.Error(), "too long") || !bytes.Equal(data, prefix) {
				t.Fatalf("a string over 64 KiB: err %v, dst %d bytes", err, len(data))
			}
			return
		}
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		if !bytes.Equal(data[:len(prefix)], prefix) || len(data)-len(prefix) != b.EncodedSize() {
			t.Fatalf("append overwrote dst or wrote %d bytes, EncodedSize %d", len(data)-len(prefix), b.EncodedSize())
		}
		var got contract.Batch
		if err := contract.DecodeBatch(data[len(prefix):], &got); err != nil {
			t.Fatalf("decode: %v", err)
		}
		if got.Candles == nil {
			got.Candles = []contract.Candle{}
		}
		if b.Candles == nil {
			b.Candles = []contract.Candle{}
		}
		if candleBits(got.Candles) != candleBits(b.Candles) {
			t.Fatal("candles differ after the round trip (bit for bit)")
		}
		// Headers alike; candles are compared by bits above (a NaN volume
		// is not equal to itself, yet must come back as it went).
		got.Candles, b.Candles = nil, nil
		equalBatch(t, &got, b)
	})
}

// apiBatch is a fetcher batch: no file, a fill id, absent VWAP and trades.
func apiBatch() *contract.Batch {
	b := sampleBatch(2)
	b.Origin, b.FileID, b.FileName, b.FillID, b.Last = contract.OriginAPI, "", "", "XBTUSD-60-1736496000-1736517600", false
	b.Candles[1].VWAP, b.Candles[1].Trades = contract.NoVWAP, contract.NoTrades
	return b
}

// candleBytes and candlesFrom map candles to and from 64 raw bytes each.
func candleBytes(b *contract.Batch) []byte {
	var out []byte
	for _, c := range b.Candles {
		out = binary.LittleEndian.AppendUint64(out, uint64(c.Time))
		for _, v := range []float64{c.Open, c.High, c.Low, c.Close, c.VWAP, c.Volume} {
			out = binary.LittleEndian.AppendUint64(out, math.Float64bits(v))
		}
		out = binary.LittleEndian.AppendUint64(out, uint64(c.Trades))
	}
	return out
}

func candlesFrom(raw []byte) []contract.Candle {
	var out []contract.Candle
	for ; len(raw) >= 64; raw = raw[64:] {
		u := func(k int) uint64 { return binary.LittleEndian.Uint64(raw[8*k:]) }
		fl := func(k int) float64 { return math.Float64frombits(u(k)) }
		out = append(out, contract.Candle{Time: int64(u(0)), Open: fl(1), High: fl(2), Low: fl(3), Close: fl(4),
			VWAP: fl(5), Volume: fl(6), Trades: int64(u(7))})
	}
	return out
}

func candleBits(cs []contract.Candle) string {
	return string(candleBytes(&contract.Batch{Candles: cs}))
}
