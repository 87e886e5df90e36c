package calendar_test

import (
	"testing"
	"time"

	"github.com/feefifofunds/feefifofunds/pipeline/calendar"
)

func day(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

func TestClosed(t *testing.T) {
	cases := []struct {
		date   string
		closed bool
		reason string
	}{
		{"2023-01-02", true, "New Year's Day"}, // Jan 1 on a Sunday: observed Monday
		{"2022-12-30", false, ""},              // Jan 1 2022 on a Saturday: not observed
		{"2023-01-16", true, "Martin Luther King Jr. Day"},
		{"2023-02-20", true, "Washington's Birthday"},
		{"2023-04-07", true, "Good Friday"},
		{"2024-03-29", true, "Good Friday"},
		{"2023-05-29", true, "Memorial Day"},
		{"2023-06-19", true, "Juneteenth"},
		{"2021-06-18", false, ""},                // before Juneteenth was an exchange holiday
		{"2020-07-03", true, "Independence Day"}, // July 4 on a Saturday
		{"2023-09-04", true, "Labor Day"},
		{"2023-11-23", true, "Thanksgiving Day"},
		{"2022-12-26", true, "Christmas Day"}, // Dec 25 on a Sunday
		{"2025-01-09", true, "National Day of Mourning (Jimmy Carter)"},
		{"2023-01-14", true, "Saturday"},
		{"2023-01-09", false, ""},
		{"2023-11-24", false, ""}, // the half day after Thanksgiving trades
	}
	for _, c := range cases {
		t.Run(c.date, func(t *testing.T) {
			reason, closed := calendar.Closed(day(c.date))
			if closed != c.closed || reason != c.reason {
				t.Fatalf("Closed(%s) = %q, %v; want %q, %v", c.date, reason, closed, c.reason, c.closed)
			}
		})
	}
}

func TestTradingDays(t *testing.T) {
	cases := []struct {
		market   string
		from, to string
		want     int
	}{
		// 2023-01-09..2023-02-10 is the Massive AAPL capture: 24 bars.
		{calendar.Stocks, "2023-01-09", "2023-02-10", 24},
		// Finnhub's AAPL capture 2021-09-07..2021-09-22: 12 bars.
		{calendar.Stocks, "2021-09-07", "2021-09-22", 12},
		{calendar.Crypto, "2023-01-09", "2023-02-10", 33},
		{calendar.Stocks, "2023-01-01", "2023-12-31", 250},
	}
	for _, c := range cases {
		t.Run(c.market+" "+c.from, func(t *testing.T) {
			if got := len(calendar.TradingDays(c.market, day(c.from), day(c.to))); got != c.want {
				t.Fatalf("%d trading days, want %d", got, c.want)
			}
		})
	}
}
