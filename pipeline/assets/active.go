package assets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

// SetActive marks an asset active or not and returns the record as stored.
// The update is a compare-and-set on the record's revision, retried when
// another writer changed it in between, so no concurrent edit is lost.
// changed is false when the asset already was in that state.
func (r *Registry) SetActive(ctx context.Context, ticker string, active bool) (a contract.Asset, changed bool, err error) {
	ticker = strings.ToUpper(strings.TrimSpace(ticker))
	if err := ValidTicker(ticker); err != nil {
		return contract.Asset{}, false, err
	}
	for {
		e, err := r.kv.Get(ctx, ticker)
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			return contract.Asset{}, false, fmt.Errorf("asset %s: %w", ticker, ErrNotFound)
		}
		if err != nil {
			return contract.Asset{}, false, fmt.Errorf("read asset %s: %w", ticker, err)
		}
		if err := json.Unmarshal(e.Value(), &a); err != nil {
			return contract.Asset{}, false, fmt.Errorf("asset %s: stored record is not valid JSON: %w", ticker, err)
		}
		if a.Active == active {
			return a, false, nil
		}
		a.Active = active
		data, err := json.Marshal(a)
		if err != nil {
			return contract.Asset{}, false, fmt.Errorf("encode asset %s: %w", ticker, err)
		}
		_, err = r.kv.Update(ctx, ticker, data, e.Revision())
		if err == nil {
			return a, true, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) || ctx.Err() != nil {
			return contract.Asset{}, false, fmt.Errorf("store asset %s: %w", ticker, err)
		}
		// Someone else wrote the record since it was read: read it again.
	}
}

// Active keeps the active assets of list, in order.
func Active(list []contract.Asset) []contract.Asset {
	var out []contract.Asset
	for _, a := range list {
		if a.Active {
			out = append(out, a)
		}
	}
	return out
}
