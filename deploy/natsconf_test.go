package deploy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/internal/cli"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/deadletter"
	"github.com/feefifofunds/feefifofunds/pipeline/natsembed"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

const (
	pipelinePassword = "pipeline-test-secret"
	readerPassword   = "reader-test-secret"
)

func setPasswords(t *testing.T) {
	t.Setenv("PIPELINE_PASSWORD", pipelinePassword)
	t.Setenv("READER_PASSWORD", readerPassword)
}

func TestNATSConfParses(t *testing.T) {
	setPasswords(t)
	opts, err := server.ProcessConfigFile(filepath.Join(root, "nats.conf"))
	if err != nil {
		t.Fatalf("nats.conf: %v", err)
	}
	if !opts.JetStream || opts.StoreDir != "/data/jetstream" {
		t.Errorf("jetstream=%v store_dir=%q, want on in /data/jetstream", opts.JetStream, opts.StoreDir)
	}
	if opts.MaxPayload != 8<<20 {
		t.Errorf("max_payload %d, want 8 MB", opts.MaxPayload)
	}
	if opts.Port != 4222 || opts.HTTPPort != 8222 {
		t.Errorf("ports client=%d http=%d, want 4222 and 8222", opts.Port, opts.HTTPPort)
	}
	users := map[string]*server.User{}
	for _, u := range opts.Users {
		users[u.Username] = u
	}
	if p := users["pipeline"]; p == nil || p.Password != pipelinePassword || p.Account == nil || p.Account.Name != "FFF" {
		t.Errorf("pipeline user: %+v", p)
	}
	if r := users["reader"]; r == nil || r.Password != readerPassword || r.Permissions == nil || r.Permissions.Publish == nil {
		t.Errorf("reader user: %+v", r)
	}
	if len(users) != 2 {
		t.Errorf("users %v, want pipeline and reader only", keysOf(users))
	}
	// Every batch the pipeline makes must fit a message.
	if size := int32((&contract.Batch{Candles: make([]contract.Candle, 8192)}).EncodedSize()); size > opts.MaxPayload/4 {
		t.Errorf("an 8192-candle batch (%d bytes) is near max_payload %d", size, opts.MaxPayload)
	}
	if opts.MaxPayload < topology.DefaultOptions().MaxMsgSize {
		t.Errorf("max_payload %d is below the CANDLES stream's max_msg_size %d", opts.MaxPayload, topology.DefaultOptions().MaxMsgSize)
	}
}

func keysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestNATSConfNeedsPasswords(t *testing.T) {
	setPasswords(t)
	os.Unsetenv("PIPELINE_PASSWORD")
	_, err := server.ProcessConfigFile(filepath.Join(root, "nats.conf"))
	if err == nil || !strings.Contains(err.Error(), "PIPELINE_PASSWORD") {
		t.Fatalf("nats.conf without PIPELINE_PASSWORD: %v", err)
	}
}

