package assets

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

func openRegistry(t *testing.T) (*Registry, context.Context) {
	t.Helper()
	env := testenv.StartJetStream(t)
	ctx := testenv.Context(t, 30*time.Second)
	r, err := Open(ctx, env.JS)
	if err != nil {
		t.Fatal(err)
	}
	return r, ctx
}

func TestCreateGetDuplicate(t *testing.T) {
	r, ctx := openRegistry(t)
	btc := contract.Asset{Ticker: "BTC", Name: "Bitcoin", Category: "CRYPTO", QuoteCurrency: "USD", CreatedBy: "cli"}
	if err := r.Create(ctx, btc); err != nil {
		t.Fatal(err)
	}
	got, err := r.Get(ctx, "btc")
	if err != nil {
		t.Fatal(err)
	}
	if got.Ticker != "BTC" || got.Name != "Bitcoin" || got.Tier != "TIER1" || got.QuoteCurrency != "USD" ||
		got.CreatedBy != "cli" || time.Since(got.Created) > time.Minute {
		t.Errorf("stored %+v", got)
	}

	err = r.Create(ctx, contract.Asset{Ticker: "BTC", Name: "Other", Category: "CRYPTO", CreatedBy: "cli"})
	if !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate: got %v, want ErrExists", err)
	}
	if !strings.HasPrefix(err.Error(), "asset BTC already exists (created ") || !strings.HasSuffix(err.Error(), "by cli)") {
		t.Errorf("duplicate message: %q", err)
	}
	if got2, _ := r.Get(ctx, "BTC"); got2.Name != "Bitcoin" {
		t.Errorf("duplicate overwrote the asset: %+v", got2)
	}

	if _, err := r.Get(ctx, "NOPE"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing: got %v, want ErrNotFound", err)
	}
}

func TestCreateValidates(t *testing.T) {
	r, ctx := openRegistry(t)
	for _, c := range []struct {
		name  string
		asset contract.Asset
	}{
		{"lower-case ticker", contract.Asset{Ticker: "btc", Name: "x", Category: "CRYPTO"}},
		{"dot in ticker", contract.Asset{Ticker: "BT.C", Name: "x", Category: "CRYPTO"}},
		{"no ticker", contract.Asset{Ticker: "", Name: "x", Category: "CRYPTO"}},
		{"blank name", contract.Asset{Ticker: "BTC", Name: " ", Category: "CRYPTO"}},
		{"unknown category", contract.Asset{Ticker: "BTC", Name: "x", Category: "MEME"}},
		{"unknown tier", contract.Asset{Ticker: "BTC", Name: "x", Category: "CRYPTO", Tier: "TIER9"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := r.Create(ctx, c.asset); err == nil {
				t.Errorf("%+v accepted", c.asset)
			}
		})
	}
}

func TestConcurrentCreateOneWins(t *testing.T) {
	r, ctx := openRegistry(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := r.Create(ctx, contract.Asset{Ticker: "ETH", Name: "Ethereum", Category: "CRYPTO"})
			if err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			} else if !errors.Is(err, ErrExists) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d creators won, want 1", wins)
	}
}

