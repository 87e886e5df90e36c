package contract_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/message"

	"github.com/feefifofunds/feefifofunds/pipeline/assets"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/ledger"
	"github.com/feefifofunds/feefifofunds/schemas"
)

// compileSchema compiles one embedded schema with format assertions on, so
// "date-time" is checked as well.
func compileSchema(t *testing.T, name string) *jsonschema.Schema {
	t.Helper()
	raw, err := schemas.JSON.ReadFile(name)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("%s is not JSON: %v", name, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.AssertVocabs()
	c.RegisterVocabulary(timeOrderVocab(t))
	if err := c.AddResource(name, doc); err != nil {
		t.Fatalf("add %s: %v", name, err)
	}
	s, err := c.Compile(name)
	if err != nil {
		t.Fatalf("compile %s: %v", name, err)
	}
	return s
}

func validate(s *jsonschema.Schema, data []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return s.Validate(inst)
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fileID(content string) string {
	sum := sha256.Sum256([]byte(content))
	return hex.EncodeToString(sum[:])
}

var (
	t0     = time.Date(2025, 1, 10, 8, 0, 0, 0, time.UTC)
	nowish = time.Date(2025, 1, 10, 8, 0, 1, 123456789, time.UTC)
	fid    = fileID("1736496000,94500.1,94800,94400.5,94700.25,12.5,321\n")
)

// validMessages are real encoded messages of every JSON contract, keyed by schema file.
func validMessages(t *testing.T) map[string][][]byte {
	fr := func(r contract.FillRequest) []byte {
		b, err := r.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	pr := func(r contract.PriceRequest) []byte {
		b, err := r.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	batch := func(mut func(*contract.Batch)) []byte {
		b := sampleBatch(3)
		mut(b)
		data, err := contract.EncodeBatch(b)
		if err != nil {
			t.Fatal(err)
		}
		out, err := contract.Render(data)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	gapKey := contract.GapKey("kraken", "XBTUSD", 60, t0)
	return map[string][][]byte{
		"fill_request.schema.json": {
			fr(contract.FillRequest{Pair: "XBTUSD", Interval: 60, Start: t0, End: t0.Add(6 * time.Hour)}),
			fr(contract.FillRequest{Pair: "ETHUSD", Interval: 1440, Start: t0, End: t0, ID: gapKey, Trades: true}),
			[]byte(`{"pair":"XBTUSD","interval":60,"start":"2025-01-10T08:00:00Z","end":"2025-01-10T14:00:00Z"}`),
			[]byte(`{"pair":"xbtusd","interval":5,"start":1736496000,"end":"1736517600"}`),
			[]byte(`{"pair":"XBTUSD","interval":21600,"start":"2025-01-10T09:00:00+01:00","end":"2025-01-10T08:00:00.5Z","trades":false,"id":""}`),
		},
		"price_request.schema.json": {
			pr(contract.PriceRequest{Ticker: "AAPL", Market: "stocks", Start: t0, End: t0.AddDate(0, 1, 0), Quote: "USD", ID: "prices-x-AAPL"}),
			pr(contract.PriceRequest{Grouped: true, Tickers: []string{"AAPL", "MSFT"}, Market: "stocks", Start: t0, End: t0}),
			[]byte(`{"ticker":"AAPL","start":"2023-01-09","end":"2023-02-10"}`),
			[]byte(`{"ticker":"btc","market":"crypto","symbol":"X:BTCUSD","interval":1440,"start":1673222400,"end":"2023-02-10T00:00:00Z"}`),
		},
		"file_event.schema.json": {
			mustJSON(t, contract.FileEvent{FileID: fid, Name: "XBTUSD_60.csv", Object: fid, Pair: "XBTUSD", Interval: 60, Size: 52, Received: nowish}),
			mustJSON(t, contract.FileEvent{FileID: fid, Name: "Kraken_OHLCVT.zip/ETHUSDT_1440.csv", Object: fid, Pair: "ETHUSDT", Interval: 1440, Size: 0, Received: nowish, OnBadRow: "reject-file", Force: true}),
		},
		"ledger_entry.schema.json": {
			mustJSON(t, contract.LedgerEntry{FileID: fid, Name: "XBTUSD_60.csv", Path: "/inbox/XBTUSD_60.csv", Size: 52, Pair: "XBTUSD", Interval: 60, State: contract.FileQueued, Created: nowish, Updated: nowish}),
			mustJSON(t, contract.LedgerEntry{FileID: fid, Name: "XBTUSD_60.csv", Size: 52, Pair: "XBTUSD", Interval: 60, State: contract.FileParsed,
				Batches: 3, BatchesDone: 1, RowsParsed: 20000, RowsCommitted: 8192, RowsRejected: 2,
				Errors:         []contract.RowError{{Line: 7, Reason: "high 1 is below max(open, close) 2", Text: "1736496000,2,1,1,1,1,1"}, {Line: 9, Reason: "open time not aligned"}},
				CommittedBatch: []uint32{0}, Created: nowish, Updated: nowish}),
			mustJSON(t, contract.LedgerEntry{FileID: fid, Name: "XBTUSD_60.csv", Size: 52, Pair: "XBTUSD", Interval: 60, State: contract.FileCommitted,
				Batches: 1, BatchesDone: 1, RowsParsed: 1, RowsCommitted: 1, CommittedBatch: []uint32{0}, Created: nowish, Updated: nowish}),
			mustJSON(t, contract.LedgerEntry{FileID: fid, Name: "XBTUSD_720.csv", Size: 0, Pair: "XBTUSD", Interval: 720, State: contract.FileRejected, Reason: "empty file", Created: nowish, Updated: nowish}),
			mustJSON(t, contract.LedgerEntry{FileID: fid, Name: "XBTUSD_60.csv", Size: 52, Pair: "XBTUSD", Interval: 60, State: contract.FileFailed, Reason: "questdb: bad value", Created: nowish, Updated: nowish}),
		},
		"progress.schema.json": {
			mustJSON(t, contract.Progress{FileID: fid, Kind: "parsed", Batches: 2, RowsParsed: 9000, RowsRejected: 1, Errors: []contract.RowError{{Line: 3, Reason: "price must be > 0"}}}),
			mustJSON(t, contract.Progress{FileID: fid, Kind: "committed", Batch: 0, Rows: 8192, Table: "candles"}),
			mustJSON(t, contract.Progress{FileID: fid, Kind: "committed", Batch: 1, Rows: 808, Table: "candles"}),
			mustJSON(t, contract.Progress{FileID: fid, Kind: "rejected", Reason: "no good rows", RowsRejected: 4, Errors: []contract.RowError{{Line: 1, Reason: "bad"}}}),
			mustJSON(t, contract.Progress{FileID: fid, Kind: "failed", Batch: 2, Reason: "questdb rejected the batch: ..."}),
		},
		"asset.schema.json": {
			mustJSON(t, contract.Asset{Ticker: "BTC", Name: "Bitcoin", Category: "CRYPTO", Tier: assets.TierOf("BTC"), QuoteCurrency: "USD", Description: "the first", Created: nowish, CreatedBy: "cli"}),
			mustJSON(t, contract.Asset{Ticker: "GALA", Name: "", Category: "CRYPTO", Tier: assets.TierOf("GALA"), Created: nowish, CreatedBy: "parser"}),
		},
		"gap_record.schema.json": {
			mustJSON(t, contract.GapRecord{Key: gapKey, Source: "kraken", Pair: "XBTUSD", Base: "BTC", Interval: 60, Start: t0, End: t0.Add(5 * time.Hour), Missing: 6,
				Class: contract.ClassFillable, State: contract.GapFilled, CandlesWritten: 6, Updated: nowish,
				History: []contract.GapEvent{{At: t0, State: contract.GapOpen}, {At: t0, State: contract.GapRequested, Detail: "fill XBTUSD-60"}, {At: nowish, State: contract.GapFilled}}}),
			mustJSON(t, contract.GapRecord{Key: gapKey, Source: "kraken", Pair: "XBTUSD", Interval: 60, Start: t0, End: t0, Missing: 1,
				Class: contract.ClassFillableFromTrades, State: contract.GapNoTrades, Reason: "no trades", TradeCalls: 3, Updated: nowish,
				History: []contract.GapEvent{{At: t0, State: contract.GapOpen}}}),
			mustJSON(t, contract.GapRecord{Key: gapKey, Source: "kraken", Pair: "XBTUSD", Interval: 60, Start: t0, End: t0, Missing: 1,
				Class: contract.ClassUnfillable, State: contract.GapUnfillable, Updated: nowish}),
		},
		"candle_batch.schema.json": {
			batch(func(*contract.Batch) {}),
			batch(func(b *contract.Batch) {
				b.Origin, b.FileID, b.FileName, b.FillID, b.Last = contract.OriginAPI, "", "", "XBTUSD-60-1-2", false
				b.Candles[0].VWAP, b.Candles[1].Trades = contract.NoVWAP, contract.NoTrades
			}),
			batch(func(b *contract.Batch) { b.Origin, b.Candles = contract.OriginTrades, nil }),
		},
	}
}

func TestSchemasAcceptRealMessages(t *testing.T) {
	msgs := validMessages(t)
	names, err := fs.Glob(schemas.JSON, "*.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if len(msgs[name]) == 0 {
			t.Errorf("%s: no real messages tested against it", name)
		}
	}
	for name, list := range msgs {
		s := compileSchema(t, name)
		for i, m := range list {
			if err := validate(s, m); err != nil {
				t.Errorf("%s rejects real message %d:\n%s\n%v", name, i, m, err)
			}
		}
	}
}

// invalid returns valid message 0 of a schema with changes applied.
func invalid(t *testing.T, base []byte, change func(map[string]any)) []byte {
	var m map[string]any
	if err := json.Unmarshal(base, &m); err != nil {
		t.Fatal(err)
	}
	change(m)
	return mustJSON(t, m)
}

func TestSchemasRejectBadMessages(t *testing.T) {
	msgs := validMessages(t)
	set := func(k string, v any) func(map[string]any) { return func(m map[string]any) { m[k] = v } }
	del := func(k string) func(map[string]any) { return func(m map[string]any) { delete(m, k) } }
	cases := map[string][]func(map[string]any){
		"file_event.schema.json": {set("extra", 1), del("file_id"), set("file_id", "abc"), set("interval", 7), set("on_bad_row", "drop"),
			set("received", "yesterday"), set("size", -1), set("pair", "XBT.USD")},
		"ledger_entry.schema.json": {set("state", "DONE"), del("state"), set("extra", true), set("errors", []any{map[string]any{"line": 1}}),
			set("errors", []any{map[string]any{"line": 1, "reason": "x", "col": 2}}), set("rows_committed", -5), set("updated", "2025-01-10")},
		"price_request.schema.json": {del("ticker"), set("interval", 60), set("market", "fx"), set("extra", 1), set("ticker", "BRK.B"),
			set("grouped", true), set("tickers", []any{"AAPL"}), del("start"), set("start", "yesterday")},
		"progress.schema.json": {set("kind", "done"), del("kind"), set("extra", 1), del("batches"), set("file_id", "")},
		"asset.schema.json":    {set("category", "crypto"), set("tier", "TIER5"), del("ticker"), set("extra", 1), del("created")},
		"gap_record.schema.json": {set("state", "DONE"), set("class", "maybe"), del("history"), set("extra", 1), set("key", "kraken XBTUSD"),
			set("history", []any{map[string]any{"at": "2025-01-10T08:00:00Z", "state": "LOST"}}), set("missing", 0)},
		"candle_batch.schema.json": {set("origin", "ftp"), del("candles"), set("extra", 1),
			set("candles", []any{map[string]any{"time": "x", "open": 1, "high": 1, "low": 1, "close": 1, "vwap": nil, "volume": 1, "trades": nil}}),
			set("candles", []any{map[string]any{"time": "2025-01-10T08:00:00Z", "open": 1, "high": 1, "low": 1, "close": 1, "volume": 1, "trades": nil}}),
			set("candles", []any{map[string]any{"time": "2025-01-10T08:00:00Z", "open": nil, "high": 1, "low": 1, "close": 1, "vwap": nil, "volume": 1, "trades": nil}}),
			set("candles", []any{map[string]any{"time": "2025-01-10T08:00:00Z", "open": 1, "high": 1, "low": 1, "close": 1, "vwap": nil, "volume": 1, "trades": -1}}),
		},
	}
	// A failed report without a reason, a rejected one too.
	progressNoReason := invalid(t, msgs["progress.schema.json"][4], del("reason"))
	for name, changes := range cases {
		s := compileSchema(t, name)
		for i, change := range changes {
			bad := invalid(t, msgs[name][0], change)
			if err := validate(s, bad); err == nil {
				t.Errorf("%s accepts invalid message %d: %s", name, i, bad)
			}
		}
	}
	if err := validate(compileSchema(t, "progress.schema.json"), progressNoReason); err == nil {
		t.Errorf("progress schema accepts a failed report without a reason: %s", progressNoReason)
	}
}

// The schemas' enums are the Go constants: one changes, the other must too.
func TestSchemaEnumsMatchGo(t *testing.T) {
	enum := func(schema string, path ...string) []any {
		raw, _ := schemas.JSON.ReadFile(schema)
		var node any
		if err := json.Unmarshal(raw, &node); err != nil {
			t.Fatal(err)
		}
		for _, p := range path {
			node = node.(map[string]any)[p]
		}
		return node.([]any)
	}
	strs := func(v ...string) []any {
		out := make([]any, len(v))
		for i := range v {
			out[i] = v[i]
		}
		return out
	}
	ints := func(v []contract.Interval) []any {
		out := make([]any, len(v))
		for i := range v {
			out[i] = float64(v[i])
		}
		return out
	}
	checks := []struct {
		got, want []any
		what      string
	}{
		{enum("fill_request.schema.json", "properties", "interval", "enum"), ints(contract.OHLCIntervals), "fill request intervals"},
		{enum("file_event.schema.json", "properties", "interval", "enum"), ints(contract.CSVIntervals), "file event intervals"},
		{enum("ledger_entry.schema.json", "properties", "interval", "enum"), ints(contract.CSVIntervals), "ledger intervals"},
		{enum("ledger_entry.schema.json", "properties", "state", "enum"), strs(contract.FileQueued, contract.FileParsed, contract.FileCommitted, contract.FileRejected, contract.FileFailed), "ledger states"},
		{enum("asset.schema.json", "properties", "category", "enum"), strs(contract.AssetCategories...), "asset categories"},
		{enum("asset.schema.json", "properties", "tier", "enum"), strs(assets.Tiers...), "asset tiers"},
		{enum("gap_record.schema.json", "$defs", "state", "enum"), strs(contract.GapOpen, contract.GapRequested, contract.GapFilled, contract.GapFailed, contract.GapUnfillable, contract.GapNoTrades), "gap states"},
		{enum("gap_record.schema.json", "properties", "class", "enum"), strs(contract.ClassFillable, contract.ClassUnfillable, contract.ClassFillableFromTrades, contract.ClassNoTrades), "gap classes"},
		{enum("candle_batch.schema.json", "properties", "origin", "enum"), strs(contract.OriginCSV.String(), contract.OriginAPI.String(), contract.OriginTrades.String()), "origins"},
		{enum("progress.schema.json", "properties", "kind", "enum"), strs(ledger.KindParsed, ledger.KindCommitted, ledger.KindRejected, ledger.KindFailed, ledger.KindWaiting), "progress kinds"},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: schema has %v, Go has %v", c.what, c.got, c.want)
		}
	}
}

// Every JSON field name of the closed Go types is a schema property, and the
// other way round: a renamed field fails here, not in production.
func TestSchemaPropertiesMatchGoFields(t *testing.T) {
	props := func(schema string) []string {
		raw, _ := schemas.JSON.ReadFile(schema)
		var s struct {
			Properties map[string]any `json:"properties"`
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatal(err)
		}
		var out []string
		for k := range s.Properties {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}
	fields := func(v any) []string {
		var out []string
		rt := reflect.TypeOf(v)
		for i := range rt.NumField() {
			name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
			out = append(out, name)
		}
		slices.Sort(out)
		return out
	}
	for schema, v := range map[string]any{
		"fill_request.schema.json": contract.FillRequest{},
		"file_event.schema.json":   contract.FileEvent{},
		"ledger_entry.schema.json": contract.LedgerEntry{},
		"progress.schema.json":     contract.Progress{},
		"asset.schema.json":        contract.Asset{},
		"gap_record.schema.json":   contract.GapRecord{},
	} {
		if got, want := props(schema), fields(v); !slices.Equal(got, want) {
			t.Errorf("%s properties %v, Go type %T fields %v", schema, got, v, want)
		}
	}
}

// timeOrderVocab implements the schemas' x-time-order extension keyword:
// the named properties, when present and readable as times (RFC 3339 or unix
// seconds), must not decrease. JSON Schema has no keyword comparing two
// values; this keeps "start after end" a schema error as it is a decode error.
func timeOrderVocab(t *testing.T) *jsonschema.Vocabulary {
	const url = "https://feefifofunds.dev/vocab/time-order"
	meta, err := jsonschema.UnmarshalJSON(strings.NewReader(`{"properties":{"x-time-order":{"type":"array","items":{"type":"string"},"minItems":2}}}`))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(url, meta); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		t.Fatal(err)
	}
	return &jsonschema.Vocabulary{
		URL:    url,
		Schema: sch,
		Compile: func(_ *jsonschema.CompilerContext, obj map[string]any) (jsonschema.SchemaExt, error) {
			v, ok := obj["x-time-order"].([]any)
			if !ok {
				return nil, nil
			}
			var names []string
			for _, n := range v {
				names = append(names, n.(string))
			}
			return timeOrder(names), nil
		},
	}
}

type timeOrder []string

func (o timeOrder) Validate(ctx *jsonschema.ValidatorContext, v any) {
	obj, ok := v.(map[string]any)
	if !ok {
		return
	}
	var prev time.Time
	prevName := ""
	for _, name := range o {
		tm, ok := schemaTime(obj[name])
		if !ok {
			continue // missing or malformed: other keywords report it
		}
		if prevName != "" && tm.Before(prev) {
			ctx.AddError(&timeOrderError{after: prevName, before: name})
			return
		}
		prev, prevName = tm, name
	}
}

func schemaTime(v any) (time.Time, bool) {
	switch x := v.(type) {
	case string:
		if tm, err := time.Parse(time.RFC3339, x); err == nil {
			return tm, true
		}
		if n, err := strconv.ParseInt(x, 10, 64); err == nil {
			return time.Unix(n, 0), true
		}
	case json.Number:
		if f, err := x.Float64(); err == nil {
			return time.Unix(int64(f), 0), true
		}
	case float64:
		return time.Unix(int64(x), 0), true
	}
	return time.Time{}, false
}

type timeOrderError struct{ after, before string }

func (*timeOrderError) KeywordPath() []string { return []string{"x-time-order"} }
func (e *timeOrderError) LocalizedString(p *message.Printer) string {
	return p.Sprintf("%q is after %q", e.after, e.before)
}