// startFromConf runs a server with nats.conf's settings on free ports and a
// temporary store.
func startFromConf(t *testing.T, file string, tweak func(*server.Options)) *server.Server {
	t.Helper()
	opts, err := server.ProcessConfigFile(filepath.Join(root, file))
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	opts.Host, opts.Port = "127.0.0.1", server.RANDOM_PORT
	opts.HTTPHost, opts.HTTPPort = "127.0.0.1", server.RANDOM_PORT
	opts.StoreDir = t.TempDir()
	opts.NoSigs, opts.NoLog = true, true
	if tweak != nil {
		tweak(opts)
	}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("server from %s: %v", file, err)
	}
	go s.Start()
	if !s.ReadyForConnections(15 * time.Second) {
		s.Shutdown()
		t.Fatalf("server from %s did not start", file)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

// violations records the permission errors the server reports to a client.
type violations struct {
	mu   sync.Mutex
	seen []string
}

func (v *violations) handler(_ *nats.Conn, _ *nats.Subscription, err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.seen = append(v.seen, err.Error())
}

func (v *violations) saw(subject string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, s := range v.seen {
		if strings.Contains(s, "Permissions Violation") && strings.Contains(s, subject) {
			return true
		}
	}
	return false
}

// TestNATSConfUsers runs the pipeline against a server started from
// nats.conf: the pipeline user can do all a stage does, the reader user can
// look and read but change nothing.
func TestNATSConfUsers(t *testing.T) {
	setPasswords(t)
	s := startFromConf(t, "nats.conf", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// Anonymous and wrong-password connections are refused.
	if nc, err := nats.Connect(s.ClientURL()); err == nil {
		nc.Close()
		t.Error("anonymous connection accepted")
	}
	if nc, err := nats.Connect(s.ClientURL(), nats.UserInfo("pipeline", "wrong")); err == nil {
		nc.Close()
		t.Error("wrong password accepted")
	}

	// The pipeline user, through the settings every service uses.
	var pv violations
	ns := cli.NATS{URL: s.ClientURL(), User: "pipeline", Password: pipelinePassword}
	nc, js, err := cli.JetStream(ctx, ns, "deploy-test", nil)
	if err != nil {
		t.Fatalf("pipeline user: connect and topology.Ensure: %v", err)
	}
	defer nc.Close()
	nc.SetErrorHandler(pv.handler)

	b := &contract.Batch{Source: "kraken", Pair: "XBTUSD", Base: "BTC", Quote: "USD", IntervalMinutes: 60, Origin: contract.OriginCSV,
		FileID: strings.Repeat("ab", 32), FileName: "XBTUSD_60.csv", Last: true,
		Candles: []contract.Candle{{Time: 1736496000, Open: 1, High: 2, Low: 0.5, Close: 1.5, VWAP: contract.NoVWAP, Volume: 3, Trades: 4}}}
	data, _ := contract.EncodeBatch(b)
	if _, err := js.Publish(ctx, topology.CandleSubject("kraken", "XBTUSD", 60), data, jetstream.WithMsgID(b.MsgID())); err != nil {
		t.Fatalf("pipeline: publish batch: %v", err)
	}
	fe, _ := (contract.FillRequest{Pair: "XBTUSD", Interval: 60, Start: time.Unix(1736496000, 0), End: time.Unix(1736499600, 0)}).Encode()
	if _, err := js.Publish(ctx, topology.FillSubject("kraken"), fe); err != nil {
		t.Fatalf("pipeline: publish fill request: %v", err)
	}
	ledger, err := js.KeyValue(ctx, topology.BucketLedger)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.Put(ctx, b.FileID, []byte(`{"state":"QUEUED"}`)); err != nil {
		t.Fatalf("pipeline: ledger put: %v", err)
	}
	obj, err := js.ObjectStore(ctx, topology.BucketFileData)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := obj.PutBytes(ctx, b.FileID, []byte("1736496000,1,2,0.5,1.5,3,4\n")); err != nil {
		t.Fatalf("pipeline: object put: %v", err)
	}
	if got, err := obj.GetBytes(ctx, b.FileID); err != nil || len(got) == 0 {
		t.Fatalf("pipeline: object get: %v", err)
	}
	cons, err := topology.EnsureConsumer(ctx, js, topology.StreamCandles, topology.WriterConsumer(0, 0))
	if err != nil {
		t.Fatalf("pipeline: writer consumer: %v", err)
	}
	msgs, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for m := range msgs.Messages() {
		got++
		if err := m.InProgress(); err != nil {
			t.Errorf("pipeline: in progress: %v", err)
		}
		if err := m.DoubleAck(ctx); err != nil {
			t.Errorf("pipeline: ack: %v", err)
		}
	}
	if got != 1 {
		t.Fatalf("pipeline: fetched %d batches, want 1 (%v)", got, msgs.Error())
	}
	if err := deadletter.Publish(ctx, js, deadletter.Letter{Stage: "writer", Subject: "candles.kraken.XBTUSD.60", Stream: "CANDLES", Sequence: 1, Data: data, Reason: "test"}); err != nil {
		t.Fatalf("pipeline: dead-letter: %v", err)
	}
	adv, err := nc.SubscribeSync("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>")
	if err != nil {
		t.Fatal(err)
	}
	adv.Unsubscribe()
	nc.Flush()
	if len(pv.seen) > 0 {
		t.Errorf("pipeline user hit permission errors: %v", pv.seen)
	}

	// The reader user.
	var rv violations
	rc, err := nats.Connect(s.ClientURL(), nats.UserInfo("reader", readerPassword), nats.ErrorHandler(rv.handler))
	if err != nil {
		t.Fatalf("reader: connect: %v", err)
	}
	defer rc.Close()
	rjs, _ := jetstream.New(rc)
	stream, err := rjs.Stream(ctx, topology.StreamCandles)
	if err != nil {
		t.Fatalf("reader: stream info: %v", err)
	}
	oc, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{"candles.kraken.>"}})
	if err != nil {
		t.Fatalf("reader: ordered consumer: %v", err)
	}
	m, err := oc.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatalf("reader: read a batch: %v", err)
	}
	if out, err := contract.Render(m.Data()); err != nil || !strings.Contains(string(out), `"pair":"XBTUSD"`) {
		t.Fatalf("reader: batch %s %v", out, err)
	}
	if _, err := stream.GetMsg(ctx, 1); err != nil {
		t.Errorf("reader: get message by sequence: %v", err)
	}
	rledger, err := rjs.KeyValue(ctx, topology.BucketLedger)
	if err != nil {
		t.Fatalf("reader: open ledger: %v", err)
	}
	if e, err := rledger.Get(ctx, b.FileID); err != nil || !strings.Contains(string(e.Value()), "QUEUED") {
		t.Fatalf("reader: ledger get: %v", err)
	}
	if _, err := rjs.Stream(ctx, topology.StreamDLQ); err != nil {
		t.Errorf("reader: DLQ info: %v", err)
	}

	denied := func(what, subject string, f func(ctx context.Context) error) {
		t.Helper()
		c, cancel := context.WithTimeout(ctx, 700*time.Millisecond)
		defer cancel()
		err := f(c)
		rc.Flush()
		time.Sleep(20 * time.Millisecond)
		if err == nil {
			t.Errorf("reader could %s", what)
		} else if !rv.saw(subject) {
			t.Errorf("reader %s: failed, but the server reported no permission violation on %s: %v", what, subject, err)
		}
	}
	denied("publish a candle batch", "candles.kraken.XBTUSD.60", func(c context.Context) error {
		_, err := rjs.Publish(c, topology.CandleSubject("kraken", "XBTUSD", 60), data)
		return err
	})
	denied("publish a fill request", "fills.kraken", func(c context.Context) error {
		_, err := rjs.Publish(c, topology.FillSubject("kraken"), fe)
		return err
	})
	denied("write the ledger", "$KV.LEDGER", func(c context.Context) error {
		_, err := rledger.Put(c, b.FileID, []byte(`{"state":"COMMITTED"}`))
		return err
	})
	denied("delete a stream", "$JS.API.STREAM.DELETE.CANDLES", func(c context.Context) error {
		return rjs.DeleteStream(c, topology.StreamCandles)
	})
	denied("purge a stream", "$JS.API.STREAM.PURGE.CANDLES", func(c context.Context) error {
		return stream.Purge(c)
	})
	denied("delete the writer's consumer", "$JS.API.CONSUMER.DELETE.CANDLES.writer", func(c context.Context) error {
		return rjs.DeleteConsumer(c, topology.StreamCandles, topology.ConsumerWriter)
	})
	denied("create a consumer on the FILLS work queue", "$JS.API.CONSUMER.CREATE.FILLS", func(c context.Context) error {
		_, err := rjs.CreateConsumer(c, topology.StreamFills, jetstream.ConsumerConfig{Durable: "sneaky", AckPolicy: jetstream.AckNonePolicy})
		return err
	})

	t.Logf("permission errors the reader got: %q", rv.seen)

	// Nothing the reader tried changed anything.
	info, err := stream.Info(ctx)
	if err != nil || info.State.Msgs != 1 {
		t.Errorf("CANDLES after the reader: %v msgs, err %v", info.State.Msgs, err)
	}
	if e, err := ledger.Get(ctx, b.FileID); err != nil || !strings.Contains(string(e.Value()), "QUEUED") {
		t.Errorf("ledger entry after the reader: %v", err)
	}
	fills, _ := js.Stream(ctx, topology.StreamFills)
	if fi, err := fills.Info(ctx); err != nil || fi.State.Msgs != 1 || fi.State.Consumers != 0 {
		t.Errorf("FILLS after the reader: %+v %v", fi.State, err)
	}
}

