package grid

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/slot"
)

// Engine-level tests of order identity (issue 9): the hard stop's close
// orders, generation reservations and the one not-found rule.

func strsOf(in []Intent) []string {
	out := []string{}
	for _, it := range in {
		out = append(out, it.String())
	}
	return out
}

func mustApplyEv(t *testing.T, e *Engine, now time.Time, ev OrderEvent) []Intent {
	t.Helper()
	in, err := e.Apply(now, ev)
	require.NoError(t, err)
	require.NoError(t, e.CheckInvariants())
	return append([]Intent(nil), in...)
}

// oneLongHeld is a long grid holding 1 at level 9 (bought @99) with its
// exit 9/2 open, and entry 8/1 open.
func oneLongHeld(t *testing.T, opts ...Option) (*Engine, time.Time) {
	t.Helper()
	e, err := New(unitRules, append([]Option{WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("1")),
		WithWindows(1, 1, 0), WithInitialPosition(false), WithReceiveWindow(5 * time.Second)}, opts...)...)
	require.NoError(t, err)
	t0 := time.Unix(1000, 0)
	e.OnPrice(t0, 100)
	require.Equal(t, []string{"place 9/1 entry BUY 1@99 post-only"}, strsOf(e.OnStreamReady(t0)))
	mustApplyEv(t, e, t0, OrderEvent{Ref: OrderRef{Level: 9, Gen: 1}, Type: OrderAccepted})
	require.Equal(t, []string{"place 8/1 entry BUY 1@98 post-only"}, strsOf(e.OnPrice(t0, 99)))
	mustApplyEv(t, e, t0, OrderEvent{Ref: OrderRef{Level: 8, Gen: 1}, Type: OrderAccepted})
	in := mustApplyEv(t, e, t0, OrderEvent{Ref: OrderRef{Level: 9, Gen: 1}, Type: OrderFilled, CumQty: 1, Price: 99})
	require.Equal(t, []string{"place 9/2 exit SELL 1@100 post-only reduce-only"}, strsOf(in))
	mustApplyEv(t, e, t0, OrderEvent{Ref: OrderRef{Level: 9, Gen: 2}, Type: OrderAccepted})
	return e, t0
}

// Issue 9, bug 3: a hard stop's close whose outcome was unknown was never
// queried or sent again, and the position stayed open. Now it is queried,
// proven absent only after its send deadline plus the receive window, and
// then sent again under a new generation until the position is closed.
func TestHardStopCloseWithUnknownOutcomeIsQueriedAndRetried(t *testing.T) {
	e, t0 := oneLongHeld(t)
	in := e.HardStop(t0, "stop-loss", true)
	assert.ElementsMatch(t, []string{"cancel 9/2", "cancel 8/1"}, strsOf(in))
	mustApplyEv(t, e, t0, OrderEvent{Ref: OrderRef{Level: 8, Gen: 1}, Type: OrderCanceled})
	in = mustApplyEv(t, e, t0, OrderEvent{Ref: OrderRef{Level: 9, Gen: 2}, Type: OrderCanceled})
	require.Len(t, in, 1)
	close1 := in[0]
	assert.Equal(t, "place close/1 exit SELL 1 market reduce-only", close1.String())

	// Its outcome is unknown: a query, never a resend.
	t1 := t0.Add(time.Second)
	assert.Equal(t, []string{"query close/1"}, strsOf(mustApplyEv(t, e, t1, OrderEvent{Ref: close1.Ref, Type: OrderUnknown, SentAt: t0})))
	// Not found, asked before it could have landed: nothing yet.
	assert.Empty(t, mustApplyEv(t, e, t1, OrderEvent{Ref: close1.Ref, Type: OrderNotFound, AskedAt: t1}))
	assert.Equal(t, 1, e.Books().OpenOrders)
	// The timer asks again; a not-found asked after sent + window proves
	// it absent, and after the back-off the close goes out again.
	t6 := t0.Add(6 * time.Second)
	require.Equal(t, []string{"query close/1"}, strsOf(e.OnTimer(t6)))
	assert.Empty(t, mustApplyEv(t, e, t6, OrderEvent{Ref: close1.Ref, Type: OrderNotFound, AskedAt: t6}))
	assert.Zero(t, e.Books().OpenOrders)
	assert.Empty(t, strsOf(e.OnTimer(t6.Add(500*time.Millisecond))), "back-off")
	in = e.OnTimer(t6.Add(1100 * time.Millisecond))
	require.Equal(t, []string{"place close/2 exit SELL 1 market reduce-only"}, strsOf(in))
	mustApplyEv(t, e, t6, OrderEvent{Ref: in[0].Ref, Type: OrderFilled, CumQty: 1, Price: 97})
	assert.Zero(t, e.Books().Position)
	assert.Equal(t, exchange.Money(97-99), e.Books().Realized)
	assert.Empty(t, strsOf(e.OnTimer(t6.Add(time.Hour))), "nothing left to close")
}

