package parser

import (
	"bytes"
	"fmt"
	"time"
)

// ContentError means the bytes are not CSV text at all (compressed, an
// archive): no row can be read, and the file is rejected with Reason. Next
// returns it before any row.
type ContentError struct{ Reason string }

func (e *ContentError) Error() string { return e.Reason }

// sniff tells bytes that are not CSV text by their first bytes, which is
// what a user who renamed a download needs to hear instead of a bad-row
// count.
func sniff(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return "this is gzip (the file starts with bytes 1f 8b), not CSV text: decompress it first (gunzip), or put the CSV in a .zip"
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return "this is a zip archive, not CSV text: name it .zip and it is read member by member"
	case bytes.HasPrefix(head, []byte("\xfd7zXZ")), bytes.HasPrefix(head, []byte("BZh")), bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return "this is compressed (xz, bzip2 or zstd), not CSV text: decompress it first"
	}
	return ""
}

// msHint says when an open time too late to be seconds reads as a sane
// time in milliseconds (1736496000000 is 2025-01-10T08:00:00Z): Kraken's
// files count seconds, other exports often count milliseconds.
func (r *Reader) msHint(t int64) string {
	if s := t / 1000; s >= r.minTime && s <= r.maxTime {
		return fmt.Sprintf("; it looks like milliseconds (%s): open times must be unix seconds",
			time.UnixMilli(t).UTC().Format(time.RFC3339))
	}
	return ""
}
