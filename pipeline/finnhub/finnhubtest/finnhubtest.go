// Package finnhubtest is an in-process fake of Finnhub's candle endpoints
// for tests: /api/v1/stock/candle and /api/v1/crypto/candle, answering with
// the real bodies and quirks (shared/fixtures/finnhub, copies in testdata/):
//   - parallel arrays in Finnhub's alphabetical key order c, h, l, o, s, t,
//     v; t in unix seconds, 00:00 UTC of the date, or 13:30 UTC with
//     SetOldTimestamps (the convention before mid 2021);
//   - {"s":"no_data"} when no candle is in from..to or the symbol is unknown;
//   - an empty token answers 429 with the captured plain text, a wrong one
//     401 {"error":"Invalid API key."}; Throttle makes the next calls answer
//     429 {"error":"API limit reached..."}; Forbid answers 403 "You don't
//     have access to this resource." as a plan without candles does.
package finnhubtest

import (
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/feefifofunds/feefifofunds/internal/apitest"
	"github.com/feefifofunds/feefifofunds/pipeline/finnhub"
)

//go:embed testdata/*
var fixtures embed.FS

var testdata = apitest.NewFixtures(fixtures, "finnhubtest")

// Fixture is one of the captured bodies in testdata/.
func Fixture(name string) []byte { return testdata.Body(name) }

// Candle is a daily candle of one symbol on one date.
type Candle struct {
	Date          string // YYYY-MM-DD
	O, H, L, C, V float64
}

// Call is one request the fake received (the token is not recorded;
// KeyInHeader: it came as X-Finnhub-Token).
type Call = apitest.Call

// Server is the fake; URL + "/api/v1" is the client's base URL.
type Server struct {
	*apitest.Fake

	// under the Fake's lock
	candles   map[string]map[string]Candle // symbol → date → candle
	oldTimes  bool
	forbidden bool
}

const jsonType = "application/json; charset=utf-8"

// New starts a fake that accepts key; it is closed when the test ends.
func New(t testing.TB, key string) *Server {
	s := &Server{candles: map[string]map[string]Candle{}}
	api := apitest.API{
		Param: "token", Header: "X-Finnhub-Token",
		NoKey:     apitest.Answer{Status: http.StatusTooManyRequests, ContentType: "text/plain; charset=utf-8", Body: Fixture("error_429_empty_token.txt")},
		WrongKey:  apitest.Answer{Status: http.StatusUnauthorized, ContentType: jsonType, Body: Fixture("error_401_invalid_api_key.json")},
		Throttled: apitest.Answer{Status: http.StatusTooManyRequests, ContentType: jsonType, Body: Fixture("error_429.json")},
	}
	s.Fake = apitest.StartFake(t, key, api, s.answer)
	return s
}

// BaseURL is what the client is pointed at.
func (s *Server) BaseURL() string { return s.URL + "/api/v1" }

// Add stores candles for symbol.
func (s *Server) Add(symbol string, cs ...Candle) {
	s.Locked(func() {
		m := s.candles[symbol]
		if m == nil {
			m = map[string]Candle{}
			s.candles[symbol] = m
		}
		for _, c := range cs {
			if _, err := time.Parse(time.DateOnly, c.Date); err != nil {
				panic(fmt.Sprintf("finnhubtest: candle date %q: %v", c.Date, err))
			}
			m[c.Date] = c
		}
	})
}

// LoadFixture stores the candles of a captured answer (testdata/name)
// under symbol, by the UTC date of each t.
func (s *Server) LoadFixture(symbol, name string) {
	var body struct {
		C, H, L, O, V []float64
		T             []int64
	}
	testdata.Decode(name, &body)
	for i, t := range body.T {
		s.Add(symbol, Candle{Date: time.Unix(t, 0).UTC().Format(time.DateOnly),
			O: body.O[i], H: body.H[i], L: body.L[i], C: body.C[i], V: body.V[i]})
	}
}

// SetOldTimestamps answers daily t at 13:30 UTC, as Finnhub did before 2021.
func (s *Server) SetOldTimestamps(on bool) { s.Locked(func() { s.oldTimes = on }) }

// Forbid makes every candle call answer 403, as on a plan without candles.
func (s *Server) Forbid(on bool) { s.Locked(func() { s.forbidden = on }) }

// answer is a call with the token, not throttled.
func (s *Server) answer(r *http.Request) (int, string, []byte) {
	switch {
	case r.URL.Path != "/api/v1/stock/candle" && r.URL.Path != "/api/v1/crypto/candle":
		return http.StatusNotFound, "text/plain; charset=utf-8", []byte("404 page not found\n")
	case s.forbidden:
		return http.StatusForbidden, jsonType, Fixture("error_403_no_access.json")
	}
	q := r.URL.Query()
	from, err1 := strconv.ParseInt(q.Get("from"), 10, 64)
	to, err2 := strconv.ParseInt(q.Get("to"), 10, 64)
	if err1 != nil || err2 != nil || q.Get("symbol") == "" {
		return http.StatusUnprocessableEntity, jsonType, []byte(`{"error":"Wrong resolution, from or to parameter."}`)
	}
	if q.Get("resolution") != "D" {
		return http.StatusUnprocessableEntity, jsonType, []byte(`{"error":"finnhubtest serves resolution D only"}`)
	}
	var rows []Candle
	for _, c := range s.candles[q.Get("symbol")] {
		d, _ := time.Parse(time.DateOnly, c.Date)
		if d.Unix() >= from && d.Unix() <= to {
			rows = append(rows, c)
		}
	}
	if len(rows) == 0 {
		return http.StatusOK, jsonType, Fixture("no_data.json")
	}
	slices.SortFunc(rows, func(a, b Candle) int {
		if a.Date < b.Date {
			return -1
		}
		return 1
	})
	var body finnhub.Candles // the wire shape, keys in Finnhub's order
	body.S = "ok"
	for _, c := range rows {
		d, _ := time.Parse(time.DateOnly, c.Date)
		if s.oldTimes {
			d = d.Add(13*time.Hour + 30*time.Minute)
		}
		body.C, body.H, body.L, body.O = append(body.C, c.C), append(body.H, c.H), append(body.L, c.L), append(body.O, c.O)
		body.T, body.V = append(body.T, d.Unix()), append(body.V, c.V)
	}
	out, _ := json.Marshal(body)
	return http.StatusOK, jsonType, out
}
