package slot

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
)

// TestExitOfAMemeCoinOrderBooksExactPnL is the regression test of issue 9,
// bug 5: a 1,000 USDT order on a 1e-8-tick coin at 0.00001 USDT is 1,000
// ticks × 1e8 steps (step 1), and booking its exit multiplied the cost
// (1e11) by the exited quantity (1e8) in 64 bits: 1e19 overflows int64.
func TestExitOfAMemeCoinOrderBooksExactPnL(t *testing.T) {
	const qty, entry, exit = 100_000_000, 1_000, 1_010
	for _, kind := range []Kind{Long, Short} {
		t.Run(kind.String(), func(t *testing.T) {
			s := Slot{Kind: kind}
			apply(t, &s, Event{Type: Submit, Role: RoleEntry, Gen: 1, Qty: qty})
			apply(t, &s, Event{Type: Fill, Gen: 1, Qty: qty, Price: entry})
			require.Equal(t, int64(qty*entry), s.Cost)
			apply(t, &s, Event{Type: Submit, Role: RoleExit, Gen: 2, Qty: qty})
			eff := apply(t, &s, Event{Type: Fill, Gen: 2, Qty: qty, Price: exit})
			want := int64(qty * (exit - entry)) // 1e9 units: 10 USDT
			if kind == Short {
				want = -want
			}
			assert.Equal(t, want, eff.Realized)
			assert.True(t, eff.RoundTrip)
			assert.Equal(t, Free, s.State)
			assert.Zero(t, s.Cost)
		})
	}
}

// TestPartialExitsOfALargeHoldingBookExactPnL exits 1e10 steps held at
// mixed entry prices in uneven parts: every booking multiplies a cost near
// 1e12 by a quantity near 1e10, and the truncated basis must carry over so
// that the trip sums exactly.
func TestPartialExitsOfALargeHoldingBookExactPnL(t *testing.T) {
	s := Slot{Kind: Long}
	apply(t, &s, Event{Type: Submit, Role: RoleEntry, Gen: 1, Qty: 10_000_000_000})
	apply(t, &s, Event{Type: Fill, Gen: 1, Qty: 3_333_333_333, Price: 101})
	apply(t, &s, Event{Type: Fill, Gen: 1, Qty: 10_000_000_000, Price: 100})
	cost := int64(3_333_333_333*101 + 6_666_666_667*100) // 1_003_333_333_333
	require.Equal(t, cost, s.Cost)
	apply(t, &s, Event{Type: Submit, Role: RoleExit, Gen: 2, Qty: 10_000_000_000})
	// removed = cost × part / held, truncated; held shrinks each time.
	eff := apply(t, &s, Event{Type: Fill, Gen: 2, Qty: 7_000_000_001, Price: 103})
	removed := int64(702_333_333_433) // ⌊1_003_333_333_333 × 7_000_000_001 / 1e10⌋
	assert.Equal(t, int64(7_000_000_001*103)-removed, eff.Realized)
	assert.Equal(t, cost-removed, s.Cost)
	eff = apply(t, &s, Event{Type: Fill, Gen: 2, Qty: 10_000_000_000, Price: 99})
	assert.Equal(t, int64(2_999_999_999*99)-(cost-removed), eff.Realized)
	assert.True(t, eff.RoundTrip)
	assert.Zero(t, s.Cost)
}

func apply(t *testing.T, s *Slot, e Event) Effect {
	t.Helper()
	eff, err := s.Apply(e)
	require.NoError(t, err, "%v", e.Type)
	require.NoError(t, s.Check())
	return eff
}

