package contract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Render turns any pipeline message into JSON a person can read (`fff tail`,
// `fff dlq show`). A candle batch becomes the object described by
// schemas/candle_batch.schema.json; JSON is returned compacted as it is;
// anything else becomes a JSON string so nothing is ever hidden.
func Render(data []byte) (json.RawMessage, error) {
	if IsBatch(data) {
		var b Batch
		if err := DecodeBatch(data, &b); err != nil {
			return nil, fmt.Errorf("render: %w", err)
		}
		return RenderBatch(&b), nil
	}
	if json.Valid(data) {
		var buf bytes.Buffer
		if err := json.Compact(&buf, data); err != nil {
			return nil, fmt.Errorf("render: %w", err)
		}
		return buf.Bytes(), nil
	}
	return appendJSONString(nil, string(data)), nil
}

// RenderBatch is the JSON form of a decoded batch. Non-finite numbers, which
// JSON cannot carry, become null: an absent VWAP is NaN on the wire.
func RenderBatch(b *Batch) json.RawMessage {
	out := make([]byte, 0, 256+len(b.Candles)*160)
	out = append(out, '{')
	for i, f := range []struct{ key, val string }{
		{"source", b.Source}, {"pair", b.Pair}, {"base", b.Base}, {"quote", b.Quote},
	} {
		out = appendKey(out, f.key, i > 0)
		out = appendJSONString(out, f.val)
	}
	out = appendKey(out, "interval_minutes", true)
	out = strconv.AppendUint(out, uint64(b.IntervalMinutes), 10)
	for _, f := range []struct{ key, val string }{
		{"origin", b.Origin.String()}, {"file_id", b.FileID}, {"file_name", b.FileName}, {"fill_id", b.FillID},
	} {
		out = appendKey(out, f.key, true)
		out = appendJSONString(out, f.val)
	}
	out = appendKey(out, "batch_index", true)
	out = strconv.AppendUint(out, uint64(b.BatchIndex), 10)
	out = appendKey(out, "last", true)
	out = strconv.AppendBool(out, b.Last)
	out = appendKey(out, "count", true)
	out = strconv.AppendInt(out, int64(len(b.Candles)), 10)
	out = append(out, `,"candles":[`...)
	for i := range b.Candles {
		c := &b.Candles[i]
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"time":"`...)
		out = time.Unix(c.Time, 0).UTC().AppendFormat(out, time.RFC3339)
		out = append(out, '"')
		for _, f := range [...]struct {
			key string
			val float64
		}{{"open", c.Open}, {"high", c.High}, {"low", c.Low}, {"close", c.Close}, {"vwap", c.VWAP}, {"volume", c.Volume}} {
			out = appendKey(out, f.key, true)
			out = appendJSONFloat(out, f.val)
		}
		out = appendKey(out, "trades", true)
		if c.HasTrades() {
			out = strconv.AppendInt(out, c.Trades, 10)
		} else {
			out = append(out, "null"...)
		}
		out = append(out, '}')
	}
	out = append(out, "]}"...)
	return out
}

// appendKey writes `"key":`, after a comma unless it is the first.
func appendKey(dst []byte, key string, comma bool) []byte {
	if comma {
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, key...)
	return append(dst, '"', ':')
}

// appendJSONFloat formats like encoding/json (shortest representation that
// round-trips, exponent only for very large or small magnitudes).
func appendJSONFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	abs := math.Abs(f)
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		return strconv.AppendFloat(dst, f, 'e', -1, 64)
	}
	return strconv.AppendFloat(dst, f, 'f', -1, 64)
}

func appendJSONString(dst []byte, s string) []byte {
	// encoding/json never fails on a string; invalid UTF-8 becomes U+FFFD.
	q, _ := json.Marshal(s)
	return append(dst, q...)
}