// A refused close is sent again too (after its back-off), not given up.
func TestHardStopRefusedCloseIsSentAgain(t *testing.T) {
	e, t0 := oneLongHeld(t)
	e.HardStop(t0, "stop-loss", true)
	mustApplyEv(t, e, t0, OrderEvent{Ref: OrderRef{Level: 8, Gen: 1}, Type: OrderCanceled})
	close1 := mustApplyEv(t, e, t0, OrderEvent{Ref: OrderRef{Level: 9, Gen: 2}, Type: OrderCanceled})[0]
	assert.Empty(t, mustApplyEv(t, e, t0, OrderEvent{Ref: close1.Ref, Type: OrderRejected, Reason: "venue busy"}))
	assert.Equal(t, []string{"place close/2 exit SELL 1 market reduce-only"}, strsOf(e.OnTimer(t0.Add(2*time.Second))))
}

// Issue 9, bug 6: a neutral grid in one-way mode closed with two gross
// market orders; it now sends one order for the net and books both sides.
func TestNeutralOneWayHardStopSendsOneNetOrder(t *testing.T) {
	e, err := New(unitRules, WithMode(Neutral), WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("1")),
		WithWindows(2, 2, 0))
	require.NoError(t, err)
	t0 := time.Unix(1000, 0)
	v := newBookVenue(t, e, 100)
	v.checkEvery = false
	v.tick(98)  // long entries @99, @98 fill
	v.tick(101) // long exits fill? no: price rises to 101: the exit of 98 (@99) and of 99 (@100) fill, short @101 fills
	v.tick(98)
	b := e.Books()
	require.Positive(t, b.LongHeld)
	var closes []Intent
	v.onIntent = func(in Intent) {
		if in.Ref.Level == CloseLevel {
			closes = append(closes, in)
		}
	}
	long, short := b.LongHeld, b.ShortHeld
	v.run(e.HardStop(t0, "stop", true))
	net := long - short
	if net == 0 {
		assert.Empty(t, closes, "offsetting sides close against each other")
	} else {
		require.Len(t, closes, 1, "one net order")
		assert.Equal(t, absSteps(net), closes[0].Qty)
		assert.True(t, closes[0].ReduceOnly, "the net close reduces the account's position: a venue closed elsewhere refuses it rather than opening the other way")
		assert.Equal(t, exchange.PositionBoth, closes[0].PositionSide)
	}
	assert.Zero(t, e.Books().LongHeld)
	assert.Zero(t, e.Books().ShortHeld)
	assert.Zero(t, v.position)
	require.NoError(t, e.CheckInvariants())
}

