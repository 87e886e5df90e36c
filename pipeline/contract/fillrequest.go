package contract

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// FillRequest asks a fetcher for the candles of one series between Start and
// End, both candle open times, inclusive. People type these with `nats pub`:
//
//	{"pair":"XBTUSD","interval":60,"start":"2025-01-10T08:00:00Z","end":"2025-01-10T14:00:00Z"}
type FillRequest struct {
	Pair     string    `json:"pair"`
	Interval int       `json:"interval"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	// ID identifies the request in logs, batch message ids and gap records. The
	// scanner sets it to the gap key; when absent it is derived from the rest.
	ID string `json:"id,omitempty"`
	// Trades allows rebuilding candles older than Kraken's 720-candle OHLC
	// window from the Trades endpoint (the fetcher must also allow it).
	Trades bool `json:"trades,omitempty"`
}

const exampleFillRequest = `{"pair":"XBTUSD","interval":60,"start":"2025-01-10T08:00:00Z","end":"2025-01-10T14:00:00Z"}`

// Limits of a fill request, checked by DecodeFillRequest and stated in
// schemas/fill_request.schema.json.
const (
	MaxFillRequestBytes = 64 << 10
	MaxFillIDLen        = 200
	MaxPairLen          = 32
)

// fillRequestWire is the JSON shape, read by DecodeFillRequest and written
// by Encode: times may be RFC 3339 strings or unix seconds.
type fillRequestWire struct {
	Pair     *string         `json:"pair"`
	Interval *float64        `json:"interval"` // float: JSON Schema's integer admits 60.0
	Start    json.RawMessage `json:"start"`
	End      json.RawMessage `json:"end"`
	ID       string          `json:"id,omitempty"`
	Trades   bool            `json:"trades,omitempty"`
}

// DecodeFillRequest parses and validates a fill request. Its errors say
// exactly what is wrong, for a person who typed the JSON by hand.
func DecodeFillRequest(data []byte) (FillRequest, error) {
	// Limits are checked where input enters: a value too long to travel on
	// (an id becomes part of every batch's message id) fails here, once, and
	// is dead-lettered, instead of failing every retry further down.
	var w fillRequestWire
	if err := decodeTyped("fill request", data, MaxFillRequestBytes, fillRequestFields, &w); err != nil {
		return FillRequest{}, err
	}
	var r FillRequest
	var problems []string
	if w.Pair == nil || strings.TrimSpace(*w.Pair) == "" {
		problems = append(problems, `"pair" is required (a Kraken pair such as "XBTUSD")`)
	} else {
		// Not trimmed, and checked as typed: the schema's pattern refuses
		// " XBTUSD", and ToUpper would turn a non-ASCII "ı" into "I" (a
		// length change; both found by FuzzDecodeFillRequest).
		r.Pair = strings.ToUpper(*w.Pair)
		switch {
		case len(r.Pair) > MaxPairLen:
			problems = append(problems, fmt.Sprintf(`"pair" %s is longer than %d characters`, Clip(*w.Pair, 40), MaxPairLen))
		case !isPairName(r.Pair) || len(r.Pair) != len(*w.Pair):
			// The pair becomes a subject token (candles.kraken.<pair>.<interval>).
			problems = append(problems, fmt.Sprintf(`"pair" %s must be letters and digits only, a Kraken altname such as "XBTUSD"`, Clip(*w.Pair, 40)))
		}
	}
	if w.Interval == nil {
		problems = append(problems, `"interval" is required (minutes: `+intervalList(OHLCIntervals)+`)`)
	} else {
		iv := *w.Interval
		if iv == math.Trunc(iv) && math.Abs(iv) < 1<<31 {
			r.Interval = int(iv)
		}
		if !Interval(r.Interval).ServedByOHLC() {
			problems = append(problems, fmt.Sprintf(`"interval" %s is not served by Kraken (use %s)`, strconv.FormatFloat(iv, 'f', -1, 64), intervalList(OHLCIntervals)))
		}
	}
	var err error
	if r.Start, err = parseRequestTime("start", w.Start); err != nil {
		problems = append(problems, err.Error())
	}
	if r.End, err = parseRequestTime("end", w.End); err != nil {
		problems = append(problems, err.Error())
	}
	if !r.Start.IsZero() && !r.End.IsZero() && r.Start.After(r.End) {
		problems = append(problems, fmt.Sprintf(`"start" %s is after "end" %s`, r.Start.Format(time.RFC3339), r.End.Format(time.RFC3339)))
	}
	if p := idProblem(w.ID); p != "" {
		problems = append(problems, p)
	}
	if len(problems) > 0 {
		return FillRequest{}, fmt.Errorf("fill request: %s", strings.Join(problems, "; "))
	}
	r.ID = w.ID
	r.Trades = w.Trades
	if r.ID == "" {
		r.ID = r.DefaultID()
	}
	return r, nil
}

// DefaultID names a request by what it asks for, so two identical requests
// produce identical batch message ids.
func (r FillRequest) DefaultID() string {
	return fmt.Sprintf("%s-%d-%d-%d", r.Pair, r.Interval, r.Start.Unix(), r.End.Unix())
}

// Candles is how many candle open times the request covers.
func (r FillRequest) Candles() int64 {
	step := int64(r.Interval) * 60
	if step <= 0 {
		return 0
	}
	return (r.End.Unix()-r.Start.Unix())/step + 1
}

// Encode renders the request as the JSON people would type, times in RFC 3339.
func (r FillRequest) Encode() ([]byte, error) {
	iv := float64(r.Interval)
	return json.Marshal(fillRequestWire{Pair: &r.Pair, Interval: &iv, Start: jsonTime(r.Start, time.RFC3339), End: jsonTime(r.End, time.RFC3339),
		ID: r.ID, Trades: r.Trades})
}

// jsonTime is t in UTC as a JSON string in layout, for the wire shapes
// whose times are raw so that decoding can accept several spellings.
func jsonTime(t time.Time, layout string) json.RawMessage {
	return json.RawMessage(`"` + t.UTC().Format(layout) + `"`)
}

// idProblem says what is wrong with a request's id, "" when nothing. The
// limits hold for fill and price requests alike: either id goes into every
// batch's message id and into the gap record.
func idProblem(id string) string {
	switch {
	case len(id) > MaxFillIDLen:
		return fmt.Sprintf(`"id" %s is longer than %d bytes`, Clip(id, 40), MaxFillIDLen)
	case strings.ContainsFunc(id, unicode.IsControl):
		return fmt.Sprintf(`"id" %s holds control characters`, Clip(id, 40))
	}
	return ""
}

func parseRequestTime(field string, raw json.RawMessage) (time.Time, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return time.Time{}, fmt.Errorf("%q is required (RFC 3339 such as \"2025-01-10T08:00:00Z\" or unix seconds)", field)
	}
	if s[0] == '"' {
		var str string
		if err := json.Unmarshal(raw, &str); err != nil {
			return time.Time{}, fmt.Errorf("%q: %v", field, err)
		}
		if t, err := time.Parse(time.RFC3339, str); err == nil && rfc3339Shape.MatchString(str) {
			return t.UTC(), nil
		}
		// No "+": the schema's unix-seconds string is digits only (FuzzDecodeFillRequest).
		if n, err := strconv.ParseInt(str, 10, 64); err == nil && str[0] != '+' {
			if n < 0 || n > maxUnixSeconds {
				return time.Time{}, fmt.Errorf("%q: %d is out of range for unix seconds", field, n)
			}
			return time.Unix(n, 0).UTC(), nil
		}
		return time.Time{}, fmt.Errorf("%q: %s is neither RFC 3339 (e.g. \"2025-01-10T08:00:00Z\") nor unix seconds", field, Clip(str, 40))
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		// 1736496000.0 and 1.7364960e9 are whole numbers too.
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != math.Trunc(f) || math.Abs(f) > maxUnixSeconds {
			return time.Time{}, fmt.Errorf("%q: %s is not a time (want RFC 3339 string or whole unix seconds)", field, Shorten(s, 40))
		}
		n = int64(f)
	}
	if n < 0 || n > maxUnixSeconds {
		return time.Time{}, fmt.Errorf("%q: %d is out of range for unix seconds", field, n)
	}
	return time.Unix(n, 0).UTC(), nil
}

// rfc3339Shape is what RFC 3339 (and the schema's date-time) allows and
// time.Parse alone does not check: a one-digit hour ("T8:00:00Z") or an
// offset of 24 hours parse, and the schema refuses them (found by
// FuzzDecodeFillRequest).
var rfc3339Shape = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$`)

