package contract

import (
	"fmt"
	"unicode/utf8"
)

// Clip quotes s for an error, a log line or a report, cut to at most n bytes
// and saying how long it was: an echoed value must never be what makes a
// message too large to publish.
func Clip(s string, n int) string {
	if len(s) <= n {
		return fmt.Sprintf("%q", s)
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%q… (%d bytes)", s[:cut], len(s))
}