// TestBookingIsExactOverExtremeRules is the property test of issue 9 bug 5
// for the slot: over symbols with ticks of 1e-8..1e3 and steps of 1e-8..1,
// prices up to 1e6 and quantities up to 1e10, a round trip filled in
// random parts at random prices books cost, realized PnL and the leftover
// basis exactly as math/big does, and the trip's PnL sums to exit money
// minus entry money to the unit. An order whose money cannot fit int64 is
// an error matching exchange.ErrOverflow that leaves the slot unchanged.
func TestBookingIsExactOverExtremeRules(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 5))
	mant := []int64{1, 2, 5}
	refused, trips, wide := 0, 0, 0
	for i := range 3000 {
		tick := decimal.New(mant[rng.IntN(3)], int32(rng.IntN(12)-8)) // 1e-8 .. 5e3
		tick = decimal.Min(tick, decimal.NewFromInt(1000))
		step := decimal.New(mant[rng.IntN(3)], int32(rng.IntN(9)-8)) // 1e-8 .. 5
		step = decimal.Min(step, decimal.NewFromInt(1))
		maxTicks := decimal.NewFromInt(1_000_000).Div(tick).IntPart()
		maxSteps := decimal.NewFromInt(10_000_000_000).Div(step).IntPart()
		level := logUniform(rng, maxTicks)
		qty := logUniform(rng, maxSteps)
		kind := Long
		if rng.IntN(2) == 0 {
			kind = Short
		}
		name := fmt.Sprintf("case %d: %v tick %s step %s level %d ticks qty %d steps", i, kind, tick, step, level, qty)
		// prices near the level, a few ticks either way, at least one tick
		near := func() int64 { return max(level+rng.Int64N(21)-10, 1) }

		s := Slot{Kind: kind}
		apply(t, &s, Event{Type: Submit, Role: RoleEntry, Gen: 1, Qty: qty})
		cost, held := new(big.Int), new(big.Int)
		var paid, got big.Int // entry money, exit money (long view)
		ok := true
		for cum := int64(0); cum < qty && ok; {
			cum = min(qty, cum+1+rng.Int64N(qty-cum))
			if rng.IntN(4) == 0 {
				cum = qty
			}
			px := near()
			delta := cum - s.Filled
			money := new(big.Int).Mul(big.NewInt(px), big.NewInt(delta))
			before := s
			eff, err := s.Apply(Event{Type: Fill, Gen: 1, Qty: cum, Price: px})
			if next := new(big.Int).Add(cost, money); !next.IsInt64() || !money.IsInt64() {
				require.ErrorIs(t, err, exchange.ErrOverflow, name)
				require.Equal(t, before, s, "%s: a refused fill changes nothing", name)
				refused++
				ok = false
				break
			}
			require.NoError(t, err, name)
			require.Equal(t, delta, eff.Entered, name)
			cost.Add(cost, money)
			held.Add(held, big.NewInt(delta))
			paid.Add(&paid, money)
			require.Equal(t, cost.Int64(), s.Cost, name)
		}
		if !ok {
			continue
		}
		apply(t, &s, Event{Type: Submit, Role: RoleExit, Gen: 2, Qty: qty})
		var realized big.Int
		for cum := int64(0); cum < qty; {
			cum = min(qty, cum+1+rng.Int64N(qty-cum))
			px := near()
			delta := cum - s.Filled
			money := new(big.Int).Mul(big.NewInt(px), big.NewInt(delta))
			product := new(big.Int).Mul(cost, big.NewInt(delta))
			if !product.IsInt64() {
				wide++ // the case that overflowed before the fix
			}
			removed := new(big.Int).Quo(product, held)
			want := new(big.Int).Sub(money, removed)
			if kind == Short {
				want.Neg(want)
			}
			eff, err := s.Apply(Event{Type: Fill, Gen: 2, Qty: cum, Price: px})
			if !money.IsInt64() || !want.IsInt64() {
				require.ErrorIs(t, err, exchange.ErrOverflow, name)
				refused++
				break
			}
			require.NoError(t, err, name)
			require.Equal(t, want.Int64(), eff.Realized, name)
			cost.Sub(cost, removed)
			held.Sub(held, big.NewInt(delta))
			got.Add(&got, money)
			realized.Add(&realized, want)
			require.Equal(t, cost.Int64(), s.Cost, name)
			require.NoError(t, s.Check(), name)
		}
		if s.State != Free {
			continue // refused part way: checked above
		}
		trip := new(big.Int).Sub(&got, &paid)
		if kind == Short {
			trip.Neg(trip)
		}
		require.Zero(t, trip.Cmp(&realized), "%s: the trip sums exactly", name)
		trips++
	}
	t.Logf("%d round trips exact (%d exit fills with cost × quantity beyond int64), %d orders refused as beyond int64 money", trips, wide, refused)
	assert.Greater(t, trips, 1000)
	assert.Greater(t, wide, 100)
	assert.Positive(t, refused, "the extremes include orders beyond int64 money")
}

// logUniform draws an integer in [1, hi] evenly over its orders of magnitude.
func logUniform(rng *rand.Rand, hi int64) int64 {
	v := int64(math.Exp(rng.Float64() * math.Log(float64(hi))))
	return min(max(v, 1), hi)
}
