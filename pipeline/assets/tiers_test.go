package assets

import (
	"os"
	"slices"
	"strings"
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

func TestUseTiersFile(t *testing.T) {
	dir := t.TempDir()
	good := dir + "/tiers.txt"
	if err := os.WriteFile(good, []byte("TIER2: BTC\nTIER1: ZZZ\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := dir + "/bad.txt"
	if err := os.WriteFile(bad, []byte("TIER1: BTC\nTIER9: X\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = UseTiersFile("") })
	if err := UseTiersFile(good); err != nil {
		t.Fatal(err)
	}
	if TierOf("BTC") != "TIER2" || TierOf("ZZZ") != "TIER1" || TierOf("ETH") != "TIER4" {
		t.Errorf("file list: BTC %s ZZZ %s ETH %s", TierOf("BTC"), TierOf("ZZZ"), TierOf("ETH"))
	}
	if err := UseTiersFile(bad); err == nil || !strings.Contains(err.Error(), bad+": line 2") {
		t.Errorf("bad file: %v", err)
	}
	if TierOf("BTC") != "TIER2" {
		t.Error("a bad file replaced the list")
	}
	if err := UseTiersFile(dir + "/missing.txt"); err == nil || !strings.Contains(err.Error(), "read tier list") {
		t.Errorf("missing file: %v", err)
	}
	if err := UseTiersFile(""); err != nil || TierOf("BTC") != "TIER1" {
		t.Errorf("built-in list back: %s %v", TierOf("BTC"), err)
	}
}
