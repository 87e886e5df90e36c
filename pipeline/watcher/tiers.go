package watcher

import (
	"context"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/assets"
)

// liveTiers is the --tier filter's lookup for a stage that runs for days: it
// reads the asset's stored tier when a file is judged, so a tier changed in
// the registry counts from the next file on, and falls back to the tier
// list (with a warning) when the registry cannot be read.
func liveTiers(ctx context.Context, js jetstream.JetStream, log *slog.Logger) (assets.TierFunc, error) {
	reg, err := assets.Open(ctx, js)
	if err != nil {
		return nil, err
	}
	return func(ticker string) string {
		tier, err := reg.Tier(ctx, ticker)
		if err != nil {
			log.Warn("asset registry not read: tier from the tier list", "asset", ticker, "tier", tier, "err", err)
		}
		return tier
	}, nil
}