// Issue 9, bug 6: Reconcile's unknown-outcome event for an acknowledged
// order that vanished from the venue was ignored by the slot table, so the
// flag was silently not set. It is set now, and a query's answer settles it.
func TestVanishedAcknowledgedOrderIsMarkedUnknownAndQueried(t *testing.T) {
	e, t0 := oneLongHeld(t)
	in := e.Reconcile(t0.Add(time.Minute), Snapshot{Orders: []VenueOrder{{Ref: OrderRef{Level: 9, Gen: 2}, Side: exchange.Sell, Price: 100, Qty: 1}}})
	assert.Equal(t, []string{"query 8/1"}, strsOf(in))
	var s8 slot.Slot
	e.Slots(func(v SlotView) {
		if v.Level == 8 {
			s8 = v.Slot
		}
	})
	assert.True(t, s8.Unknown, "the vanished entry's outcome is unknown")
	assert.Equal(t, slot.EntryOpen, s8.State)
	mustApplyEv(t, e, t0.Add(time.Minute), OrderEvent{Ref: OrderRef{Level: 8, Gen: 1}, Type: OrderAccepted})
	e.Slots(func(v SlotView) {
		if v.Level == 8 {
			assert.False(t, v.Slot.Unknown, "still live: settled")
		}
	})
	// A not-found asked after the order was seen proves it ended.
	now := t0.Add(2 * time.Minute)
	e.Reconcile(now, Snapshot{})
	in = mustApplyEv(t, e, now, OrderEvent{Ref: OrderRef{Level: 8, Gen: 1}, Type: OrderNotFound, AskedAt: now})
	assert.Equal(t, []string{"place 8/2 entry BUY 1@98 post-only"}, strsOf(in), "the old order ended: the slot places anew")
}

// A "not found" from a look before the order was seen says nothing, even
// if it arrives after the order was acknowledged (chaos seed 128 of this
// change: the answer to a query computed before the placement landed).
func TestNotFoundOlderThanTheAckIsIgnored(t *testing.T) {
	e, err := New(unitRules, WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("1")),
		WithWindows(1, 1, 0), WithInitialPosition(false), WithReceiveWindow(5*time.Second))
	require.NoError(t, err)
	t0 := time.Unix(1000, 0)
	e.OnPrice(t0, 100)
	ref := e.OnStreamReady(t0)[0].Ref
	mustApplyEv(t, e, t0.Add(100*time.Millisecond), OrderEvent{Ref: ref, Type: OrderUnknown, SentAt: t0})
	mustApplyEv(t, e, t0.Add(250*time.Millisecond), OrderEvent{Ref: ref, Type: OrderAccepted})
	assert.Empty(t, mustApplyEv(t, e, t0.Add(255*time.Millisecond), OrderEvent{Ref: ref, Type: OrderNotFound, AskedAt: t0.Add(100 * time.Millisecond)}))
	assert.Equal(t, 1, e.Books().OpenOrders, "the entry stays: no second order")
}

// Issue 9, bug 2: generations are reserved in blocks stored before use; a
// restart from a state saved before later orders starts past every block
// it reserved, so no client order ID repeats — even the close orders'.
func TestRestartFromAnOlderStateUsesOnlyNewGenerations(t *testing.T) {
	opts := []Option{WithGridID("gen"), WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("1")),
		WithWindows(1, 1, 0), WithInitialPosition(false)}
	e1, err := New(unitRules, opts...)
	require.NoError(t, err)
	t0 := time.Unix(1000, 0)
	e1.OnPrice(t0, 100)
	_, err = e1.Recover(t0, Snapshot{HavePosition: true}, false)
	require.NoError(t, err)
	res := e1.UseReservations()
	assert.Equal(t, IntentReserve, res.Kind)
	assert.Empty(t, e1.OnStreamReady(t0), "nothing placed before the first block is stored")
	saved := e1.State()
	assert.Equal(t, res.Ref.Gen, saved.GenReserved, "the state carries the reservation it asks for")
	in := e1.Reserved(t0, res.Ref.Gen)
	require.Equal(t, []string{"place 9/1 entry BUY 1@99 post-only"}, strsOf(in))
	// More orders after the save: 9/1 is canceled, 9/2 placed and live.
	mustApplyEv(t, e1, t0, OrderEvent{Ref: OrderRef{Level: 9, Gen: 1}, Type: OrderAccepted})
	used := map[string]bool{"9/1": true}

	// The process dies; the new one restores the older state.
	e2, err := New(unitRules, opts...)
	require.NoError(t, err)
	require.NoError(t, e2.RestoreState(saved))
	e2.OnPrice(t0, 100)
	_, err = e2.Recover(t0, Snapshot{HavePosition: true, Orders: []VenueOrder{{Ref: OrderRef{Level: 9, Gen: 1}, Side: exchange.Buy, Price: 99, Qty: 1}}}, false)
	require.NoError(t, err)
	res2 := e2.UseReservations()
	assert.Greater(t, res2.Ref.Gen, saved.GenReserved)
	e2.Reserved(t0, res2.Ref.Gen)
	e2.OnStreamReady(t0)
	in = e2.HardStop(t0, "stop", true)
	assert.Equal(t, []string{"cancel 9/1"}, strsOf(in), "the adopted order is canceled by its own ID")
	in = e2.OnPrice(t0, 98)
	for _, it := range in {
		assert.Greater(t, it.Ref.Gen, saved.GenReserved, "%s reuses a generation of the last run", it)
		assert.False(t, used[it.Ref.String()])
	}
}

