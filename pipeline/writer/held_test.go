package writer

import "testing"

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
