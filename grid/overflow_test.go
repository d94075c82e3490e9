package grid

import (
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
