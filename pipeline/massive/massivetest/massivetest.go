// Package massivetest is an in-process fake of Massive.com's aggregates API
// for tests: /v2/aggs/ticker/{T}/range/1/day/{from}/{to} and
// /v2/aggs/grouped/locale/{us|global}/market/{stocks|crypto}/{date},
// answering with the bodies and quirks of the real API
// (shared/fixtures/massive, copies in testdata/):
//   - range bars carry t = 00:00 New York of the date in milliseconds,
//     grouped bars t = 16:00 New York; keys in the wire order of the
//     captured compact answer (v, vw, o, c, h, l, t, n), vw and n left out
//     when a bar has none;
//   - with a page size, next_url (on the fake's own host, without the key)
//     carries a cursor and a from rewritten to the next bar's milliseconds;
//   - no bars answers resultsCount 0 and no results key, as the AAMC capture;
//     a grouped date without bars (weekend, holiday) answers the same way;
//   - a missing key answers 401 "API Key was not provided", a wrong one 401
//     "Unknown API Key"; Throttle makes the next calls answer 429 with the
//     captured body; Forbid answers 403 NOT_AUTHORIZED for a ticker or for
//     grouped calls; SetStatus answers DELAYED instead of OK.
package massivetest

import (
	"crypto/rand"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/feefifofunds/feefifofunds/internal/apitest"
	"github.com/feefifofunds/feefifofunds/pipeline/massive"
)

//go:embed testdata/*.json
var fixtures embed.FS

var testdata = apitest.NewFixtures(fixtures, "massivetest")

// Fixture is one of the captured bodies in testdata/.
func Fixture(name string) []byte { return testdata.Body(name) }

// Bar is a daily bar of one ticker on one New York date.
type Bar struct {
	Date           string // YYYY-MM-DD
	O, H, L, C, V  float64
	VW             *float64
	N              *int64
	rangeT, groupT int64
}

// Call is one request the fake received (the key is not recorded;
// KeyInHeader: it came as Authorization: Bearer).
type Call = apitest.Call

// Server is the fake; its URL is the client's base URL.
type Server struct {
	*apitest.Fake

	// under the Fake's lock
	bars      map[string]map[string]Bar // ticker → date → bar
	pageSize  int
	forbidden map[string]bool // ticker, or "grouped"
	status    string
}

const jsonType = "application/json"

// New starts a fake that accepts key; it is closed when the test ends.
func New(t testing.TB, key string) *Server {
	s := &Server{bars: map[string]map[string]Bar{}, forbidden: map[string]bool{}, status: "OK"}
	api := apitest.API{
		Param: "apiKey", Header: "Authorization", Prefix: "Bearer ",
		// The captured body's HTTP status is unconfirmed (400 or 401).
		NoKey:     apitest.Answer{Status: http.StatusUnauthorized, ContentType: jsonType, Body: Fixture("error_api_key_not_provided.json")},
		WrongKey:  apitest.Answer{Status: http.StatusUnauthorized, ContentType: jsonType, Body: Fixture("error_401_unknown_api_key.json")},
		Throttled: apitest.Answer{Status: http.StatusTooManyRequests, ContentType: jsonType, Body: Fixture("error_429.json")},
	}
	s.Fake = apitest.StartFake(t, key, api, func(r *http.Request) (int, string, []byte) {
		status, body := s.answer(r)
		return status, jsonType, body
	})
	return s
}

// Add stores bars for ticker.
func (s *Server) Add(ticker string, bars ...Bar) {
	s.Locked(func() {
		m := s.bars[ticker]
		if m == nil {
			m = map[string]Bar{}
			s.bars[ticker] = m
		}
		for _, b := range bars {
			d, err := time.ParseInLocation(time.DateOnly, b.Date, massive.NewYork)
			if err != nil {
				panic(fmt.Sprintf("massivetest: bar date %q: %v", b.Date, err))
			}
			b.rangeT = d.UnixMilli()
			b.groupT = d.Add(16 * time.Hour).UnixMilli()
			m[b.Date] = b
		}
	})
}

// LoadFixture stores the bars of a captured range or grouped answer
// (testdata/name), by the New York date of each t.
func (s *Server) LoadFixture(name string) {
	var body struct {
		Ticker  string `json:"ticker"`
		Results []struct {
			T  string   `json:"T"`
			O  float64  `json:"o"`
			H  float64  `json:"h"`
			L  float64  `json:"l"`
			C  float64  `json:"c"`
			V  float64  `json:"v"`
			VW *float64 `json:"vw"`
			Ts int64    `json:"t"`
			N  *int64   `json:"n"`
		} `json:"results"`
	}
	testdata.Decode(name, &body)
	for _, r := range body.Results {
		ticker := r.T
		if ticker == "" {
			ticker = body.Ticker
		}
		s.Add(ticker, Bar{Date: time.UnixMilli(r.Ts).In(massive.NewYork).Format(time.DateOnly),
			O: r.O, H: r.H, L: r.L, C: r.C, V: r.V, VW: r.VW, N: r.N})
	}
}

// SetPageSize makes range answers return at most n bars and a next_url.
func (s *Server) SetPageSize(n int) { s.Locked(func() { s.pageSize = n }) }

// Forbid makes calls for ticker (or "grouped" for grouped calls) answer 403.
func (s *Server) Forbid(ticker string) { s.Locked(func() { s.forbidden[ticker] = true }) }

// SetStatus sets the status of successful answers (OK or DELAYED).
func (s *Server) SetStatus(st string) { s.Locked(func() { s.status = st }) }

