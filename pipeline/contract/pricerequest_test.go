package contract_test

import (
	"strings"
	"testing"
	"time"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

func TestDecodePriceRequest(t *testing.T) {
	cases := []struct {
		name, in string
		want     contract.PriceRequest
		err      string
	}{
		{name: "one ticker, dates", in: `{"ticker":"aapl","start":"2023-01-09","end":"2023-02-10"}`,
			want: contract.PriceRequest{Ticker: "AAPL", Market: "stocks", Interval: 1440,
				Start: time.Date(2023, 1, 9, 0, 0, 0, 0, time.UTC), End: time.Date(2023, 2, 10, 0, 0, 0, 0, time.UTC), ID: "AAPL-1440-20230109-20230210"}},
		{name: "unix seconds keep the UTC date", in: `{"ticker":"BTC","market":"crypto","start":1673240400,"end":"2023-01-09T23:00:00Z"}`,
			want: contract.PriceRequest{Ticker: "BTC", Market: "crypto", Interval: 1440,
				Start: time.Date(2023, 1, 9, 0, 0, 0, 0, time.UTC), End: time.Date(2023, 1, 9, 0, 0, 0, 0, time.UTC), ID: "BTC-1440-20230109-20230109"}},
		{name: "grouped", in: `{"grouped":true,"tickers":["aapl","MSFT","AAPL"],"start":"2023-01-09","end":"2023-01-09"}`,
			want: contract.PriceRequest{Market: "stocks", Interval: 1440, Grouped: true, Tickers: []string{"AAPL", "MSFT"},
				Start: time.Date(2023, 1, 9, 0, 0, 0, 0, time.UTC), End: time.Date(2023, 1, 9, 0, 0, 0, 0, time.UTC), ID: "grouped-stocks-1440-20230109-20230109"}},
		{name: "no ticker", in: `{"start":"2023-01-09","end":"2023-01-09"}`, err: `"ticker" is required`},
		{name: "hourly", in: `{"ticker":"AAPL","interval":60,"start":"2023-01-09","end":"2023-01-09"}`, err: "daily candles only (1440)"},
		{name: "grouped without tickers", in: `{"grouped":true,"start":"2023-01-09","end":"2023-01-09"}`, err: `"tickers" is required with "grouped"`},
		{name: "reversed", in: `{"ticker":"AAPL","start":"2023-02-10","end":"2023-01-09"}`, err: `"start" 2023-02-10 is after "end" 2023-01-09`},
		{name: "Kraken's field", in: `{"pair":"AAPL","start":"2023-01-09","end":"2023-01-09"}`, err: `unknown field "pair"`},
		{name: "dotted ticker", in: `{"ticker":"BRK.B","start":"2023-01-09","end":"2023-01-09"}`, err: `"ticker" "BRK.B"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := contract.DecodePriceRequest([]byte(c.in))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != c.want.ID || got.Ticker != c.want.Ticker || got.Market != c.want.Market || !got.Start.Equal(c.want.Start) ||
				!got.End.Equal(c.want.End) || strings.Join(got.Tickers, ",") != strings.Join(c.want.Tickers, ",") || got.Grouped != c.want.Grouped {
				t.Fatalf("got %+v\nwant %+v", got, c.want)
			}
		})
	}
}
