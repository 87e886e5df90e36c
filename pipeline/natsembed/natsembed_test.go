package natsembed_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/natsembed"
)

func TestStartServesJetStream(t *testing.T) {
	dir := t.TempDir()
	s, err := natsembed.Start(natsembed.Config{StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if !strings.HasPrefix(s.URL(), "nats://127.0.0.1:") {
		t.Errorf("URL %q: want a loopback nats:// URL", s.URL())
	}
	nc, err := nats.Connect(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if got := nc.MaxPayload(); got != 8<<20 {
		t.Errorf("max payload %d, want 8 MiB for large batches", got)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testenv.Context(t, 10*time.Second)
	info, err := js.AccountInfo(ctx)
	if err != nil {
		t.Fatalf("JetStream not enabled: %v", err)
	}
	if info.Limits.MaxStreams == 0 {
		t.Errorf("account limits %+v", info.Limits)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "t.1", make([]byte, 4<<20)); err != nil {
		t.Fatalf("publish a 4 MiB message: %v", err)
	}
}

func TestStoreSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	port, err := natsembed.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	ctx := testenv.Context(t, 20*time.Second)
	run := func(f func(js jetstream.JetStream)) {
		s, err := natsembed.Start(natsembed.Config{StoreDir: dir, Port: port})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Stop()
		nc, err := nats.Connect(s.URL())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		f(js)
	}
	run(func(js jetstream.JetStream) {
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := js.Publish(ctx, "t.1", []byte("kept")); err != nil {
			t.Fatal(err)
		}
	})
	run(func(js jetstream.JetStream) {
		s, err := js.Stream(ctx, "T")
		if err != nil {
			t.Fatalf("stream gone after restart: %v", err)
		}
		m, err := s.GetMsg(ctx, 1)
		if err != nil || string(m.Data) != "kept" {
			t.Fatalf("message after restart: %v", err)
		}
	})
}

func TestStartNeedsStoreDir(t *testing.T) {
	if _, err := natsembed.Start(natsembed.Config{}); err == nil || !strings.Contains(err.Error(), "store directory") {
		t.Fatalf("no store dir: %v", err)
	}
}
