package testenv

import (
	"context"
	"testing"
	"time"
)

// Context is a test's context for its calls: done after timeout, or when the
// test ends, before its cleanups run (t.Context's rule, as a deferred cancel
// would), so what the test started stops before what it uses is torn down.
func Context(t testing.TB, timeout time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	t.Cleanup(cancel)
	return ctx
}
