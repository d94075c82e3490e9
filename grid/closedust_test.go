package grid

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
)

// dustGrid is a long grid of 3 units a level at 99 (exit 100) whose exit
// sold 2 before a hard stop canceled it: the slot holds 1, a notional of
// 100 at the last price, below the minimum of the rules.
func dustGrid(t *testing.T, rules exchange.Rules, opts ...Option) (*Engine, time.Time, []Intent) {
	t.Helper()
	opts = append([]Option{WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("3")),
		WithWindows(1, 1, 0), WithInitialPosition(false)}, opts...)
	e, err := New(rules, opts...)
	require.NoError(t, err)
	t0 := time.Unix(1000, 0)
	e.OnPrice(t0, 100)
	entry := e.OnStreamReady(t0)[0].Ref
	mustApplyEv(t, e, t0, OrderEvent{Ref: entry, Type: OrderAccepted})
	exit := mustApplyEv(t, e, t0, OrderEvent{Ref: entry, Type: OrderFilled, CumQty: 3, Price: 99})[0].Ref
	mustApplyEv(t, e, t0, OrderEvent{Ref: exit, Type: OrderAccepted})
	mustApplyEv(t, e, t0, OrderEvent{Ref: exit, Type: OrderFilled, CumQty: 2, Price: 100})
	e.HardStop(t0, "stop", true)
	return e, t0, mustApplyEv(t, e, t0, OrderEvent{Ref: exit, Type: OrderCanceled, CumQty: 2})
}

// placesIn returns the placements among the intents the timer gives over
// the next minute, a second apart.
func placesIn(e *Engine, from time.Time) []string {
	var out []string
	for s := 1; s <= 60; s++ {
		for _, it := range e.OnTimer(from.Add(time.Duration(s) * time.Second)) {
			if it.Kind == IntentPlace {
				out = append(out, it.String())
			}
		}
	}
	return out
}

// Issue 12: a reduce-only close below the minimum notional is sent (Binance
// exempts reduce-only orders); a venue that refuses it as invalid is not
// asked again: the remainder is given up and reported. Before the fix the
// close was sent again after every back-off, for ever.
func TestHardStopGivesUpACloseTheVenueRefusesAsDust(t *testing.T) {
	rules := unitRules
	rules.MinNotional = d("200")
	e, t0, in := dustGrid(t, rules)
	require.Equal(t, []string{"place close/1 exit SELL 1 market reduce-only"}, strsOf(in), "reduce-only: exempt from the minimum notional")
	refusal := &exchange.RuleError{Symbol: "TEST", Field: "notional", Value: "100", Reason: "is below MinNotional 200"}
	mustApplyEv(t, e, t0, OrderEvent{Ref: in[0].Ref, Type: OrderRejected, Reason: refusal.Error(), Cause: refusal})
	assert.Empty(t, placesIn(e, t0), "not sent again")
	st := e.Stats()
	assert.Equal(t, "1", st.CloseDustLong.String())
	assert.True(t, st.CloseDustShort.IsZero())
	assert.Equal(t, 1, st.Rejected)
	assert.Equal(t, exchange.Steps(1), e.Books().LongHeld, "the dust stays the grid's")

	// A rise that makes it tradable sends it after all.
	e.OnPrice(t0.Add(time.Minute), 200)
	assert.Equal(t, []string{"place close/2 exit SELL 1 market reduce-only"}, placesIn(e, t0.Add(time.Minute)))
	assert.True(t, e.Stats().CloseDustLong.IsZero())
}

// An ordinary refusal of a close that meets the minimums is retried after
// the back-off, as before.
func TestHardStopRetriesAnOrdinaryRefusal(t *testing.T) {
	e, t0, in := dustGrid(t, unitRules)
	require.Equal(t, []string{"place close/1 exit SELL 1 market reduce-only"}, strsOf(in))
	refusal := &exchange.RuleError{Symbol: "TEST", Field: "price", Value: "100", Reason: "is outside the band"}
	mustApplyEv(t, e, t0, OrderEvent{Ref: in[0].Ref, Type: OrderRejected, Reason: refusal.Error(), Cause: refusal})
	assert.Equal(t, "place close/2 exit SELL 1 market reduce-only", placesIn(e, t0)[0])
	assert.True(t, e.Stats().CloseDustLong.IsZero())
}

// Below the minimum quantity (no exemption), or below the minimum notional
// where the close cannot be reduce-only (hedge mode), nothing is sent at
// all: the dust is reported at once.
func TestHardStopSendsNoCloseBelowTheVenuesMinimum(t *testing.T) {
	for name, tc := range map[string]struct {
		rules exchange.Rules
		opts  []Option
	}{
		"min qty, one-way": {rules: exchange.Rules{Symbol: "TEST", TickSize: d("1"), StepSize: d("1"), MinQty: d("2")}},
		"min notional, hedge": {rules: exchange.Rules{Symbol: "TEST", TickSize: d("1"), StepSize: d("1"), MinQty: d("1"), MinNotional: d("200")},
			opts: []Option{WithPositionMode(exchange.Hedge)}},
	} {
		t.Run(name, func(t *testing.T) {
			e, t0, in := dustGrid(t, tc.rules, tc.opts...)
			for _, it := range in {
				assert.NotEqual(t, IntentPlace, it.Kind, "%s", it)
			}
			assert.Empty(t, placesIn(e, t0))
			assert.Equal(t, "1", e.Stats().CloseDustLong.String())
			assert.Zero(t, e.Books().OpenOrders)
		})
	}
}
