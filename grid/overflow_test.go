package grid

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/risk"
)

// memeRules is a meme coin's: a 1e-8 tick and whole-coin steps, so 1,000
// USDT at 0.00001 is 1,000 ticks × 1e8 steps.
var memeRules = exchange.Rules{Symbol: "MEMEUSDT", TickSize: d("0.00000001"), StepSize: d("1"), MinQty: d("1"), MinNotional: d("5")}

// TestHardStopCloseOfMemeCoinSlotsBooksExactPnL is a regression test of
// issue 9, bug 5: the hard stop's close booked each slot's share of the
// fill as cost × quantity / held in 64 bits, which overflows once
// price_ticks × held² passes 9.2e18 (here 990 × 101,010,101² ≈ 1.0e19).
func TestHardStopCloseOfMemeCoinSlotsBooksExactPnL(t *testing.T) {
	trig := false
	m := risk.MonitorFunc{Label: "panic", Fn: func(risk.Observation) risk.Status { return risk.Status{Triggered: trig, Reason: "test"} }}
	e, err := New(memeRules, WithStartPrice(d("0.00001")), WithBounds(d("0.000009"), d("0.000011"), 20), WithAmount(d("1000")),
		WithMode(Long), WithWindows(3, 3, 0), WithInitialPosition(false), WithRiskMonitors(0, m), WithRiskHardStop(true))
	require.NoError(t, err)
	v := newBookVenue(t, e, 1000)
	v.checkEvery = false
	v.tick(970) // entries @990, @980, @970 fill
	var want exchange.Money
	for _, p := range []int64{990, 980, 970} {
		q := 100_000_000_000 / p // amount / price, floored to the step
		want += exchange.Money((970 - p) * q)
	}
	require.Equal(t, exchange.Steps(100_000_000_000/990+100_000_000_000/980+100_000_000_000/970), v.position)
	trig = true
	v.run(e.ObserveRisk(risk.Observation{Time: v.now, Kind: risk.KindTimer}))
	require.Zero(t, v.position, "closed at market (970)")
	assert.Equal(t, want, e.Books().Realized)
	require.NoError(t, e.CheckInvariants())
	assert.Zero(t, e.Books().LongCost)
}

// TestInitialPositionFeeSplitIsExactForLargeQuantities is a regression
// test of issue 9, bug 5: the initial position's fee was split over its
// levels as fee × share / filled in 64 bits; a 50 USDT fee (5e9 units of
// 1e-8) times a share of 1e10 steps overflows.
func TestInitialPositionFeeSplitIsExactForLargeQuantities(t *testing.T) {
	e, err := New(memeRules, WithStartPrice(d("0.000001")), WithBounds(d("0.0000009"), d("0.0000011"), 20),
		WithQuantity(d("10000000000")), WithMode(Long), WithWindows(1, 1, 0))
	require.NoError(t, err)
	now := time.Unix(1_700_000_000, 0)
	e.OnPrice(now, 100)
	var initial Intent
	for _, in := range e.OnStreamReady(now) {
		if in.Ref.Level == InitialLevel {
			initial = in
		}
	}
	require.Equal(t, exchange.Steps(10*10_000_000_000), initial.Qty, "levels 100..109 at 1e10 steps each")
	const fee = exchange.Money(5_000_000_003) // 0.05 % of 1e13 units, and 3 more to split unevenly
	_, err = e.Apply(now, OrderEvent{Ref: initial.Ref, Type: OrderAccepted})
	require.NoError(t, err)
	_, err = e.Apply(now, OrderEvent{Ref: initial.Ref, Type: OrderFilled, CumQty: initial.Qty, Price: 100, Fee: fee})
	require.NoError(t, err)
	var fees []exchange.Money
	var sum exchange.Money
	for _, s := range e.State().Slots {
		if s.Held > 0 {
			fees = append(fees, s.TripFees)
			sum += s.TripFees
		}
	}
	require.Len(t, fees, 10)
	assert.Equal(t, fee, sum)
	for _, f := range fees {
		// each share is 1/10 of the fee, truncated; the last level takes the remainder
		assert.Contains(t, []exchange.Money{500_000_000, 500_000_003}, f)
	}
	assert.Equal(t, exchange.Money(1_000_000_000_000), e.Books().LongCost/10)
	require.NoError(t, e.CheckInvariants())
}

