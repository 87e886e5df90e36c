package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/feefifofunds/feefifofunds/pipeline/assets"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/gapscanner"
)

// ETH is TIER1 in the built-in list. A --tiers-file moves it when the
// registry does not know it; once the registry holds it, its stored tier is
// the one --tier selects, whatever the list says.
func TestTierFilterUsesStoredTierThenTiersFile(t *testing.T) {
	w := newWorld(t)
	file := filepath.Join(t.TempDir(), "tiers.txt")
	if err := os.WriteFile(file, []byte("# moved\nTIER3: ETH\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		register bool // ETH stored as TIER2 from this case on
		args     []string
		gaps     int
	}{
		{"built-in list", false, []string{"--tier", "TIER1"}, 2},
		{"built-in list, other tier", false, []string{"--tier", "TIER3"}, 0},
		{"tiers file", false, []string{"--tiers-file", file, "--tier", "TIER3"}, 2},
		{"tiers file, old tier", false, []string{"--tiers-file", file, "--tier", "TIER1"}, 0},
		{"tiers file from the environment", false, []string{"--tier", "3"}, 2},
		{"stored tier", true, []string{"--tier", "TIER2"}, 2},
		{"stored tier beats the tiers file", true, []string{"--tiers-file", file, "--tier", "TIER3"}, 0},
		{"stored tier beats the list", true, []string{"--tier", "TIER1"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "tiers file from the environment" {
				t.Setenv("FFF_TIERS_FILE", file)
			}
			if tc.register {
				w.registerTier2(t)
			}
			code, out, errOut := w.run(t, nil, append([]string{"scan", "--dry-run", "--json"}, tc.args...)...)
			var rep gapscanner.Report
			if err := json.Unmarshal([]byte(out), &rep); code != 0 || err != nil {
				t.Fatalf("exit %d %v\n%s", code, err, errOut)
			}
			if len(rep.Gaps) != tc.gaps {
				t.Fatalf("%d gaps, want %d\n%s", len(rep.Gaps), tc.gaps, errOut)
			}
			if tc.register && tc.gaps > 0 && rep.Gaps[0].Tier != "TIER2" {
				t.Errorf("gap reported in %s, want the stored TIER2", rep.Gaps[0].Tier)
			}
		})
	}
}

// registerTier2 stores ETH in the registry as TIER2 (once).
func (w *world) registerTier2(t *testing.T) {
	t.Helper()
	reg, err := assets.Open(context.Background(), w.nats.JS)
	if err != nil {
		t.Fatal(err)
	}
	err = reg.Create(context.Background(), contract.Asset{Ticker: "ETH", Name: "Ethereum", Category: "CRYPTO", Tier: "TIER2"})
	if err != nil && !errors.Is(err, assets.ErrExists) {
		t.Fatal(err)
	}
}
