package assets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

// Errors callers can test with errors.Is.
var (
	ErrExists   = errors.New("asset already exists")
	ErrNotFound = errors.New("not in the asset registry")
)

// ExistsError is what Create returns for a ticker already in the registry;
// errors.Is(err, ErrExists) holds.
type ExistsError struct {
	Existing contract.Asset // as stored (only Ticker when it could not be read)
}

func (e *ExistsError) Error() string {
	if e.Existing.Created.IsZero() {
		return fmt.Sprintf("asset %s already exists", e.Existing.Ticker)
	}
	by := e.Existing.CreatedBy
	if by == "" {
		by = "unknown"
	}
	return fmt.Sprintf("asset %s already exists (created %s by %s)",
		e.Existing.Ticker, e.Existing.Created.UTC().Format(time.RFC3339), by)
}

func (e *ExistsError) Is(target error) bool { return target == ErrExists }

// Fiat tickers: the parser files these under CURRENCY, everything else it
// sees under CRYPTO.
var Fiat = []string{"USD", "EUR", "GBP", "JPY", "CAD", "AUD", "CHF", "AED"}

// knownNames give auto-registered assets a readable name; others are named
// after their ticker until someone edits them.
var knownNames = map[string]string{
	"BTC": "Bitcoin", "ETH": "Ethereum", "USDT": "Tether", "USDC": "USD Coin", "XRP": "XRP",
	"SOL": "Solana", "ADA": "Cardano", "DOGE": "Dogecoin", "BNB": "BNB", "LTC": "Litecoin",
	"DOT": "Polkadot", "LINK": "Chainlink", "UNI": "Uniswap", "AAVE": "Aave", "ATOM": "Cosmos",
	"ALGO": "Algorand", "MATIC": "Polygon", "POL": "Polygon", "AVAX": "Avalanche", "BCH": "Bitcoin Cash",
	"XLM": "Stellar", "ETC": "Ethereum Classic", "XMR": "Monero", "DAI": "Dai",
	"USD": "US Dollar", "EUR": "Euro", "GBP": "Pound Sterling", "JPY": "Japanese Yen",
	"CAD": "Canadian Dollar", "AUD": "Australian Dollar", "CHF": "Swiss Franc", "AED": "UAE Dirham",
}

// CategoryOf is the category the parser gives a ticker it sees in a pair.
func CategoryOf(ticker string) string {
	if slices.Contains(Fiat, strings.ToUpper(ticker)) {
		return "CURRENCY"
	}
	return "CRYPTO"
}

// Validate checks an asset record as Create would store it.
func Validate(a contract.Asset) error {
	if err := ValidTicker(a.Ticker); err != nil {
		return err
	}
	if strings.TrimSpace(a.Name) == "" {
		return fmt.Errorf("asset %s: name is empty", a.Ticker)
	}
	if !slices.Contains(contract.AssetCategories, a.Category) {
		return fmt.Errorf("asset %s: category %q: want one of %s", a.Ticker, a.Category, strings.Join(contract.AssetCategories, ", "))
	}
	if a.Tier != "" && !slices.Contains(Tiers, a.Tier) {
		return fmt.Errorf("asset %s: tier %q: want one of %s", a.Ticker, a.Tier, strings.Join(Tiers, ", "))
	}
	if a.QuoteCurrency != "" {
		if err := ValidTicker(a.QuoteCurrency); err != nil {
			return fmt.Errorf("asset %s: quote currency: %w", a.Ticker, err)
		}
	}
	return nil
}

// ValidTicker: 1 to 20 characters of A-Z and 0-9 (also a valid KV key).
func ValidTicker(t string) error {
	if t == "" || len(t) > 20 {
		return fmt.Errorf("ticker %q: want 1 to 20 characters A-Z, 0-9", t)
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return fmt.Errorf("ticker %q: want 1 to 20 characters A-Z, 0-9", t)
		}
	}
	return nil
}

// Registry is the asset registry in the ASSETS key-value bucket, keyed by
// ticker. It is safe for concurrent use.
type Registry struct {
	kv  jetstream.KeyValue
	now func() time.Time

	mu   sync.Mutex
	seen map[string]bool // tickers known to be in the bucket
}

// Open binds to the ASSETS bucket (topology.Ensure creates it).
func Open(ctx context.Context, js jetstream.JetStream) (*Registry, error) {
	kv, err := js.KeyValue(ctx, topology.BucketAssets)
	if err != nil {
		return nil, fmt.Errorf("open asset registry (bucket %s): %w", topology.BucketAssets, err)
	}
	return &Registry{kv: kv, now: time.Now, seen: map[string]bool{}}, nil
}