// TestArithmeticLadderIsExactForWideRanges: a bounded arithmetic level is
// lower + i × (upper − lower) / intervals, rounded; with a 1e-8 tick, a
// range of 1e14 ticks and 100,000 intervals i × range reaches 1e19, which
// overflowed int64 and gave wrong level prices.
func TestArithmeticLadderIsExactForWideRanges(t *testing.T) {
	rules := exchange.Rules{Symbol: "WIDE", TickSize: d("0.00000001"), StepSize: d("1")}
	c := defaultConfig()
	c.bounded, c.lower, c.upper, c.intervals = true, d("1"), d("1000000"), 100_000
	l, err := newLadder(&c, rules, 100_000_000)
	require.NoError(t, err)
	lo, hi := int64(100_000_000), int64(100_000_000_000_000)
	n := big.NewInt(100_000)
	for i := int64(0); i <= 100_000; i++ {
		// lo + ⌊(i × (hi − lo) + n/2) / n⌋ in math/big
		want := new(big.Int).Mul(big.NewInt(i), big.NewInt(hi-lo))
		want.Add(want, big.NewInt(50_000)).Quo(want, n).Add(want, big.NewInt(lo))
		require.Equal(t, want.Int64(), int64(l.prices[i]), "level %d", i)
	}
}

// TestTrailingLevelBeyondInt64HasNoPrice: a trailing arithmetic level is
// anchor + i × step; when i × step passes int64 the level does not exist
// (it wrapped to a valid-looking price before: here exactly the anchor's).
func TestTrailingLevelBeyondInt64HasNoPrice(t *testing.T) {
	l := &ladder{anchor: 1000, step: 1 << 35}
	_, ok := l.price(1 << 29) // 2^64 ticks above the anchor
	assert.False(t, ok)
	p, ok := l.price(1 << 20)
	assert.True(t, ok)
	assert.Equal(t, exchange.Ticks(1000+1<<55), p)
}

// TestNewRefusesLevelsBeyondTheIntegerBooks: the engine books money in
// int64 units of TickSize × StepSize. With a 1e-8 tick and a 1e-8 step a
// unit is 1e-16, and an order of 10 at 100 (1e19 units) cannot be booked;
// nor can 100,000 levels of 1 USDT each (1e21 units in all). New says so,
// naming the level, the notional and the bound, instead of booking
// wrapped integers.
func TestNewRefusesLevelsBeyondTheIntegerBooks(t *testing.T) {
	tiny := exchange.Rules{Symbol: "TINY", TickSize: d("0.00000001"), StepSize: d("0.00000001")}
	_, err := New(tiny, WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 4), WithQuantity(d("10")))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "grid: level 0 at 90: entry notional 900 (10 at 90) is beyond 46.116860184273879, the most one level may carry")
	assert.Contains(t, err.Error(), "units of TickSize × StepSize = 0.0000000000000001")
	_, err = New(tiny, WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 100_000), WithAmount(d("1")))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the most one level may carry")
	_, err = New(tiny, WithStartPrice(d("100")), WithTrailing(d("1"), 10_000), WithAmount(d("1")))
	require.Error(t, err, "a trailing grid's layer cap shares the same budget")
	assert.Contains(t, err.Error(), "the most one level may carry")
	// the same grids fit coarser rules, and a small one fits these
	_, err = New(tiny, WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 4), WithQuantity(d("0.1")))
	assert.NoError(t, err)
	_, err = New(memeRules, WithStartPrice(d("0.00001")), WithBounds(d("0.000009"), d("0.000011"), 100), WithAmount(d("1000")))
	assert.NoError(t, err)
	btc := exchange.Rules{Symbol: "BTCUSDT", TickSize: d("0.1"), StepSize: d("0.001"), MinQty: d("0.001"), MinNotional: d("100")}
	_, err = New(btc, WithStartPrice(d("1000000")), WithBounds(d("500000"), d("1500000"), 10_000), WithQuantity(d("1000")))
	assert.NoError(t, err, "BTC at 1e6, 1,000 BTC a level, 10,000 levels")
}

