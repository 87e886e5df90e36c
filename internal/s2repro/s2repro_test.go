package s2repro

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/internal/chaos"
	"github.com/feefifofunds/feefifofunds/internal/testenv"
)

const (
	plainName = "REPRO_PLAIN" // uncompressed: what the pipeline runs
	s2Name    = "REPRO_S2"    // S2-compressed: what the server breaks

	publishersPerStream = 4
	// Compression happens when the server closes a block (8 MB for these
	// streams), so every round writes more than a block to each stream
	// before its kill.
	roundBytes = 12 << 20
	// The outage: both nodes stay down this long, quorum lost.
	downFor = 2 * time.Second
)

// TestS2DoubleKill is the server-only reproduction of the S2 issue
// (docs/RELIABILITY.md#s2-compression): a 3-node cluster of the real
// nats-server, an R3 stream with S2 and one without, publishers on both, and
// rounds of kill -9 of two nodes at once. The uncompressed stream must keep
// every acknowledged message intact, have a leader and log no critical write
// error; what happened to the S2 stream is reported. FFF_S2_REPRO=1 runs up
// to 8 rounds, stops at the first sign of S2 corruption and fails when there
// is none: it asserts the server bug.
func TestS2DoubleKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nats-server processes and kills them for about a minute; not under -short")
	}
	bin := natsServerBin(t)
	reproduce := os.Getenv("FFF_S2_REPRO") == "1"
	rounds := 3
	if reproduce {
		rounds = 8
	}
	if out, err := exec.Command(bin, "--version").Output(); err == nil {
		t.Logf("%s: %s", bin, strings.TrimSpace(string(out)))
	}

	dir, err := os.MkdirTemp("", "s2repro-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kept %s (each node's log and store)", dir)
			return
		}
		os.RemoveAll(dir)
	})
	servers := startCluster(t, bin, dir)

	urls := make([]string, len(servers))
	for i, s := range servers {
		urls[i] = s.ClientURL
	}
	nc, err := nats.Connect(strings.Join(urls, ","), nats.MaxReconnects(-1),
		nats.ReconnectWait(100*time.Millisecond), nats.RetryOnFailedConnect(true))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}

	streams := []*stream{
		{name: plainName, subject: "repro.plain", compression: jetstream.NoCompression},
		{name: s2Name, subject: "repro.s2", compression: jetstream.S2Compression},
	}
	for _, st := range streams {
		st.acks = map[string]uint64{}
		if err := createStream(js, st); err != nil {
			t.Fatal(err)
		}
	}

	pubCtx, stopPublishers := context.WithCancel(context.Background())
	var pubs sync.WaitGroup
	defer func() { stopPublishers(); pubs.Wait() }()
	for _, st := range streams {
		for w := range publishersPerStream {
			pubs.Add(1)
			go func() {
				defer pubs.Done()
				st.publish(pubCtx, js, w)
			}()
		}
	}

	s2 := streams[1]
	for r := range rounds {
		// Load: a block and a half into each stream since the last round.
		stalled := false
		for _, st := range waitGrowth(unbroken(streams, servers), roundBytes, 10*time.Second) {
			t.Logf("round %d: %s took %d bytes in 10 s (wanted %d)", r+1, st.name, st.sinceMark(), roundBytes)
			stalled = stalled || (st == s2 && st.sinceMark() == 0)
		}
		if reproduce && (stalled || len(s2.logLines(servers)) > 0) {
			t.Logf("round %d: the S2 stream is broken (corruption logged, or no write acked since the last restart); no more faults", r+1)
			break
		}
		a, b := servers[r%3], servers[(r+1)%3]
		t.Logf("round %d: acked %s; kill -9 %s and %s", r+1, ackSummary(streams), a.Name, b.Name)
		var kills sync.WaitGroup // both at once
		kills.Go(a.Kill9)
		kills.Go(b.Kill9)
		kills.Wait()
		select {
		case <-time.After(downFor):
		case <-t.Context().Done():
			return
		}
		for _, s := range []*chaos.NATSNode{a, b} {
			if err := s.Start(); err != nil {
				t.Fatal(err)
			}
		}
		up := time.Now()
		for _, s := range []*chaos.NATSNode{a, b} {
			// Up with JetStream on, not /healthz in full: that stays failing
			// while a stream is broken, which is for the checks below to say.
			if err := s.WaitHealthy(t.Context(), "?js-enabled-only=true", 30*time.Second); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("round %d: both nodes answering %.1f s after restart", r+1, time.Since(up).Seconds())
		for _, st := range streams {
			st.mark()
		}
	}
	// Load after the last restart: the uncompressed stream must take writes again.
	for _, st := range waitGrowth(streams[:1], 1<<20, 20*time.Second) {
		t.Errorf("%s (uncompressed) took %d bytes in 20 s after the last restart (wanted 1 MB)", st.name, st.sinceMark())
	}
	for _, st := range waitGrowth(unbroken(streams[1:], servers), 1<<20, 5*time.Second) {
		t.Logf("%s took %d bytes in 5 s after the last restart", st.name, st.sinceMark())
	}
	stopPublishers()
	pubs.Wait()

	for _, st := range streams {
		o := check(t.Context(), js, st, servers)
		if st.compression == jetstream.NoCompression {
			for _, p := range o.problems {
				t.Errorf("%s (uncompressed, what the pipeline relies on): %s", st.name, p)
			}
			if len(o.problems) == 0 {
				t.Logf("%s: intact: %s", st.name, o.summary)
			}
			continue
		}
		switch {
		case len(o.problems) > 0:
			t.Logf("%s (S2): the server bug reproduced: %s", st.name, o.summary)
			for _, p := range o.problems {
				t.Logf("%s (S2): %s", st.name, p)
			}
			for _, l := range st.serverNotes(servers, 8) {
				t.Logf("%s (S2) server said: %s", st.name, l)
			}
		case reproduce:
			t.Errorf("%s (S2): FFF_S2_REPRO=1 expects the corruption, but the stream is intact (%s): has the server been fixed? Then docs/RELIABILITY.md#s2-compression can change", st.name, o.summary)
		default:
			t.Logf("%s (S2): intact this time: %s", st.name, o.summary)
		}
	}
}

