package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/feefifofunds/feefifofunds/internal/testenv"
	"github.com/feefifofunds/feefifofunds/pipeline/assets"
	"github.com/feefifofunds/feefifofunds/pipeline/contract"
	"github.com/feefifofunds/feefifofunds/pipeline/topology"
)

func TestPricesDryRunTouchesNothing(t *testing.T) {
	env := testenv.StartJetStream(t)
	q := testenv.NewQuestDB(t)
	reg, err := assets.Open(context.Background(), env.JS)
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Create(context.Background(), contract.Asset{Ticker: "AAPL", Name: "Apple", Category: "STOCK"}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"load", []string{"load", "--ticker", "aapl", "--source", "massive", "--days", "7"}, "massive daily bars"},
		{"backfill grouped", []string{"backfill", "--source", "massive", "--all", "--category", "STOCK", "--start", "2023-01-09", "--end", "2023-01-17", "--grouped"}, "massive grouped daily bars, 2023-01-09 to 2023-01-17: 6 calls"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			cmd := (&app{log: testenv.Logger(t)}).pricesCmd()
			cmd.SetOut(&out)
			cmd.SetErr(&errOut)
			cmd.SetArgs(append(c.args, "--dry-run", "--nats="+env.URL, "--table="+q.Table))
			if err := cmd.Execute(); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), c.want) || !strings.Contains(out.String(), "dry run: nothing was published or written") {
				t.Fatalf("output:\n%s", out.String())
			}
			info, err := env.JS.Stream(context.Background(), topology.StreamFills)
			if err != nil {
				t.Fatal(err)
			}
			if si, _ := info.Info(context.Background()); si.State.Msgs != 0 {
				t.Fatalf("%d fill requests published by a dry run", si.State.Msgs)
			}
			if n := q.Count(t); n != 0 {
				t.Fatalf("%d rows written by a dry run", n)
			}
		})
	}
}

func TestPricesFlagChecks(t *testing.T) {
	cases := []struct {
		args []string
		err  string
	}{
		{[]string{"backfill", "--source", "finnhub", "--all", "--days", "7", "--grouped"}, "--grouped is a Massive endpoint"},
		{[]string{"backfill", "--source", "massive", "--ticker", "AAPL", "--days", "7", "--grouped"}, "--grouped needs --all"},
		{[]string{"backfill", "--source", "massive", "--ticker", "AAPL"}, "give --days N or --start D"},
		{[]string{"backfill", "--source", "massive", "--ticker", "AAPL", "--all", "--days", "3"}, "give --ticker T or --all"},
		{[]string{"load", "--source", "massive"}, "--ticker is required"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			cmd := (&app{log: testenv.Logger(t)}).pricesCmd()
			cmd.SetArgs(c.args)
			cmd.SetOut(&bytes.Buffer{})
			cmd.SetErr(&bytes.Buffer{})
			if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("err %v, want %q", err, c.err)
			}
		})
	}
}