// TestReconcileCancelsAnOrderBeyondTheIntegerBooks: a live order of the
// grid that reconciliation would adopt is booked as filled × price; one
// whose notional passes what the books hold (here 1e17 steps at 950 ticks)
// is canceled by its ID with the reason, never adopted with a wrapped cost.
func TestReconcileCancelsAnOrderBeyondTheIntegerBooks(t *testing.T) {
	e, err := New(memeRules, WithStartPrice(d("0.00001")), WithBounds(d("0.000009"), d("0.000011"), 20), WithAmount(d("1000")),
		WithMode(Long), WithWindows(3, 3, 0), WithInitialPosition(false))
	require.NoError(t, err)
	v := newBookVenue(t, e, 1000)
	huge := VenueOrder{Ref: OrderRef{Level: 5, Gen: 7}, Side: exchange.Buy, Price: 950, Qty: 100_000_000_000_000_000, Filled: 10_000_000_000_000_000}
	before := e.Books()
	snap := Snapshot{Orders: []VenueOrder{huge}}
	for _, o := range v.orders {
		snap.Orders = append(snap.Orders, VenueOrder{Ref: o.Ref, Side: o.Side, Price: o.Price, Qty: o.Qty})
	}
	in := e.Reconcile(v.now, snap)
	require.Len(t, in, 1)
	assert.Equal(t, IntentCancel, in[0].Kind)
	assert.Equal(t, huge.Ref, in[0].Ref)
	assert.Equal(t, before.LongHeld, e.Books().LongHeld)
	assert.Equal(t, before.LongCost, e.Books().LongCost)
	require.NoError(t, e.CheckInvariants())
}

// fillLog is an observer that keeps every fill's money in math/big.
type fillLog struct {
	NopObserver
	bought, sold big.Int
	fills        int
}

func (f *fillLog) Fill(n FillNote) {
	m := new(big.Int).Mul(big.NewInt(int64(n.Price)), big.NewInt(int64(n.Qty)))
	if n.Side == exchange.Buy {
		f.bought.Add(&f.bought, m)
	} else {
		f.sold.Add(&f.sold, m)
	}
	f.fills++
}