// natsServerBin is nats-server from PATH, then $(go env GOPATH)/bin, as the
// fault suite finds it. Missing, the test skips, or fails under CI (.ci/run
// installs it).
func natsServerBin(t *testing.T) string {
	t.Helper()
	p, err := chaos.FindNATSServer()
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal(err.Error() + " (.ci/run installs it, so under CI this test must run)")
	}
	t.Skip(err.Error())
	return ""
}

// startCluster starts three nats-server processes as chaos.StartNATS does
// for the fault suite, killed when the test ends.
func startCluster(t *testing.T, bin, dir string) []*chaos.NATSNode {
	t.Helper()
	nodes, err := chaos.StartNATS(t.Context(), bin, dir, 3, testenv.Logger(t))
	for _, nd := range nodes {
		if nd != nil {
			t.Cleanup(nd.Kill9)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return nodes
}

// stream is one of the two streams and what its publishers were acked.
type stream struct {
	name, subject string
	compression   jetstream.StoreCompression

	mu        sync.Mutex
	acks      map[string]uint64 // message id -> acked stream sequence
	bytes     int64             // acked payload bytes
	markBytes int64             // bytes at the last mark
	errs      atomic.Int64      // publishes that failed (not acked)
}

func createStream(js jetstream.JetStream, st *stream) error {
	cfg := jetstream.StreamConfig{
		Name:        st.name,
		Subjects:    []string{st.subject + ".>"},
		Storage:     jetstream.FileStorage,
		Replicas:    3,
		Compression: st.compression,
		Duplicates:  2 * time.Minute,
	}
	// A fresh cluster answers 503 until its meta leader is elected.
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := js.CreateStream(ctx, cfg)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("create stream %s: %w", st.name, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// publish publishes one message after another until ctx ends; a message
// counts once the stream acks it. A failed publish is not retried (its id is
// not used again), so an unacknowledged message may or may not be stored.
func (st *stream) publish(ctx context.Context, js jetstream.JetStream, worker int) {
	for i := 0; ctx.Err() == nil; i++ {
		id := fmt.Sprintf("%d-%d", worker, i)
		msg := &nats.Msg{Subject: st.subject + "." + strconv.Itoa(worker), Header: nats.Header{}, Data: payload(id)}
		msg.Header.Set(jetstream.MsgIDHeader, id)
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		ack, err := js.PublishMsg(pctx, msg, jetstream.WithExpectStream(st.name))
		cancel()
		if err != nil {
			st.errs.Add(1)
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		st.mu.Lock()
		st.acks[id] = ack.Sequence
		st.bytes += int64(len(msg.Data))
		st.mu.Unlock()
	}
}

func (st *stream) mark() {
	st.mu.Lock()
	st.markBytes = st.bytes
	st.mu.Unlock()
}

func (st *stream) sinceMark() int64 {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.bytes - st.markBytes
}

// waitGrowth waits until every stream was acked n more bytes since its last
// mark, for at most d, and returns those that were not.
func waitGrowth(streams []*stream, n int64, d time.Duration) []*stream {
	deadline := time.Now().Add(d)
	for {
		var short []*stream
		for _, st := range streams {
			if st.sinceMark() < n {
				short = append(short, st)
			}
		}
		if len(short) == 0 || time.Now().After(deadline) {
			return short
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// unbroken are the streams whose logs show no corruption yet: those the
// test waits to take writes (a broken S2 stream may take none for good).
func unbroken(streams []*stream, servers []*chaos.NATSNode) []*stream {
	var ok []*stream
	for _, st := range streams {
		if len(st.logLines(servers)) == 0 {
			ok = append(ok, st)
		}
	}
	return ok
}

func ackSummary(streams []*stream) string {
	var parts []string
	for _, st := range streams {
		st.mu.Lock()
		parts = append(parts, fmt.Sprintf("%s %d msgs %.0f MB (%d failed)", st.name, len(st.acks), float64(st.bytes)/(1<<20), st.errs.Load()))
		st.mu.Unlock()
	}
	return strings.Join(parts, ", ")
}

// payload is message id's content: lines of text with numbers, 8-64 KB,
// which S2 compresses, and which the check regenerates to compare.
func payload(id string) []byte {
	h := fnv.New64a()
	h.Write([]byte(id))
	x := h.Sum64()
	size := 8<<10 + int(x%(56<<10))
	b := make([]byte, 0, size+64)
	for k := 0; len(b) < size; k++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b = append(b, id...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(k), 10)
		b = append(b, ' ')
		b = strconv.AppendFloat(b, float64(x>>40)/100, 'f', 2, 64)
		b = append(b, '\n')
	}
	return b[:size]
}

// outcome is what check found in one stream.
type outcome struct {
	problems []string
	summary  string
}

// check reads the stream back and its servers' logs: every acked message at
// its sequence with its content, a leader, no corruption logged.
func check(ctx context.Context, js jetstream.JetStream, st *stream, servers []*chaos.NATSNode) outcome {
	var o outcome
	st.mu.Lock()
	acks := make(map[string]uint64, len(st.acks))
	for id, seq := range st.acks {
		acks[id] = seq
	}
	st.mu.Unlock()

	// The uncompressed stream gets longer: a leader is what it must have.
	wait := 20 * time.Second
	if st.compression != jetstream.NoCompression {
		wait = 8 * time.Second
	}
	leader, last, err := waitLeader(ctx, js, st.name, wait)
	if err != nil {
		o.problems = append(o.problems, err.Error())
	}
	found, bad, moved := 0, 0, 0
	if err == nil {
		seen, rerr := readAll(ctx, js, st.name, last, 60*time.Second)
		if rerr != nil {
			o.problems = append(o.problems, rerr.Error())
		}
		for id, seq := range acks {
			got, ok := seen[id]
			switch {
			case !ok:
			case !got.intact:
				found++
				bad++
			case got.seq != seq:
				found++
				moved++
			default:
				found++
			}
		}
	}
	if lost := len(acks) - found; lost > 0 {
		o.problems = append(o.problems, fmt.Sprintf("%d of %d acknowledged messages not readable", lost, len(acks)))
	}
	if bad > 0 {
		o.problems = append(o.problems, fmt.Sprintf("%d acknowledged messages read back with other content", bad))
	}
	if moved > 0 {
		o.problems = append(o.problems, fmt.Sprintf("%d acknowledged messages at another sequence than acked", moved))
	}
	lines := st.logLines(servers)
	if len(lines) > 0 {
		o.problems = append(o.problems, fmt.Sprintf("%d corruption lines in the servers' logs, first: %s", len(lines), lines[0]))
	}
	o.summary = fmt.Sprintf("%d acked, %d read back intact, leader %q, last seq %d, %d failed publishes, %d corruption log lines",
		len(acks), found-bad-moved, leader, last, st.errs.Load(), len(lines))
	return o
}

// waitLeader waits for the stream to report a leader; it returns the leader
// and the stream's last sequence.
func waitLeader(ctx context.Context, js jetstream.JetStream, name string, d time.Duration) (string, uint64, error) {
	deadline := time.Now().Add(d)
	var last error
	for time.Now().Before(deadline) {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		s, err := js.Stream(rctx, name)
		cancel()
		if err == nil {
			info := s.CachedInfo()
			if info.Cluster != nil && info.Cluster.Leader != "" {
				return info.Cluster.Leader, info.State.LastSeq, nil
			}
			err = errors.New("no leader")
		}
		last = err
		select {
		case <-ctx.Done():
			return "", 0, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return "", 0, fmt.Errorf("stream %s has no leader after %s: %w", name, d, last)
}

type readBack struct {
	seq    uint64
	intact bool
}

// readAll reads every sequence of the stream through last with the
// stream's own message get, comparing every message with its payload.
// Stream requests are answered by the stream's leader; a consumer would
// need the meta leader as well, which after these restarts sometimes
// answered 503 for longer than the whole read may take (seen in CI).
// Eight readers share the sequences; each get is retried to the deadline.
func readAll(ctx context.Context, js jetstream.JetStream, name string, last uint64, d time.Duration) (map[string]readBack, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var s jetstream.Stream
	for {
		rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
		var err error
		s, err = js.Stream(rctx, name)
		rcancel()
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("read %s: %w", name, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
	var (
		mu      sync.Mutex
		seen    = map[string]readBack{}
		next    atomic.Uint64
		failed  error
		readers sync.WaitGroup
	)
	for range 8 {
		readers.Go(func() {
			for seq := next.Add(1); seq <= last; seq = next.Add(1) {
				for {
					gctx, gcancel := context.WithTimeout(ctx, 2*time.Second)
					m, err := s.GetMsg(gctx, seq)
					gcancel()
					if err == nil {
						id := m.Header.Get(jetstream.MsgIDHeader)
						mu.Lock()
						seen[id] = readBack{seq: seq, intact: bytes.Equal(m.Data, payload(id))}
						mu.Unlock()
						break
					}
					if errors.Is(err, jetstream.ErrMsgNotFound) {
						break // a sequence the stream does not hold: lost ones are counted by id
					}
					if ctx.Err() != nil {
						mu.Lock()
						failed = fmt.Errorf("read %s: sequence %d of %d not read in %s: %w", name, seq, last, d, err)
						mu.Unlock()
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
		})
	}
	readers.Wait()
	return seen, failed
}

// logLines are the lines of the servers' logs that say this stream's store
// is corrupt: a critical write error or an S2 read failure.
func (st *stream) logLines(servers []*chaos.NATSNode) []string {
	var lines []string
	st.eachLogLine(servers, func(server, l string) bool {
		if strings.Contains(l, "Critical write error") ||
			strings.Contains(l, "s2: corrupt") || strings.Contains(l, "s2: unsupported") ||
			strings.Contains(l, "compression reader") {
			lines = append(lines, server+": "+l)
		}
		return true
	})
	return lines
}

// serverNotes are up to n distinct warnings and errors the servers logged
// about the stream (the text after the level, without time and pid).
func (st *stream) serverNotes(servers []*chaos.NATSNode, n int) []string {
	if n <= 0 {
		return nil
	}
	seen := map[string]bool{}
	var notes []string
	st.eachLogLine(servers, func(server, l string) bool {
		i := max(strings.Index(l, "[ERR] "), strings.Index(l, "[WRN] "))
		if i < 0 {
			return true
		}
		if msg := l[i:]; !seen[msg] {
			seen[msg] = true
			notes = append(notes, server+": "+msg)
		}
		return len(notes) < n
	})
	return notes
}

// eachLogLine hands fn the servers' log lines about this stream, server by
// server, until fn returns false. A log that cannot be opened is passed
// over: it holds nothing to report.
func (st *stream) eachLogLine(servers []*chaos.NATSNode, fn func(server, line string) bool) {
	tag := "[" + st.name + "]"
	for _, s := range servers {
		f, err := os.Open(s.LogFile())
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		more := true
		for more && sc.Scan() {
			if l := sc.Text(); strings.Contains(l, tag) {
				more = fn(s.Name, l)
			}
		}
		f.Close()
		if !more {
			return
		}
	}
}
