package parser

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/ledger"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// reports returns the parser's progress reports on a file, in order.
func (h *harness) reports(fileID string) []contract.Progress {
	h.t.Helper()
	s, err := h.env.JS.Stream(h.ctx, topology.StreamProgress)
	if err != nil {
		h.t.Fatal(err)
	}
	info, err := s.Info(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []contract.Progress
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(h.ctx, seq)
		if err != nil || m.Subject != topology.ProgressSubject(fileID) {
			continue
		}
		var p contract.Progress
		if err := json.Unmarshal(m.Data, &p); err != nil {
			h.t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// waitReport waits for a report of the given kind on a file.
func (h *harness) waitReport(fileID, kind string) contract.Progress {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, p := range h.reports(fileID) {
			if p.Kind == kind {
				return p
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.t.Fatalf("no %s report on %s; have %+v", kind, fileID, h.reports(fileID))
	return contract.Progress{}
}

// A file whose stored bytes cannot be read back intact publishes no batch
// and is never rejected for it: it waits, marked so (and asking for the
// bytes again), and is parsed in full once they are put again.
func TestStageUnreadableBytesWait(t *testing.T) {
	cases := []struct {
		name    string
		breakIt func(h *harness, id string)
		reason  string
	}{
		{"corrupt chunk", func(h *harness, id string) { testenv.CorruptFileData(h.t, h.env.JS, id) }, "digests do not match"},
		{"object gone", func(h *harness, id string) { testenv.DeleteFileData(h.t, h.env.JS, id) }, "not in the object store"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			data := generateCSV(20_000, 1) // several 128 KB chunks
			ev := h.store("XBTUSD_1.csv", data)
			led, err := ledger.Open(h.ctx, h.env.JS)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := led.Create(h.ctx, contract.LedgerEntry{FileID: ev.FileID, Name: ev.Name, State: contract.FileQueued}); err != nil {
				t.Fatal(err)
			}
			c.breakIt(h, ev.FileID)
			// MaxDeliver is 5: waiting must outlast the consumer's deliveries.
			h.startParser(Config{BatchSize: 1000, RetryDelay: 20 * time.Millisecond, MaxRetryDelay: 50 * time.Millisecond})
			h.queue(ev, "file:"+ev.FileID)

			w := h.waitReport(ev.FileID, ledger.KindWaiting)
			if !w.Reput || !strings.Contains(w.Reason, c.reason) {
				t.Errorf("waiting report %+v: want reput and %q", w, c.reason)
			}
			// Past the consumer's last delivery: the work was queued afresh.
			deadline := time.Now().Add(20 * time.Second)
			for rs := h.reports(ev.FileID); rs[len(rs)-1].Attempt < 6; rs = h.reports(ev.FileID) {
				if time.Now().After(deadline) {
					t.Fatalf("still at attempt %d", rs[len(rs)-1].Attempt)
				}
				time.Sleep(20 * time.Millisecond)
			}
			for _, p := range h.reports(ev.FileID) {
				if p.Kind != ledger.KindWaiting {
					t.Fatalf("a file with unreadable bytes got a %s report: %+v", p.Kind, p)
				}
			}
			if bs := h.batches(ev.FileID); len(bs) != 0 {
				t.Fatalf("%d batches published from bytes that were not verified", len(bs))
			}
			if n := h.streamMsgs(topology.StreamDLQ); n != 0 {
				t.Errorf("%d dead letters for a file that only waits", n)
			}

			// The watcher puts the bytes again: the file is parsed in full.
			store, err := h.env.JS.ObjectStore(h.ctx, topology.BucketFileData)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := store.PutBytes(h.ctx, ev.Object, data); err != nil {
				t.Fatal(err)
			}
			p := h.waitReport(ev.FileID, ledger.KindParsed)
			if p.RowsParsed != 20_000 || p.Batches != 20 {
				t.Errorf("parsed report %+v", p)
			}
			h.filesDone()
			bs := h.batches(ev.FileID)
			assertCandles(t, allCandles(bs), expectCandles(t, data))
			if len(bs) != 20 {
				t.Errorf("%d batches, want 20", len(bs))
			}
		})
	}
}