// Generations beyond the confirmed block wait for the next reservation.
func TestPlacementsWaitForAReservedGeneration(t *testing.T) {
	e, err := New(unitRules, WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("1")),
		WithWindows(1, 1, 0), WithInitialPosition(false))
	require.NoError(t, err)
	t0 := time.Unix(1000, 0)
	e.OnPrice(t0, 100)
	res := e.UseReservations()
	e.Reserved(t0, res.Ref.Gen)
	e.OnStreamReady(t0)
	// Cancel and re-place the same entry until its generation nears the
	// block's end: the engine asks for the next block a quarter ahead, and
	// stops placing at the end until it is confirmed.
	// (The venue ends each entry unasked, with nothing filled: the slot
	// backs off, at most 64 s, before it places again on the timer.)
	ref := OrderRef{Level: 9, Gen: 1}
	asked := false
	now := t0
	for ref.Gen < res.Ref.Gen {
		mustApplyEv(t, e, now, OrderEvent{Ref: ref, Type: OrderAccepted})
		in := mustApplyEv(t, e, now, OrderEvent{Ref: ref, Type: OrderCanceled})
		now = now.Add(2 * time.Minute)
		in = append(in, e.OnTimer(now)...)
		var next *Intent
		for i := range in {
			switch in[i].Kind {
			case IntentReserve:
				asked = true
			case IntentPlace:
				next = &in[i]
			}
		}
		require.NotNil(t, next, "gen %d", ref.Gen)
		ref = next.Ref
	}
	assert.True(t, asked)
	mustApplyEv(t, e, now, OrderEvent{Ref: ref, Type: OrderAccepted})
	in := mustApplyEv(t, e, now, OrderEvent{Ref: ref, Type: OrderCanceled})
	now = now.Add(2 * time.Minute)
	in = append(in, e.OnTimer(now)...)
	for _, it := range in {
		assert.NotEqual(t, IntentPlace, it.Kind, "no generation left: %s", it)
	}
	assert.Equal(t, []string{"reserve 2048"}, strsOf(e.OnTimer(now.Add(time.Second)))[:1], "asked again until confirmed")
	in = e.Reserved(now, 2048)
	require.Len(t, in, 1)
	assert.Equal(t, res.Ref.Gen+1, in[0].Ref.Gen)
}

