package backtest

import (
	"math"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"

	"github.com/gridmesh/gridmesh/exchange"
)

// TestExactArithmetic checks the exact amounts the run tracks equity in
// against decimal arithmetic: sums and differences across the fraction,
// fees of either sign, percentages, and conversion by both paths.
func TestExactArithmetic(t *testing.T) {
	unit := dec("0.0001")
	c := newConv(unit)
	big := conv{unit: unit, zero: decimal.Zero} // no fast path: decimal arithmetic
	of := func(x exact) string { return c.ofExact(x).String() }

	a, b := exact{m: 10, f: 30_000_000}, exact{m: 4, f: 70_000_000}
	assert.Equal(t, exact{m: 5, f: 60_000_000}, a.sub(b), "10.3 − 4.7 = 5.6 units, borrowing")
	assert.Equal(t, exact{m: -6, f: 40_000_000}, b.sub(a), "−5.6 units")
	assert.True(t, b.less(a) && !a.less(b) && !a.less(a))
	assert.Equal(t, "-0.00056", of(b.sub(a)))
	assert.Equal(t, big.ofExact(b.sub(a)).String(), of(b.sub(a)))

	// 123,456,789 units × 0.05 % = 61,728.3945 units; a rebate is negative.
	assert.Equal(t, exact{m: 61728, f: 39_450_000}, exactRate(123_456_789, 50_000))
	assert.Equal(t, "-6.17283945", of(exactRate(123_456_789, -50_000)))
	assert.Equal(t, "-6.17283945", big.ofExact(exactRate(-123_456_789, 50_000)).String())
	assert.Equal(t, exact{m: math.MaxInt64 / 2}, exactRate(math.MaxInt64, exchange.RateScale), "clamped as the simulator clamps")
	assert.Equal(t, exact{m: -math.MaxInt64 / 2}, exactRate(math.MaxInt64, -exchange.RateScale))
	assert.Equal(t, exact{m: math.MaxInt64 / 2}, exactRate(math.MaxInt64, 4*exchange.RateScale), "saturates")
	assert.Equal(t, exact{m: math.MinInt64 / 2}, exactRate(math.MinInt64+1, 4*exchange.RateScale))

	// Large amounts leave the one-allocation path and stay exact.
	huge := exact{m: 1 << 61, f: 1}
	want := decimal.NewFromInt(1 << 61).Add(decimal.New(1, -8)).Mul(unit)
	assert.Equal(t, want.String(), of(huge))

	// Percentages, rounded half up to two decimals.
	assert.Equal(t, "12.35", pctExact(exact{m: 12_345}, exact{m: 100_000}).String())
	assert.Equal(t, "0.01", pctExact(exact{m: 0, f: 500_000}, exact{m: 100}).String(), "0.005 % rounds up")
	assert.Equal(t, "0", pctExact(exact{m: 0, f: 499_999}, exact{m: 100}).String())
	assert.Equal(t, "0", pctExact(exact{m: 5}, exact{}).String(), "no whole: zero")
	assert.Equal(t, "50", pctExact(exact{m: 1 << 61}, exact{m: 1 << 62}).String(), "beyond int64 in fine units: decimals")
}
