package assets

import (
	"slices"
	"testing"
)

func TestTierOfIssueExamples(t *testing.T) {
	for tier, tickers := range map[string][]string{
		"TIER1": {"BTC", "ETH", "USDT", "USDC", "XRP", "SOL", "ADA", "DOGE", "BNB"},
		"TIER2": {"UNI", "AAVE", "LINK", "ALGO", "ATOM", "MATIC", "DOT"},
		"TIER3": {"BAT", "ENJ", "GALA", "MANA", "SAND"},
		"TIER4": {"PEPE", "USD", "ZZZ"},
	} {
		for _, tk := range tickers {
			if got := TierOf(tk); got != tier {
				t.Errorf("TierOf(%s) = %s, want %s", tk, got, tier)
			}
		}
	}
	if TierOf("btc") != "TIER1" {
		t.Error("TierOf is case sensitive")
	}
}

func TestParseTiers(t *testing.T) {
	m, err := ParseTiers("# comment\n\nTIER1: AAA bbb\ntier2: CCC\n")
	if err != nil {
		t.Fatal(err)
	}
	if m["AAA"] != "TIER1" || m["BBB"] != "TIER1" || m["CCC"] != "TIER2" {
		t.Errorf("got %v", m)
	}
	for _, bad := range []string{"TIER9: X", "no colon here", "TIER: X"} {
		if _, err := ParseTiers(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseTierList(t *testing.T) {
	got, err := ParseTierList([]string{"1,tier2", " TIER3 "})
	if err != nil || !slices.Equal(got, []string{"TIER1", "TIER2", "TIER3"}) {
		t.Fatalf("got %v, %v", got, err)
	}
	if _, err := ParseTierList([]string{"5"}); err == nil {
		t.Error("TIER5 accepted")
	}
}

func TestCategoryOf(t *testing.T) {
	for tk, want := range map[string]string{"USD": "CURRENCY", "eur": "CURRENCY", "BTC": "CRYPTO", "USDT": "CRYPTO"} {
		if got := CategoryOf(tk); got != want {
			t.Errorf("CategoryOf(%s) = %s, want %s", tk, got, want)
		}
	}
}
