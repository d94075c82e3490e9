package grid

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/slot"
)

// staleOpts is a long grid of 2 units a level, levels 1 apart, windows of
// two: entries at 99 (level 9) and 98 (level 8) from a start at 100.
func staleOpts() []Option {
	return []Option{WithGridID("st"), WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("2")),
		WithWindows(2, 2, 0), WithInitialPosition(false)}
}

// restoreInto restores a saved state into a new engine of the same grid
// and recovers it from the venue's snapshot.
func restoreInto(t *testing.T, saved StoredState, now time.Time, snap Snapshot, opts ...Option) (*Engine, []Intent) {
	t.Helper()
	e, err := New(unitRules, opts...)
	require.NoError(t, err)
	require.NoError(t, e.RestoreState(saved))
	e.OnPrice(now, 100)
	in, err := e.Recover(now, snap, false)
	require.NoError(t, err)
	require.NoError(t, e.CheckInvariants())
	return e, append([]Intent(nil), in...)
}

// Issue 12: a restart from a state saved before the slots moved on books
// the venue's fills it skips over — realized PnL and fees, each trade's
// fee once — so that the books equal the venue's. Before the fix the
// slots were rebuilt from the newest orders but nothing was booked:
// realized 0 and the fees of the stored trade only.
func TestStaleRestartBooksTheFillsItSkips(t *testing.T) {
	t0 := time.Unix(1000, 0)
	e1, err := New(unitRules, staleOpts()...)
	require.NoError(t, err)
	e1.OnPrice(t0, 100)
	in := e1.OnStreamReady(t0)
	require.Equal(t, []string{"place 8/1 entry BUY 2@98 post-only", "place 9/1 entry BUY 2@99 post-only"}, strsOf(in))
	for _, it := range in {
		mustApplyEv(t, e1, t0, OrderEvent{Ref: it.Ref, Type: OrderAccepted})
	}
	e9, e8 := OrderRef{Level: 9, Gen: 1}, OrderRef{Level: 8, Gen: 1}
	mustApplyEv(t, e1, t0, OrderEvent{Ref: e9, Type: OrderFilled, CumQty: 1, Price: 99, TradeID: "t1", Fee: 3})
	saved := e1.State() // 9/1 filled 1 of 2 (trade t1, fee 3 booked); 8/1 live
	require.Equal(t, exchange.Money(3), saved.Books.Fees)

	// After the save, lost in the crash: 9/1 filled (t2), its exit 9/2
	// sold 2 at 100 (t3, t4) and the next entry 9/3 filled 1 of 2 (t5);
	// 8/1 filled (t6), its exit 8/2 sold 1 at 99 (t7) and was canceled.
	snap := Snapshot{HavePosition: true, Position: 2,
		Orders: []VenueOrder{{Ref: OrderRef{Level: 9, Gen: 3}, Side: exchange.Buy, Price: 99, Qty: 2, Filled: 1}},
		Fills: []VenueFill{
			{Ref: e9, Side: exchange.Buy, Price: 99, Qty: 1, TradeID: "t1", Fee: 3}, // booked before the save
			{Ref: e9, Side: exchange.Buy, Price: 99, Qty: 1, TradeID: "t2", Fee: 4},
			{Ref: e8, Side: exchange.Buy, Price: 98, Qty: 2, TradeID: "t6", Fee: 4},
			{Ref: OrderRef{Level: 9, Gen: 2}, Side: exchange.Sell, Price: 100, Qty: 1, TradeID: "t3", Fee: 5},
			{Ref: OrderRef{Level: 9, Gen: 2}, Side: exchange.Sell, Price: 100, Qty: 1, TradeID: "t4", Fee: 5},
			{Ref: OrderRef{Level: 8, Gen: 2}, Side: exchange.Sell, Price: 99, Qty: 1, TradeID: "t7", Fee: 6},
			{Ref: OrderRef{Level: 9, Gen: 3}, Side: exchange.Buy, Price: 99, Qty: 1, TradeID: "t5", Fee: 7},
		}}
	e2, in := restoreInto(t, saved, t0, snap, staleOpts()...)
	for _, it := range in {
		assert.NotEqual(t, IntentCancel, it.Kind, "%s: the venue's newer order is not an orphan", it)
		assert.NotEqual(t, IntentQuery, it.Kind, "%s: the superseded orders are not queried", it)
	}
	b := e2.Books()
	// level 9: bought 2 at 99, sold 2 at 100: +2; level 8: bought 2 at
	// 98 (cost 196), sold 1 at 99 against half the cost: 99 − 98 = +1.
	assert.Equal(t, exchange.Money(3), b.Realized)
	assert.Equal(t, exchange.Money(3+4+4+5+5+6+7), b.Fees, "each trade's fee once; t1's was booked before the save")
	assert.Equal(t, exchange.Steps(2), b.Position)
	assert.Equal(t, 1, b.RoundTrips)
	assert.Zero(t, e2.Drift())
	assert.False(t, e2.FeesMissing())
	e2.Slots(func(v SlotView) {
		switch v.Level {
		case 9:
			assert.Equal(t, slot.Slot{Kind: slot.Long, State: slot.EntryOpen, Role: slot.RoleEntry, Gen: 3, OrderQty: 2, Filled: 1, Held: 1, Cost: 99}, v.Slot)
		case 8:
			assert.Equal(t, slot.Slot{Kind: slot.Long, State: slot.Holding, Gen: 2, Held: 1, Cost: 98}, v.Slot)
		}
	})
	// The stream goes on from the adopted order: t5 again books nothing,
	// the rest of 9/3 books its own fee.
	e2.OnStreamReady(t0)
	mustApplyEv(t, e2, t0, OrderEvent{Ref: OrderRef{Level: 9, Gen: 3}, Type: OrderFilled, CumQty: 1, Price: 99, TradeID: "t5", Fee: 7})
	assert.Equal(t, exchange.Money(34), e2.Books().Fees)
	mustApplyEv(t, e2, t0, OrderEvent{Ref: OrderRef{Level: 9, Gen: 3}, Type: OrderFilled, CumQty: 2, Price: 99, TradeID: "t8", Fee: 7})
	assert.Equal(t, exchange.Money(41), e2.Books().Fees)
	assert.Equal(t, exchange.Steps(3), e2.Books().Position)
}

