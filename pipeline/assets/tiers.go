// Package assets is the asset registry: tiers from an editable list in the
// repository (tiers.txt), and asset records in the ASSETS key-value bucket.
package assets

import (
	_ "embed"
	"fmt"
	"slices"
	"strings"
)

// Tiers, most important first. Anything not listed is TIER4.
var Tiers = []string{"TIER1", "TIER2", "TIER3", "TIER4"}

//go:embed tiers.txt
var tiersText string

var tierOf = mustParseTiers(tiersText)

func mustParseTiers(text string) map[string]string {
	m, err := ParseTiers(text)
	if err != nil {
		panic(err)
	}
	return m
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
			return nil, fmt.Errorf("tiers.txt line %d: want \"TIER1: BTC ETH ...\"", i+1)
		}
		for _, t := range strings.Fields(list) {
			m[strings.ToUpper(t)] = tier
		}
	}
	return m, nil
}

// TierOf is the tier of a ticker (BTC → TIER1); unlisted tickers are TIER4.
func TierOf(ticker string) string {
	if t, ok := tierOf[strings.ToUpper(ticker)]; ok {
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
