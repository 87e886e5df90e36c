package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/feefifofunds/feefifofunds/internal/cli"
	"github.com/feefifofunds/feefifofunds/pipeline/assets"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

func init() {
	cmd := &cobra.Command{
		Use:   "assets",
		Short: "Create, list and show assets in the registry (ASSETS bucket)",
		Long: `The asset registry holds one record per ticker: name, category, tier, quote
currency. Parsers add crypto and fiat assets the first time they meet them in a
Kraken pair; tiers come from the editable list pipeline/assets/tiers.txt
(unlisted assets are TIER4).`,
	}
	cmd.AddCommand(assetsCreateCmd(), assetsListCmd(), assetsShowCmd())
	rootCmd.AddCommand(cmd)
}

func openRegistry(ctx context.Context, n cli.NATS) (*assets.Registry, func(), error) {
	nc, js, err := cli.JetStream(ctx, n, "fff-assets", logger)
	if err != nil {
		return nil, nil, err
	}
	reg, err := assets.Open(ctx, js)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return reg, nc.Close, nil
}

func assetsCreateCmd() *cobra.Command {
	var (
		n    cli.NATS
		a    contract.Asset
		tier string
	)
	c := &cobra.Command{
		Use:   "create --ticker T --name NAME --category C",
		Short: "Add an asset to the registry (an existing ticker is an error)",
		Example: `  fff assets create --ticker BTC --name Bitcoin --category CRYPTO --quote-currency USD
  fff assets create --ticker AAPL --name "Apple Inc." --category STOCK --tier TIER2 --description "NASDAQ: AAPL"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a.Ticker = strings.ToUpper(strings.TrimSpace(a.Ticker))
			a.Category = strings.ToUpper(strings.TrimSpace(a.Category))
			a.QuoteCurrency = strings.ToUpper(strings.TrimSpace(a.QuoteCurrency))
			a.CreatedBy = "cli"
			if tier != "" {
				t, err := assets.ParseTierList([]string{tier})
				if err != nil {
					return err
				}
				if len(t) != 1 {
					return fmt.Errorf("--tier %q: give one tier", tier)
				}
				a.Tier = t[0]
			}
			if err := assets.Validate(withTier(a)); err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			reg, closeFn, err := openRegistry(ctx, n)
			if err != nil {
				return err
			}
			defer closeFn()
			if err := reg.Create(ctx, a); err != nil {
				return err
			}
			got, err := reg.Get(ctx, a.Ticker)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created %s (%s, %s, %s)\n", got.Ticker, got.Name, got.Category, got.Tier)
			return nil
		},
	}
	fs := c.Flags()
	n.AddFlags(fs)
	fs.StringVar(&a.Ticker, "ticker", "", "ticker symbol, A-Z and 0-9 (e.g. BTC)")
	fs.StringVar(&a.Name, "name", "", "full name (e.g. Bitcoin)")
	fs.StringVar(&a.Category, "category", "", "one of "+strings.Join(contract.AssetCategories, ", "))
	fs.StringVar(&a.QuoteCurrency, "quote-currency", "", "currency the asset is usually quoted in (e.g. USD)")
	fs.StringVar(&a.Description, "description", "", "free text")
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

func assetsListCmd() *cobra.Command {
	var (
		n      cli.NATS
		tier   string
		asJSON bool
	)
	c := &cobra.Command{
		Use:   "list",
		Short: "List assets, sorted by tier then ticker",
		Example: `  fff assets list
  fff assets list --tier TIER1
  fff assets list --tier 2 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			reg, closeFn, err := openRegistry(ctx, n)
			if err != nil {
				return err
			}
			defer closeFn()
			list, err := reg.List(ctx, tier)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(out, list)
			}
			if len(list) == 0 {
				fmt.Fprintln(out, "no assets")
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TICKER\tNAME\tCATEGORY\tTIER\tQUOTE\tCREATED\tBY")
			for _, a := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Ticker, a.Name, a.Category, a.Tier,
					dash(a.QuoteCurrency), a.Created.UTC().Format("2006-01-02 15:04"), dash(a.CreatedBy))
			}
			return tw.Flush()
		},
	}
	fs := c.Flags()
	n.AddFlags(fs)
	fs.StringVar(&tier, "tier", "", "only this tier (TIER1..TIER4 or 1..4)")
	fs.BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	return c
}

func assetsShowCmd() *cobra.Command {
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
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			reg, closeFn, err := openRegistry(ctx, n)
			if err != nil {
				return err
			}
			defer closeFn()
			a, err := reg.Get(ctx, args[0])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(out, a)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			for _, row := range [][2]string{
				{"ticker", a.Ticker}, {"name", a.Name}, {"category", a.Category}, {"tier", a.Tier},
				{"quote currency", dash(a.QuoteCurrency)}, {"description", dash(a.Description)},
				{"created", a.Created.UTC().Format(time.RFC3339)}, {"created by", dash(a.CreatedBy)},
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

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
