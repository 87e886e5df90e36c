// Package kraken knows Kraken's conventions: how its pair names split into
// base and quote assets, and (client.go) its public REST API.
package kraken

import (
	"fmt"
	"strings"
)

// assetAliases maps Kraken's asset codes to the tickers people use.
var assetAliases = map[string]string{
	"XBT":  "BTC",
	"XXBT": "BTC",
	"XDG":  "DOGE",
	"XXDG": "DOGE",
	"XETH": "ETH",
	"XXRP": "XRP",
	"XLTC": "LTC",
	"XXLM": "XLM",
	"XETC": "ETC",
	"XMLN": "MLN",
	"XREP": "REP",
	"XXMR": "XMR",
	"XZEC": "ZEC",
	"ZUSD": "USD",
	"ZEUR": "EUR",
	"ZGBP": "GBP",
	"ZJPY": "JPY",
	"ZCAD": "CAD",
	"ZAUD": "AUD",
	"ZCHF": "CHF",
}

// quotes Kraken lists pairs against, longest first so USDT wins over USD.
var quotes = []string{
	"ZUSD", "ZEUR", "ZGBP", "ZJPY", "ZCAD", "ZAUD", "ZCHF",
	"USDT", "USDC", "PYUSD", "DAI", "RLUSD", "USDG", "USDQ", "USDR", "EURQ", "EURR",
	"XXBT", "XETH",
	"USD", "EUR", "GBP", "JPY", "CAD", "AUD", "CHF", "AED",
	"XBT", "BTC", "ETH", "DOT", "POL", "SOL",
}

// NormalizeAsset turns a Kraken asset code into the common ticker
// (XBT → BTC, XDG → DOGE, XXBT → BTC, ZUSD → USD).
func NormalizeAsset(code string) string {
	code = strings.ToUpper(code)
	if a, ok := assetAliases[code]; ok {
		return a
	}
	return code
}

// SplitPair splits a Kraken pair (altname such as XBTUSD, ETHUSDT, XDGUSD, or
// Kraken's own name such as XXBTZUSD) into normalised base and quote tickers.
func SplitPair(pair string) (base, quote string, err error) {
	p := strings.ToUpper(strings.TrimSpace(pair))
	if p == "" {
		return "", "", fmt.Errorf("empty pair")
	}
	if b, q, ok := strings.Cut(p, "/"); ok { // wsname style, XBT/USD
		return NormalizeAsset(b), NormalizeAsset(q), nil
	}
	// Kraken's own 8-letter names of the old pairs: XXBTZUSD, XETHZEUR.
	if len(p) == 8 && (p[0] == 'X') && (p[4] == 'Z' || p[4] == 'X') {
		if _, ok := assetAliases[p[:4]]; ok {
			if _, ok := assetAliases[p[4:]]; ok {
				return NormalizeAsset(p[:4]), NormalizeAsset(p[4:]), nil
			}
		}
	}
	for _, q := range quotes {
		if strings.HasSuffix(p, q) && len(p) > len(q) {
			return NormalizeAsset(p[:len(p)-len(q)]), NormalizeAsset(q), nil
		}
	}
	return "", "", fmt.Errorf("pair %q: cannot tell its base from its quote (unknown quote currency)", pair)
}