// maxUnixSeconds bounds numeric times (also in fill_request.schema.json).
const maxUnixSeconds = 1 << 40

var fillRequestFields = []string{"pair", "interval", "start", "end", "id", "trades"}

func isPairName(s string) bool {
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

// jsonKinds names Go types the way a person writing JSON thinks of them.
var jsonKinds = map[string]string{
	"float64": "a number", "string": "a string", "bool": "true or false",
}

// explainJSONError turns encoding/json errors into sentences naming the field.
func explainJSONError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		if typeErr.Field == "" {
			return fmt.Errorf("want a JSON object such as %s, got a JSON %s", exampleFillRequest, typeErr.Value)
		}
		want := jsonKinds[typeErr.Type.String()]
		if want == "" {
			want = typeErr.Type.String()
		}
		return fmt.Errorf("field %q must be %s, got a JSON %s", typeErr.Field, want, typeErr.Value)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("not valid JSON: the message ends before the object is closed")
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return fmt.Errorf("not valid JSON at byte %d: %v", syntaxErr.Offset, err)
	}
	if msg := err.Error(); strings.HasPrefix(msg, "json: unknown field ") {
		// Clipped, as in checkKeys: the key can be most of the message, and
		// the error travels in a dead letter.
		name := strings.TrimPrefix(msg, "json: unknown field ")
		if unq, uerr := strconv.Unquote(name); uerr == nil {
			name = Clip(unq, 40)
		} else {
			name = Shorten(name, 42)
		}
		return fmt.Errorf("unknown field %s (allowed: pair, interval, start, end, id, trades)", name)
	}
	if errors.Is(err, errEOF) || err.Error() == "EOF" {
		return errors.New("empty message: want a JSON object")
	}
	return err
}

var errEOF = errors.New("EOF")
