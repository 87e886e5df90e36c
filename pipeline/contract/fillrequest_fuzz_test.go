package contract_test

import (
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

var (
	fillSchemaOnce sync.Once
	fillSchema     *jsonschema.Schema
)

// FuzzDecodeFillRequest: whatever arrives on fills.kraken, DecodeFillRequest
// does not panic; it rejects with an error that starts "fill request: ", or
// it accepts a request that satisfies every rule the fetcher relies on,
// that the JSON Schema accepts too, and that survives Encode → Decode.
//
// Seeds: the cases of TestFillRequestSchemaAndDecoderAgree's shapes and the
// fill requests people type (README). Run longer with
// `go test -run '^$' -fuzz FuzzDecodeFillRequest -fuzztime 10m ./pipeline/contract/`.
func FuzzDecodeFillRequest(f *testing.F) {
	for _, s := range []string{
		req(""), req(`,"id":"kraken.XBTUSD.60.1736496000","trades":true`), req(`,"foo":1`), req(`,"id":"a\nb"`),
		`{"pair":"XBTUSD","interval":60,"start":1736496000,"end":1736517600}`,
		`{"pair":"xbtusd","interval":1440.0,"start":"1736467200","end":1.7365176e9}`,
		`{"pair":"XBTUSD","interval":60,"start":"2025-01-10T09:00:00+01:00","end":"2025-01-10T08:00:00.000Z"}`,
		`{"Pair":"XBTUSD","interval":60,"start":1,"end":2}`, `{"pair":"XBT/USD","interval":720,"start":-5,"end":"x"}`,
		`{"pair":null,"interval":null,"start":null,"end":null}`, `[1]`, `"XBTUSD"`, `{"pair":"XBTUSD"`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := contract.DecodeFillRequest(data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fill request: ") || len(err.Error()) > 1000 {
				t.Fatalf("error %q: want a short one starting \"fill request: \"", err)
			}
			return
		}
		checkFillRequest(t, data, r)
		fillSchemaOnce.Do(func() { fillSchema = compileSchema(t, "fill_request.schema.json") })
		if err := validate(fillSchema, data); err != nil {
			t.Fatalf("decoder accepts %q, the schema does not: %v", data, err)
		}
		enc, err := r.Encode()
		if err != nil {
			t.Fatalf("encode %+v: %v", r, err)
		}
		again, err := contract.DecodeFillRequest(enc)
		if err != nil {
			t.Fatalf("%s (from %q) does not decode: %v", enc, data, err)
		}
		if again.Pair != r.Pair || again.Interval != r.Interval || again.ID != r.ID || again.Trades != r.Trades ||
			again.Start.Unix() != r.Start.Unix() || again.End.Unix() != r.End.Unix() {
			t.Fatalf("round trip changed the request:\n %+v\n %+v", r, again)
		}
	})
}

// checkFillRequest: the rules of a decoded request (schemas/fill_request.schema.json).
func checkFillRequest(t *testing.T, data []byte, r contract.FillRequest) {
	t.Helper()
	pairOK := r.Pair != "" && len(r.Pair) <= contract.MaxPairLen && !strings.ContainsFunc(r.Pair, func(c rune) bool {
		return !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9')
	})
	switch {
	case !pairOK:
		t.Fatalf("%q: pair %q", data, r.Pair)
	case !contract.Interval(r.Interval).ServedByOHLC():
		t.Fatalf("%q: interval %d", data, r.Interval)
	case r.Start.IsZero() || r.End.IsZero() || r.Start.After(r.End) || r.Start.Location() != time.UTC || r.End.Location() != time.UTC:
		t.Fatalf("%q: start %v end %v: want set, UTC, start <= end", data, r.Start, r.End)
	case r.ID == "" || len(r.ID) > contract.MaxFillIDLen || strings.ContainsFunc(r.ID, unicode.IsControl):
		t.Fatalf("%q: id %q", data, r.ID)
	case r.Candles() < 1:
		t.Fatalf("%q: covers %d candles", data, r.Candles())
	}
}
