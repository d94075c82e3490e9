package grid

import (
	"math/big"
	"testing"
	"time"

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
