package topology

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Streams returns the configuration of every stream the pipeline needs.
func Streams(o Options) []jetstream.StreamConfig {
	o = o.withDefaults()
	return []jetstream.StreamConfig{
		{
			Name:        StreamFiles,
			Description: "Accepted files waiting for a parser (one FileEvent each; bytes in the FILEDATA object store)",
			Subjects:    []string{SubjectFiles},
			Retention:   jetstream.WorkQueuePolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    o.Replicas,
			Duplicates:  o.DuplicateWindow,
			Discard:     jetstream.DiscardOld,
		},
		{
			Name:        StreamCandles,
			Description: "Candle batches on candles.<source>.<pair>.<interval>; kept for replay",
			Subjects:    []string{SubjectCandles},
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			Compression: o.compression(),
			Replicas:    o.Replicas,
			Duplicates:  o.DuplicateWindow,
			MaxAge:      o.CandlesMaxAge,
			MaxBytes:    orUnlimited(o.CandlesMaxBytes),
			MaxMsgSize:  o.MaxMsgSize,
			Discard:     jetstream.DiscardOld,
		},
		{
			Name:        StreamFills,
			Description: "Fill requests on fills.<source> (JSON, see schemas/fill_request.schema.json)",
			Subjects:    []string{SubjectFills},
			Retention:   jetstream.WorkQueuePolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    o.Replicas,
			Duplicates:  o.DuplicateWindow,
			Discard:     jetstream.DiscardOld,
		},
		{
			Name:        StreamProgress,
			Description: "Per-file progress reports on progress.file.<file_id>",
			Subjects:    []string{SubjectProgress},
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    o.Replicas,
			MaxAge:      o.ProgressMaxAge,
			Duplicates:  o.DuplicateWindow,
			Discard:     jetstream.DiscardOld,
		},
		{
			Name:        StreamDLQ,
			Description: "Dead letters on dlq.<stage>, with Fff-* headers naming the reason and the original message",
			Subjects:    []string{SubjectDLQ},
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    o.Replicas,
			Discard:     jetstream.DiscardOld,
		},
		{
			Name:        StreamScanner,
			Description: "Gap scanner job reports on gapscanner.<kind>.<job>: one per fill round (the old backfill task's summary), cleanup, completeness and stale check",
			Subjects:    []string{SubjectScanner},
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    o.Replicas,
			MaxAge:      o.ScannerMaxAge,
			Duplicates:  o.DuplicateWindow,
			Discard:     jetstream.DiscardOld,
		},
	}
}

func orUnlimited(n int64) int64 {
	if n <= 0 {
		return -1
	}
	return n
}

// Ensure creates every stream and bucket that is missing. An existing stream
// whose fixed properties differ from what the pipeline needs is an error that
// names the field; the stream is left alone.
func Ensure(ctx context.Context, js jetstream.JetStream, o Options) error {
	o = o.withDefaults()
	for _, want := range Streams(o) {
		if err := ensureStream(ctx, js, want, o); err != nil {
			return err
		}
	}
	if err := ensureBuckets(ctx, js, o); err != nil {
		return err
	}
	return nil
}

