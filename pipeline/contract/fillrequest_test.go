package contract_test

import (
	"strings"
	"testing"
	"time"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

const okStart, okEnd = `"2025-01-10T08:00:00Z"`, `"2025-01-10T14:00:00Z"`

func req(fields string) string {
	return `{"pair":"XBTUSD","interval":60,"start":` + okStart + `,"end":` + okEnd + fields + `}`
}

// TestFillRequestSchemaAndDecoderAgree: whatever a person types, the JSON
// Schema and DecodeFillRequest give the same verdict, and the decoder's error
// says exactly what is wrong.
func TestFillRequestSchemaAndDecoderAgree(t *testing.T) {
	s := compileSchema(t, "fill_request.schema.json")
	cases := []struct {
		name, json string
		wantErr    []string // substrings of the decode error; nil = valid
	}{
		{"rfc3339", req(""), nil},
		{"unix seconds", `{"pair":"XBTUSD","interval":60,"start":1736496000,"end":1736517600}`, nil},
		{"unix seconds as strings", `{"pair":"XBTUSD","interval":60,"start":"1736496000","end":"1736517600"}`, nil},
		{"unix seconds written 1.7e9", `{"pair":"XBTUSD","interval":60,"start":1736496000.0,"end":1.7365176e9}`, nil},
		{"offset and fraction", `{"pair":"XBTUSD","interval":60,"start":"2025-01-10T09:00:00+01:00","end":"2025-01-10T08:00:00.000Z"}`, nil},
		{"lower-case pair", `{"pair":"xbtusd","interval":1440,"start":1736467200,"end":1736467200}`, nil},
		{"interval 60.0", `{"pair":"XBTUSD","interval":60.0,"start":1736496000,"end":1736517600}`, nil},
		{"id and trades", req(`,"id":"kraken.XBTUSD.60.1736496000","trades":true`), nil},

		{"unknown field", req(`,"foo":1`), []string{`unknown field "foo"`, "allowed: pair, interval, start, end, id, trades"}},
		{"field name case", `{"Pair":"XBTUSD","interval":60,"start":1,"end":2}`, []string{`unknown field "Pair"`, `lower case: "pair"`}},
		{"start after end", `{"pair":"XBTUSD","interval":60,"start":"2025-01-10T15:00:00Z","end":` + okEnd + `}`, []string{`"start" 2025-01-10T15:00:00Z is after "end" 2025-01-10T14:00:00Z`}},
		{"start after end, unix", `{"pair":"XBTUSD","interval":60,"start":1736517601,"end":1736517600}`, []string{`"start" 2025-01-10T14:00:01Z is after "end" 2025-01-10T14:00:00Z`}},
		{"interval 720", `{"pair":"XBTUSD","interval":720,"start":1,"end":2}`, []string{`"interval" 720 is not served by Kraken`, "1, 5, 15, 30, 60, 240, 1440, 10080 or 21600"}},
		{"interval 0", `{"pair":"XBTUSD","interval":0,"start":1,"end":2}`, []string{`"interval" 0 is not served by Kraken`}},
		{"interval 60.5", `{"pair":"XBTUSD","interval":60.5,"start":1,"end":2}`, []string{`"interval" 60.5 is not served by Kraken`}},
		{"interval as string", `{"pair":"XBTUSD","interval":"60","start":1,"end":2}`, []string{`field "interval" must be a number, got a JSON string`}},
		{"pair as number", `{"pair":60,"interval":60,"start":1,"end":2}`, []string{`field "pair" must be a string, got a JSON number`}},
		{"pair with a slash", `{"pair":"XBT/USD","interval":60,"start":1,"end":2}`, []string{`"pair" "XBT/USD" must be letters and digits only`}},
		{"pair with a dot", `{"pair":"XBT.USD","interval":60,"start":1,"end":2}`, []string{`"pair" "XBT.USD" must be letters and digits only`}},
		{"empty pair", `{"pair":"","interval":60,"start":1,"end":2}`, []string{`"pair" is required`}},
		{"trades as string", req(`,"trades":"yes"`), []string{`field "trades" must be true or false, got a JSON string`}},
		{"id as number", req(`,"id":5`), []string{`field "id" must be a string, got a JSON number`}},
		{"id of 201 bytes", req(`,"id":"` + strings.Repeat("x", 201) + `"`), []string{`"id" "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"… (201 bytes) is longer than 200 bytes`}},
		{"id with a newline", req(`,"id":"a\nb"`), []string{`"id" "a\nb" holds control characters`}},
		{"pair of 33 letters", `{"pair":"` + strings.Repeat("X", 33) + `","interval":60,"start":1,"end":2}`, []string{`"pair" "` + strings.Repeat("X", 33) + `" is longer than 32 characters`}},
		{"missing pair and start", `{"interval":60,"end":2}`, []string{`"pair" is required`, `"start" is required (RFC 3339 such as "2025-01-10T08:00:00Z" or unix seconds)`}},
		{"nulls", `{"pair":null,"interval":null,"start":null,"end":null}`, []string{`"pair" is required`, `"interval" is required`, `"start" is required`, `"end" is required`}},
		{"not a date", `{"pair":"XBTUSD","interval":60,"start":"2025-01-10 08:00","end":2}`, []string{`"start": "2025-01-10 08:00" is neither RFC 3339 (e.g. "2025-01-10T08:00:00Z") nor unix seconds`}},
		{"month 13", `{"pair":"XBTUSD","interval":60,"start":1,"end":"2025-13-01T00:00:00Z"}`, []string{`"end": "2025-13-01T00:00:00Z" is neither RFC 3339`}},
		{"bool time", `{"pair":"XBTUSD","interval":60,"start":true,"end":2}`, []string{`"start": true is not a time (want RFC 3339 string or whole unix seconds)`}},
		{"fractional seconds", `{"pair":"XBTUSD","interval":60,"start":1736496000.5,"end":1736517600}`, []string{`"start": 1736496000.5 is not a time`}},
		{"negative seconds", `{"pair":"XBTUSD","interval":60,"start":-5,"end":1736517600}`, []string{`"start": -5 is out of range for unix seconds`}},
		{"negative seconds as string", `{"pair":"XBTUSD","interval":60,"start":"-5","end":1736517600}`, []string{`"start": -5 is out of range for unix seconds`}},
		{"array", `[1]`, []string{"want a JSON object such as", "got a JSON array"}},
		{"string", `"XBTUSD"`, []string{"want a JSON object", "got a JSON string"}},
		{"truncated", `{"pair":"XBTUSD"`, []string{"not valid JSON: the message ends before the object is closed"}},
		{"syntax", `{"pair":XBTUSD}`, []string{"not valid JSON at byte"}},
		{"two objects", req("") + ` {}`, []string{"trailing data after the JSON object"}},
		{"empty", ``, []string{"empty message: want a JSON object"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			schemaErr := validate(s, []byte(c.json))
			r, err := contract.DecodeFillRequest([]byte(c.json))
			if c.wantErr == nil {
				if err != nil {
					t.Errorf("decode rejects a valid request: %v", err)
				}
				if schemaErr != nil {
					t.Errorf("schema rejects a valid request: %v", schemaErr)
				}
				if r.Start.After(r.End) || r.Pair != strings.ToUpper(r.Pair) || r.ID == "" {
					t.Errorf("decoded %+v", r)
				}
				return
			}
			if err == nil {
				t.Fatalf("decode accepts %s", c.json)
			}
			if schemaErr == nil {
				t.Errorf("schema accepts %s (decoder says: %v)", c.json, err)
			}
			if !strings.HasPrefix(err.Error(), "fill request: ") {
				t.Errorf("error %q does not start with \"fill request: \"", err)
			}
			for _, want := range c.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q\n  does not say %q", err, want)
				}
			}
		})
	}
}

