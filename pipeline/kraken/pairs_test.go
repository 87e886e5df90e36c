package kraken

import "testing"

func TestSplitPair(t *testing.T) {
	cases := map[string][2]string{
		"XBTUSD":   {"BTC", "USD"},
		"XXBTZUSD": {"BTC", "USD"},
		"XBT/USD":  {"BTC", "USD"},
		"ETHUSDT":  {"ETH", "USDT"},
		"XETHZEUR": {"ETH", "EUR"},
		"XDGUSD":   {"DOGE", "USD"},
		"ETHXBT":   {"ETH", "BTC"},
		"xbtusdc":  {"BTC", "USDC"},
	}
	for in, want := range cases {
		b, q, err := SplitPair(in)
		if err != nil || b != want[0] || q != want[1] {
			t.Errorf("SplitPair(%q) = %s, %s, %v; want %s, %s", in, b, q, err, want[0], want[1])
		}
	}
	if _, _, err := SplitPair("FOO"); err == nil {
		t.Error("SplitPair(FOO): want an error")
	}
}

func TestParseFileName(t *testing.T) {
	p, iv, err := ParseFileName("inbox/XBTUSD_60.csv")
	if err != nil || p != "XBTUSD" || iv != 60 {
		t.Errorf("got %s %d %v", p, iv, err)
	}
	for _, bad := range []string{"XBTUSD_7.csv", "xbtusd.csv", "XBTUSD_60.txt"} {
		if _, _, err := ParseFileName(bad); err == nil {
			t.Errorf("ParseFileName(%q): want an error", bad)
		}
	}
}
