package assets

import (
	"context"
	"errors"
	"strings"
)

// TierFunc gives the tier of a base ticker, as --tier filters see it.
type TierFunc func(ticker string) string

// Tiers is the tier lookup of the filters, read once from the registry: an
// asset in the registry has the tier stored with it (the one `fff assets`
// shows); any other ticker has its tier from the tier list (TierOf). One
// read serves a whole scan; a long-running stage asks Tier per item instead.
func (r *Registry) Tiers(ctx context.Context) (TierFunc, error) {
	list, err := r.List(ctx, "")
	if err != nil {
		return nil, err
	}
	stored := make(map[string]string, len(list))
	for _, a := range list {
		stored[a.Ticker] = a.Tier
	}
	return func(ticker string) string {
		if t, ok := stored[strings.ToUpper(ticker)]; ok && t != "" {
			return t
		}
		return TierOf(ticker)
	}, nil
}

// Tier is one ticker's tier now: stored in the registry, else from the tier
// list. A registry that cannot be read answers from the list too (err says
// why), so a filter never stops on it.
func (r *Registry) Tier(ctx context.Context, ticker string) (string, error) {
	a, err := r.Get(ctx, ticker)
	if err == nil && a.Tier != "" {
		return a.Tier, nil
	}
	if errors.Is(err, ErrNotFound) {
		err = nil
	}
	return TierOf(ticker), err
}
