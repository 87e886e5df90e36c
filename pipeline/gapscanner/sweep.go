package gapscanner

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feefifofunds/feefifofunds/pipeline/assets"
	"github.com/feefifofunds/feefifofunds/pipeline/gaps"
	"github.com/feefifofunds/feefifofunds/pipeline/pricefetch"
)

// SweepOptions say what Sweep scans and what it may change.
type SweepOptions struct {
	// Scan says what to scan. With JS set, Sweep sets Scan.Records to the
	// GAPS bucket, so the recorded states shape the classification; Scan.Now
	// is also the clock of the record history.
	Scan ScanConfig
	// JS holds the GAPS bucket and the FILLS stream. It may be nil only in a
	// dry run, which then ignores the records.
	JS jetstream.JetStream
	// DryRun only scans: no record is touched, nothing is published.
	DryRun bool
	// Retention of FILLED and FAILED records (DefaultRetention when 0).
	Retention time.Duration
	// MaxGapsPerSeries caps the gaps requested per series (PickPerSeries);
	// 0 requests every requestable gap, in the order of the report.
	MaxGapsPerSeries int
	// MaxRequestCandles splits larger gaps (DefaultMaxRequestCandles when 0).
	MaxRequestCandles int
	// Review, when set, is called once the scan is done and before anything
	// is changed (in a dry run too), with the report and the gaps Sweep
	// would request; false stops Sweep there with nothing changed.
	Review func(rep Report, todo []Gap) (bool, error)
}

// SweepResult is what Sweep found and did.
type SweepResult struct {
	RoundResult
	// Todo are the gaps chosen for fill requests (Requested holds the
	// requests actually published).
	Todo []Gap
	// Synced says the gap records were brought in line with the scan (Sync
	// counts what changed) and the publishing was attempted: false after a
	// dry run, a Review that said no, or a failure before.
	Synced bool
}

// Sweep is the scan → sync records → publish sequence: it scans, lets
// Review see the result, brings the GAPS bucket in line with the scan
// (SyncRecords) and publishes fill requests for the requestable gaps
// (PublishWith), at most MaxGapsPerSeries per series.
func Sweep(ctx context.Context, o SweepOptions) (SweepResult, error) {
	var res SweepResult
	if o.JS == nil && !o.DryRun {
		return res, errors.New("gapscanner: SweepOptions.JS is required unless DryRun")
	}
	var kv jetstream.KeyValue
	if o.JS != nil {
		var err error
		if kv, err = gaps.Open(ctx, o.JS); err != nil {
			return res, err
		}
		o.Scan.Records = kv
		if o.Scan.TierOf == nil {
			o.Scan.TierOf = registryTiers(ctx, o.JS, o.Scan.Log)
		}
		if o.Scan.Markets == nil && slices.Contains(pricefetch.SourceNames, o.Scan.Source) {
			if o.Scan.Markets, err = AssetMarkets(ctx, o.JS); err != nil {
				return res, err
			}
		}
	}
	rep, err := Scan(ctx, o.Scan)
	if err != nil {
		return res, err
	}
	res.Report = rep
	res.Todo = rep.Requestable()
	if o.MaxGapsPerSeries > 0 {
		res.Todo = PickPerSeries(res.Todo, o.MaxGapsPerSeries)
	}
	if o.Review != nil {
		ok, err := o.Review(rep, res.Todo)
		if err != nil || !ok {
			return res, err
		}
	}
	if o.DryRun {
		return res, nil
	}
	if res.Sync, err = SyncRecords(ctx, kv, rep, SyncOptions{Now: o.Scan.Now, Retention: o.Retention}); err != nil {
		return res, err
	}
	res.Synced = true
	if len(res.Todo) == 0 {
		return res, nil
	}
	res.Requested, err = PublishWith(ctx, o.JS, PublishOptions{Now: o.Scan.Now, MaxRequestCandles: o.MaxRequestCandles}, res.Todo...)
	return res, err
}

// registryTiers is the tier lookup of the ASSETS registry (an asset's stored
// tier first, then the tier list). When the registry cannot be read the
// list answers alone, with a warning: a tier filter must not stop a scan.
func registryTiers(ctx context.Context, js jetstream.JetStream, log *slog.Logger) assets.TierFunc {
	if log == nil {
		log = slog.Default()
	}
	reg, err := assets.Open(ctx, js)
	if err == nil {
		var tiers assets.TierFunc
		if tiers, err = reg.Tiers(ctx); err == nil {
			return tiers
		}
	}
	log.Warn("asset registry not read: tiers come from the tier list alone", "err", err)
	return assets.TierOf
}
