package jsplumb

import (
	"context"
	"time"
)

// Sleep waits d or until ctx ends, and says whether the whole d passed.
// A timer rather than time.After so that a cancelled wait frees it now.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
