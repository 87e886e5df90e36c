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
	return fmt.Sprintf("%q… (%d bytes)", s[:cutAt(s, n)], len(s))
}

// Shorten is Clip without the quotes, for values that read as themselves
// (numbers).
func Shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("%s… (%d bytes)", s[:cutAt(s, n)], len(s))
}

// cutAt is the largest cut ≤ n that does not split a UTF-8 sequence.
func cutAt(s string, n int) int {
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return n
}
