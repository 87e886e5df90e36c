package apitest

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// Start serves h until the test ends.
func Start(t testing.TB, h http.HandlerFunc) *httptest.Server {
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

// Write answers with status, a Content-Type and body.
func Write(w http.ResponseWriter, status int, contentType string, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
