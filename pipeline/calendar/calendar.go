// Package calendar knows which days a market trades, so that a missing
// daily candle on a weekend or an exchange holiday is not taken for a gap.
// US stocks (NYSE and Nasdaq share the calendar) close on weekends, on the
// ten regular holidays and on the rare special closures listed below;
// crypto trades every day.
//
// The regular holidays follow the exchange's rules, so every year is
// covered; special closures are listed from 2001 on.
package calendar

import (
	"fmt"
	"time"
)

// Markets.
const (
	Stocks = "stocks" // US equities and ETFs
	Crypto = "crypto" // every day is a trading day
)

// ParseMarket accepts stocks or crypto ("" is stocks).
func ParseMarket(s string) (string, error) {
	switch s {
	case "", Stocks:
		return Stocks, nil
	case Crypto:
		return Crypto, nil
	}
	return "", fmt.Errorf("market %q: want %s or %s", s, Stocks, Crypto)
}

// Date is d's calendar date at 00:00 UTC, the open time daily candles are
// stored under.
func Date(d time.Time) time.Time {
	y, m, day := d.Date()
	return time.Date(y, m, day, 0, 0, 0, 0, time.UTC)
}

// IsTradingDay says whether market trades on the date of d (its year,
// month and day, whatever the location).
func IsTradingDay(market string, d time.Time) bool {
	if market == Crypto {
		return true
	}
	_, closed := Closed(d)
	return !closed
}

// Closed says whether US stock markets are closed on the date of d, and
// why ("Saturday", "Thanksgiving Day", ...).
func Closed(d time.Time) (reason string, closed bool) {
	d = Date(d)
	switch d.Weekday() {
	case time.Saturday, time.Sunday:
		return d.Weekday().String(), true
	}
	if name, ok := special[d.Format(time.DateOnly)]; ok {
		return name, true
	}
	for _, h := range holidays(d.Year()) {
		if h.day.Equal(d) {
			return h.name, true
		}
	}
	return "", false
}

// TradingDays lists the trading days of market from from to to, both
// dates inclusive, as 00:00 UTC.
func TradingDays(market string, from, to time.Time) []time.Time {
	var out []time.Time
	for d := Date(from); !d.After(Date(to)); d = d.AddDate(0, 0, 1) {
		if IsTradingDay(market, d) {
			out = append(out, d)
		}
	}
	return out
}

type holiday struct {
	day  time.Time
	name string
}

// holidays are the NYSE's regular full-day closures of year. A holiday on
// a Saturday is observed the Friday before, on a Sunday the Monday after,
// except New Year's Day on a Saturday, which is not observed at all (the
// exchange does not close on the last day of its year).
func holidays(year int) []holiday {
	date := func(m time.Month, d int) time.Time { return time.Date(year, m, d, 0, 0, 0, 0, time.UTC) }
	observed := func(d time.Time) time.Time {
		switch d.Weekday() {
		case time.Saturday:
			return d.AddDate(0, 0, -1)
		case time.Sunday:
			return d.AddDate(0, 0, 1)
		}
		return d
	}
	out := []holiday{
		{nthWeekday(year, time.January, time.Monday, 3), "Martin Luther King Jr. Day"},
		{nthWeekday(year, time.February, time.Monday, 3), "Washington's Birthday"},
		{easter(year).AddDate(0, 0, -2), "Good Friday"},
		{lastWeekday(year, time.May, time.Monday), "Memorial Day"},
		{observed(date(time.July, 4)), "Independence Day"},
		{nthWeekday(year, time.September, time.Monday, 1), "Labor Day"},
		{nthWeekday(year, time.November, time.Thursday, 4), "Thanksgiving Day"},
		{observed(date(time.December, 25)), "Christmas Day"},
	}
	if ny := date(time.January, 1); ny.Weekday() != time.Saturday {
		out = append(out, holiday{observed(ny), "New Year's Day"})
	}
	if year >= 2022 { // first observed by the exchanges in 2022
		out = append(out, holiday{observed(date(time.June, 19)), "Juneteenth"})
	}
	return out
}

// special are the unscheduled full-day closures since 2001.
var special = map[string]string{
	"2001-09-11": "September 11 attacks", "2001-09-12": "September 11 attacks",
	"2001-09-13": "September 11 attacks", "2001-09-14": "September 11 attacks",
	"2004-06-11": "National Day of Mourning (Ronald Reagan)",
	"2007-01-02": "National Day of Mourning (Gerald Ford)",
	"2012-10-29": "Hurricane Sandy", "2012-10-30": "Hurricane Sandy",
	"2018-12-05": "National Day of Mourning (George H. W. Bush)",
	"2025-01-09": "National Day of Mourning (Jimmy Carter)",
}

func nthWeekday(year int, m time.Month, wd time.Weekday, n int) time.Time {
	d := time.Date(year, m, 1, 0, 0, 0, 0, time.UTC)
	d = d.AddDate(0, 0, (int(wd)-int(d.Weekday())+7)%7)
	return d.AddDate(0, 0, 7*(n-1))
}

func lastWeekday(year int, m time.Month, wd time.Weekday) time.Time {
	d := time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC) // last day of m
	return d.AddDate(0, 0, -((int(d.Weekday()) - int(wd) + 7) % 7))
}

// easter is Easter Sunday of year (Gregorian; the anonymous computus).
func easter(year int) time.Time {
	a := year % 19
	b, c := year/100, year%100
	d, e := b/4, b%4
	f := (b + 8) / 25
	g := (b - f + 1) / 3
	h := (19*a + b - d - g + 15) % 30
	i, k := c/4, c%4
	l := (32 + 2*e + 2*i - h - k) % 7
	m := (a + 11*h + 22*l) / 451
	month := (h + l - 7*m + 114) / 31
	day := (h+l-7*m+114)%31 + 1
	return time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
}
