package gapscanner_test

import (
	"context"
	"errors"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/gapscanner"
	"github.com/feefifofunds/feefifofunds/pipeline/gapscanner/gapscannertest"
)

func recordKeys(t *testing.T, kv jetstream.KeyValue) int {
	t.Helper()
	lister, err := kv.ListKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for range lister.Keys() {
		n++
	}
	return n
}

func TestSweep(t *testing.T) {
	errReview := errors.New("review failed")
	for _, tc := range []struct {
		name      string
		noJS      bool
		dryRun    bool
		perSeries int
		review    func() (bool, error)
		wantErr   error // errors.Is; nil: none
		anyErr    bool
		synced    bool
	}{
		{name: "requests every requestable gap", synced: true},
		{name: "at most one per series, the run to now first", perSeries: 1, synced: true},
		{name: "review says yes", review: func() (bool, error) { return true, nil }, synced: true},
		{name: "dry run changes nothing", dryRun: true},
		{name: "dry run without JetStream ignores the records", dryRun: true, noJS: true},
		{name: "review says no", review: func() (bool, error) { return false, nil }},
		{name: "review fails", review: func() (bool, error) { return false, errReview }, wantErr: errReview},
		{name: "JetStream is required to change anything", noJS: true, anyErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, nats, kv, cfg := hourlyWithRecords(t)
			cfg.ToNow, cfg.Records = true, nil
			o := gapscanner.SweepOptions{Scan: cfg, JS: nats.JS, DryRun: tc.dryRun, MaxGapsPerSeries: tc.perSeries}
			if tc.noJS {
				o.JS = nil
			}
			reviewed := 0
			if tc.review != nil {
				o.Review = func(rep gapscanner.Report, todo []gapscanner.Gap) (bool, error) {
					reviewed++
					if len(rep.Gaps) == 0 || len(todo) == 0 {
						t.Errorf("review sees %d gaps, %d to request", len(rep.Gaps), len(todo))
					}
					return tc.review()
				}
			}
			res, err := gapscanner.Sweep(context.Background(), o)
			switch {
			case tc.anyErr:
				if err == nil {
					t.Fatal("no error")
				}
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err %v, want %v", err, tc.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			}
			if tc.review != nil && reviewed != 1 {
				t.Errorf("review called %d times, want once", reviewed)
			}
			if res.Synced != tc.synced {
				t.Errorf("Synced = %v, want %v", res.Synced, tc.synced)
			}
			published := gapscannertest.TakeFills(t, nats.JS, "kraken")
			if !tc.synced {
				if n := recordKeys(t, kv); n != 0 || len(published) != 0 || len(res.Requested) != 0 {
					t.Errorf("%d records, %d requests on the stream, %d reported published; want none", n, len(published), len(res.Requested))
				}
				return
			}

			want := res.Report.Requestable()
			if tc.perSeries > 0 {
				want = gapscanner.PickPerSeries(want, tc.perSeries)
			}
			if len(want) == 0 || len(res.Todo) != len(want) {
				t.Fatalf("todo %d gaps, want %d (and some)", len(res.Todo), len(want))
			}
			var reqs int
			for i, g := range want {
				if res.Todo[i].Key != g.Key {
					t.Errorf("todo[%d] = %s, want %s", i, gapLine(res.Todo[i]), gapLine(g))
				}
				reqs += len(gapscanner.Requests(g, 0))
			}
			if tc.perSeries == 1 && !res.Todo[0].Trailing {
				t.Errorf("one per series: %s, want the run to now", gapLine(res.Todo[0]))
			}
			if len(res.Requested) != reqs || len(published) != reqs {
				t.Errorf("published %d (on the stream %d), want %d", len(res.Requested), len(published), reqs)
			}
			if n := recordKeys(t, kv); n != len(res.Report.Gaps) || res.Sync.Created != len(res.Report.Gaps) {
				t.Errorf("%d records, sync %+v; want one new record per gap (%d)", n, res.Sync, len(res.Report.Gaps))
			}
		})
	}
}