// Issue 12: a hard stop's close sent after the save closed what the stored
// slots hold, after the stored exit was canceled with part filled: both
// are booked, the exit against the slot's cost and the close after it.
func TestStaleRestartBooksAHardStopsCloseAfterTheSave(t *testing.T) {
	t0 := time.Unix(1000, 0)
	e1, err := New(unitRules, staleOpts()...)
	require.NoError(t, err)
	e1.OnPrice(t0, 100)
	in := e1.OnStreamReady(t0)
	for _, it := range in {
		mustApplyEv(t, e1, t0, OrderEvent{Ref: it.Ref, Type: OrderAccepted})
	}
	exit := mustApplyEv(t, e1, t0, OrderEvent{Ref: OrderRef{Level: 9, Gen: 1}, Type: OrderFilled, CumQty: 2, Price: 99, TradeID: "t1", Fee: 1})[0].Ref
	mustApplyEv(t, e1, t0, OrderEvent{Ref: exit, Type: OrderAccepted})
	saved := e1.State() // 9 holds 2 at 99 with exit 9/2 live; 8/1 live
	// After the save: a hard stop canceled 8/1 (nothing filled) and 9/2
	// (1 filled at 100, t2), then closed the last unit at 95 (close/7, t3).
	snap := Snapshot{HavePosition: true, Position: 0,
		Fills: []VenueFill{
			{Ref: OrderRef{Level: 9, Gen: 1}, Side: exchange.Buy, Price: 99, Qty: 2, TradeID: "t1", Fee: 1},
			{Ref: exit, Side: exchange.Sell, Price: 100, Qty: 1, TradeID: "t2", Fee: 2},
			{Ref: OrderRef{Level: CloseLevel, Gen: 7}, Side: exchange.Sell, Price: 95, Qty: 1, TradeID: "t3", Fee: 3},
		}}
	e2, in := restoreInto(t, saved, t0, snap, staleOpts()...)
	assert.Empty(t, in, "the stored orders ended before the close: nothing to query")
	b := e2.Books()
	assert.Equal(t, exchange.Money((100-99)+(95-99)), b.Realized)
	assert.Equal(t, exchange.Money(1+2+3), b.Fees)
	assert.Zero(t, b.Position)
	assert.Zero(t, e2.Drift())
	assert.Zero(t, b.OpenOrders)
	// A later close takes generations above the venue's.
	e2.OnStreamReady(t0)
	assert.Equal(t, uint32(7), e2.closing.gen)
}

