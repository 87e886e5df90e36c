package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/feefifofunds/feefifofunds/internal/cli"
	"github.com/feefifofunds/feefifofunds/pipeline/assets"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

func (a *app) assetsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "assets",
		Short: "Create, list, show, activate and deactivate assets in the registry (ASSETS bucket)",
		Long: `The asset registry holds one record per ticker: name, category, tier, quote
currency, active. Parsers add crypto and fiat assets the first time they meet
them in a Kraken pair; a new asset's tier comes from the tier list
(pipeline/assets/tiers.txt, or --tiers-file; unlisted assets are TIER4), and
from then on the stored tier is the one every --tier filter uses (fff ingest,
watcher, gapscanner). A deactivated asset is left out of "every asset"
(fff prices backfill --all) and of fff assets list unless --all.`,
	}
	cmd.AddCommand(a.assetsCreateCmd(), a.assetsListCmd(), a.assetsShowCmd(),
		a.assetsActivateCmd(true), a.assetsActivateCmd(false))
	return cmd
}

// withRegistry connects, opens the asset registry and runs f within 30
// seconds: the frame every assets subcommand shares.
func (a *app) withRegistry(cmd *cobra.Command, n cli.NATS, f func(context.Context, *assets.Registry) error) error {
	return withOpened(cmd, n, "fff-assets", a.log, 30*time.Second, assets.Open, f)
}

func (a *app) assetsCreateCmd() *cobra.Command {
	var (
		n     cli.NATS
		asset contract.Asset
		tier  string
	)
	c := &cobra.Command{
		Use:   "create --ticker T --name NAME --category C",
		Short: "Add an asset to the registry (an existing ticker is an error)",
		Example: `  fff assets create --ticker BTC --name Bitcoin --category CRYPTO --quote-currency USD
  fff assets create --ticker AAPL --name "Apple Inc." --category STOCK --tier TIER2 --description "NASDAQ: AAPL"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			asset.Ticker = strings.ToUpper(strings.TrimSpace(asset.Ticker))
			asset.Category = strings.ToUpper(strings.TrimSpace(asset.Category))
			asset.QuoteCurrency = strings.ToUpper(strings.TrimSpace(asset.QuoteCurrency))
			asset.CreatedBy = "cli"
			if tier != "" {
				t, err := assets.ParseTierList([]string{tier})
				if err != nil {
					return err
				}
				if len(t) != 1 {
					return fmt.Errorf("--tier %q: give one tier", tier)
				}
				asset.Tier = t[0]
			}
			if err := assets.Validate(withTier(asset)); err != nil {
				return err
			}
			return a.withRegistry(cmd, n, func(ctx context.Context, reg *assets.Registry) error {
				if err := reg.Create(ctx, asset); err != nil {
					return err
				}
				got, err := reg.Get(ctx, asset.Ticker)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "created %s (%s, %s, %s)\n", got.Ticker, got.Name, got.Category, got.Tier)
				return nil
			})
		},
	}
	fs := c.Flags()
	n.AddFlags(fs)
	fs.StringVar(&asset.Ticker, "ticker", "", "ticker symbol, A-Z and 0-9 (e.g. BTC)")
	fs.StringVar(&asset.Name, "name", "", "full name (e.g. Bitcoin)")
	fs.StringVar(&asset.Category, "category", "", "one of "+strings.Join(contract.AssetCategories, ", "))
	fs.StringVar(&asset.QuoteCurrency, "quote-currency", "USD", "currency the asset is usually quoted in")
	fs.StringVar(&asset.Description, "description", "", "free text")
	fs.StringVar(&tier, "tier", "", "TIER1..TIER4 (default: from tiers.txt, TIER4 when unlisted)")
	for _, f := range []string{"ticker", "name", "category"} {
		_ = c.MarkFlagRequired(f)
	}
	return c
}

// withTier fills the default tier so validation sees what will be stored.
func withTier(a contract.Asset) contract.Asset {
	if a.Tier == "" {
		a.Tier = assets.TierOf(a.Ticker)
	}
	return a
}

func (a *app) assetsListCmd() *cobra.Command {
	var (
		n           cli.NATS
		tier        string
		asJSON      bool
		active, all bool
	)
	c := &cobra.Command{
		Use:   "list",
		Short: "List active assets (or --all, or --active=false), sorted by tier then ticker",
		Example: `  fff assets list
  fff assets list --tier TIER1
  fff assets list --all --json
  fff assets list --active=false`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if all && cmd.Flags().Changed("active") {
				return errors.New("--all lists active and inactive assets: give --all or --active, not both")
			}
			var list []contract.Asset
			err := a.withRegistry(cmd, n, func(ctx context.Context, reg *assets.Registry) (err error) {
				list, err = reg.List(ctx, tier)
				return err
			})
			if err != nil {
				return err
			}
			if !all {
				list = slices.DeleteFunc(list, func(x contract.Asset) bool { return x.Active != active })
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if list == nil {
					list = []contract.Asset{}
				}
				return cli.WriteJSON(out, list)
			}
			if len(list) == 0 {
				fmt.Fprintln(out, "no assets")
				return nil
			}
			tw := table(out, "TICKER", "NAME", "CATEGORY", "TIER", "QUOTE", "ACTIVE", "CREATED", "BY")
			for _, a := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Ticker, a.Name, a.Category, a.Tier,
					dash(a.QuoteCurrency), yesNo(a.Active), a.Created.UTC().Format("2006-01-02 15:04"), dash(a.CreatedBy))
			}
			return tw.Flush()
		},
	}
	fs := c.Flags()
	n.AddFlags(fs)
	fs.StringVar(&tier, "tier", "", "only this tier (TIER1..TIER4 or 1..4)")
	fs.BoolVar(&active, "active", true, "only active assets; --active=false: only deactivated ones")
	fs.BoolVar(&all, "all", false, "active and deactivated assets")
	fs.BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	return c
}

func (a *app) assetsShowCmd() *cobra.Command {
	var (
		n      cli.NATS
		asJSON bool
	)
	c := &cobra.Command{
		Use:   "show TICKER",
		Short: "Show one asset",
		Example: `  fff assets show BTC
  fff assets show eth --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var asset contract.Asset
			err := a.withRegistry(cmd, n, func(ctx context.Context, reg *assets.Registry) (err error) {
				asset, err = reg.Get(ctx, args[0])
				return err
			})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return cli.WriteJSON(out, asset)
			}
			tw := columns(out)
			for _, row := range [][2]string{
				{"ticker", asset.Ticker}, {"name", asset.Name}, {"category", asset.Category}, {"tier", asset.Tier},
				{"quote currency", dash(asset.QuoteCurrency)}, {"active", yesNo(asset.Active)},
				{"description", dash(asset.Description)},
				{"created", asset.Created.UTC().Format(time.RFC3339)}, {"created by", dash(asset.CreatedBy)},
			} {
				fmt.Fprintf(tw, "%s:\t%s\n", row[0], row[1])
			}
			return tw.Flush()
		},
	}
	n.AddFlags(c.Flags())
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

