package apitest

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// CallLog is the record of the calls a fake received, safe for concurrent
// use; C is the fake's own Call type.
type CallLog[C any] struct {
	mu    sync.Mutex
	calls []C
}

// Add records one call.
func (l *CallLog[C]) Add(c C) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, c)
}

// All returns the calls recorded so far.
func (l *CallLog[C]) All() []C {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls)
}

// Key finds the key of r where the API accepts it: in header (after
// prefix, such as "Bearer "), else in the query parameter param. query is
// r's query without the key, for the call log: a fake records no secret.
func Key(r *http.Request, param, header, prefix string) (key string, inHeader bool, query url.Values) {
	query = r.URL.Query()
	key = query.Get(param)
	query.Del(param)
	if h := r.Header.Get(header); h != "" {
		if v, ok := strings.CutPrefix(h, prefix); ok {
			key, inHeader = v, true
		}
	}
	return key, inHeader, query
}