// A 2 MB id used to be retried forever (every batch's message id failed to
// encode); it must fail at decode, with a short reason that does not echo it.
func TestFillRequestLimits(t *testing.T) {
	huge := req(`,"id":"` + strings.Repeat("x", 2<<20) + `"`)
	_, err := contract.DecodeFillRequest([]byte(huge))
	if err == nil {
		t.Fatal("a 2 MB request decodes")
	}
	if len(err.Error()) > 200 || !strings.Contains(err.Error(), "at most 65536") {
		t.Errorf("error %d bytes long: %.300s", len(err.Error()), err)
	}
	longID := req(`,"id":"` + strings.Repeat("y", 60_000) + `"`)
	_, err = contract.DecodeFillRequest([]byte(longID))
	if err == nil || len(err.Error()) > 300 || !strings.Contains(err.Error(), "(60000 bytes) is longer than 200 bytes") {
		t.Errorf("long id: %.400v", err)
	}
}

func TestFillRequestEncodeDecode(t *testing.T) {
	in := contract.FillRequest{Pair: "XBTUSD", Interval: 60, Start: time.Date(2025, 1, 10, 8, 0, 0, 0, time.UTC), End: time.Date(2025, 1, 10, 14, 0, 0, 0, time.UTC), Trades: true}
	in.ID = in.DefaultID()
	data, err := in.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"pair":"XBTUSD","interval":60,"start":"2025-01-10T08:00:00Z","end":"2025-01-10T14:00:00Z","id":"XBTUSD-60-1736496000-1736517600","trades":true}`
	if string(data) != want {
		t.Fatalf("Encode:\n got %s\nwant %s", data, want)
	}
	out, err := contract.DecodeFillRequest(data)
	if err != nil {
		t.Fatal(err)
	}
	if out != in {
		t.Fatalf("round trip: got %+v want %+v", out, in)
	}
	if n := out.Candles(); n != 7 {
		t.Fatalf("Candles() = %d, want 7 (08:00..14:00 inclusive)", n)
	}
}

func TestFillRequestDefaultIDIsStable(t *testing.T) {
	a, err := contract.DecodeFillRequest([]byte(`{"pair":"xbtusd","interval":60,"start":1736496000,"end":"2025-01-10T14:00:00Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := contract.DecodeFillRequest([]byte(`{"pair":"XBTUSD","interval":60,"start":"2025-01-10T09:00:00+01:00","end":1736517600}`))
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != "XBTUSD-60-1736496000-1736517600" || a.ID != b.ID {
		t.Fatalf("same request, ids %q and %q", a.ID, b.ID)
	}
}
