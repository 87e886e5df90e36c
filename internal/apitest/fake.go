package apitest

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Call is one request a fake received. The key is not recorded: a fake
// keeps no secret.
type Call struct {
	Path string
	// Query is the request's query without the key.
	Query url.Values
	// KeyInHeader says the key came in the API's header (Authorization:
	// Bearer, X-Finnhub-Token), not in its query parameter.
	KeyInHeader bool
	Status      int
}

// Answer is a status, a Content-Type and a body.
type Answer struct {
	Status      int
	ContentType string
	Body        []byte
}

// API is what a fake's API does before it looks at a request: where it
// takes the key (in Header after Prefix, such as "Bearer ", else in the
// query parameter Param) and its captured answers to a call without the
// key, with another key, and to one the fake throttles.
type API struct {
	Param, Header, Prefix      string
	NoKey, WrongKey, Throttled Answer
}

// Fake is the part of a REST API's fake every API shares: the server, the
// key it accepts, throttling, the calls it received, and the one lock that
// answers and the fake's own setters take (Locked), so a test may change
// the fake while a client calls it.
type Fake struct {
	*httptest.Server
	Key string

	api      API
	answer   func(*http.Request) (status int, contentType string, body []byte)
	mu       sync.Mutex
	throttle int
	calls    []Call
}

// StartFake serves api with key until the test ends. A call with the key
// and not throttled is answered by answer, under the fake's lock.
func StartFake(t testing.TB, key string, api API, answer func(*http.Request) (status int, contentType string, body []byte)) *Fake {
	f := &Fake{Key: key, api: api, answer: answer}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

// Locked runs fn under the lock answers are made under.
func (f *Fake) Locked(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
}

// Throttle makes the next n calls answer API.Throttled.
func (f *Fake) Throttle(n int) { f.Locked(func() { f.throttle = n }) }

// Calls returns the requests received so far.
func (f *Fake) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key, inHeader, query := f.key(r)
	var a Answer
	switch {
	case key == "":
		a = f.api.NoKey
	case key != f.Key:
		a = f.api.WrongKey
	case f.throttle > 0:
		f.throttle--
		a = f.api.Throttled
	default:
		a.Status, a.ContentType, a.Body = f.answer(r)
	}
	f.calls = append(f.calls, Call{Path: r.URL.Path, Query: query, KeyInHeader: inHeader, Status: a.Status})
	w.Header().Set("Content-Type", a.ContentType)
	w.WriteHeader(a.Status)
	_, _ = w.Write(a.Body)
}

// key finds the key of r where the API accepts it: in its header, else in
// its query parameter; query is r's query without the key, for the call log.
func (f *Fake) key(r *http.Request) (key string, inHeader bool, query url.Values) {
	query = r.URL.Query()
	key = query.Get(f.api.Param)
	query.Del(f.api.Param)
	if h := r.Header.Get(f.api.Header); h != "" {
		if v, ok := strings.CutPrefix(h, f.api.Prefix); ok {
			key, inHeader = v, true
		}
	}
	return key, inHeader, query
}
