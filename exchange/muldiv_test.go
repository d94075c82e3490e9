package exchange

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bigMulDiv is the reference: a × b / d in math/big, truncated toward
// zero or rounded half away from zero; ok is false when it leaves int64.
func bigMulDiv(a, b, d int64, round bool) (int64, bool) {
	p := new(big.Int).Mul(big.NewInt(a), big.NewInt(b))
	q, r := new(big.Int).QuoRem(p, big.NewInt(d), new(big.Int))
	if round {
		twice := new(big.Int).Abs(r)
		twice.Lsh(twice, 1)
		if twice.Cmp(new(big.Int).Abs(big.NewInt(d))) >= 0 {
			if p.Sign()*big.NewInt(d).Sign() < 0 {
				q.Sub(q, big.NewInt(1))
			} else {
				q.Add(q, big.NewInt(1))
			}
		}
	}
	if !q.IsInt64() {
		return 0, false
	}
	return q.Int64(), true
}

// checkMulDiv compares MulDiv and MulDivRound with math/big for one input.
func checkMulDiv(t *testing.T, a, b, d int64) {
	t.Helper()
	for _, round := range []bool{false, true} {
		name, fn := "MulDiv", MulDiv
		if round {
			name, fn = "MulDivRound", MulDivRound
		}
		got, err := fn(a, b, d)
		if d == 0 {
			require.Error(t, err, "%s(%d, %d, 0)", name, a, b)
			assert.NotErrorIs(t, err, ErrOverflow)
			continue
		}
		want, ok := bigMulDiv(a, b, d, round)
		if !ok {
			require.ErrorIs(t, err, ErrOverflow, "%s(%d, %d, %d) does not fit", name, a, b, d)
			continue
		}
		require.NoError(t, err, "%s(%d, %d, %d)", name, a, b, d)
		require.Equal(t, want, got, "%s(%d, %d, %d)", name, a, b, d)
	}
}

func TestMulDiv(t *testing.T) {
	const max, min = math.MaxInt64, math.MinInt64
	for _, c := range []struct{ a, b, d, trunc, round int64 }{
		{7, 3, 2, 10, 11}, // 10.5
		{-7, 3, 2, -10, -11},
		{7, -3, 2, -10, -11},
		{7, 3, -2, -10, -11},
		{-7, -3, -2, -10, -11},
		{5, 1, 3, 1, 2},              // 1.67
		{4, 1, 3, 1, 1},              // 1.33
		{1e11, 1e8, 1e8, 1e11, 1e11}, // the meme coin's full exit: 1e19 in the middle
		{max, max, max, max, max},    // (2^63−1)² in the middle
		{min, min, min, min, min},    // 2^126 in the middle, −2^63 out
		{min, 1, 1, min, min},        // the most negative result
		{max, 3, 4, 6917529027641081855, 6917529027641081855}, // (2^63−1)·¾ = …855.25
		{min, 1, -1, 0, 0}, // 2^63: does not fit (checked below)
	} {
		if c.a == min && c.d == -1 {
			_, err := MulDiv(c.a, c.b, c.d)
			assert.ErrorIs(t, err, ErrOverflow, "−MinInt64 does not fit")
			continue
		}
		got, err := MulDiv(c.a, c.b, c.d)
		require.NoError(t, err)
		assert.Equal(t, c.trunc, got, "MulDiv(%d, %d, %d)", c.a, c.b, c.d)
		got, err = MulDivRound(c.a, c.b, c.d)
		require.NoError(t, err)
		assert.Equal(t, c.round, got, "MulDivRound(%d, %d, %d)", c.a, c.b, c.d)
		checkMulDiv(t, c.a, c.b, c.d)
	}
	_, err := MulDiv(max, 2, 1)
	assert.ErrorIs(t, err, ErrOverflow)
	_, err = MulDiv(1, 1, 0)
	assert.EqualError(t, err, "exchange: division by zero")
	_, err = MulDivRound(max, 1, 1)
	assert.NoError(t, err)
}

// TestMulDivMatchesBigOnBoundaries runs every combination of values near
// the int64 limits, zero and ±1 against math/big.
func TestMulDivMatchesBigOnBoundaries(t *testing.T) {
	var vals []int64
	for _, v := range []int64{0, 1, 2, 3, 1 << 31, 1 << 32, 1<<62 + 1, math.MaxInt64 / 3, math.MaxInt64 - 1, math.MaxInt64} {
		vals = append(vals, v, -v)
	}
	vals = append(vals, math.MinInt64, math.MinInt64+1)
	for _, a := range vals {
		for _, b := range vals {
			for _, d := range vals {
				checkMulDiv(t, a, b, d)
			}
		}
	}
}

// FuzzMulDiv checks MulDiv and MulDivRound against math/big for any input:
// the exact quotient, or ErrOverflow exactly when it leaves int64.
func FuzzMulDiv(f *testing.F) {
	f.Add(int64(100_000_000_000), int64(100_000_000), int64(100_000_000))
	f.Add(int64(math.MinInt64), int64(-1), int64(1))
	f.Add(int64(-7), int64(3), int64(2))
	f.Add(int64(math.MaxInt64), int64(math.MaxInt64), int64(3))
	f.Fuzz(func(t *testing.T, a, b, d int64) {
		checkMulDiv(t, a, b, d)
		n, err := CheckedNotional(Ticks(a), Steps(b))
		p := new(big.Int).Mul(big.NewInt(a), big.NewInt(b))
		if !p.IsInt64() {
			require.ErrorIs(t, err, ErrOverflow)
			return
		}
		require.NoError(t, err)
		require.Equal(t, p.Int64(), int64(n))
	})
}