// answer is a call with the key, not throttled.
func (s *Server) answer(r *http.Request) (int, []byte) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(parts) == 9 && parts[0] == "v2" && parts[1] == "aggs" && parts[2] == "ticker" && parts[4] == "range":
		if parts[5] != "1" || parts[6] != "day" {
			return errorBody(http.StatusBadRequest, "massivetest serves 1/day bars only")
		}
		return s.rangeBars(parts[3], parts[7], parts[8], r.URL.Query())
	case len(parts) == 8 && parts[0] == "v2" && parts[2] == "grouped" && parts[3] == "locale" && parts[5] == "market":
		return s.grouped(parts[4], parts[6], parts[7])
	}
	return errorBody(http.StatusNotFound, "404 page not found")
}

// wireBar is a bar in the captured compact answer's key order.
type wireBar struct {
	T  string   `json:"T,omitempty"`
	V  float64  `json:"v"`
	VW *float64 `json:"vw,omitempty"`
	O  float64  `json:"o"`
	C  float64  `json:"c"`
	H  float64  `json:"h"`
	L  float64  `json:"l"`
	Ts int64    `json:"t"`
	N  *int64   `json:"n,omitempty"`
}

type wireAnswer struct {
	Ticker       string     `json:"ticker,omitempty"`
	QueryCount   int        `json:"queryCount"`
	ResultsCount int        `json:"resultsCount"`
	Adjusted     bool       `json:"adjusted"`
	Results      *[]wireBar `json:"results,omitempty"`
	Status       string     `json:"status"`
	RequestID    string     `json:"request_id"`
	Count        int        `json:"count,omitempty"`
	NextURL      string     `json:"next_url,omitempty"`
}

func (s *Server) rangeBars(ticker, from, to string, q url.Values) (int, []byte) {
	if s.forbidden[ticker] {
		return http.StatusForbidden, Fixture("error_403_not_authorized_massive.json")
	}
	lo, err1 := parseBound(from, false)
	hi, err2 := parseBound(to, true)
	if err1 != nil || err2 != nil {
		return errorBody(http.StatusBadRequest, "Could not parse the time parameter: 'from'. Use YYYY-MM-DD or Unix MS Timestamps")
	}
	var all []Bar
	for _, b := range s.bars[ticker] {
		if b.rangeT >= lo && b.rangeT <= hi {
			all = append(all, b)
		}
	}
	slices.SortFunc(all, func(a, b Bar) int { return int(a.rangeT - b.rangeT) })
	if cur := q.Get("cursor"); cur != "" {
		if _, err := base64.RawURLEncoding.DecodeString(cur); err != nil {
			return http.StatusBadRequest, []byte(`{"status":"ERROR","request_id":"` + requestID() + `","error":"Failed to parse query parameters from URL: invalid cursor"}`)
		}
	}
	ans := wireAnswer{Ticker: ticker, Adjusted: true, Status: s.status, RequestID: requestID()}
	page := all
	if s.pageSize > 0 && len(all) > s.pageSize {
		page = all[:s.pageSize]
		nextFrom := all[s.pageSize].rangeT
		cursor := base64.RawURLEncoding.EncodeToString([]byte("limit=" + strconv.Itoa(s.pageSize) + "&sort=asc"))
		ans.NextURL = fmt.Sprintf("%s/v2/aggs/ticker/%s/range/1/day/%d/%s?cursor=%s", s.URL, ticker, nextFrom, to, cursor)
	}
	return http.StatusOK, render(ans, page, false)
}

func (s *Server) grouped(locale, market, date string) (int, []byte) {
	if (locale != "us" || market != "stocks") && (locale != "global" || market != "crypto") {
		return errorBody(http.StatusNotFound, "404 page not found")
	}
	if s.forbidden["grouped"] {
		return http.StatusForbidden, Fixture("error_403_not_authorized_massive.json")
	}
	if _, err := time.Parse(time.DateOnly, date); err != nil {
		return errorBody(http.StatusBadRequest, "Could not parse the date parameter. Use YYYY-MM-DD")
	}
	var page []Bar
	for ticker, m := range s.bars {
		if b, ok := m[date]; ok {
			b.Date = ticker // carried to render as T
			page = append(page, b)
		}
	}
	slices.SortFunc(page, func(a, b Bar) int { return strings.Compare(a.Date, b.Date) })
	return http.StatusOK, render(wireAnswer{Adjusted: true, Status: s.status, RequestID: requestID()}, page, true)
}

func render(ans wireAnswer, bars []Bar, grouped bool) []byte {
	ans.QueryCount, ans.ResultsCount = len(bars), len(bars)
	if len(bars) > 0 {
		rs := make([]wireBar, len(bars))
		for i, b := range bars {
			rs[i] = wireBar{V: b.V, VW: b.VW, O: b.O, C: b.C, H: b.H, L: b.L, Ts: b.rangeT, N: b.N}
			if grouped {
				rs[i].T, rs[i].Ts = b.Date, b.groupT
			}
		}
		ans.Results = &rs
		ans.Count = len(rs)
	}
	out, err := json.Marshal(ans)
	if err != nil {
		panic(err)
	}
	return out
}

func parseBound(s string, end bool) (int64, error) {
	if d, err := time.ParseInLocation(time.DateOnly, s, massive.NewYork); err == nil {
		if end {
			return d.AddDate(0, 0, 1).UnixMilli() - 1, nil
		}
		return d.UnixMilli(), nil
	}
	return strconv.ParseInt(s, 10, 64)
}

func errorBody(status int, msg string) (int, []byte) {
	b, _ := json.Marshal(map[string]string{"status": "ERROR", "request_id": requestID(), "error": msg})
	return status, b
}

func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
