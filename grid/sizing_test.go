package grid

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
)

var btcTestRules = exchange.Rules{Symbol: "BTCUSDT", TickSize: d("0.1"), StepSize: d("0.001"), MinQty: d("0.001"), MinNotional: d("100")}

// 250 USDT at 100,000 is 0.0025 BTC and at 105,000 0.00238…: each mode
// rounds as it says, and Plan and Stats show the notional each level
// actually carries.
func TestAmountRoundingModes(t *testing.T) {
	cases := []struct {
		opts       []Option
		q100, q105 string
		n100, n105 string
	}{
		{nil, "0.002", "0.002", "200", "210"},
		{[]Option{WithAmountRounding(RoundDown)}, "0.002", "0.002", "200", "210"},
		{[]Option{WithAmountRounding(RoundNearest)}, "0.003", "0.002", "300", "210"},
		{[]Option{WithAmountRounding(RoundUp)}, "0.003", "0.003", "300", "315"},
	}
	for _, c := range cases {
		e, err := New(btcTestRules, append([]Option{WithStartPrice(d("110000")), WithBounds(d("100000"), d("110000"), 2),
			WithAmount(d("250")), WithInitialPosition(false)}, c.opts...)...)
		require.NoError(t, err)
		p := e.Plan()
		require.Len(t, p.Levels, 2)
		assert.Equal(t, c.q100, p.Levels[0].Qty.String())
		assert.Equal(t, c.q105, p.Levels[1].Qty.String())
		assert.Equal(t, c.n100, p.Levels[0].Notional.String())
		assert.Equal(t, c.n105, p.Levels[1].Notional.String())
		st := e.Stats()
		lo, hi := c.n100, c.n105
		if d(lo).GreaterThan(d(hi)) {
			lo, hi = hi, lo
		}
		assert.Equal(t, lo, st.MinNotional.String())
		assert.Equal(t, hi, st.MaxNotional.String())
		assert.Equal(t, "250", st.Amount.String())
	}
}

// The issue's example: 200 USDT at 105,000 floors to 0.001 (105 USDT);
// nearest gives 0.002 (210 USDT).
func TestRoundingTheIssueExample(t *testing.T) {
	mk := func(r Rounding) string {
		e, err := New(btcTestRules, WithStartPrice(d("110000")), WithBounds(d("105000"), d("110000"), 1), WithAmount(d("200")),
			WithInitialPosition(false), WithAmountRounding(r))
		require.NoError(t, err)
		return e.Plan().Levels[0].Notional.String()
	}
	assert.Equal(t, "105", mk(RoundDown))
	assert.Equal(t, "210", mk(RoundNearest))
	assert.Equal(t, "210", mk(RoundUp))
}

func TestOffStepQuantityIsAnError(t *testing.T) {
	_, err := New(btcTestRules, WithStartPrice(d("105000")), WithBounds(d("100000"), d("110000"), 2), WithQuantity(d("0.0015")))
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrInvalidOption)
	assert.EqualError(t, err, "grid: WithQuantity = 0.0015: is not a multiple of the step size 0.001: use 0.001 or 0.002")
	_, err = New(btcTestRules, WithStartPrice(d("105000")), WithBounds(d("100000"), d("110000"), 2), WithQuantity(d("0.0020")))
	assert.NoError(t, err, "0.0020 is on the step")
}

// Compounding grows the amount by net realized / investment, never shrinks
// it, and sizes the next entry with it.
func TestCompoundingGrowsTheAmount(t *testing.T) {
	e, err := New(unitRules, WithStartPrice(d("11")), WithBounds(d("9"), d("11"), 2), WithAmount(d("100")),
		WithInitialPosition(false), WithWindows(2, 2, 0), WithCompounding(true))
	require.NoError(t, err)
	// 100/10 = 10 at level 1, 100/9 = 11 at level 0: investment 100 + 99.
	assert.Equal(t, "199", e.Investment().String())
	t0 := time.Unix(1000, 0)
	e.OnPrice(t0, 11)
	assert.ElementsMatch(t, []string{"place 1/1 entry BUY 10@10 post-only", "place 0/1 entry BUY 11@9 post-only"}, strsOf(e.OnStreamReady(t0)))
	e.BookFunding(500) // paid: a loss does not shrink the amount
	assert.Equal(t, "100", e.Stats().Amount.String())
	e.BookFunding(-600) // received 100 net
	assert.Equal(t, "150", e.Stats().Amount.String(), "100 × (199 + 100) / 199 = 150.25, floored to the money unit")
	mustApplyEv(t, e, t0, OrderEvent{Ref: OrderRef{Level: 1, Gen: 1}, Type: OrderAccepted})
	mustApplyEv(t, e, t0, OrderEvent{Ref: OrderRef{Level: 0, Gen: 1}, Type: OrderAccepted})
	e.OnPrice(t0, 10)
	in := mustApplyEv(t, e, t0, OrderEvent{Ref: OrderRef{Level: 1, Gen: 1}, Type: OrderFilled, CumQty: 10, Price: 10})
	require.Equal(t, []string{"place 1/2 exit SELL 10@11 post-only reduce-only"}, strsOf(in))
	mustApplyEv(t, e, t0, OrderEvent{Ref: OrderRef{Level: 1, Gen: 2}, Type: OrderAccepted})
	e.OnPrice(t0, 11)
	in = mustApplyEv(t, e, t0, OrderEvent{Ref: OrderRef{Level: 1, Gen: 2}, Type: OrderFilled, CumQty: 10, Price: 11})
	// Net 10 realized + 100 funding received: 100 × 309 / 199 = 155.2 → 155 → 15 at 10.
	assert.Equal(t, []string{"place 1/3 entry BUY 15@10 post-only"}, strsOf(in))
	assert.Equal(t, "155", e.Stats().Amount.String())
	require.NoError(t, e.CheckInvariants())
}
