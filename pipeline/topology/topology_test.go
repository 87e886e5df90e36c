package topology_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// ctxT is the context of the package's tests: 30 s is ample for topology
// calls on an embedded server.
func ctxT(t *testing.T) context.Context {
	return testenv.Context(t, 30*time.Second)
}

func streamConfig(t *testing.T, js jetstream.JetStream, name string) jetstream.StreamConfig {
	t.Helper()
	s, err := js.Stream(ctxT(t), name)
	if err != nil {
		t.Fatalf("stream %s: %v", name, err)
	}
	return s.CachedInfo().Config
}

func TestEnsureCreatesEverythingAndIsIdempotent(t *testing.T) {
	js := testenv.StartBareJetStream(t).JS
	ctx := ctxT(t)
	if err := topology.Ensure(ctx, js, topology.DefaultOptions()); err != nil {
		t.Fatalf("first Ensure: %v", err)
	}
	before := map[string]*jetstream.StreamInfo{}
	for _, want := range topology.Streams(topology.DefaultOptions()) {
		s, err := js.Stream(ctx, want.Name)
		if err != nil {
			t.Fatalf("stream %s missing after Ensure: %v", want.Name, err)
		}
		before[want.Name] = s.CachedInfo()
	}
	candles := before[topology.StreamCandles].Config
	if candles.Retention != jetstream.LimitsPolicy || candles.Compression != jetstream.NoCompression ||
		candles.MaxAge != 0 || candles.MaxBytes != -1 || !reflect.DeepEqual(candles.Subjects, []string{"candles.>"}) {
		t.Errorf("CANDLES config: %+v", candles)
	}
	for _, wq := range []string{topology.StreamFiles, topology.StreamFills} {
		if before[wq].Config.Retention != jetstream.WorkQueuePolicy {
			t.Errorf("%s retention %v, want work queue", wq, before[wq].Config.Retention)
		}
	}
	for _, b := range []string{topology.BucketLedger, topology.BucketAssets, topology.BucketGaps} {
		if _, err := js.KeyValue(ctx, b); err != nil {
			t.Errorf("KV bucket %s: %v", b, err)
		}
	}
	if _, err := js.ObjectStore(ctx, topology.BucketFileData); err != nil {
		t.Errorf("object store %s: %v", topology.BucketFileData, err)
	}

	// Some data, so "no-op" also means nothing was purged or recreated.
	if _, err := js.Publish(ctx, topology.CandleSubject("kraken", "XBTUSD", 60), []byte("x")); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := topology.Ensure(ctx, js, topology.DefaultOptions()); err != nil {
			t.Fatalf("Ensure again: %v", err)
		}
	}
	for name, info := range before {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		after := s.CachedInfo()
		if !reflect.DeepEqual(after.Config, info.Config) || !after.Created.Equal(info.Created) {
			t.Errorf("stream %s changed by a second Ensure:\nbefore %+v\nafter  %+v", name, info.Config, after.Config)
		}
	}
	if n := streamMsgs(t, js, topology.StreamCandles); n != 1 {
		t.Errorf("CANDLES has %d messages after Ensure again, want 1", n)
	}
}

