package jsplumb_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/jsplumb"
)

func stream(t *testing.T, js jetstream.JetStream, ackWait time.Duration) jetstream.Consumer {
	t.Helper()
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}}); err != nil {
		t.Fatalf("stream: %v", err)
	}
	c, err := js.CreateOrUpdateConsumer(ctx, "T", jetstream.ConsumerConfig{
		Durable: "c", AckPolicy: jetstream.AckExplicitPolicy, AckWait: ackWait, MaxDeliver: 10,
	})
	if err != nil {
		t.Fatalf("consumer: %v", err)
	}
	return c
}

// pullUntil runs Pull in the background and stops it at cleanup.
func pullUntil(t *testing.T, c jetstream.Consumer, h jsplumb.Handler, opts ...jsplumb.PullOption) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = jsplumb.Pull(ctx, c, h, append([]jsplumb.PullOption{jsplumb.WithFetchWait(100 * time.Millisecond)}, opts...)...)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("Pull did not return after its context ended")
		}
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func info(t *testing.T, c jetstream.Consumer) *jetstream.ConsumerInfo {
	t.Helper()
	i, err := c.Info(context.Background())
	if err != nil {
		t.Fatalf("consumer info: %v", err)
	}
	return i
}

func TestPullOutcomeDrivesSettlement(t *testing.T) {
	js := testenv.StartBareJetStream(t).JS
	c := stream(t, js, 30*time.Second)
	ctx := context.Background()
	type seen struct {
		subject   string
		delivered uint64
	}
	deliveries := make(chan seen, 100)
	var dead atomic.Value
	h := func(ctx context.Context, m jetstream.Msg) error {
		deliveries <- seen{m.Subject(), jsplumb.Delivered(m)}
		switch m.Subject() {
		case "t.ack":
			return nil
		case "t.retry":
			if jsplumb.Delivered(m) == 1 {
				return jsplumb.Retry(errors.New("later"), 50*time.Millisecond)
			}
			return nil
		case "t.plain":
			if jsplumb.Delivered(m) == 1 {
				return errors.New("unclassified: retried after the retry delay")
			}
			return nil
		case "t.term":
			return jsplumb.Term(errors.New("never"))
		case "t.dead":
			return jsplumb.DeadLetter(errors.New("bad input"))
		}
		return fmt.Errorf("unexpected %s", m.Subject())
	}
	dl := func(ctx context.Context, m jetstream.Msg, cause error) error {
		dead.Store(cause.Error())
		return m.Term()
	}
	pullUntil(t, c, h, jsplumb.WithDeadLetter(dl, 0),
		jsplumb.WithRetryDelay(func(jetstream.Msg, error) time.Duration { return 50 * time.Millisecond }))
	for _, s := range []string{"t.ack", "t.retry", "t.plain", "t.term", "t.dead"} {
		if _, err := js.Publish(ctx, s, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	counts := map[string]int{}
	want := map[string]int{"t.ack": 1, "t.retry": 2, "t.plain": 2, "t.term": 1, "t.dead": 1}
	waitFor(t, "every delivery", func() bool {
		for {
			select {
			case d := <-deliveries:
				counts[d.subject]++
				continue
			default:
			}
			break
		}
		for k, n := range want {
			if counts[k] < n {
				return false
			}
		}
		return true
	})
	waitFor(t, "every message settled", func() bool {
		i := info(t, c)
		return i.NumAckPending == 0 && i.NumPending == 0 && i.NumRedelivered == 0
	})
	if got := dead.Load(); got != "bad input" {
		t.Errorf("dead-letter function got %v, want the cause's reason %q", got, "bad input")
	}
	// Nothing settled is delivered again.
	time.Sleep(300 * time.Millisecond) // a window in which a wrong redelivery would show
	select {
	case d := <-deliveries:
		counts[d.subject]++
	default:
	}
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("%s delivered %d times, want %d", k, counts[k], n)
		}
	}
}

