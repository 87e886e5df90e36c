package questdb

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

// textILPServer answers like QuestDB offering only ILP v1 (text), so that a
// request's rows can be read back line by line.
func textILPServer(t *testing.T) (conf string, bodies func() []string) {
	t.Helper()
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/settings":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"config":{"line.proto.support.versions":[1],"cairo.max.file.name.length":127}}`)
		case "/write":
			var b bytes.Buffer
			_, _ = io.Copy(&b, r.Body)
			mu.Lock()
			got = append(got, b.String())
			mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return "http::addr=" + strings.TrimPrefix(srv.URL, "http://") + ";", func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
}

// rowKeys reads "pair@open-time-in-ns" from each ILP text row.
func rowKeys(body string) []string {
	var keys []string
	for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
		pair := line[strings.Index(line, ",pair=")+6:]
		pair = pair[:strings.IndexAny(pair, ", ")]
		keys = append(keys, pair+"@"+line[strings.LastIndex(line, " ")+1:])
	}
	return keys
}

func TestSinkSendsARequestInTimeOrderAcrossBatches(t *testing.T) {
	candles := func(times ...int64) []contract.Candle {
		cs := make([]contract.Candle, len(times))
		for i, ts := range times {
			cs[i] = contract.Candle{Time: ts, Open: 1, High: 2, Low: 0.5, Close: 1.5, VWAP: contract.NoVWAP, Volume: 3, Trades: contract.NoTrades}
		}
		return cs
	}
	batches := func() []*contract.Batch {
		return []*contract.Batch{
			{Source: "kraken", Pair: "XBTUSD", IntervalMinutes: 1, Candles: candles(60, 180, 300)},
			// Not sorted within itself: the sink sorts its copy.
			{Source: "kraken", Pair: "ETHUSD", IntervalMinutes: 1, Candles: candles(240, 120, 60)},
		}
	}
	cases := []struct {
		name      string
		timeOrder bool
		want      string
	}{
		{"time order", true, "XBTUSD@60 ETHUSD@60 ETHUSD@120 XBTUSD@180 ETHUSD@240 XBTUSD@300"},
		{"arrival order", false, "XBTUSD@60 XBTUSD@180 XBTUSD@300 ETHUSD@240 ETHUSD@120 ETHUSD@60"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conf, bodies := textILPServer(t)
			s, err := NewILPSink(conf, "candles", SinkOptions{TimeOrder: c.timeOrder})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(context.Background())
			bs := batches()
			ctx := context.Background()
			for _, b := range bs {
				if err := s.Add(ctx, b); err != nil {
					t.Fatal(err)
				}
			}
			committed := 0
			err = s.Commit(ctx, len(bs), func(i int) (*contract.Batch, error) { return bs[i], nil },
				Hooks{Committed: func(lo, hi int) { committed += hi - lo }})
			if err != nil || committed != len(bs) {
				t.Fatalf("commit: %v, %d of %d batches committed", err, committed, len(bs))
			}
			got := bodies()
			if len(got) != 1 {
				t.Fatalf("%d requests, want 1", len(got))
			}
			keys := strings.Join(rowKeys(got[0]), " ")
			want := c.want
			// The client writes nanoseconds.
			for _, ts := range []string{"60", "120", "180", "240", "300"} {
				want = strings.ReplaceAll(want, "@"+ts+" ", "@"+ts+"000000000 ")
				if strings.HasSuffix(want, "@"+ts) {
					want += "000000000"
				}
			}
			if keys != want {
				t.Errorf("rows in the request:\n got %s\nwant %s", keys, want)
			}
			// The caller's batches are left as they were.
			if bs[1].Candles[0].Time != 240 {
				t.Errorf("the sink reordered the caller's batch: %+v", bs[1].Candles)
			}
		})
	}
}
