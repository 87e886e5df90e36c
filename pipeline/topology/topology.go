// Package topology declares every JetStream stream, consumer and bucket the
// pipeline uses, in one place, and creates them idempotently. Every service
// calls Ensure at start, so any of them can be the first one up.
package topology

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Streams.
const (
	// StreamFiles is the work queue of accepted files (one FileEvent each).
	StreamFiles   = "FILES"
	SubjectFiles  = "files.work"
	StreamCandles = "CANDLES"
	// SubjectCandles matches every candle batch: candles.<source>.<pair>.<interval>.
	SubjectCandles = "candles.>"
	StreamFills    = "FILLS"
	// SubjectFills matches every fill request: fills.<source>.
	SubjectFills   = "fills.>"
	StreamProgress = "PROGRESS"
	// SubjectProgress matches per-file progress: progress.file.<file_id>.
	SubjectProgress = "progress.>"
	StreamDLQ       = "DLQ"
	// SubjectDLQ matches dead letters: dlq.<stage>.
	SubjectDLQ = "dlq.>"
	// StreamScanner keeps what the gap scanner's scheduled jobs report:
	// gapscanner.<kind>.<job> (kind summary, cleanup, completeness, stale).
	StreamScanner  = "GAPSCANNER"
	SubjectScanner = "gapscanner.>"
)

// Buckets.
const (
	// BucketFileData is the object store holding the bytes of accepted files.
	BucketFileData = "FILEDATA"
	// BucketLedger is the file ledger: one LedgerEntry per file id.
	BucketLedger = "LEDGER"
	// BucketAssets is the asset registry: one Asset per ticker.
	BucketAssets = "ASSETS"
	// BucketGaps holds gap records: one GapRecord per GapKey.
	BucketGaps = "GAPS"
)

// Durable consumer names.
const (
	ConsumerParser   = "parser"
	ConsumerWriter   = "writer"
	ConsumerFetcher  = "fetcher-kraken"
	ConsumerProgress = "watcher-progress"
)

// SourceKraken is the only exchange so far.
const SourceKraken = "kraken"

// CandleSubject is where batches of one series go,
// e.g. candles.kraken.XBTUSD.60.
func CandleSubject(source, pair string, interval int) string {
	return "candles." + source + "." + pair + "." + strconv.Itoa(interval)
}

// ParseCandleSubject is the inverse of CandleSubject.
func ParseCandleSubject(subject string) (source, pair string, interval int, err error) {
	parts := strings.Split(subject, ".")
	if len(parts) != 4 || parts[0] != "candles" {
		return "", "", 0, fmt.Errorf("subject %q is not candles.<source>.<pair>.<interval>", subject)
	}
	interval, err = strconv.Atoi(parts[3])
	if err != nil {
		return "", "", 0, fmt.Errorf("subject %q: interval %q is not a number", subject, parts[3])
	}
	return parts[1], parts[2], interval, nil
}

// CandleFilter is a subject filter for replay: empty pair or zero interval
// means any.
func CandleFilter(source, pair string, interval int) string {
	if source == "" {
		source = "*"
	}
	if pair == "" {
		pair = "*"
	}
	iv := "*"
	if interval > 0 {
		iv = strconv.Itoa(interval)
	}
	return "candles." + source + "." + pair + "." + iv
}

// FillSubject is where fill requests for one exchange go, e.g. fills.kraken.
func FillSubject(source string) string { return "fills." + source }

// FillReportSubject carries the writer's FillReports for one exchange's
// fills, e.g. fillreports.kraken. Core NATS only: no stream captures it, a
// fetcher listens while it waits for its batches.
func FillReportSubject(source string) string { return "fillreports." + source }

// ProgressSubject carries the progress of one file.
func ProgressSubject(fileID string) string { return "progress.file." + fileID }

// ScannerSubject is where a gap scanner job reports, e.g.
// gapscanner.summary.fill-TIER1 for a fill round of the job fill-TIER1.
func ScannerSubject(kind, job string) string { return "gapscanner." + kind + "." + job }

// DLQSubject is where a stage dead-letters messages, e.g. dlq.writer.
func DLQSubject(stage string) string { return "dlq." + stage }

// Options are the tunable parts of the topology.
type Options struct {
	// CandlesMaxAge and CandlesMaxBytes bound the CANDLES stream; zero keeps
	// everything (the stream is the replay source). A non-zero value is
	// applied to an existing stream too.
	CandlesMaxAge   time.Duration
	CandlesMaxBytes int64
	// Replicas for every stream and bucket (1 on a single server, 3 on a cluster).
	Replicas int
	// DuplicateWindow for CANDLES and FILLS: how long a message id is remembered.
	DuplicateWindow time.Duration
	// ProgressMaxAge bounds the PROGRESS stream.
	ProgressMaxAge time.Duration
	// ScannerMaxAge bounds the GAPSCANNER stream (the job reports).
	ScannerMaxAge time.Duration
	// MaxMsgSize caps one message; batches stay well under it.
	MaxMsgSize int32
	// Compress stores CANDLES and FILEDATA S2-compressed. Off by default:
	// nats-server v2.15.2 reported "s2: corrupt/unsupported input" on
	// compressed streams after two nodes of a cluster were killed at once,
	// and never on uncompressed ones (docs/RELIABILITY.md). The setting is
	// applied to existing streams too (new blocks only).
	Compress bool
}

// DefaultOptions are what every service uses unless told otherwise.
func DefaultOptions() Options {
	return Options{
		Replicas:        1,
		DuplicateWindow: 10 * time.Minute,
		ProgressMaxAge:  7 * 24 * time.Hour,
		ScannerMaxAge:   90 * 24 * time.Hour,
		MaxMsgSize:      8 << 20,
	}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.Replicas <= 0 {
		o.Replicas = d.Replicas
	}
	if o.DuplicateWindow <= 0 {
		o.DuplicateWindow = d.DuplicateWindow
	}
	if o.ProgressMaxAge <= 0 {
		o.ProgressMaxAge = d.ProgressMaxAge
	}
	if o.ScannerMaxAge <= 0 {
		o.ScannerMaxAge = d.ScannerMaxAge
	}
	if o.MaxMsgSize <= 0 {
		o.MaxMsgSize = d.MaxMsgSize
	}
	return o
}
