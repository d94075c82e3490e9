package backtest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/slot"
)

// Regression tests for the engine bugs the chaos soak found, each reduced
// to the few events that showed it (the seed that found it in the name's
// comment).

// unitRules count in whole units, so the numbers read plainly.
var unitRules = exchange.Rules{Symbol: "TEST", TickSize: dec("1"), StepSize: dec("1"), MinQty: dec("1"), MinNotional: dec("0")}

// oneLevel is a bounded long grid on 90..110 with one entry and one exit
// live at a time, entries of 2.
func oneLevel(t *testing.T, extra ...grid.Option) (*grid.Engine, time.Time) {
	t.Helper()
	opts := append([]grid.Option{grid.WithStartPrice(dec("100")), grid.WithBounds(dec("90"), dec("110"), 20),
		grid.WithQuantity(dec("2")), grid.WithWindows(1, 1, 0), grid.WithInitialPosition(false)}, extra...)
	e, err := grid.New(unitRules, opts...)
	require.NoError(t, err)
	t0 := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	require.Empty(t, e.OnPrice(t0, 100))
	return e, t0
}

func strs(in []grid.Intent) []string {
	out := []string{}
	for _, it := range in {
		out = append(out, it.String())
	}
	return out
}

func mustApply(t *testing.T, e *grid.Engine, now time.Time, ev grid.OrderEvent) []string {
	t.Helper()
	in, err := e.Apply(now, ev)
	require.NoError(t, err)
	require.NoError(t, e.CheckInvariants())
	return strs(in)
}

// holding enters level 9 (buy 2 @99) and places its exit (sell 2 @100);
// the window's next entry (8/1, buy @98) is sent and left unanswered.
func holding(t *testing.T, e *grid.Engine, t0 time.Time) grid.OrderRef {
	t.Helper()
	require.Equal(t, []string{"place 9/1 entry BUY 2@99 post-only"}, strs(e.OnStreamReady(t0)))
	entry := grid.OrderRef{Level: 9, Gen: 1}
	mustApply(t, e, t0, grid.OrderEvent{Ref: entry, Type: grid.OrderAccepted})
	require.Equal(t, []string{"place 8/1 entry BUY 2@98 post-only"}, strs(e.OnPrice(t0.Add(time.Second), 99)))
	exit := grid.OrderRef{Level: 9, Gen: 2}
	require.Equal(t, []string{"place 9/2 exit SELL 2@100 post-only reduce-only"},
		mustApply(t, e, t0.Add(time.Second), grid.OrderEvent{Ref: entry, Type: grid.OrderFilled, CumQty: 2, Price: 99, Fee: 3}))
	return exit
}

// Seed 17: a fill the stream lost, found on a live order by a
// reconciliation, was booked into the slot but its realized PnL was not
// booked into the engine's books.
func TestReconcileBooksTheRealizedPnLOfAMissedFill(t *testing.T) {
	e, t0 := oneLevel(t)
	exit := holding(t, e, t0)
	mustApply(t, e, t0.Add(time.Second), grid.OrderEvent{Ref: exit, Type: grid.OrderAccepted})
	// The exit sold 1 of 2; the stream lost the update.
	in := e.Reconcile(t0.Add(2*time.Second), grid.Snapshot{Orders: []grid.VenueOrder{
		{Ref: exit, Side: exchange.Sell, Price: 100, Qty: 2, Filled: 1},
	}, Position: 1, HavePosition: true})
	assert.Empty(t, in)
	require.NoError(t, e.CheckInvariants())
	b := e.Books()
	assert.Equal(t, exchange.Money(1), b.Realized, "1 sold at 100, bought at 99")
	assert.Equal(t, exchange.Money(3), b.Fees, "the missed fill's fee is not known")
	assert.Equal(t, 2, b.Fills)
	assert.Equal(t, exchange.Steps(1), b.Position)
	assert.Zero(t, e.Drift())
}

// Seed 9: a cancel that never reached the venue (outcome unknown; the query
// finds the order still live) was never sent again: the slot stayed
// Canceling, the order live, and the timer queried it forever.
func TestQueryFindingACanceledOrderLiveCancelsAgain(t *testing.T) {
	e, t0 := oneLevel(t)
	require.Equal(t, []string{"place 9/1 entry BUY 2@99 post-only"}, strs(e.OnStreamReady(t0)))
	entry := grid.OrderRef{Level: 9, Gen: 1}
	mustApply(t, e, t0, grid.OrderEvent{Ref: entry, Type: grid.OrderAccepted})
	t1 := t0.Add(time.Second)
	require.Equal(t, []string{"cancel 9/1", "place 12/1 entry BUY 2@102 post-only"}, strs(e.OnPrice(t1, 103)))
	assert.Equal(t, []string{"query 9/1"}, mustApply(t, e, t1, grid.OrderEvent{Ref: entry, Type: grid.OrderUnknown, Reason: "timeout"}))
	assert.Equal(t, []string{"cancel 9/1"}, mustApply(t, e, t1.Add(time.Second), grid.OrderEvent{Ref: entry, Type: grid.OrderAccepted}),
		"the order is still live: the cancel did not happen")
	// A late NEW update of an order being canceled changes nothing.
	assert.Empty(t, mustApply(t, e, t1.Add(2*time.Second), grid.OrderEvent{Ref: entry, Type: grid.OrderAccepted}))
	mustApply(t, e, t1.Add(2*time.Second), grid.OrderEvent{Ref: entry, Type: grid.OrderCanceled})
	e.Slots(func(v grid.SlotView) {
		if v.Level == 9 {
			assert.Equal(t, slot.Free, v.Slot.State)
		}
	})
}