func ensureStream(ctx context.Context, js jetstream.JetStream, want jetstream.StreamConfig, o Options) error {
	s, err := js.Stream(ctx, want.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		if _, err := js.CreateStream(ctx, want); err != nil {
			if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
				// Another service created it between our look and our create.
				return ensureStream(ctx, js, want, o)
			}
			return fmt.Errorf("create stream %s: %w", want.Name, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("look up stream %s: %w", want.Name, err)
	}
	have := s.CachedInfo().Config
	if err := StreamConflict(have, want); err != nil {
		return err
	}
	if want.Name == StreamCandles {
		if err := ensureCompression(ctx, js, want.Name, o); err != nil {
			return err
		}
	}
	// Limits the operator set explicitly are applied to an existing CANDLES
	// stream; otherwise whatever is there stands.
	if want.Name == StreamCandles && ((o.CandlesMaxAge > 0 && have.MaxAge != want.MaxAge) ||
		(o.CandlesMaxBytes > 0 && have.MaxBytes != want.MaxBytes)) {
		upd := have
		upd.Compression = want.Compression
		if o.CandlesMaxAge > 0 {
			upd.MaxAge = want.MaxAge
		}
		if o.CandlesMaxBytes > 0 {
			upd.MaxBytes = want.MaxBytes
		}
		if _, err := js.UpdateStream(ctx, upd); err != nil {
			return fmt.Errorf("update limits of stream %s: %w", want.Name, err)
		}
	}
	return nil
}

// StreamConflict reports the first fixed property of an existing stream that
// differs from what the pipeline needs.
func StreamConflict(have, want jetstream.StreamConfig) error {
	mismatch := func(field string, h, w any) error {
		return fmt.Errorf("stream %s exists with %s=%v but this pipeline needs %s=%v; "+
			"it was not changed: fix or delete it by hand (nats stream info %s)",
			want.Name, field, h, field, w, want.Name)
	}
	if have.Retention != want.Retention {
		return mismatch("retention", have.Retention, want.Retention)
	}
	if have.Storage != want.Storage {
		return mismatch("storage", have.Storage, want.Storage)
	}
	for _, subj := range want.Subjects {
		if !slices.Contains(have.Subjects, subj) {
			return mismatch("subjects", have.Subjects, want.Subjects)
		}
	}
	if have.Discard != want.Discard {
		return mismatch("discard", have.Discard, want.Discard)
	}
	if want.MaxMsgSize > 0 && have.MaxMsgSize > 0 && have.MaxMsgSize < want.MaxMsgSize {
		return mismatch("max_msg_size", have.MaxMsgSize, want.MaxMsgSize)
	}
	return nil
}

func ensureBuckets(ctx context.Context, js jetstream.JetStream, o Options) error {
	kvs := []jetstream.KeyValueConfig{
		{Bucket: BucketLedger, Description: "File ledger: one entry per file content hash", History: 5, Storage: jetstream.FileStorage, Replicas: o.Replicas},
		{Bucket: BucketAssets, Description: "Asset registry: one asset per ticker", History: 5, Storage: jetstream.FileStorage, Replicas: o.Replicas},
		{Bucket: BucketGaps, Description: "Gap records: one per series and first missing candle", History: 10, Storage: jetstream.FileStorage, Replicas: o.Replicas},
	}
	for _, cfg := range kvs {
		if _, err := js.KeyValue(ctx, cfg.Bucket); err == nil {
			continue
		} else if !errors.Is(err, jetstream.ErrBucketNotFound) {
			return fmt.Errorf("look up bucket %s: %w", cfg.Bucket, err)
		}
		if _, err := js.CreateKeyValue(ctx, cfg); err != nil && !errors.Is(err, jetstream.ErrBucketExists) {
			return fmt.Errorf("create bucket %s: %w", cfg.Bucket, err)
		}
	}
	if _, err := js.ObjectStore(ctx, BucketFileData); err == nil {
		return ensureCompression(ctx, js, "OBJ_"+BucketFileData, o)
	} else if !errors.Is(err, jetstream.ErrBucketNotFound) {
		return fmt.Errorf("look up object store %s: %w", BucketFileData, err)
	}
	_, err := js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      BucketFileData,
		Description: "Bytes of accepted files, keyed by content hash",
		Storage:     jetstream.FileStorage,
		Replicas:    o.Replicas,
		Compression: o.Compress,
	})
	if err != nil && !errors.Is(err, jetstream.ErrBucketExists) {
		return fmt.Errorf("create object store %s: %w", BucketFileData, err)
	}
	return nil
}

func (o Options) compression() jetstream.StoreCompression {
	if o.Compress {
		return jetstream.S2Compression
	}
	return jetstream.NoCompression
}

// ensureCompression brings an existing stream to the compression asked for;
// streams made before the setting existed were compressed.
func ensureCompression(ctx context.Context, js jetstream.JetStream, name string, o Options) error {
	s, err := js.Stream(ctx, name)
	if err != nil {
		return fmt.Errorf("look up stream %s: %w", name, err)
	}
	cfg := s.CachedInfo().Config
	if cfg.Compression == o.compression() {
		return nil
	}
	cfg.Compression = o.compression()
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		return fmt.Errorf("set compression of stream %s to %s: %w", name, cfg.Compression, err)
	}
	return nil
}

// WriterAckWait is the writer consumer's default AckWait.
const WriterAckWait = 30 * time.Second

