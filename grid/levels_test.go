package grid

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shopspring/decimal"
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

// TestTrailingGeometricLevelsNeverCollapse is the regression test of
// issue 10, bug 4: as the price of a trailing geometric grid falls, one
// interval shrinks below a tick and neighbouring levels used to round to
// the same price, so an exit rested at its own entry's price. Every level
// the grid makes is now above its lower neighbour by at least one tick, and
// the ladder ends, with a reason, where the geometry cannot give that.
func TestTrailingGeometricLevelsNeverCollapse(t *testing.T) {
	for _, tc := range []struct {
		name         string
		rules        exchange.Rules
		start        string
		interval     string
		mode         Mode
		wantEnd      int64  // 1.01^231 ≤ 1000/100 < 1.01^232
		wantLimit    string // tick / interval
		wantMsgLimit string
	}{
		// 1 % on a 1-unit tick: one interval is a tick at a price of 101.
		{"long unit tick", unitRules, "1000", "0.01", Long, -231, "100", "100"},
		{"short unit tick", unitRules, "1000", "0.01", Short, -231, "100", "100"},
		{"neutral unit tick", unitRules, "1000", "0.01", Neutral, -231, "100", "100"},
		// NEAR-like: 0.3 % on a 0.001 tick from 7.
		{"long coarse tick", exchange.Rules{Symbol: "NEARUSDT", TickSize: d("0.001"), StepSize: d("1"), MinQty: d("1"), MinNotional: d("0")}, "7", "0.003", Long, -1016, "0.333333333333333333333333333333", "0.3333"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := New(tc.rules, WithStartPrice(d(tc.start)), WithMode(tc.mode), WithTrailing(d(tc.interval), 1000), WithGeometric(), WithQuantity(d("1")))
			require.NoError(t, err)
			e.OnStreamReady(time.Unix(0, 0))
			start, err := tc.rules.PriceToTicks(d(tc.start))
			require.NoError(t, err)
			for p := start; p >= 1; p -= max(1, p/200) {
				e.OnPrice(time.Unix(0, 0), p)
			}
			e.OnPrice(time.Unix(0, 0), 1)
			prev := exchange.Ticks(0)
			made := 0
			for j := range e.levels {
				lv := &e.levels[j]
				if !lv.exists {
					continue
				}
				made++
				require.Greater(t, lv.price, prev, "level %d at %s is not above the level below it", e.base+int64(j), tc.rules.TicksToPrice(lv.price))
				prev = lv.price
			}
			require.Greater(t, made, 100)
			e.Slots(func(s SlotView) {
				assert.NotEqual(t, s.Price, s.Exit, "level %d: exit at its own entry's price %s", s.Level, tc.rules.TicksToPrice(s.Price))
			})
			var end *LadderEndError
			require.ErrorAs(t, e.LadderEnd(), &end)
			assert.ErrorIs(t, e.LadderEnd(), ErrLadderEnd)
			assert.Equal(t, tc.wantEnd, end.Level)
			assert.Equal(t, tc.wantLimit, end.Limit.String())
			low, ok := e.levelPrice(end.Level)
			require.True(t, ok)
			assert.True(t, tc.rules.TicksToPrice(low).GreaterThanOrEqual(tc.rules.RoundPrice(end.Limit)), "lowest level %s", tc.rules.TicksToPrice(low))
			assert.Contains(t, e.LadderEnd().Error(), "below "+tc.wantMsgLimit+" one interval ("+tc.interval+") is less than one tick")
			_, ok = e.levelPrice(end.Level - 1)
			assert.False(t, ok, "a level below the end")
		})
	}
}

// TestTrailingGeometricLadderProperty checks, for random anchors, ticks and
// intervals, that every level of a trailing geometric ladder from its lowest
// up is at least one tick above the one below, and that nothing is made
// below the lowest.
func TestTrailingGeometricLadderProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 4))
	ticks := []string{"1", "0.1", "0.01", "0.001", "0.00001", "0.00000001"}
	for n := 0; n < 300; n++ {
		tick := d(ticks[rng.IntN(len(ticks))])
		anchor := exchange.Ticks(50 + rng.Int64N(2_000_000))
		interval := decimal.New(1+rng.Int64N(500), -4) // 0.01 % .. 5 %
		rules := exchange.Rules{Symbol: "X", TickSize: tick, StepSize: d("1"), MinQty: d("1")}
		c := &config{trailing: true, geometric: true, interval: interval}
		l, err := newLadder(c, rules, anchor)
		if err != nil {
			// refused only when one interval below the anchor is under a tick
			require.True(t, rules.TicksToPrice(anchor).Mul(interval).LessThan(tick.Mul(decimal.NewFromInt(1).Add(interval))), "%s at %d ticks of %s: %v", interval, anchor, tick, err)
			continue
		}
		require.Less(t, l.low, int64(0))
		prev, ok := l.price(l.low)
		require.True(t, ok, "lowest level %d of %s at %d ticks of %s", l.low, interval, anchor, tick)
		_, ok = l.price(l.low - 1)
		require.False(t, ok)
		for i := l.low + 1; i <= 50; i++ {
			p, ok := l.price(i)
			require.True(t, ok, "level %d", i)
			require.Greater(t, p, prev, "level %d of %s at %d ticks of %s", i, interval, anchor, tick)
			prev = p
		}
		p0, _ := l.price(0)
		require.Equal(t, anchor, p0)
	}
}

func TestTrailingGeometricIntervalBelowATickIsRefused(t *testing.T) {
	// 0.5 % of 100 is half a tick: the levels next to the start would round onto it.
	_, err := New(unitRules, WithStartPrice(d("100")), WithTrailing(d("0.005"), 10), WithGeometric(), WithQuantity(d("1")))
	require.ErrorIs(t, err, ErrInvalidOption)
	assert.Contains(t, err.Error(), "grid: WithTrailing = 0.005: interval is below one tick (1) at the start price 100")
}