// TestNATSClusterConf starts three nodes from nats-cluster.conf (ports and
// routes moved to this machine) and creates the topology with 3 replicas as
// the pipeline user.
func TestNATSClusterConf(t *testing.T) {
	setPasswords(t)
	t.Setenv("NATS_SERVER_NAME", "nats-1")
	opts, err := server.ProcessConfigFile(filepath.Join(root, "nats-cluster.conf"))
	if err != nil {
		t.Fatalf("nats-cluster.conf: %v", err)
	}
	if opts.ServerName != "nats-1" || opts.Cluster.Name != "fff" || opts.Cluster.Port != 6222 || len(opts.Routes) != 3 {
		t.Errorf("cluster settings: name %q cluster %q port %d routes %v", opts.ServerName, opts.Cluster.Name, opts.Cluster.Port, opts.Routes)
	}
	if !opts.JetStream || opts.MaxPayload != 8<<20 || len(opts.Users) != 2 {
		t.Errorf("nats.conf settings not included: jetstream=%v max_payload=%d users=%d", opts.JetStream, opts.MaxPayload, len(opts.Users))
	}
	os.Unsetenv("NATS_SERVER_NAME")
	if _, err := server.ProcessConfigFile(filepath.Join(root, "nats-cluster.conf")); err == nil || !strings.Contains(err.Error(), "NATS_SERVER_NAME") {
		t.Errorf("nats-cluster.conf without NATS_SERVER_NAME: %v", err)
	}
	if testing.Short() {
		t.Skip("3-node cluster from nats-cluster.conf skipped with -short")
	}

	var ports [3]int
	var routes []string
	for i := range ports {
		if ports[i], err = natsembed.FreePort(); err != nil {
			t.Fatal(err)
		}
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[i]))
	}
	var urls []string
	for i := range 3 {
		// ProcessConfigFile reads NATS_SERVER_NAME from the environment.
		t.Setenv("NATS_SERVER_NAME", fmt.Sprintf("nats-%d", i+1))
		s := startFromConf(t, "nats-cluster.conf", func(o *server.Options) {
			o.Cluster.Host, o.Cluster.Port = "127.0.0.1", ports[i]
			o.Routes = server.RoutesFromStr(strings.Join(routes, ","))
		})
		if s.Name() != fmt.Sprintf("nats-%d", i+1) {
			t.Fatalf("node %d is named %q", i+1, s.Name())
		}
		urls = append(urls, s.ClientURL())
	}
	ns := cli.NATS{URL: strings.Join(urls, ","), User: "pipeline", Password: pipelinePassword, Replicas: 3}
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		nc, js, err := cli.JetStream(ctx, ns, "deploy-cluster-test", nil)
		if err == nil {
			s, serr := js.Stream(ctx, topology.StreamCandles)
			if serr == nil && s.CachedInfo().Config.Replicas != 3 {
				t.Errorf("CANDLES replicas %d, want 3", s.CachedInfo().Config.Replicas)
			}
			cancel()
			nc.Close()
			if serr != nil {
				t.Fatal(serr)
			}
			return
		}
		cancel()
		if time.Now().After(deadline) {
			t.Fatalf("topology with 3 replicas on the cluster from nats-cluster.conf: %v", err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestNATSConfDurability: both files fsync every write (sync_interval:
// always) and say which nats-server they need; the reasons are in the files
// and docs/RELIABILITY.md#fsync.
func TestNATSConfDurability(t *testing.T) {
	setPasswords(t)
	t.Setenv("NATS_SERVER_NAME", "nats-1")
	for _, file := range []string{"nats.conf", "nats-cluster.conf"} {
		t.Run(file, func(t *testing.T) {
			opts, err := server.ProcessConfigFile(filepath.Join(root, file))
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if !opts.SyncAlways {
				t.Errorf("%s: sync_interval %v, want always (fsync before every ack)", file, opts.SyncInterval)
			}
			raw, _ := os.ReadFile(filepath.Join(root, file))
			if !strings.Contains(string(raw), "Minimum nats-server: 2.15.2") {
				t.Errorf("%s does not state the minimum nats-server version", file)
			}
		})
	}
}