// Consumer configurations. AckWait is short and long work sends InProgress,
// so a crashed worker's messages come back quickly. Every consumer acks
// explicitly and starts at the beginning of its stream.
func consumer(durable, description, filter string, ackWait time.Duration, maxDeliver, maxAckPending int) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       durable,
		Description:   description,
		FilterSubject: filter,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxDeliver:    maxDeliver,
		MaxAckPending: maxAckPending,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
}

// ParserConsumer: parsers are competing consumers of accepted files.
func ParserConsumer() jetstream.ConsumerConfig {
	return consumer(ConsumerParser, "Parsers: competing consumers of accepted files", SubjectFiles, 30*time.Second, 5, 64)
}

// WriterConsumer reads every candle batch. Writers share it.
//
// MaxDeliver is unlimited: every delivery that fails is a transient one
// (QuestDB down, a report not stored, a writer stopped while holding the
// batch), and poison batches are dead-lettered by the writer itself
// (undecodable, or refused by QuestDB). A limit would make JetStream stop
// delivering a batch silently, losing its rows.
//
// AckWait (default 30 s) is also how long a delivery lost in flight (a
// connection or the consumer's leader gone) waits to be made again.
func WriterConsumer(maxAckPending int, ackWait time.Duration) jetstream.ConsumerConfig {
	if maxAckPending <= 0 {
		maxAckPending = 1024
	}
	if ackWait <= 0 {
		ackWait = WriterAckWait
	}
	return consumer(ConsumerWriter, "Writers: competing consumers committing candle batches to QuestDB", SubjectCandles,
		ackWait, -1, maxAckPending)
}

// FetcherConsumer reads fill requests for one exchange. MaxDeliver is
// unlimited, as for the writer: bad requests are dead-lettered by the
// fetcher, the exchange's failures recorded on the gap; what is retried
// (NATS trouble, shutdown) must not be dropped silently.
func FetcherConsumer(source string) jetstream.ConsumerConfig {
	return consumer("fetcher-"+source, "Fetchers: fill requests for "+source, FillSubject(source), 60*time.Second, -1, 16)
}

// ProgressConsumer is the watcher's view of per-file progress. MaxDeliver is
// unlimited: a report is only handed back when the ledger write failed, and
// malformed ones are dead-lettered; dropping one would leave its file
// waiting for ever.
func ProgressConsumer() jetstream.ConsumerConfig {
	return consumer(ConsumerProgress, "Watcher: per-file progress folded into the LEDGER bucket", SubjectProgress, 30*time.Second, -1, 4096)
}

// EnsureConsumer creates a durable consumer or updates its tunables. An
// existing consumer with a different filter, ack or deliver policy is an
// error naming the field.
func EnsureConsumer(ctx context.Context, js jetstream.JetStream, stream string, want jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	c, err := js.Consumer(ctx, stream, want.Durable)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		c, err = js.CreateConsumer(ctx, stream, want)
		if errors.Is(err, jetstream.ErrConsumerExists) {
			return EnsureConsumer(ctx, js, stream, want)
		}
		if err != nil {
			return nil, fmt.Errorf("create consumer %s on %s: %w", want.Durable, stream, err)
		}
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up consumer %s on %s: %w", want.Durable, stream, err)
	}
	have := c.CachedInfo().Config
	mismatch := func(field string, h, w any) error {
		return fmt.Errorf("%w: consumer %s on stream %s exists with %s=%v but this pipeline needs %s=%v; "+
			"it was not changed: delete it by hand (nats consumer rm %s %s)",
			ErrConsumerConflict, want.Durable, stream, field, h, field, w, stream, want.Durable)
	}
	switch {
	case have.FilterSubject != want.FilterSubject:
		return nil, mismatch("filter_subject", have.FilterSubject, want.FilterSubject)
	case have.AckPolicy != want.AckPolicy:
		return nil, mismatch("ack_policy", have.AckPolicy, want.AckPolicy)
	case have.DeliverPolicy != want.DeliverPolicy:
		return nil, mismatch("deliver_policy", have.DeliverPolicy, want.DeliverPolicy)
	}
	if have.AckWait == want.AckWait && have.MaxDeliver == want.MaxDeliver && have.MaxAckPending == want.MaxAckPending {
		return c, nil
	}
	c, err = js.UpdateConsumer(ctx, stream, want)
	if err != nil {
		return nil, fmt.Errorf("update consumer %s on %s: %w", want.Durable, stream, err)
	}
	return c, nil
}
