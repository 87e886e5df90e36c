package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

func TestAssetsCommands(t *testing.T) {
	env := testenv.StartJetStream(t)
	nats := "--nats=" + env.URL

	out, err := runFFF(t, "assets", "create", nats, "--ticker", "btc", "--name", "Bitcoin", "--category", "crypto", "--quote-currency", "USD")
	if err != nil || out != "created BTC (Bitcoin, CRYPTO, TIER1)\n" {
		t.Fatalf("create: %q, %v", out, err)
	}
	_, err = runFFF(t, "assets", "create", nats, "--ticker", "BTC", "--name", "Bitcoin", "--category", "CRYPTO")
	if err == nil || !strings.HasPrefix(err.Error(), "asset BTC already exists (created ") || !strings.HasSuffix(err.Error(), " by cli)") {
		t.Fatalf("duplicate: %v", err)
	}
	_, err = runFFF(t, "assets", "create", nats, "--ticker", "X", "--name", "X", "--category", "MEME")
	if err == nil || !strings.Contains(err.Error(), `category "MEME"`) {
		t.Fatalf("bad category: %v", err)
	}
	if _, err := runFFF(t, "assets", "create", nats, "--ticker", "UNI", "--name", "Uniswap", "--category", "CRYPTO", "--tier", "3", "--quote-currency=",
		"--description", "DEX token"); err != nil {
		t.Fatal(err)
	}

	out, err = runFFF(t, "assets", "list", nats, "--json=false", "--tier=")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "TICKER  NAME") ||
		!strings.HasPrefix(lines[1], "BTC     Bitcoin  CRYPTO    TIER1  USD") ||
		!strings.HasPrefix(lines[2], "UNI     Uniswap  CRYPTO    TIER3  -") {
		t.Fatalf("list:\n%s", out)
	}

	out, err = runFFF(t, "assets", "list", nats, "--tier", "TIER3", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var list []contract.Asset
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 1 || list[0].Ticker != "UNI" || list[0].Description != "DEX token" {
		t.Fatalf("list --json: %s (%v)", out, err)
	}

	out, err = runFFF(t, "assets", "show", nats, "btc", "--json=false")
	if err != nil || !strings.Contains(out, "name:            Bitcoin") || !strings.Contains(out, "created by:      cli") {
		t.Fatalf("show:\n%s%v", out, err)
	}
	_, err = runFFF(t, "assets", "show", nats, "NOPE")
	if err == nil || err.Error() != "asset NOPE: not in the asset registry" {
		t.Fatalf("show missing: %v", err)
	}
}

func TestAssetsActivateDeactivateAndList(t *testing.T) {
	env := testenv.StartJetStream(t)
	nats := "--nats=" + env.URL
	for _, tk := range []string{"AAPL", "MSFT"} {
		if _, err := runFFF(t, "assets", "create", nats, "--ticker", tk, "--name", tk, "--category", "STOCK"); err != nil {
			t.Fatal(err)
		}
	}
	out, err := runFFF(t, "assets", "show", nats, "AAPL")
	if err != nil || !strings.Contains(out, "quote currency:  USD") || !strings.Contains(out, "active:          yes") {
		t.Fatalf("show (USD by default, active):\n%s%v", out, err)
	}
	if out, err := runFFF(t, "assets", "deactivate", nats, "msft"); err != nil || out != "MSFT is now inactive\n" {
		t.Fatalf("deactivate: %q %v", out, err)
	}
	if out, err := runFFF(t, "assets", "deactivate", nats, "MSFT"); err != nil || out != "MSFT was already inactive\n" {
		t.Fatalf("deactivate again: %q %v", out, err)
	}
	if _, err := runFFF(t, "assets", "deactivate", nats, "NOPE"); err == nil || err.Error() != "asset NOPE: not in the asset registry" {
		t.Fatalf("deactivate missing: %v", err)
	}

	for _, tc := range []struct {
		name string
		args []string
		want string // tickers listed
	}{
		{"default: active ones", nil, "AAPL"},
		{"all", []string{"--all"}, "AAPL MSFT"},
		{"inactive ones", []string{"--active=false"}, "MSFT"},
		{"active ones", []string{"--active"}, "AAPL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runFFF(t, append([]string{"assets", "list", nats, "--json"}, tc.args...)...)
			var list []contract.Asset
			if err != nil || json.Unmarshal([]byte(out), &list) != nil {
				t.Fatalf("list: %s %v", out, err)
			}
			var got []string
			for _, a := range list {
				got = append(got, a.Ticker)
			}
			if strings.Join(got, " ") != tc.want {
				t.Errorf("listed %v, want %s", got, tc.want)
			}
		})
	}
	out, err = runFFF(t, "assets", "list", nats, "--all")
	if err != nil || !strings.Contains(out, "ACTIVE") || !strings.Contains(out, "MSFT    MSFT  STOCK     TIER4  USD    no") {
		t.Fatalf("list --all table:\n%s%v", out, err)
	}
	if _, err := runFFF(t, "assets", "list", nats, "--all", "--active=false"); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Fatalf("--all with --active: %v", err)
	}

	if out, err := runFFF(t, "assets", "activate", nats, "MSFT"); err != nil || out != "MSFT is now active\n" {
		t.Fatalf("activate: %q %v", out, err)
	}
	if out, _ := runFFF(t, "assets", "list", nats); !strings.Contains(out, "MSFT") {
		t.Fatalf("activated asset not listed:\n%s", out)
	}
}
