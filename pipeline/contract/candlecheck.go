package contract

import (
	"fmt"
	"math"
)

// CheckCandle applies the rules a CSV row must pass to a candle from any
// other source (REST APIs included): finite, positive prices, high at or
// above every other price, low at or below, volume not negative. The error
// says which rule failed, with the values.
func CheckCandle(c Candle) error {
	for _, v := range [...]struct {
		name string
		x    float64
	}{{"open", c.Open}, {"high", c.High}, {"low", c.Low}, {"close", c.Close}, {"volume", c.Volume}} {
		if math.IsNaN(v.x) || math.IsInf(v.x, 0) {
			return fmt.Errorf("%s is %v", v.name, v.x)
		}
	}
	g := func(x float64) string { return fmt.Sprintf("%g", x) }
	switch {
	case c.Open <= 0 || c.High <= 0 || c.Low <= 0 || c.Close <= 0:
		return fmt.Errorf("prices must be positive (open %s, high %s, low %s, close %s)", g(c.Open), g(c.High), g(c.Low), g(c.Close))
	case c.High < c.Low:
		return fmt.Errorf("high %s is below low %s", g(c.High), g(c.Low))
	case c.Low > c.Open:
		return fmt.Errorf("low %s is above open %s", g(c.Low), g(c.Open))
	case c.Low > c.Close:
		return fmt.Errorf("low %s is above close %s", g(c.Low), g(c.Close))
	case c.High < c.Open:
		return fmt.Errorf("high %s is below open %s", g(c.High), g(c.Open))
	case c.High < c.Close:
		return fmt.Errorf("high %s is below close %s", g(c.High), g(c.Close))
	case c.Volume < 0:
		return fmt.Errorf("volume %s is negative", g(c.Volume))
	}
	return nil
}
