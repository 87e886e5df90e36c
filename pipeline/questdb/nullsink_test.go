package questdb_test

import (
	"context"
	"errors"
	"testing"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/questdb"
)

func TestNullSinkCommit(t *testing.T) {
	batches := []*contract.Batch{
		{Candles: make([]contract.Candle, 3)},
		nil, // unreadable
		{Candles: make([]contract.Candle, 2)},
		{Candles: make([]contract.Candle, 1)},
	}
	get := func(i int) (*contract.Batch, error) {
		if batches[i] == nil {
			return nil, errors.New("undecodable")
		}
		return batches[i], nil
	}
	var s questdb.Sink = &questdb.NullSink{}
	var committed [][2]int
	var rejected []int
	err := s.Commit(context.Background(), len(batches), get, questdb.Hooks{
		Committed: func(lo, hi int) { committed = append(committed, [2]int{lo, hi}) },
		Rejected: func(i int, err error) {
			if !questdb.Rejected(err) {
				t.Errorf("batch %d: %v is not a rejection", i, err)
			}
			rejected = append(rejected, i)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(committed) != 2 || committed[0] != [2]int{0, 1} || committed[1] != [2]int{2, 4} {
		t.Fatalf("committed %v, want [[0 1] [2 4]]", committed)
	}
	if len(rejected) != 1 || rejected[0] != 1 {
		t.Fatalf("rejected %v, want [1]", rejected)
	}
	n := s.(*questdb.NullSink)
	if n.Requests.Load() != 1 || n.Batches.Load() != 3 || n.Rows.Load() != 6 {
		t.Fatalf("requests %d batches %d rows %d, want 1 3 6", n.Requests.Load(), n.Batches.Load(), n.Rows.Load())
	}
}
