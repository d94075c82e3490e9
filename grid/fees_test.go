package grid

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 10, bug 3: updates carry a cumulative quantity but a per-trade fee,
// so a reordered earlier fill was dropped as a duplicate with its fee, and
// a fill learned from a query was booked without one. Fees are booked per
// trade now, once each, and recovered from the venue's trades.
func TestFeesAreBookedOncePerTrade(t *testing.T) {
	e, err := New(unitRules, WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("3")),
		WithWindows(1, 1, 0), WithInitialPosition(false))
	require.NoError(t, err)
	t0 := time.Unix(1000, 0)
	e.OnPrice(t0, 100)
	ref := e.OnStreamReady(t0)[0].Ref
	mustApplyEv(t, e, t0, OrderEvent{Ref: ref, Type: OrderAccepted})
	// Trade B (cum 2) arrives before trade A (cum 1), then B again.
	mustApplyEv(t, e, t0, OrderEvent{Ref: ref, Type: OrderFilled, CumQty: 2, Price: 99, Fee: 20, TradeID: "B"})
	mustApplyEv(t, e, t0, OrderEvent{Ref: ref, Type: OrderFilled, CumQty: 1, Price: 99, Fee: 10, TradeID: "A"})
	mustApplyEv(t, e, t0, OrderEvent{Ref: ref, Type: OrderFilled, CumQty: 2, Price: 99, Fee: 20, TradeID: "B"})
	assert.Equal(t, int64(30), int64(e.Books().Fees), "both trades' fees, once each")

	// Trade C (the last 1) is learned from a query, without its fee: the
	// host recovers it from the venue's trades, once.
	mustApplyEv(t, e, t0, OrderEvent{Ref: ref, Type: OrderFilled, CumQty: 3, Price: 99})
	assert.True(t, e.FeesMissing())
	mustApplyEv(t, e, t0, OrderEvent{Ref: ref, Type: OrderFee, TradeID: "C", CumQty: 1, Fee: 7})
	mustApplyEv(t, e, t0, OrderEvent{Ref: ref, Type: OrderFee, TradeID: "C", CumQty: 1, Fee: 7})
	mustApplyEv(t, e, t0, OrderEvent{Ref: ref, Type: OrderFee, TradeID: "B", CumQty: 2, Fee: 20})
	assert.Equal(t, int64(37), int64(e.Books().Fees))
	assert.False(t, e.FeesMissing())

	// A fee in another asset is kept apart, by asset, once per trade.
	e.NoteUnbookedFee("D", "BNB", decimal.RequireFromString("0.0012"))
	e.NoteUnbookedFee("D", "BNB", decimal.RequireFromString("0.0012"))
	assert.Equal(t, "0.0012", e.Stats().UnbookedFees["BNB"].String())
}