func TestListByTier(t *testing.T) {
	r, ctx := openRegistry(t)
	for _, a := range []contract.Asset{
		{Ticker: "UNI", Name: "Uniswap", Category: "CRYPTO"},
		{Ticker: "ETH", Name: "Ethereum", Category: "CRYPTO"},
		{Ticker: "BTC", Name: "Bitcoin", Category: "CRYPTO"},
		{Ticker: "USD", Name: "US Dollar", Category: "CURRENCY"},
		{Ticker: "BAT", Name: "Basic Attention Token", Category: "CRYPTO"},
		{Ticker: "AAPL", Name: "Apple", Category: "STOCK", Tier: "TIER2"},
	} {
		if err := r.Create(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	all, err := r.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := tickers(all); got != "BTC ETH AAPL UNI BAT USD" {
		t.Errorf("list: %s", got)
	}
	for tier, want := range map[string]string{"TIER1": "BTC ETH", "2": "AAPL UNI", "tier3": "BAT", "TIER4": "USD"} {
		l, err := r.List(ctx, tier)
		if err != nil {
			t.Fatal(err)
		}
		if got := tickers(l); got != want {
			t.Errorf("tier %s: %s, want %s", tier, got, want)
		}
	}
	if _, err := r.List(ctx, "TIER7"); err == nil {
		t.Error("unknown tier accepted")
	}
}

func TestListEmpty(t *testing.T) {
	r, ctx := openRegistry(t)
	l, err := r.List(ctx, "")
	if err != nil || len(l) != 0 {
		t.Fatalf("empty registry: %v, %v", l, err)
	}
}

func TestEnsureSeen(t *testing.T) {
	r, ctx := openRegistry(t)
	created, err := r.EnsureSeen(ctx, "BTC", "USD")
	if err != nil || !created {
		t.Fatalf("first sight: created=%v err=%v", created, err)
	}
	if created, err := r.EnsureSeen(ctx, "USD", ""); err != nil || !created {
		t.Fatalf("USD: created=%v err=%v", created, err)
	}
	if created, err := r.EnsureSeen(ctx, "BTC", "EUR"); err != nil || created {
		t.Fatalf("second sight: created=%v err=%v", created, err)
	}
	// Another process (its own cache) finds it in the bucket.
	r2 := &Registry{kv: r.kv, now: time.Now, seen: map[string]bool{}}
	if created, err := r2.EnsureSeen(ctx, "BTC", "USD"); err != nil || created {
		t.Fatalf("other process: created=%v err=%v", created, err)
	}
	btc, err := r.Get(ctx, "BTC")
	if err != nil {
		t.Fatal(err)
	}
	if btc.Category != "CRYPTO" || btc.Tier != "TIER1" || btc.CreatedBy != "parser" || btc.Name != "Bitcoin" || btc.QuoteCurrency != "USD" {
		t.Errorf("BTC: %+v", btc)
	}
	usd, err := r.Get(ctx, "USD")
	if err != nil {
		t.Fatal(err)
	}
	if usd.Category != "CURRENCY" || usd.Tier != "TIER4" || usd.CreatedBy != "parser" {
		t.Errorf("USD: %+v", usd)
	}
}

func tickers(l []contract.Asset) string {
	var s []string
	for _, a := range l {
		s = append(s, a.Ticker)
	}
	return strings.Join(s, " ")
}

func TestActiveDefaultsAndOldRecords(t *testing.T) {
	r, ctx := openRegistry(t)
	// A record written before "active" existed.
	old := `{"ticker":"LTC","name":"Litecoin","category":"CRYPTO","tier":"TIER2","created":"2024-01-01T00:00:00Z","created_by":"parser"}`
	if _, err := r.kv.Create(ctx, "LTC", []byte(old)); err != nil {
		t.Fatal(err)
	}
	if a, err := r.Get(ctx, "LTC"); err != nil || !a.Active {
		t.Fatalf("old record: %+v %v, want active", a, err)
	}
	if err := r.Create(ctx, contract.Asset{Ticker: "DOGE", Name: "Dogecoin", Category: "CRYPTO"}); err != nil {
		t.Fatal(err)
	}
	a, changed, err := r.SetActive(ctx, "doge", false)
	if err != nil || !changed || a.Active {
		t.Fatalf("deactivate: %+v %v %v", a, changed, err)
	}
	if a, err := r.Get(ctx, "DOGE"); err != nil || a.Active || a.Name != "Dogecoin" {
		t.Fatalf("stored after deactivate: %+v %v", a, err)
	}
	// Concurrent writers neither fail nor lose the rest of the record: each
	// write is a compare-and-set, retried.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := r.SetActive(ctx, "LTC", i%2 == 0); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if _, changed, err := r.SetActive(ctx, "LTC", true); err != nil {
		t.Fatal(err)
	} else if a, _ := r.Get(ctx, "LTC"); !a.Active || a.Tier != "TIER2" || a.CreatedBy != "parser" {
		t.Fatalf("after flips (changed=%v): %+v", changed, a)
	}
	list, err := r.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if act := Active(list); len(act) != 1 || act[0].Ticker != "LTC" {
		t.Fatalf("active: %+v", act)
	}
}

func TestTiersPreferTheStoredTier(t *testing.T) {
	r, ctx := openRegistry(t)
	if err := r.Create(ctx, contract.Asset{Ticker: "BTC", Name: "Bitcoin", Category: "CRYPTO", Tier: "TIER3"}); err != nil {
		t.Fatal(err)
	}
	tiers, err := r.Tiers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for tk, want := range map[string]string{"BTC": "TIER3", "btc": "TIER3", "ETH": "TIER1", "ZZZ": "TIER4"} {
		if got := tiers(tk); got != want {
			t.Errorf("Tiers(%s) = %s, want %s", tk, got, want)
		}
		if got, err := r.Tier(ctx, tk); err != nil || got != want {
			t.Errorf("Tier(%s) = %s %v, want %s", tk, got, err, want)
		}
	}
}