// Create stores a new asset, active. Tier defaults to TierOf(ticker) and
// Created to now. An existing ticker is an error wrapping ErrExists that says who created
// it and when; of two concurrent creators exactly one wins.
func (r *Registry) Create(ctx context.Context, a contract.Asset) error {
	if a.Tier == "" {
		a.Tier = TierOf(a.Ticker)
	}
	if a.Created.IsZero() {
		a.Created = r.now().UTC()
	}
	a.Active = true // deactivating is an act of its own (SetActive)
	if err := Validate(a); err != nil {
		return err
	}
	data, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode asset %s: %w", a.Ticker, err)
	}
	if _, err := r.kv.Create(ctx, a.Ticker, data); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			r.markSeen(a.Ticker)
			have, gerr := r.Get(ctx, a.Ticker)
			if gerr != nil {
				have = contract.Asset{Ticker: a.Ticker}
			}
			return &ExistsError{Existing: have}
		}
		return fmt.Errorf("store asset %s: %w", a.Ticker, err)
	}
	r.markSeen(a.Ticker)
	return nil
}

// Get reads one asset; a missing ticker is an error wrapping ErrNotFound.
func (r *Registry) Get(ctx context.Context, ticker string) (contract.Asset, error) {
	ticker = strings.ToUpper(strings.TrimSpace(ticker))
	if err := ValidTicker(ticker); err != nil {
		return contract.Asset{}, err
	}
	e, err := r.kv.Get(ctx, ticker)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			return contract.Asset{}, fmt.Errorf("asset %s: %w", ticker, ErrNotFound)
		}
		return contract.Asset{}, fmt.Errorf("read asset %s: %w", ticker, err)
	}
	var a contract.Asset
	if err := json.Unmarshal(e.Value(), &a); err != nil {
		return contract.Asset{}, fmt.Errorf("asset %s: stored record is not valid JSON: %w", ticker, err)
	}
	return a, nil
}

// List returns every asset, or those of one tier ("TIER1" or "1"; "" = all),
// sorted by tier then ticker.
func (r *Registry) List(ctx context.Context, tier string) ([]contract.Asset, error) {
	var want string
	if tier != "" {
		t, err := ParseTierList([]string{tier})
		if err != nil {
			return nil, err
		}
		if len(t) == 1 {
			want = t[0]
		}
	}
	lister, err := r.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list assets: %w", err)
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	_ = lister.Stop() // the lister has already stopped once its channel closed
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list assets: %w", err)
	}
	out := make([]contract.Asset, 0, len(keys))
	for _, k := range keys {
		a, err := r.Get(ctx, k)
		if errors.Is(err, ErrNotFound) {
			continue // deleted between listing and reading
		}
		if err != nil {
			return nil, err
		}
		if want != "" && a.Tier != want {
			continue
		}
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool {
		ti, tj := tierRank(out[i].Tier), tierRank(out[j].Tier)
		if ti != tj {
			return ti < tj
		}
		return out[i].Ticker < out[j].Ticker
	})
	return out, nil
}

func tierRank(t string) int {
	if i := slices.Index(Tiers, t); i >= 0 {
		return i
	}
	return len(Tiers)
}

// EnsureSeen registers a ticker the parser met in a pair (quote is the pair's
// quote currency, "" for the quote asset itself) unless it is there already.
// created reports whether this call added it. Known tickers are cached, so
// calling it for every file costs no round trip after the first.
func (r *Registry) EnsureSeen(ctx context.Context, ticker, quote string) (created bool, err error) {
	ticker = strings.ToUpper(ticker)
	r.mu.Lock()
	known := r.seen[ticker]
	r.mu.Unlock()
	if known {
		return false, nil
	}
	if _, err := r.kv.Get(ctx, ticker); err == nil {
		r.markSeen(ticker)
		return false, nil
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) && !errors.Is(err, jetstream.ErrKeyDeleted) {
		return false, fmt.Errorf("look up asset %s: %w", ticker, err)
	}
	name := knownNames[ticker]
	if name == "" {
		name = ticker
	}
	a := contract.Asset{
		Ticker:        ticker,
		Name:          name,
		Category:      CategoryOf(ticker),
		Tier:          TierOf(ticker),
		QuoteCurrency: strings.ToUpper(quote),
		Description:   "registered by the parser on first sight in a Kraken pair",
		CreatedBy:     "parser",
	}
	if err := r.Create(ctx, a); err != nil {
		if errors.Is(err, ErrExists) {
			return false, nil // another parser won the race: same outcome
		}
		return false, err
	}
	return true, nil
}

func (r *Registry) markSeen(ticker string) {
	r.mu.Lock()
	r.seen[ticker] = true
	r.mu.Unlock()
}
