package parser

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestTimeGateHoldsAFileThatRunsAheadUntilTheSlowestCatchesUp(t *testing.T) {
	const day = 86_400
	g := newTimeGate(7 * day)
	slow, fast := g.join(), g.join()
	ctx := context.Background()

	if err := slow.wait(ctx, 0); err != nil {
		t.Fatal(err)
	}
	// Within the window: no wait.
	if err := fast.wait(ctx, 7*day); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- fast.wait(ctx, 30*day) }()
	// The slowest file never waits, however far ahead the other is.
	if err := slow.wait(ctx, 10*day); err != nil {
		t.Fatal(err)
	}
	stillWaiting(t, done, "the fast file went on 20 days ahead of the slowest")
	if err := slow.wait(ctx, 23*day); err != nil {
		t.Fatal(err)
	}
	returned(t, done, "the fast file still waits though the slowest is within the window")
}

func TestTimeGateLetsGoWhenTheSlowestFileEnds(t *testing.T) {
	g := newTimeGate(60)
	slow, fast := g.join(), g.join()
	ctx := context.Background()
	if err := slow.wait(ctx, 0); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- fast.wait(ctx, 1_000_000) }()
	slow.leave()
	returned(t, done, "a file still waits for one that has ended")
	// A slot that left may join the race again at its next batch.
	if err := slow.wait(ctx, 999_990); err != nil {
		t.Fatal(err)
	}
}

func TestTimeGateWaitEndsWithItsContext(t *testing.T) {
	g := newTimeGate(60)
	slow, fast := g.join(), g.join()
	if err := slow.wait(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fast.wait(ctx, 1_000_000) }()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a cancelled wait did not return")
	}
}

func TestTimeGateOffNeverWaits(t *testing.T) {
	g := newTimeGate(-1)
	a, b := g.join(), g.join()
	ctx := context.Background()
	if err := a.wait(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := b.wait(ctx, 1<<40); err != nil {
		t.Fatal(err)
	}
}

func TestTimeGateAFileTakenButNotYetReadHoldsTheOthers(t *testing.T) {
	const day = 86_400
	g := newTimeGate(7 * day)
	running, taken := g.join(), g.join()
	ctx := context.Background()
	if err := running.wait(ctx, 100*day); err != nil {
		t.Fatal(err)
	}
	taken.hold() // its bytes are still being read from the store
	done := make(chan error, 1)
	go func() { done <- running.wait(ctx, 106*day) }()
	stillWaiting(t, done, "a file went on while another, just taken, had not started")
	// Its first batch starts within the window of the running file.
	if err := taken.wait(ctx, 100*day); err != nil {
		t.Fatal(err)
	}
	returned(t, done, "the running file still waits")
}

// returned waits for a wait started in a goroutine to return nil.
func returned(t *testing.T, done <-chan error, what string) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal(what)
	}
}

// stillWaiting checks that a wait started in a goroutine has not returned.
// It can only miss a bug (a wait that returns later), never fail a good gate.
func stillWaiting(t *testing.T, done <-chan error, what string) {
	t.Helper()
	select {
	case err := <-done:
		t.Fatalf("%s (err %v)", what, err)
	case <-time.After(50 * time.Millisecond):
	}
}