// Seeds 2134, 2581, 5615, 5644, 6481: an exit the venue refused (margin,
// nothing to reduce) was re-sent in the same call, and with a venue that
// refuses synchronously the engine and the venue looped forever.
func TestRefusedExitIsRetriedOnTheTimerNotAtOnce(t *testing.T) {
	e, t0 := oneLevel(t)
	exit := holding(t, e, t0)
	t2 := t0.Add(2 * time.Second)
	assert.Empty(t, mustApply(t, e, t2, grid.OrderEvent{Ref: exit, Type: grid.OrderRejected, Reason: "insufficient margin"}))
	assert.Equal(t, 1, e.Books().Rejected)
	assert.Equal(t, []string{"place 9/3 exit SELL 2@100 post-only reduce-only"}, strs(e.OnTimer(t2.Add(time.Second))))
}

// Seed 8960: a placement in flight landed after the ack-timeout query had
// been answered "not found" but before that answer arrived, which was after
// the receive window: the engine took the stale answer as proof of
// absence, freed the slot and placed a second order beside the live one.
func TestStaleNotFoundDoesNotFreeASlotWhoseOrderLanded(t *testing.T) {
	e, t0 := oneLevel(t, grid.WithReceiveWindow(10*time.Second), grid.WithAckTimeout(5*time.Second))
	require.Equal(t, []string{"place 9/1 entry BUY 2@99 post-only"}, strs(e.OnStreamReady(t0)))
	entry := grid.OrderRef{Level: 9, Gen: 1}
	require.Equal(t, []string{"query 9/1"}, strs(e.OnTimer(t0.Add(6*time.Second))), "unanswered past the ack timeout")
	// The venue answers the query (not found), then the order lands and is
	// acknowledged; the query's answer arrives last, after the window.
	mustApply(t, e, t0.Add(9*time.Second), grid.OrderEvent{Ref: entry, Type: grid.OrderAccepted})
	assert.Empty(t, mustApply(t, e, t0.Add(11*time.Second), grid.OrderEvent{Ref: entry, Type: grid.OrderNotFound}))
	assert.Empty(t, strs(e.OnTimer(t0.Add(12*time.Second))))
	e.Slots(func(v grid.SlotView) {
		if v.Level == 9 {
			assert.Equal(t, slot.EntryOpen, v.Slot.State)
			assert.Equal(t, uint32(1), v.Slot.Gen)
		}
	})
	assert.Equal(t, 1, e.Books().OpenOrders)
}

// The same race on a placement still unacknowledged: the stale not-found
// leads to another query, and only the answer to a query sent after the
// placement could last have landed frees the slot. The host may start
// sending the placement up to its SendBy (the send timeout, here the ack
// timeout of 5 s), so it may land up to 5 + 10 s after it was asked for.
func TestNotFoundFreesOnlyForAQuerySentAfterTheWindow(t *testing.T) {
	e, t0 := oneLevel(t, grid.WithReceiveWindow(10*time.Second), grid.WithAckTimeout(5*time.Second))
	in := e.OnStreamReady(t0)
	require.Equal(t, []string{"place 9/1 entry BUY 2@99 post-only"}, strs(in))
	assert.Equal(t, t0.Add(5*time.Second), in[0].SendBy)
	entry := grid.OrderRef{Level: 9, Gen: 1}
	require.Equal(t, []string{"query 9/1"}, strs(e.OnTimer(t0.Add(6*time.Second))))
	assert.Empty(t, mustApply(t, e, t0.Add(11*time.Second), grid.OrderEvent{Ref: entry, Type: grid.OrderNotFound, AskedAt: t0.Add(6 * time.Second)}), "asked at 6 s: may predate the order")
	assert.Empty(t, strs(e.OnTimer(t0.Add(12*time.Second))), "a query now could not prove anything either")
	require.Equal(t, []string{"query 9/1"}, strs(e.OnTimer(t0.Add(15*time.Second))))
	assert.Equal(t, []string{"place 9/2 entry BUY 2@99 post-only"},
		mustApply(t, e, t0.Add(15*time.Second), grid.OrderEvent{Ref: entry, Type: grid.OrderNotFound, AskedAt: t0.Add(15 * time.Second)}), "asked at 15 s: the order cannot arrive any more")
}

// Seed 7306: a trailing grid restarted without a store, whose adopted
// orders already filled the layer cap, still claimed a slot for the
// position they did not explain: one layer over the cap.
func TestRecoverClaimKeepsTheLayerCap(t *testing.T) {
	e, err := grid.New(unitRules, grid.WithStartPrice(dec("100")), grid.WithTrailing(dec("5"), 2), grid.WithQuantity(dec("1")))
	require.NoError(t, err)
	t0 := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	require.Empty(t, e.OnPrice(t0, 100))
	in, err := e.Recover(t0, grid.Snapshot{Orders: []grid.VenueOrder{
		{Ref: grid.OrderRef{Level: -1, Gen: 3}, Side: exchange.Buy, Price: 95, Qty: 1},
		{Ref: grid.OrderRef{Level: -2, Gen: 5}, Side: exchange.Buy, Price: 90, Qty: 1},
	}, Position: 3, HavePosition: true}, true)
	require.NoError(t, err)
	assert.Empty(t, strs(in))
	require.NoError(t, e.CheckInvariants())
	assert.Equal(t, 2, e.Stats().Layers)
	assert.Equal(t, exchange.Steps(3), e.Baseline(), "no room to claim: the position stays baseline")
	assert.Equal(t, exchange.Steps(0), e.Position())
}
