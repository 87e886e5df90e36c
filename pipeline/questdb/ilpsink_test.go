package questdb

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

func TestClassify(t *testing.T) {
	cases := []struct {
		err      error
		rejected bool
	}{
		{errors.New("400: Bad Request -- not json"), true},
		{errors.New("422: Unprocessable -- x"), true},
		{errors.New("401: Unauthorized -- x"), false},
		{errors.New("502: Bad Gateway"), false},
		{errors.New("dial tcp 127.0.0.1:1: connect: connection refused"), false},
		{context.DeadlineExceeded, false},
	}
	for _, c := range cases {
		t.Run(c.err.Error(), func(t *testing.T) {
			if got := Rejected(classify(c.err)); got != c.rejected {
				t.Errorf("%v: rejected=%v, want %v", c.err, got, c.rejected)
			}
		})
	}
}

func TestSinkConf(t *testing.T) {
	c, err := SinkConf("http::addr=db:9000;username=a;password=b")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(c, "auto_flush=off;retry_timeout=0;max_buf_size=1073741824;") || !strings.Contains(c, "password=b;") {
		t.Fatalf("conf %q", c)
	}
	if _, err := SinkConf("tcp::addr=db:9009;"); err == nil {
		t.Fatal("tcp accepted")
	}
}

// Room says how many more rows fit the request buffer as it was sized, so
// a writer can end a request before the client doubles the buffer: after a
// first batch with pair names longer than ILPBytesPerRow assumes, a second
// batch of Room() rows still fits, and Room() then is (about) zero.
func TestILPSinkRoomKeepsTheRequestInItsBuffer(t *testing.T) {
	srv, err := StartNullServer()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	const sized = 10_000
	s, err := NewILPSink(srv.ILP(), "candles", SinkOptions{Rows: sized})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	defer s.Close(ctx)
	if got := s.Room(); got != sized {
		t.Fatalf("Room before any row = %d, want the %d rows the buffer was sized for", got, sized)
	}
	batch := func(first int64, n int) *contract.Batch {
		b := &contract.Batch{Source: "kraken", Pair: "LONGNAMEDTOKENUSDT", Base: "LONGNAMEDTOKEN", Quote: "USDT",
			Origin: contract.OriginCSV, IntervalMinutes: 1}
		for i := range n {
			b.Candles = append(b.Candles, contract.Candle{Time: (first + int64(i)) * 60, Open: 1, High: 2, Low: 0.5, Close: 1.5, Volume: 10})
		}
		return b
	}
	if err := s.Add(ctx, batch(0, 2_000)); err != nil {
		t.Fatal(err)
	}
	room := s.Room()
	if room <= 0 || room >= sized-2_000 {
		t.Fatalf("Room after 2,000 long-named rows = %d, want fewer than the %d a row of %d bytes would leave", room, sized-2_000, ILPBytesPerRow)
	}
	if err := s.Add(ctx, batch(2_000, room)); err != nil {
		t.Fatal(err)
	}
	used := s.sender.(interface{ BufLen() int }).BufLen()
	if used > s.capBytes {
		t.Fatalf("%d rows took %d bytes, more than the %d-byte buffer: Room overstated", 2_000+room, used, s.capBytes)
	}
	if left := s.Room(); left > 1 {
		t.Errorf("Room after filling it = %d, want 0 or 1", left)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := s.Room(); got < sized-1 {
		t.Errorf("Room after a flush = %d, want the buffer's %d rows again", got, sized)
	}
}