// TestRateApplyMatchesBig: fees and funding (Rate.Apply) round half away
// from zero through the same 128-bit code, exact for any amount.
func TestRateApplyMatchesBig(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 5))
	for range 20_000 {
		m := Money(rng.Int64() >> rng.IntN(63))
		r := Rate(rng.Int64N(2*RateScale) - RateScale) // −100 % .. 100 %
		if rng.IntN(2) == 0 {
			m = -m
		}
		want, ok := bigMulDiv(int64(m), int64(r), RateScale, true)
		require.True(t, ok, "|rate| ≤ 100 %% cannot overflow")
		require.Equal(t, Money(want), r.Apply(m), "%d × %s", m, r)
	}
}

// extremeRules draws a symbol's rules from the extremes of real symbols
// and beyond: a tick of 1e-8 to 1e3 and a step of 1e-8 to 1, each a 1, 2
// or 5 times a power of ten.
func extremeRules(rng *rand.Rand) Rules {
	mant := []int64{1, 2, 5}
	tick := decimal.New(mant[rng.IntN(3)], int32(rng.IntN(12)-8)) // 1e-8 .. 5e3
	if tick.GreaterThan(decimal.NewFromInt(1000)) {
		tick = decimal.NewFromInt(1000)
	}
	step := decimal.New(mant[rng.IntN(3)], int32(rng.IntN(9)-8)) // 1e-8 .. 5
	if step.GreaterThan(decimal.NewFromInt(1)) {
		step = decimal.NewFromInt(1)
	}
	return Rules{Symbol: "X", TickSize: tick, StepSize: step}
}

// logUniform draws an integer in [1, max] evenly over its orders of magnitude.
func logUniform(rng *rand.Rand, max int64) int64 {
	v := int64(math.Exp(rng.Float64() * math.Log(float64(max))))
	return min(maxInt(v, 1), max)
}

func maxInt(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// TestMoneyIsExactOverExtremeRules is the property test of issue 9 bug 5
// for exchange.Rules: over rules with ticks of 1e-8..1e3 and steps of
// 1e-8..1, prices up to 1e6 and quantities up to 1e10, an order's notional
// in Money is exact (its decimal is price × quantity to the last digit) or
// an error matching ErrOverflow, never a wrapped value; the pro-rata share
// of its cost (MulDiv) matches math/big; and the check of the order is the
// decimal check's answer.
func TestMoneyIsExactOverExtremeRules(t *testing.T) {
	rng := rand.New(rand.NewPCG(2026, 9))
	overflowed, exact := 0, 0
	for i := range 20_000 {
		r := extremeRules(rng)
		r.MinNotional = decimal.NewFromInt(5)
		require.NoError(t, r.Validate())
		ticks := logUniform(rng, decimal.NewFromInt(1_000_000).Div(r.TickSize).IntPart())
		steps := logUniform(rng, decimal.NewFromInt(10_000_000_000).Div(r.StepSize).IntPart())
		price, qty := r.TicksToPrice(Ticks(ticks)), r.StepsToQty(Steps(steps))
		pt, err := r.PriceToTicks(price)
		require.NoError(t, err)
		qs, err := r.QtyToSteps(qty)
		require.NoError(t, err)
		require.Equal(t, Ticks(ticks), pt)
		require.Equal(t, Steps(steps), qs)

		name := fmt.Sprintf("case %d: tick %s step %s price %s qty %s", i, r.TickSize, r.StepSize, price, qty)
		// the integer order check agrees with the decimal one, overflow or not
		require.Equal(t, r.CheckOrder(price, qty) == nil, r.CheckTicks(pt, qs) == nil, name)
		n, err := CheckedNotional(pt, qs)
		p := new(big.Int).Mul(big.NewInt(ticks), big.NewInt(steps))
		if !p.IsInt64() {
			require.ErrorIs(t, err, ErrOverflow, name)
			overflowed++
			continue
		}
		exact++
		require.NoError(t, err, name)
		require.True(t, r.MoneyToDecimal(n).Equal(price.Mul(qty)), name)
		// a partial exit's share of the cost, and the same rounded
		part := rng.Int64N(steps) + 1
		checkMulDiv(t, int64(n), part, steps)
	}
	assert.Positive(t, overflowed, "the extremes include notionals beyond int64")
	assert.Positive(t, exact)
}

// TestRulesValidateRefusesMinimumsBeyondInt64: a minimum that cannot be
// counted in Steps or Money (MinNotional 1,000 with a 1e-8 tick and a 1e-8
// step is 1e19 units) is a rule error, not a wrapped integer.
func TestRulesValidateRefusesMinimumsBeyondInt64(t *testing.T) {
	r := Rules{Symbol: "TINY", TickSize: decimal.New(1, -8), StepSize: decimal.New(1, -8),
		MinQty: decimal.NewFromInt(100_000_000_000), MinNotional: decimal.NewFromInt(1000)}
	err := r.Validate()
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrInvalidOrder))
	assert.Contains(t, err.Error(), "TINY: MinNotional 1000 is beyond")
	assert.Contains(t, err.Error(), "TINY: MinQty 100000000000 is beyond")
	r.MinQty, r.MinNotional = decimal.NewFromInt(1), decimal.NewFromInt(5)
	assert.NoError(t, r.Validate())
	assert.Equal(t, Money(50_000_000_000_000_000), r.MinNotionalMoney())
}