// Issue 12: a closing order live at the save with part of it booked: the
// restart books only the rest of its fills (the state keeps what of each
// live closing order it booked).
func TestStaleRestartBooksTheRestOfACloseLiveAtTheSave(t *testing.T) {
	t0 := time.Unix(1000, 0)
	opts := append(staleOpts(), WithWindows(1, 1, 0))
	e1, err := New(unitRules, opts...)
	require.NoError(t, err)
	e1.OnPrice(t0, 100)
	entry := e1.OnStreamReady(t0)[0].Ref
	mustApplyEv(t, e1, t0, OrderEvent{Ref: entry, Type: OrderAccepted})
	exit := mustApplyEv(t, e1, t0, OrderEvent{Ref: entry, Type: OrderFilled, CumQty: 2, Price: 99, TradeID: "t0", Fee: 1})[0].Ref
	mustApplyEv(t, e1, t0, OrderEvent{Ref: exit, Type: OrderAccepted})
	e1.HardStop(t0, "stop", true)
	in := mustApplyEv(t, e1, t0, OrderEvent{Ref: exit, Type: OrderCanceled})
	require.Equal(t, []string{"place close/1 exit SELL 2 market reduce-only"}, strsOf(in))
	closeRef := in[0].Ref
	mustApplyEv(t, e1, t0, OrderEvent{Ref: closeRef, Type: OrderFilled, CumQty: 1, Price: 95, TradeID: "t1", Fee: 3})
	saved := e1.State()
	require.Equal(t, []StoredCloseLeg{{Gen: closeRef.Gen, Filled: 1}}, saved.Closing)
	require.Equal(t, exchange.Money(95-99), saved.Books.Realized)

	snap := Snapshot{HavePosition: true, Position: 0,
		Fills: []VenueFill{
			{Ref: closeRef, Side: exchange.Sell, Price: 95, Qty: 1, TradeID: "t1", Fee: 3},
			{Ref: closeRef, Side: exchange.Sell, Price: 94, Qty: 1, TradeID: "t2", Fee: 3},
		}}
	e2, _ := restoreInto(t, saved, t0, snap, opts...)
	b := e2.Books()
	assert.Equal(t, exchange.Money((95-99)+(94-99)), b.Realized, "t1 once, t2 booked")
	assert.Equal(t, exchange.Money(1+3+3), b.Fees)
	assert.Zero(t, b.Position)
	assert.Zero(t, e2.Drift())
}

// Issue 12: the initial position's order filled after the save, then the
// slot it filled sold at its exit: the initial fill is booked first, so
// the exit realizes against it.
func TestStaleRestartBooksTheInitialOrderFirst(t *testing.T) {
	t0 := time.Unix(1000, 0)
	opts := []Option{WithGridID("st"), WithStartPrice(d("100")), WithBounds(d("98"), d("102"), 4), WithQuantity(d("1")),
		WithWindows(1, 1, 0)}
	e1, err := New(unitRules, opts...)
	require.NoError(t, err)
	e1.OnPrice(t0, 100)
	in := e1.OnStreamReady(t0)
	require.Equal(t, "place initial/1 entry BUY 2 market", in[0].String())
	saved := e1.State() // the initial order in flight
	// After the save: it bought 2 at 100 (t1) for the slots at 100 and
	// 101 (levels 2 and 3), and the one at 100 sold at 101 (its exit 2/2).
	snap := Snapshot{HavePosition: true, Position: 1,
		Fills: []VenueFill{
			{Ref: in[0].Ref, Side: exchange.Buy, Price: 100, Qty: 2, TradeID: "t1", Fee: 4},
			{Ref: OrderRef{Level: 2, Gen: 2}, Side: exchange.Sell, Price: 101, Qty: 1, TradeID: "t2", Fee: 1},
		}}
	e2, _ := restoreInto(t, saved, t0, snap, opts...)
	b := e2.Books()
	assert.Equal(t, exchange.Money(101-100), b.Realized)
	assert.Equal(t, exchange.Money(4+1), b.Fees)
	assert.Equal(t, exchange.Steps(1), b.Position)
	assert.Zero(t, e2.Drift())
}
