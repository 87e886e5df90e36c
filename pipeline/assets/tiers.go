// Package assets is the asset registry: tiers from an editable list (the
// repository's tiers.txt, or a file of the same format given at run time),
// and asset records in the ASSETS key-value bucket.
package assets

import (
	_ "embed"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
)

// Tiers, most important first. Anything not listed is TIER4.
var Tiers = []string{"TIER1", "TIER2", "TIER3", "TIER4"}

//go:embed tiers.txt
var tiersText string

// tierOf is the process's tier list: the built-in tiers.txt until
// UseTiersFile replaces it. A pointer swapped whole, so a stage reading it
// while a command starts never sees half a list.
var tierOf atomic.Pointer[map[string]string]

var builtinTiers = func() map[string]string {
	m, err := ParseTiers(tiersText)
	if err != nil {
		panic("built-in tiers.txt: " + err.Error())
	}
	return m
}()

func init() { tierOf.Store(&builtinTiers) }

// UseTiersFile makes the tier list of a file in tiers.txt's format the one
// TierOf answers from, for the whole process (tiers change without a
// rebuild); "" brings back the built-in list. Commands call it once at
// start, before anything asks for a tier.
func UseTiersFile(path string) error {
	if path == "" {
		tierOf.Store(&builtinTiers)
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read tier list: %w", err)
	}
	m, err := ParseTiers(string(data))
	if err != nil {
		return fmt.Errorf("tier list %s: %w", path, err)
	}
	tierOf.Store(&m)
	return nil
}

// ParseTiers reads the "TIER1: BTC ETH ..." format of tiers.txt.
func ParseTiers(text string) (map[string]string, error) {
	m := map[string]string{}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		tier, list, ok := strings.Cut(line, ":")
		tier = strings.ToUpper(strings.TrimSpace(tier))
		if !ok || !slices.Contains(Tiers, tier) {
			return nil, fmt.Errorf("line %d: want \"TIER1: BTC ETH ...\"", i+1)
		}
		for _, t := range strings.Fields(list) {
			m[strings.ToUpper(t)] = tier
		}
	}
	return m, nil
}

// TierOf is the tier of a ticker in the tier list (BTC → TIER1); unlisted
// tickers are TIER4. Filters use a Registry's Tiers, which prefer the tier
// stored with the asset.
func TierOf(ticker string) string {
	if t, ok := (*tierOf.Load())[strings.ToUpper(ticker)]; ok {
		return t
	}
	return "TIER4"
}

// ParseTierList reads a --tier flag value ("TIER1,TIER2" or "1,2"), checking each.
func ParseTierList(values []string) ([]string, error) {
	var out []string
	for _, v := range values {
		for _, p := range strings.Split(v, ",") {
			p = strings.ToUpper(strings.TrimSpace(p))
			if p == "" {
				continue
			}
			if !strings.HasPrefix(p, "TIER") {
				p = "TIER" + p
			}
			if !slices.Contains(Tiers, p) {
				return nil, fmt.Errorf("tier %q: want one of %s", v, strings.Join(Tiers, ", "))
			}
			out = append(out, p)
		}
	}
	return out, nil
}