func streamMsgs(t *testing.T, js jetstream.JetStream, name string) uint64 {
	t.Helper()
	s, err := js.Stream(ctxT(t), name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// S2 is off by default (docs/RELIABILITY.md) and an operator's choice
// either way is applied to streams that already exist, CANDLES and the
// FILEDATA object store alike.
func TestEnsureCompressionSetting(t *testing.T) {
	js := testenv.StartBareJetStream(t).JS
	ctx := ctxT(t)
	for _, step := range []struct {
		compress bool
		want     jetstream.StoreCompression
	}{
		{false, jetstream.NoCompression},
		{true, jetstream.S2Compression},
		{false, jetstream.NoCompression},
	} {
		o := topology.DefaultOptions()
		o.Compress = step.compress
		if err := topology.Ensure(ctx, js, o); err != nil {
			t.Fatalf("Ensure(compress=%v): %v", step.compress, err)
		}
		for _, name := range []string{topology.StreamCandles, "OBJ_" + topology.BucketFileData} {
			if got := streamConfig(t, js, name).Compression; got != step.want {
				t.Errorf("compress=%v: %s compression %v, want %v", step.compress, name, got, step.want)
			}
		}
	}
}

func TestEnsureRefusesConflictingStream(t *testing.T) {
	cases := []struct {
		name  string
		field string
		cfg   jetstream.StreamConfig
	}{
		{"work queue retention", "retention", jetstream.StreamConfig{Name: topology.StreamCandles, Subjects: []string{"candles.>"}, Retention: jetstream.WorkQueuePolicy}},
		{"narrower subjects", "subjects", jetstream.StreamConfig{Name: topology.StreamCandles, Subjects: []string{"candles.kraken.>"}}},
		{"memory storage", "storage", jetstream.StreamConfig{Name: topology.StreamCandles, Subjects: []string{"candles.>"}, Storage: jetstream.MemoryStorage}},
		{"discard new", "discard", jetstream.StreamConfig{Name: topology.StreamCandles, Subjects: []string{"candles.>"}, Discard: jetstream.DiscardNew}},
		{"small messages", "max_msg_size", jetstream.StreamConfig{Name: topology.StreamCandles, Subjects: []string{"candles.>"}, MaxMsgSize: 1 << 20}},
		{"files with limits retention", "retention", jetstream.StreamConfig{Name: topology.StreamFiles, Subjects: []string{"files.work"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			js := testenv.StartBareJetStream(t).JS
			ctx := ctxT(t)
			if _, err := js.CreateStream(ctx, c.cfg); err != nil {
				t.Fatalf("create by hand: %v", err)
			}
			before := streamConfig(t, js, c.cfg.Name)
			err := topology.Ensure(ctx, js, topology.DefaultOptions())
			if err == nil {
				t.Fatal("Ensure accepted a conflicting stream")
			}
			msg := err.Error()
			if !strings.Contains(msg, "stream "+c.cfg.Name) || !strings.Contains(msg, c.field+"=") || !strings.Contains(msg, "not changed") {
				t.Errorf("error does not name stream %s and field %s: %v", c.cfg.Name, c.field, err)
			}
			if after := streamConfig(t, js, c.cfg.Name); !reflect.DeepEqual(after, before) {
				t.Errorf("Ensure changed the stream:\nbefore %+v\nafter  %+v", before, after)
			}
			// Limits from flags must not sneak in either.
			o := topology.DefaultOptions()
			o.CandlesMaxAge = time.Hour
			if err := topology.Ensure(ctx, js, o); err == nil {
				t.Fatal("Ensure with limits accepted a conflicting stream")
			}
			if after := streamConfig(t, js, c.cfg.Name); !reflect.DeepEqual(after, before) {
				t.Errorf("Ensure with limits changed the stream:\nbefore %+v\nafter  %+v", before, after)
			}
		})
	}
}

func TestEnsureAcceptsCompatibleExtras(t *testing.T) {
	// An operator may widen a stream's subjects or raise its message size:
	// that is compatible and stays.
	js := testenv.StartBareJetStream(t).JS
	ctx := ctxT(t)
	cfg := jetstream.StreamConfig{Name: topology.StreamCandles, Subjects: []string{"candles.>", "legacy.candles.>"}, MaxMsgSize: 16 << 20}
	if _, err := js.CreateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if err := topology.Ensure(ctx, js, topology.DefaultOptions()); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	got := streamConfig(t, js, topology.StreamCandles)
	if len(got.Subjects) != 2 || got.MaxMsgSize != 16<<20 {
		t.Errorf("compatible settings were changed: %+v", got)
	}
}

func TestEnsureAppliesCandleLimits(t *testing.T) {
	js := testenv.StartJetStream(t).JS
	ctx := ctxT(t)
	o := topology.DefaultOptions()
	o.CandlesMaxAge = 30 * 24 * time.Hour
	o.CandlesMaxBytes = 10 << 30
	if err := topology.Ensure(ctx, js, o); err != nil {
		t.Fatalf("Ensure with limits: %v", err)
	}
	got := streamConfig(t, js, topology.StreamCandles)
	if got.MaxAge != o.CandlesMaxAge || got.MaxBytes != o.CandlesMaxBytes {
		t.Fatalf("CANDLES limits max_age=%v max_bytes=%d, want %v %d", got.MaxAge, got.MaxBytes, o.CandlesMaxAge, o.CandlesMaxBytes)
	}
	// A service started without the flags leaves the operator's limits alone.
	if err := topology.Ensure(ctx, js, topology.DefaultOptions()); err != nil {
		t.Fatal(err)
	}
	if again := streamConfig(t, js, topology.StreamCandles); again.MaxAge != o.CandlesMaxAge || again.MaxBytes != o.CandlesMaxBytes {
		t.Fatalf("Ensure without limits reset them: max_age=%v max_bytes=%d", again.MaxAge, again.MaxBytes)
	}
	// Only CANDLES gets them.
	if f := streamConfig(t, js, topology.StreamFiles); f.MaxAge != 0 {
		t.Errorf("FILES got max_age %v", f.MaxAge)
	}
	// A new limit replaces the old one.
	o.CandlesMaxAge = 7 * 24 * time.Hour
	if err := topology.Ensure(ctx, js, o); err != nil {
		t.Fatal(err)
	}
	if got := streamConfig(t, js, topology.StreamCandles); got.MaxAge != o.CandlesMaxAge {
		t.Fatalf("max_age %v, want %v", got.MaxAge, o.CandlesMaxAge)
	}
}

func TestEnsureConsumer(t *testing.T) {
	js := testenv.StartJetStream(t).JS
	ctx := ctxT(t)
	for _, c := range []struct {
		stream string
		cfg    jetstream.ConsumerConfig
	}{
		{topology.StreamFiles, topology.ParserConsumer()},
		{topology.StreamCandles, topology.WriterConsumer(0, 0)},
		{topology.StreamFills, topology.FetcherConsumer(topology.SourceKraken)},
		{topology.StreamProgress, topology.ProgressConsumer()},
	} {
		first, err := topology.EnsureConsumer(ctx, js, c.stream, c.cfg)
		if err != nil {
			t.Fatalf("EnsureConsumer %s: %v", c.cfg.Durable, err)
		}
		again, err := topology.EnsureConsumer(ctx, js, c.stream, c.cfg)
		if err != nil {
			t.Fatalf("EnsureConsumer %s again: %v", c.cfg.Durable, err)
		}
		a, b := first.CachedInfo(), again.CachedInfo()
		if !a.Created.Equal(b.Created) || !reflect.DeepEqual(a.Config, b.Config) {
			t.Errorf("%s changed by a second EnsureConsumer", c.cfg.Durable)
		}
		// Only the parser gives up (it dead-letters before its limit); the
		// others must never drop a message silently.
		wantLimited := c.cfg.Durable == topology.ConsumerParser
		if b.Config.AckPolicy != jetstream.AckExplicitPolicy || (b.Config.MaxDeliver > 0) != wantLimited || b.Config.MaxAckPending <= 0 {
			t.Errorf("%s: %+v", c.cfg.Durable, b.Config)
		}
	}
	if topology.FetcherConsumer(topology.SourceKraken).Durable != topology.ConsumerFetcher {
		t.Errorf("FetcherConsumer(kraken) is not named %s", topology.ConsumerFetcher)
	}

	// Tunables are updated in place.
	w := topology.WriterConsumer(64, 0)
	c, err := topology.EnsureConsumer(ctx, js, topology.StreamCandles, w)
	if err != nil {
		t.Fatalf("update max ack pending: %v", err)
	}
	if got := c.CachedInfo().Config.MaxAckPending; got != 64 {
		t.Errorf("max_ack_pending %d, want 64", got)
	}
}

func TestEnsureConsumerRefusesConflicts(t *testing.T) {
	js := testenv.StartJetStream(t).JS
	ctx := ctxT(t)
	byHand := topology.WriterConsumer(0, 0)
	byHand.FilterSubject = "candles.kraken.>"
	if _, err := js.CreateConsumer(ctx, topology.StreamCandles, byHand); err != nil {
		t.Fatal(err)
	}
	_, err := topology.EnsureConsumer(ctx, js, topology.StreamCandles, topology.WriterConsumer(0, 0))
	if err == nil || !strings.Contains(err.Error(), "filter_subject=candles.kraken.>") || !strings.Contains(err.Error(), "consumer writer") {
		t.Fatalf("conflicting filter: %v", err)
	}
	c, err := js.Consumer(ctx, topology.StreamCandles, topology.ConsumerWriter)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.CachedInfo().Config.FilterSubject; got != "candles.kraken.>" {
		t.Fatalf("EnsureConsumer changed the filter to %q", got)
	}

	byHand = topology.ProgressConsumer()
	byHand.DeliverPolicy = jetstream.DeliverNewPolicy
	if _, err := js.CreateConsumer(ctx, topology.StreamProgress, byHand); err != nil {
		t.Fatal(err)
	}
	if _, err := topology.EnsureConsumer(ctx, js, topology.StreamProgress, topology.ProgressConsumer()); err == nil || !strings.Contains(err.Error(), "deliver_policy") {
		t.Fatalf("conflicting deliver policy: %v", err)
	}
}

func TestStreamConflict(t *testing.T) {
	want := topology.Streams(topology.DefaultOptions())[1] // CANDLES
	if want.Name != topology.StreamCandles {
		t.Fatalf("Streams()[1] is %s", want.Name)
	}
	if err := topology.StreamConflict(want, want); err != nil {
		t.Fatalf("a stream conflicts with itself: %v", err)
	}
	have := want
	have.Retention = jetstream.InterestPolicy
	if err := topology.StreamConflict(have, want); err == nil || !strings.Contains(err.Error(), "retention=Interest") {
		t.Fatalf("interest retention: %v", err)
	}
}

func TestSubjects(t *testing.T) {
	subj := topology.CandleSubject("kraken", "XBTUSD", 60)
	if subj != "candles.kraken.XBTUSD.60" {
		t.Fatalf("CandleSubject = %q", subj)
	}
	src, pair, iv, err := topology.ParseCandleSubject(subj)
	if err != nil || src != "kraken" || pair != "XBTUSD" || iv != 60 {
		t.Fatalf("ParseCandleSubject = %q %q %d %v", src, pair, iv, err)
	}
	for _, bad := range []string{"candles.kraken.XBTUSD", "fills.kraken.XBTUSD.60", "candles.kraken.XBT.USD.60", "candles.kraken.XBTUSD.h1"} {
		if _, _, _, err := topology.ParseCandleSubject(bad); err == nil {
			t.Errorf("ParseCandleSubject(%q) accepted", bad)
		}
	}
	for _, c := range []struct {
		src, pair string
		iv        int
		want      string
	}{
		{"", "", 0, "candles.*.*.*"},
		{"kraken", "", 60, "candles.kraken.*.60"},
		{"kraken", "XBTUSD", 0, "candles.kraken.XBTUSD.*"},
	} {
		if got := topology.CandleFilter(c.src, c.pair, c.iv); got != c.want {
			t.Errorf("CandleFilter(%q,%q,%d) = %q, want %q", c.src, c.pair, c.iv, got, c.want)
		}
	}
	if topology.FillSubject("kraken") != "fills.kraken" || topology.ProgressSubject("ab") != "progress.file.ab" || topology.DLQSubject("writer") != "dlq.writer" {
		t.Fatal("subject helpers")
	}
	// Every helper's subject is captured by its stream.
	for subj, stream := range map[string]string{
		subj:                           topology.StreamCandles,
		topology.FillSubject("kraken"): topology.StreamFills,
		topology.ProgressSubject("ab"): topology.StreamProgress,
		topology.DLQSubject("writer"):  topology.StreamDLQ,
		topology.SubjectFiles:          topology.StreamFiles,
	} {
		found := false
		for _, s := range topology.Streams(topology.DefaultOptions()) {
			for _, pattern := range s.Subjects {
				if subjectMatches(pattern, subj) {
					if s.Name != stream {
						t.Errorf("%s is captured by %s, want %s", subj, s.Name, stream)
					}
					found = true
				}
			}
		}
		if !found {
			t.Errorf("%s is captured by no stream", subj)
		}
	}
}

func subjectMatches(pattern, subject string) bool {
	p, s := strings.Split(pattern, "."), strings.Split(subject, ".")
	for i, tok := range p {
		if tok == ">" {
			return len(s) > i
		}
		if i >= len(s) || (tok != "*" && tok != s[i]) {
			return false
		}
	}
	return len(p) == len(s)
}

// A stage that finds JetStream not ready for its consumer waits for it; a
// consumer that conflicts is an error at once (waiting would not fix it).
func TestWaitConsumer(t *testing.T) {
	js := testenv.StartBareJetStream(t).JS
	ctx := ctxT(t)
	got := make(chan error, 1)
	go func() {
		_, err := topology.WaitConsumer(ctx, js, topology.StreamCandles, topology.WriterConsumer(0, 0), testenv.Logger(t))
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("returned before its stream existed: %v", err)
	case <-time.After(600 * time.Millisecond): // the window in which it must keep waiting
	}
	if err := topology.Ensure(ctx, js, topology.DefaultOptions()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("once the stream exists: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still waiting 10 s after the stream was created")
	}

	byHand := topology.ProgressConsumer()
	byHand.DeliverPolicy = jetstream.DeliverNewPolicy
	if _, err := js.CreateConsumer(ctx, topology.StreamProgress, byHand); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := topology.WaitConsumer(ctx, js, topology.StreamProgress, topology.ProgressConsumer(), testenv.Logger(t))
	if !errors.Is(err, topology.ErrConsumerConflict) || !strings.Contains(err.Error(), "deliver_policy") {
		t.Fatalf("conflicting consumer: %v", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("a conflict took %s to report", time.Since(start))
	}
}
