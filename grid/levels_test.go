package grid

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
)

func TestNthRoot(t *testing.T) {
	for _, tc := range []struct {
		a    string
		n    int64
		want string // to 12 decimals
	}{
		{"2", 10, "1.071773462536"},
		{"1.25", 50, "1.004472844466"},
		{"0.5", 3, "0.793700525984"},
		{"100", 2, "10"},
		{"1.0001", 100000, "1.000000001"},
	} {
		r := nthRoot(d(tc.a), tc.n)
		assert.Equal(t, tc.want, r.Round(12).String(), "%s^(1/%d)", tc.a, tc.n)
		back := powInt(r, tc.n)
		assert.True(t, back.Sub(d(tc.a)).Abs().LessThan(d("1e-20")), "%s^(1/%d)^%d = %s", tc.a, tc.n, tc.n, back)
	}
}

// TestGeometricLevels pins a bounded geometric grid: equal ratios from 100
// to 200 in 4 steps (ratio 2^(1/4) = 1.189207…), each level rounded to the tick.
func TestGeometricLevels(t *testing.T) {
	rules := exchange.Rules{Symbol: "X", TickSize: d("0.01"), StepSize: d("1"), MinQty: d("1"), MinNotional: d("0")}
	e, err := New(rules, WithStartPrice(d("150")), WithBounds(d("100"), d("200"), 4), WithGeometric(), WithQuantity(d("1")))
	require.NoError(t, err)
	var got []string
	for i := int64(0); i <= 4; i++ {
		got = append(got, rules.TicksToPrice(e.lad.prices[i]).String())
	}
	assert.Equal(t, []string{"100", "118.92", "141.42", "168.18", "200"}, got)
}
