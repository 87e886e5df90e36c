package restapi

import (
	"bytes"
	"net/http"
	"strconv"
	"time"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

// Refusal is the part of an API error every source shares: the HTTP
// status, the API's own words, and the wait it asked for. A client's
// APIError embeds it and adds its own fields and Error text.
type Refusal struct {
	StatusCode int
	Message    string
	retryAfter time.Duration
}

// Refusal starts the error for an answer that is not a success, with the
// Retry-After (whole seconds) it carries; message is the API's words.
func (a *Answer) Refusal(message string) Refusal {
	r := Refusal{StatusCode: a.StatusCode, Message: message}
	if s, err := strconv.Atoi(a.Header.Get("Retry-After")); err == nil && s > 0 {
		r.retryAfter = time.Duration(s) * time.Second
	}
	return r
}

// Text is the body, trimmed and shortened, for an answer that is not the
// JSON the client expects (a proxy's page, a plain-text error).
func (a *Answer) Text() string {
	return contract.Shorten(string(bytes.TrimSpace(a.Body)), 200)
}

// Words is the API's message, or the status text when it sent none.
func (r Refusal) Words() string {
	if r.Message == "" {
		return http.StatusText(r.StatusCode)
	}
	return r.Message
}

// Temporary is true for throttling (429) and server trouble (5xx).
func (r Refusal) Temporary() bool {
	return r.StatusCode == http.StatusTooManyRequests || r.StatusCode >= 500
}

// RetryAfter is the Retry-After the API sent, if any.
func (r Refusal) RetryAfter() time.Duration { return r.retryAfter }
