package writer

import (
	"strconv"
	"testing"

	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
)

// A settled item must not stay reachable from the held slice's backing
// array: its message's data would stay on the heap until the slot is
// written again.
func TestDropSettledReleasesSettledItems(t *testing.T) {
	a, b, c, d := &item{rows: 1}, &item{rows: 2, done: true}, &item{rows: 3}, &item{rows: 4, done: true}
	held := []*item{a, b, c, d}
	kept := dropSettled(held)
	if len(kept) != 2 || kept[0] != a || kept[1] != c {
		t.Fatalf("kept %v, want the unsettled items a and c in order", kept)
	}
	for i, it := range held[len(kept):cap(held)] {
		if it != nil {
			t.Errorf("slot %d behind the kept items still holds an item (rows %d)", len(kept)+i, it.rows)
		}
	}
}

// A worker's request fills to --flush-rows before its buffer says it is
// full, however small --flush-rows is: the buffer also holds the pull's
// slack beyond it.
func TestSinkRoomCoversTheRequest(t *testing.T) {
	for _, flushRows := range []int{1_000, 50_000, DefaultFlushRows} {
		t.Run(strconv.Itoa(flushRows), func(t *testing.T) {
			s, err := questdb.NewILPSink("http::addr=127.0.0.1:1;", "candles", questdb.SinkOptions{Rows: sinkRows(flushRows)})
			if err != nil {
				t.Fatal(err)
			}
			if room := s.Room() - slackRows; room != flushRows {
				t.Errorf("room for the request before the first row: %d rows, want --flush-rows %d", room, flushRows)
			}
		})
	}
}