// A close larger than the venue's market maximum goes out in parts that
// each fit, and all of them are booked.
func TestHardStopCloseIsSplitToTheMarketMaximum(t *testing.T) {
	rules := unitRules
	rules.MarketMaxQty = d("2")
	e, err := New(rules, WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("5")),
		WithWindows(1, 1, 0), WithInitialPosition(false))
	require.NoError(t, err)
	t0 := time.Unix(1000, 0)
	e.OnPrice(t0, 100)
	entry := e.OnStreamReady(t0)[0].Ref
	mustApplyEv(t, e, t0, OrderEvent{Ref: entry, Type: OrderAccepted})
	exit := mustApplyEv(t, e, t0, OrderEvent{Ref: entry, Type: OrderFilled, CumQty: 5, Price: 99})[0].Ref
	mustApplyEv(t, e, t0, OrderEvent{Ref: exit, Type: OrderAccepted})
	e.HardStop(t0, "stop", true)
	in := mustApplyEv(t, e, t0, OrderEvent{Ref: exit, Type: OrderCanceled})
	assert.Equal(t, []string{"place close/1 exit SELL 2 market reduce-only", "place close/2 exit SELL 2 market reduce-only",
		"place close/3 exit SELL 1 market reduce-only"}, strsOf(in))
	for i, it := range in {
		mustApplyEv(t, e, t0, OrderEvent{Ref: it.Ref, Type: OrderFilled, CumQty: it.Qty, Price: exchange.Ticks(98 - i)})
	}
	assert.Zero(t, e.Books().Position)
	assert.Equal(t, exchange.Money(2*98+2*97+1*96-5*99), e.Books().Realized)
}

// Issue 9, bug 2: a restart from a state saved before the slot moved on.
// The venue shows an exit of a newer generation live: it is adopted (not
// canceled as an orphan), and the stored entry is not queried and booked
// again. A slot whose newer order only shows in the recent fills is
// rebuilt from them.
func TestRestartFromAStaleStateFollowsTheVenue(t *testing.T) {
	opts := []Option{WithGridID("st"), WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("1")),
		WithWindows(2, 2, 0), WithInitialPosition(false)}
	e1, err := New(unitRules, opts...)
	require.NoError(t, err)
	t0 := time.Unix(1000, 0)
	e1.OnPrice(t0, 100)
	in := e1.OnStreamReady(t0)
	require.Len(t, in, 2)
	for _, it := range in {
		mustApplyEv(t, e1, t0, OrderEvent{Ref: it.Ref, Type: OrderAccepted})
	}
	saved := e1.State() // entries 9/1 and 8/1 live
	// After the save (lost in the crash): 9/1 filled and its exit 9/2 is
	// live; 8/1 filled, its exit 8/2 filled, and nothing is live there.
	e2, err := New(unitRules, opts...)
	require.NoError(t, err)
	require.NoError(t, e2.RestoreState(saved))
	e2.OnPrice(t0, 100)
	snap := Snapshot{HavePosition: true, Position: 1,
		Orders: []VenueOrder{{Ref: OrderRef{Level: 9, Gen: 2}, Side: exchange.Sell, Price: 100, Qty: 1}},
		Fills: []VenueFill{
			{Ref: OrderRef{Level: 9, Gen: 1}, Side: exchange.Buy, Price: 99, Qty: 1},
			{Ref: OrderRef{Level: 8, Gen: 1}, Side: exchange.Buy, Price: 98, Qty: 1},
			{Ref: OrderRef{Level: 8, Gen: 2}, Side: exchange.Sell, Price: 99, Qty: 1},
		}}
	in, err = e2.Recover(t0, snap, false)
	require.NoError(t, err)
	for _, it := range in {
		assert.NotEqual(t, IntentCancel, it.Kind, "%s: the venue's newer order is not an orphan", it)
		assert.NotEqual(t, OrderRef{Level: 9, Gen: 1}, it.Ref, "the superseded order is not queried")
		assert.NotEqual(t, OrderRef{Level: 8, Gen: 1}, it.Ref, "the superseded order is not queried")
	}
	require.NoError(t, e2.CheckInvariants())
	e2.Slots(func(v SlotView) {
		switch v.Level {
		case 9:
			assert.Equal(t, slot.ExitOpen, v.Slot.State)
			assert.Equal(t, uint32(2), v.Slot.Gen)
			assert.Equal(t, int64(1), v.Slot.Held)
		case 8:
			assert.Equal(t, slot.Free, v.Slot.State, "the round trip completed after the save")
			assert.Equal(t, uint32(2), v.Slot.Gen)
		}
	})
	assert.Equal(t, exchange.Steps(1), e2.Position())
	assert.Zero(t, e2.Drift())
}
