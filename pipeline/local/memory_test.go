package local_test

import (
	"testing"

	"github.com/feefifofunds/feefifofunds/pipeline/local"
	"github.com/feefifofunds/feefifofunds/pipeline/parser"
	"github.com/feefifofunds/feefifofunds/pipeline/writer"
)

// The limit of the one-process pipeline is the writer's own plus what the
// parsers hold plus room for the rest, and follows the settings.
func TestSoftMemoryLimit(t *testing.T) {
	const mib = 1 << 20
	defaults := local.Options{Parser: &parser.Config{}, Writer: &writer.Config{}}
	base := local.SoftMemoryLimit(defaults)
	if w := writer.SoftMemoryLimit(0, 0); base <= w+64*mib || base > w+96*mib {
		t.Errorf("default limit %d MiB, want the writer's %d MiB plus 64-96 MiB", base/mib, w/mib)
	}
	for _, tc := range []struct {
		name string
		o    local.Options
		more bool
	}{
		{name: "more writers", o: local.Options{Parser: &parser.Config{}, Writer: &writer.Config{Workers: 4}}, more: true},
		{name: "bigger requests", o: local.Options{Parser: &parser.Config{}, Writer: &writer.Config{FlushRows: 400_000}}, more: true},
		{name: "more parsers", o: local.Options{Parser: &parser.Config{Workers: 8}, Writer: &writer.Config{}}, more: true},
		{name: "no writer", o: local.Options{Parser: &parser.Config{}}, more: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := local.SoftMemoryLimit(tc.o); (got > base) != tc.more {
				t.Errorf("limit %d MiB against %d MiB by default, want more: %v", got/mib, base/mib, tc.more)
			}
		})
	}
}