// assetsActivateCmd is "activate TICKER" (on) or "deactivate TICKER".
func (a *app) assetsActivateCmd(on bool) *cobra.Command {
	var n cli.NATS
	verb, done, short := "activate", "active", "Count an asset in again where every active asset is meant"
	if !on {
		verb, done, short = "deactivate", "inactive",
			"Leave an asset out of every-asset runs (fff prices backfill --all) and of fff assets list"
	}
	c := &cobra.Command{
		Use:     verb + " TICKER",
		Short:   short,
		Example: "  fff assets " + verb + " DOGE",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withRegistry(cmd, n, func(ctx context.Context, reg *assets.Registry) error {
				got, changed, err := reg.SetActive(ctx, args[0], on)
				if err != nil {
					return err
				}
				if !changed {
					fmt.Fprintf(cmd.OutOrStdout(), "%s was already %s\n", got.Ticker, done)
					return nil
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s is now %s\n", got.Ticker, done)
				return nil
			})
		},
	}
	n.AddFlags(c.Flags())
	return c
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// storedTiers is the --tier lookup of the registry (stored tier first, then
// the tier list). NATS or a registry out of reach leaves the tier list
// alone, with a warning: the command that needs NATS says so itself.
func (a *app) storedTiers(cmd *cobra.Command, n cli.NATS) assets.TierFunc {
	tiers := assets.TierFunc(assets.TierOf)
	err := a.withRegistry(cmd, n, func(ctx context.Context, reg *assets.Registry) (err error) {
		tiers, err = reg.Tiers(ctx)
		return err
	})
	if err != nil {
		a.log.Warn("asset registry not read: tiers come from the tier list alone", "err", err)
		return assets.TierOf
	}
	return tiers
}