// TestEngineMoneyIsExactOverExtremeRules is the engine's property test of
// issue 9 bug 5, over symbols with ticks of 1e-8..1e3 and steps of
// 1e-8..1, prices up to 1e6 and quantities up to 1e10:
//
//   - New accepts the grid exactly when every level's entry and exit
//     notional, computed in math/big, is within the integer books' bound,
//     and otherwise refuses it naming the bound;
//   - along a random walk, a long grid's books stay exact: realized PnL is
//     the money of its sells minus the basis they removed, so Realized =
//     Σ sells − Σ buys + LongCost in math/big, and every slot's basis lies
//     between its quantity at the lowest and at the highest fill price (a
//     wrapped product breaks one or the other).
func TestEngineMoneyIsExactOverExtremeRules(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 5))
	mant := []int64{1, 2, 5}
	const intervals = 10
	accepted, refused, wide, fills := 0, 0, 0, 0
	for i := range 300 {
		tick := decimal.New(mant[rng.IntN(3)], int32(rng.IntN(12)-8))
		tick = decimal.Min(tick, decimal.NewFromInt(1000))
		step := decimal.New(mant[rng.IntN(3)], int32(rng.IntN(9)-8))
		step = decimal.Min(step, decimal.NewFromInt(1))
		rules := exchange.Rules{Symbol: "X", TickSize: tick, StepSize: step}
		maxTicks := decimal.NewFromInt(1_000_000).Div(tick).IntPart()
		if maxTicks < 100*intervals {
			continue // too coarse a tick for ten levels below 1e6
		}
		lo := 50*intervals + rng.Int64N(maxTicks-100*intervals+1) // lowest level, in ticks
		width := lo / 5                                           // levels 2 % apart
		hi := lo + width
		qty := logUniform(rng, decimal.NewFromInt(10_000_000_000).Div(step).IntPart())
		name := fmt.Sprintf("case %d: tick %s step %s levels %d..%d ticks qty %d steps", i, tick, step, lo, hi, qty)

		// the levels as the ladder rounds them, and whether each order fits
		bound := new(big.Int).SetInt64(int64(min(exchange.MaxNotional, booksBudget/(intervals+1))))
		fits := true
		for k := int64(0); k <= intervals; k++ {
			p := lo + (k*width+intervals/2)/intervals
			if new(big.Int).Mul(big.NewInt(p), big.NewInt(qty)).Cmp(bound) > 0 {
				fits = false
			}
		}
		log := &fillLog{}
		e, err := New(rules, WithStartPrice(rules.TicksToPrice(exchange.Ticks(hi))),
			WithBounds(rules.TicksToPrice(exchange.Ticks(lo)), rules.TicksToPrice(exchange.Ticks(hi)), intervals),
			WithQuantity(rules.StepsToQty(exchange.Steps(qty))), WithMode(Long), WithInitialPosition(false),
			WithWindows(3, 3, 1), WithObserver(log))
		if !fits {
			require.Error(t, err, name)
			assert.Contains(t, err.Error(), "the most one level may carry", name)
			refused++
			continue
		}
		require.NoError(t, err, name)
		accepted++
		v := newBookVenue(t, e, exchange.Ticks(hi))
		v.checkEvery = false
		for range 40 {
			v.tick(exchange.Ticks(lo + rng.Int64N(width+1)))
		}
		require.NoError(t, e.CheckInvariants(), name)
		fills += log.fills
		if sq := new(big.Int).Mul(big.NewInt(qty), big.NewInt(qty)); !sq.Mul(sq, big.NewInt(lo)).IsInt64() && e.Books().RoundTrips > 0 {
			wide++ // an exit's cost × quantity passed int64: the bug's case
		}
		b := e.Books()
		want := new(big.Int).Sub(&log.sold, &log.bought)
		want.Add(want, big.NewInt(int64(b.LongCost)))
		require.Equal(t, want.String(), big.NewInt(int64(b.Realized)).String(), name)
		e.Slots(func(s SlotView) {
			held := big.NewInt(s.Slot.Held)
			low, high := new(big.Int).Mul(held, big.NewInt(lo)), new(big.Int).Mul(held, big.NewInt(hi))
			cost := big.NewInt(s.Slot.Cost)
			assert.True(t, cost.Cmp(low) >= 0 && cost.Cmp(high) <= 0, "%s: level %d holds %d at cost %d", name, s.Level, s.Slot.Held, s.Slot.Cost)
		})
	}
	t.Logf("%d grids accepted and walked exactly (%d fills; %d grids with round trips whose cost × quantity passed int64), %d refused as beyond the integer books",
		accepted, fills, wide, refused)
	assert.Greater(t, accepted, 50)
	assert.Greater(t, wide, 20)
	assert.Greater(t, refused, 20)
}

// logUniform draws an integer in [1, hi] evenly over its orders of magnitude.
func logUniform(rng *rand.Rand, hi int64) int64 {
	v := int64(math.Exp(rng.Float64() * math.Log(float64(hi))))
	return min(max(v, 1), hi)
}
