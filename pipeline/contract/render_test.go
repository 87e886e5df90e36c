package contract_test

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/feefifofunds/feefifofunds/pipeline/contract"
)

func TestRenderBatch(t *testing.T) {
	b := sampleBatch(2)
	b.Candles[1].VWAP, b.Candles[1].Trades = contract.NoVWAP, contract.NoTrades
	data, _ := contract.EncodeBatch(b)
	out, err := contract.Render(data)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"source":"kraken","pair":"XBTUSD","base":"BTC","quote":"USD","interval_minutes":60,"origin":"csv",` +
		`"file_id":"` + sampleFileID + `","file_name":"XBTUSD_60.csv","fill_id":"","batch_index":7,"last":true,"count":2,"candles":[` +
		`{"time":"2025-01-10T08:00:00Z","open":94500.1,"high":94800,"low":94400.5,"close":94700.25,"vwap":94650.125,"volume":0.0125,"trades":300},` +
		`{"time":"2025-01-10T09:00:00Z","open":94501.1,"high":94800,"low":94400.5,"close":94700.25,"vwap":null,"volume":0.025,"trades":null}]}`
	if string(out) != want {
		t.Fatalf("render:\n got %s\nwant %s", out, want)
	}
}

// Render's numbers must read back as exactly the encoded float64s.
func TestRenderNumbersRoundTrip(t *testing.T) {
	b := sampleBatch(0)
	vals := []float64{0, 1, -1, 0.1, 1e-7, 1.5e-300, 123456789.123456789, 1e20, 1e21, 9.99e22, math.MaxFloat64, math.SmallestNonzeroFloat64, 3.0e-5}
	for i, v := range vals {
		b.Candles = append(b.Candles, contract.Candle{Time: int64(i) * 60, Open: v, High: v, Low: v, Close: v, VWAP: v, Volume: v, Trades: 0})
	}
	data, _ := contract.EncodeBatch(b)
	out, err := contract.Render(data)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Candles []struct {
			Time   string  `json:"time"`
			Open   float64 `json:"open"`
			Volume float64 `json:"volume"`
			Trades *int64  `json:"trades"`
		} `json:"candles"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("rendered batch is not JSON: %v\n%s", err, out)
	}
	for i, v := range vals {
		if r.Candles[i].Open != v || r.Candles[i].Volume != v {
			t.Errorf("value %d: %v rendered back as %v", i, v, r.Candles[i].Open)
		}
		if r.Candles[i].Trades == nil || *r.Candles[i].Trades != 0 {
			t.Errorf("value %d: trades 0 rendered as %v", i, r.Candles[i].Trades)
		}
	}
	if r.Candles[0].Time != "1970-01-01T00:00:00Z" {
		t.Errorf("time 0 rendered as %q", r.Candles[0].Time)
	}
}

func TestRenderNonFiniteIsNull(t *testing.T) {
	b := sampleBatch(1)
	b.Candles[0].Open, b.Candles[0].High = math.Inf(1), math.NaN()
	data, _ := contract.EncodeBatch(b)
	out, err := contract.Render(data)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(out) {
		t.Fatalf("not JSON: %s", out)
	}
}

func TestRenderOtherMessages(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{ "pair" : "XBTUSD",  "interval": 60 }`, `{"pair":"XBTUSD","interval":60}`},
		{"[1, 2]\n", `[1,2]`},
		{`plain text`, `"plain text"`},
		{"", `""`},
		{"\xff\xfe", `"\ufffd\ufffd"`},
		{`{"broken":`, `"{\"broken\":"`},
		{"FFCB", `"FFCB"`}, // too short to be a batch: shown as text
	}
	for _, c := range cases {
		out, err := contract.Render([]byte(c.in))
		if err != nil {
			t.Fatalf("Render(%q): %v", c.in, err)
		}
		if string(out) != c.want {
			t.Errorf("Render(%q) = %s, want %s", c.in, out, c.want)
		}
	}
}

func TestRenderBrokenBatchIsAnError(t *testing.T) {
	data, _ := contract.EncodeBatch(sampleBatch(2))
	if _, err := contract.Render(data[:len(data)-3]); err == nil {
		t.Fatal("a truncated batch rendered without error")
	}
}