func TestPullKeepAliveHoldsSlowMessage(t *testing.T) {
	js := testenv.StartBareJetStream(t).JS
	// AckWait leaves the keep-alive (every quarter of it) three periods of
	// slack, so a loaded machine's scheduling delays cannot pass for a
	// failed keep-alive.
	ackWait := time.Second
	c := stream(t, js, ackWait)
	var deliveries atomic.Int32
	release := make(chan struct{})
	done := make(chan struct{})
	h := func(ctx context.Context, m jetstream.Msg) error {
		if deliveries.Add(1) > 1 {
			return nil // a redelivery: the keep-alive failed
		}
		t.Cleanup(func() {
			select {
			case <-release:
			default:
				close(release)
			}
		})
		<-release
		close(done)
		return nil
	}
	// Two pullers on one consumer: the idle one would receive the message
	// again were its AckWait to run out.
	pullUntil(t, c, h, jsplumb.WithKeepAlive(ackWait/4))
	pullUntil(t, c, h, jsplumb.WithKeepAlive(ackWait/4))
	if _, err := js.Publish(context.Background(), "t.slow", []byte("x")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first delivery", func() bool { return deliveries.Load() == 1 })
	// Hold the message for several AckWaits. This window is the test itself:
	// a redelivery, if any, would arrive in it.
	deadline := time.Now().Add(3 * ackWait)
	for time.Now().Before(deadline) {
		if deliveries.Load() > 1 {
			t.Fatalf("a message kept in progress was redelivered")
		}
		time.Sleep(ackWait / 10)
	}
	close(release)
	<-done
	waitFor(t, "the ack", func() bool { return info(t, c).NumAckPending == 0 })
	if n := deliveries.Load(); n != 1 {
		t.Errorf("delivered %d times, want 1", n)
	}
}

type rec struct{ N int }

func bucket(t *testing.T, js jetstream.JetStream) jetstream.KeyValue {
	t.Helper()
	kv, err := js.CreateKeyValue(context.Background(), jetstream.KeyValueConfig{Bucket: "B"})
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

func TestUpdateRetriesConflict(t *testing.T) {
	ctx := context.Background()
	kv := bucket(t, testenv.StartBareJetStream(t).JS)
	if _, err := kv.Put(ctx, "k", []byte(`{"N":1}`)); err != nil {
		t.Fatal(err)
	}
	calls := 0
	got, _, err := jsplumb.Update(ctx, kv, "k", func(r *rec, exists bool) (bool, error) {
		calls++
		if calls == 1 {
			// Another writer gets in between this read and its write.
			if _, err := kv.Put(ctx, "k", []byte(`{"N":10}`)); err != nil {
				t.Fatal(err)
			}
		}
		r.N++
		return true, nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if calls != 2 || got.N != 11 {
		t.Errorf("calls %d, result %+v: want 2 calls and N 11 (the other writer's 10, plus one)", calls, got)
	}
	cur, _, ok, err := jsplumb.Get[rec](ctx, kv, "k")
	if err != nil || !ok || cur.N != 11 {
		t.Errorf("stored %+v ok=%v err=%v, want N 11", cur, ok, err)
	}

	// Bounded: a writer that loses every round gives up with ErrConflict.
	_, _, err = jsplumb.Update(ctx, kv, "k", func(r *rec, exists bool) (bool, error) {
		if _, err := kv.Put(ctx, "k", []byte(`{"N":0}`)); err != nil {
			t.Fatal(err)
		}
		return true, nil
	}, jsplumb.WithAttempts(3))
	if !errors.Is(err, jsplumb.ErrConflict) {
		t.Errorf("err %v, want ErrConflict", err)
	}
}

func TestUpdateReplacesUnreadableRecord(t *testing.T) {
	ctx := context.Background()
	kv := bucket(t, testenv.StartBareJetStream(t).JS)
	if _, err := kv.Put(ctx, "k", []byte(`not json`)); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := jsplumb.Get[rec](ctx, kv, "k"); !errors.Is(err, jsplumb.ErrUnreadable) {
		t.Errorf("Get of an unreadable record: %v, want ErrUnreadable", err)
	}
	_, _, err := jsplumb.Update(ctx, kv, "k", func(r *rec, exists bool) (bool, error) {
		if exists || r.N != 0 {
			t.Errorf("an unreadable record was handed over as existing: %+v", r)
		}
		r.N = 7
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if cur, _, ok, err := jsplumb.Get[rec](ctx, kv, "k"); err != nil || !ok || cur.N != 7 {
		t.Errorf("after Update: %+v ok=%v err=%v, want N 7", cur, ok, err)
	}
}

func TestPublisherWindowAndError(t *testing.T) {
	js := testenv.StartBareJetStream(t).JS
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "P", Subjects: []string{"p.>"}}); err != nil {
		t.Fatal(err)
	}
	pub := jsplumb.NewPublisher(js, jsplumb.WithWindow(3), jsplumb.WithRepublishAttempts(1))
	for i := 0; i < 20; i++ {
		m := nats.NewMsg("p.x")
		m.Data = []byte(fmt.Sprint(i))
		m.Header.Set("X-Test", "h")
		if err := pub.Publish(ctx, m, fmt.Sprintf("id-%d", i%10)); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		if n := pub.InFlight(); n > 3 {
			t.Fatalf("%d messages in flight, window is 3", n)
		}
	}
	if err := pub.Wait(ctx); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if pub.InFlight() != 0 {
		t.Errorf("%d still in flight after Wait", pub.InFlight())
	}
	st, _ := js.Stream(ctx, "P")
	si, _ := st.Info(ctx)
	if si.State.Msgs != 10 {
		t.Errorf("stream holds %d messages, want 10 (ids repeat: the stream deduplicates)", si.State.Msgs)
	}
	raw, err := st.GetMsg(ctx, 1)
	if err != nil || raw.Header.Get("X-Test") != "h" || raw.Header.Get(jetstream.MsgIDHeader) != "id-0" {
		t.Errorf("first message headers %v (err %v), want X-Test and its message id", raw.Header, err)
	}

	// No stream on the subject: the error surfaces, at Wait at the latest, and sticks.
	bad := jsplumb.NewPublisher(js, jsplumb.WithWindow(2), jsplumb.WithRepublishAttempts(1), jsplumb.WithAckTimeout(2*time.Second))
	var first error
	for i := 0; i < 4 && first == nil; i++ {
		first = bad.Publish(ctx, &nats.Msg{Subject: "nostream.x", Data: []byte("x")}, "")
	}
	werr := bad.Wait(ctx)
	if werr == nil {
		t.Fatal("Wait returned nil for messages no stream stored")
	}
	if first != nil && !errors.Is(werr, first) && werr.Error() != first.Error() {
		t.Errorf("Wait returned %v, want the first error %v", werr, first)
	}
	if err := bad.Publish(ctx, &nats.Msg{Subject: "p.x", Data: []byte("x")}, ""); err == nil {
		t.Error("Publish after an error succeeded; the first error should stick")
	}
}

func TestSleep(t *testing.T) {
	if !jsplumb.Sleep(context.Background(), time.Millisecond) {
		t.Error("Sleep with a live context returned false")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if jsplumb.Sleep(ctx, time.Hour) || time.Since(start) > time.Second {
		t.Error("Sleep did not end with its context")
	}
}
