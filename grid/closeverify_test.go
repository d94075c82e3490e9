package grid

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
)

// repairLog records the observer's repairs.
type repairLog struct {
	NopObserver
	what []string
}

func (r *repairLog) Repair(what string, _ OrderRef) { r.what = append(r.what, what) }

// heldGrid is a grid of 3 units a level (long: bought @99, exit @100;
// short: sold @101, exit @100) hard-stopped while its exit rested unfilled.
// It returns the engine, the time, the intents after the exit's cancel
// (the close) and the captured logs.
func heldGrid(t *testing.T, mode Mode, opts ...Option) (*Engine, time.Time, []Intent, *bytes.Buffer, *repairLog) {
	t.Helper()
	return heldGridOn(t, unitRules, mode, opts...)
}

// heldGridOn is heldGrid on the given rules.
func heldGridOn(t *testing.T, rules exchange.Rules, mode Mode, opts ...Option) (*Engine, time.Time, []Intent, *bytes.Buffer, *repairLog) {
	t.Helper()
	var logs bytes.Buffer
	obs := &repairLog{}
	opts = append([]Option{WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("3")),
		WithWindows(1, 1, 0), WithInitialPosition(false), WithMode(mode), WithObserver(obs),
		WithEngineLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))}, opts...)
	e, err := New(rules, opts...)
	require.NoError(t, err)
	t0 := time.Unix(1000, 0)
	e.OnPrice(t0, 100)
	var entry OrderRef
	for _, it := range e.OnStreamReady(t0) {
		entry = it.Ref
	}
	price := exchange.Ticks(99)
	if mode == Short {
		price = 101
	}
	mustApplyEv(t, e, t0, OrderEvent{Ref: entry, Type: OrderAccepted})
	exit := mustApplyEv(t, e, t0, OrderEvent{Ref: entry, Type: OrderFilled, CumQty: 3, Price: price})[0].Ref
	mustApplyEv(t, e, t0, OrderEvent{Ref: exit, Type: OrderAccepted})
	e.HardStop(t0, "stop", true)
	in := mustApplyEv(t, e, t0, OrderEvent{Ref: exit, Type: OrderCanceled, CumQty: 0})
	return e, t0, in, &logs, obs
}

// reduceOnlyRefusal is the refusal Binance's adapter gives for -2022.
func reduceOnlyRefusal(ref OrderRef) OrderEvent {
	err := fmt.Errorf("binance: -2022 ReduceOnly Order is rejected.: %w", exchange.ErrReduceOnlyRejected)
	return OrderEvent{Ref: ref, Type: OrderRejected, Reason: err.Error(), Cause: err}
}

// intentsIn returns every intent the timer gives over the next d, a
// second apart, prefixed with the second it came at.
func intentsIn(e *Engine, from time.Time, d time.Duration) []string {
	var out []string
	for s := time.Second; s <= d; s += time.Second {
		for _, it := range e.OnTimer(from.Add(s)) {
			out = append(out, fmt.Sprintf("%ds %s", s/time.Second, it))
		}
	}
	return out
}

// Issue 12: a reduce-only close the venue refuses is not sent again
// blindly: the grid asks for the venue's position (IntentReconcile), sends
// nothing until it has it — asking again every ack timeout while it is
// not answered — and, when the venue shows the position already closed,
// the close is done: the slots' holding is taken out at no PnL and
// reported. Before the fix the same close was sent again after 1 s, 2 s,
// 4 s, … for ever.
func TestRefusedReduceOnlyCloseReadsThePositionFirst(t *testing.T) {
	e, t0, in, logs, obs := heldGrid(t, Long, WithAckTimeout(10*time.Second))
	require.Equal(t, []string{"place close/1 exit SELL 3 market reduce-only"}, strsOf(in))
	assert.Equal(t, []string{"reconcile"}, strsOf(mustApplyEv(t, e, t0, reduceOnlyRefusal(in[0].Ref))))
	assert.Equal(t, []string{"10s reconcile", "20s reconcile"}, intentsIn(e, t0, 25*time.Second),
		"no close until the position is read; the read asked again every ack timeout")

	// A snapshot read before the last ask (a reconciliation under way
	// when the refusal came) may show the old position: asked again.
	stale := Snapshot{HavePosition: true, Position: 3, At: t0.Add(-time.Second)}
	assert.Equal(t, []string{"reconcile"}, strsOf(e.Reconcile(t0.Add(25*time.Second), stale)))
	assert.Equal(t, exchange.Steps(3), e.Books().LongHeld)

	now := t0.Add(26 * time.Second)
	assert.Empty(t, e.Reconcile(now, Snapshot{HavePosition: true, Position: 0, At: now}))
	require.NoError(t, e.CheckInvariants())
	b := e.Books()
	assert.Equal(t, Books{Position: 0, LongHeld: 0, LongCost: 0, Fills: 1, Placed: 3, Canceled: 1, Rejected: 1,
		ClosedElsewhereLong: 3}, b)
	st := e.Stats()
	assert.Equal(t, "3", st.ClosedElsewhereLong.String())
	assert.True(t, st.ClosedElsewhereShort.IsZero())
	assert.True(t, st.Realized.IsZero(), "no PnL invented")
	assert.True(t, st.Position.IsZero())
	assert.True(t, st.Unrealized.IsZero())
	assert.Equal(t, "", st.Refusal)
	assert.Zero(t, e.Drift())
	assert.Equal(t, []string{"position closed elsewhere: the venue refused the reduce-only close and shows 0, less baseline 0; long 3 taken out of the slots at no PnL (entry cost 297)"}, obs.what)
	assert.Empty(t, intentsIn(e, now, time.Minute), "the close is done")
	assert.Contains(t, logs.String(), "level=WARN msg=\"grid: the grid's position was closed elsewhere")
	assert.Contains(t, logs.String(), "-2022 ReduceOnly Order is rejected")
}

// When the venue shows less than the grid holds, the difference is taken
// out at no PnL and what is left is closed at once, from the same read.
func TestRefusedReduceOnlyCloseSendsWhatTheVenueStillHolds(t *testing.T) {
	for name, tc := range map[string]struct {
		mode  Mode
		opts  []Option
		close string
		snap  Snapshot
		rest  string
	}{
		"one-way long": {mode: Long, close: "place close/1 exit SELL 3 market reduce-only",
			snap: Snapshot{Position: 1}, rest: "place close/2 exit SELL 1 market reduce-only"},
		"one-way short": {mode: Short, close: "place close/1 exit BUY 3 market reduce-only",
			snap: Snapshot{Position: -1}, rest: "place close/2 exit BUY 1 market reduce-only"},
		"hedge long, by side": {mode: Long, opts: []Option{WithPositionMode(exchange.Hedge)}, close: "place close/1 exit SELL 3 market LONG",
			snap: Snapshot{Position: -4, PositionLong: 1, PositionShort: 5, HaveSides: true}, rest: "place close/2 exit SELL 1 market LONG"},
		"hedge short, net": {mode: Short, opts: []Option{WithPositionMode(exchange.Hedge)}, close: "place close/1 exit BUY 3 market SHORT",
			snap: Snapshot{Position: -1}, rest: "place close/2 exit BUY 1 market SHORT"},
	} {
		t.Run(name, func(t *testing.T) {
			e, t0, in, _, _ := heldGrid(t, tc.mode, tc.opts...)
			require.Equal(t, []string{tc.close}, strsOf(in))
			require.Equal(t, []string{"reconcile"}, strsOf(mustApplyEv(t, e, t0, reduceOnlyRefusal(in[0].Ref))))
			tc.snap.HavePosition, tc.snap.At = true, t0
			out := e.Reconcile(t0, tc.snap)
			require.Equal(t, []string{tc.rest}, strsOf(out))
			require.NoError(t, e.CheckInvariants())
			st := e.Stats()
			if tc.mode == Long {
				assert.Equal(t, "2", st.ClosedElsewhereLong.String())
				assert.Equal(t, "1", st.Position.String())
			} else {
				assert.Equal(t, "2", st.ClosedElsewhereShort.String())
				assert.Equal(t, "-1", st.Position.String())
			}
			// The rest fills at 100: the PnL of that one unit only.
			mustApplyEv(t, e, t0, OrderEvent{Ref: out[0].Ref, Type: OrderAccepted})
			mustApplyEv(t, e, t0, OrderEvent{Ref: out[0].Ref, Type: OrderFilled, CumQty: 1, Price: 100})
			st = e.Stats()
			assert.True(t, st.Position.IsZero())
			if tc.mode == Long {
				assert.Equal(t, "1", st.Realized.String(), "sold 1 @100 bought @99")
			} else {
				assert.Equal(t, "1", st.Realized.String(), "bought back 1 @100 sold @101")
			}
			assert.Empty(t, intentsIn(e, t0, time.Minute))
		})
	}
}

// When the venue shows the position the grid holds, the refusal has
// another cause: the close is sent again after the back-off, and each
// refusal reads the position again before the next; the WARN is logged
// once, with the venue's message, and Stats.Refusal shows it.
func TestRefusedReduceOnlyCloseBacksOffWhenThePositionIsUnchanged(t *testing.T) {
	e, t0, in, logs, obs := heldGrid(t, Long, WithAckTimeout(time.Hour))
	ref := in[0].Ref
	for k, backoff := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		require.Equal(t, []string{"reconcile"}, strsOf(mustApplyEv(t, e, t0, reduceOnlyRefusal(ref))), "refusal %d", k)
		assert.Empty(t, e.Reconcile(t0, Snapshot{HavePosition: true, Position: 3, At: t0}))
		got := intentsIn(e, t0, backoff)
		next := fmt.Sprintf("%ds place close/%d exit SELL 3 market reduce-only", backoff/time.Second, ref.Gen+1)
		require.Equal(t, []string{next}, got, "refusal %d: sent again only after the back-off", k)
		ref.Gen++
		t0 = t0.Add(backoff)
	}
	assert.Equal(t, 1, strings.Count(logs.String(), "level=WARN msg=\"grid: the venue refuses the reduce-only close though it shows"), logs.String())
	assert.Equal(t, 1, strings.Count(logs.String(), "level=INFO msg=\"grid: the venue refused the reduce-only close"), "INFO for the first refusal only")
	assert.NotContains(t, logs.String(), "closing order failed", "not logged as a failed close")
	assert.Contains(t, e.Stats().Refusal, "-2022 ReduceOnly Order is rejected")
	assert.True(t, e.Stats().ClosedElsewhereLong.IsZero())
	assert.Equal(t, exchange.Steps(3), e.Books().LongHeld)
	assert.Empty(t, obs.what)
}

// A baseline (a position the grid found and does not own) is never closed
// and never counted as the grid's: a long grid over a long baseline of 5
// whose 3 were closed elsewhere sees the venue at 5, and takes its 3 out.
func TestRefusedReduceOnlyCloseLeavesTheBaseline(t *testing.T) {
	e, t0, in, _, _ := heldGrid(t, Long)
	e.baseline = 5
	require.Equal(t, []string{"reconcile"}, strsOf(mustApplyEv(t, e, t0, reduceOnlyRefusal(in[0].Ref))))
	assert.Empty(t, e.Reconcile(t0, Snapshot{HavePosition: true, Position: 5, At: t0}))
	assert.Equal(t, "3", e.Stats().ClosedElsewhereLong.String())
	assert.Zero(t, e.Drift())
	assert.Empty(t, intentsIn(e, t0, time.Minute))
}

// A close split in several orders: a leg refused while another is still
// live waits for it; the position is read once nothing is live.
func TestRefusedReduceOnlyCloseWaitsForTheOtherLegs(t *testing.T) {
	rules := unitRules
	rules.MarketMaxQty = d("2")
	e, t0, in, _, _ := heldGridOn(t, rules, Long)
	require.Equal(t, []string{"place close/1 exit SELL 2 market reduce-only", "place close/2 exit SELL 1 market reduce-only"}, strsOf(in))
	assert.Empty(t, mustApplyEv(t, e, t0, reduceOnlyRefusal(in[1].Ref)), "close/1 is still live")
	assert.Empty(t, e.Reconcile(t0, Snapshot{HavePosition: true, Position: 0, At: t0}), "not asked yet: ignored")
	assert.Equal(t, exchange.Steps(3), e.Books().LongHeld)
	mustApplyEv(t, e, t0, OrderEvent{Ref: in[0].Ref, Type: OrderAccepted})
	out := mustApplyEv(t, e, t0, OrderEvent{Ref: in[0].Ref, Type: OrderFilled, CumQty: 2, Price: 100})
	require.Equal(t, []string{"reconcile"}, strsOf(out))
	assert.Empty(t, e.Reconcile(t0, Snapshot{HavePosition: true, Position: 0, At: t0}))
	assert.Equal(t, "1", e.Stats().ClosedElsewhereLong.String())
	assert.Equal(t, "2", e.Stats().Realized.String(), "2 sold @100, bought @99")
	assert.True(t, e.Stats().Position.IsZero())
}

// A reconciliation that shows a closing order the grid does not know (an
// earlier run's, adopted to be canceled) does not settle the close: the
// position moves with that order. The position is read again once it
// ended, and only a read made after that settles.
func TestRefusedReduceOnlyCloseWaitsForAnAdoptedClose(t *testing.T) {
	e, t0, in, _, _ := heldGrid(t, Long, WithAckTimeout(time.Hour))
	require.Equal(t, []string{"reconcile"}, strsOf(mustApplyEv(t, e, t0, reduceOnlyRefusal(in[0].Ref))))
	old := OrderRef{Level: CloseLevel, Gen: 7}
	t1 := t0.Add(time.Second)
	assert.Empty(t, e.Reconcile(t1, Snapshot{HavePosition: true, Position: 0, At: t1,
		Orders: []VenueOrder{{Ref: old, Side: exchange.Sell, Price: 100, Qty: 3}}}))
	assert.Equal(t, exchange.Steps(3), e.Books().LongHeld, "not settled while an order is live")
	assert.Equal(t, []string{"cancel close/7"}, strsOf(e.OnTimer(t1)))
	t2 := t1.Add(time.Second)
	assert.Equal(t, []string{"reconcile"}, strsOf(mustApplyEv(t, e, t2, OrderEvent{Ref: old, Type: OrderCanceled, CumQty: 1, Price: 100})))
	assert.Equal(t, []string{"reconcile"}, strsOf(e.Reconcile(t2, Snapshot{HavePosition: true, Position: 0, At: t1})), "read before: asked again")
	assert.Empty(t, e.Reconcile(t2, Snapshot{HavePosition: true, Position: 0, At: t2}))
	st := e.Stats()
	assert.Equal(t, "2", st.ClosedElsewhereLong.String())
	assert.Equal(t, "1", st.Realized.String(), "the adopted close's fill: 1 sold @100, bought @99")
	assert.True(t, st.Position.IsZero())
	assert.Empty(t, intentsIn(e, t2, time.Minute))
}

// A neutral grid in one-way mode closes its net with one order. It goes
// reduce-only, as a long or short grid's does, so a venue whose position
// was closed elsewhere refuses it and the close settles from the venue's
// position. Before, the net close went plain: with the position already
// closed elsewhere it filled, and opened a position the other way.
func TestNeutralOneWayCloseIsReduceOnlyAndSettlesWhenRefused(t *testing.T) {
	obs := &repairLog{}
	e, err := New(unitRules, WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("3")),
		WithWindows(1, 1, 0), WithInitialPosition(false), WithMode(Neutral), WithObserver(obs))
	require.NoError(t, err)
	t0 := time.Unix(1000, 0)
	e.OnPrice(t0, 100)
	var buy OrderRef
	live := map[OrderRef]bool{}
	for _, it := range e.OnStreamReady(t0) {
		mustApplyEv(t, e, t0, OrderEvent{Ref: it.Ref, Type: OrderAccepted})
		live[it.Ref] = true
		if it.Side == exchange.Buy {
			buy = it.Ref
		}
	}
	require.NotEqual(t, OrderRef{}, buy, "a buy entry")
	delete(live, buy)
	for _, it := range mustApplyEv(t, e, t0, OrderEvent{Ref: buy, Type: OrderFilled, CumQty: 3, Price: 99}) {
		if it.Kind == IntentPlace {
			mustApplyEv(t, e, t0, OrderEvent{Ref: it.Ref, Type: OrderAccepted})
			live[it.Ref] = true
		}
	}
	var in []Intent
	for _, it := range e.HardStop(t0, "stop", true) {
		require.Equal(t, IntentCancel, it.Kind, "%s", it)
	}
	for ref := range live {
		in = append(in, mustApplyEv(t, e, t0, OrderEvent{Ref: ref, Type: OrderCanceled})...)
	}
	require.Equal(t, []string{"place close/1 exit SELL 3 market reduce-only"}, strsOf(in))
	assert.Equal(t, []string{"reconcile"}, strsOf(mustApplyEv(t, e, t0, reduceOnlyRefusal(in[0].Ref))))
	now := t0.Add(time.Second)
	assert.Empty(t, e.Reconcile(now, Snapshot{HavePosition: true, Position: 0, At: now}))
	require.NoError(t, e.CheckInvariants())
	assert.Zero(t, e.Books().Position)
	assert.Equal(t, "3", e.Stats().ClosedElsewhereLong.String())
	assert.Len(t, obs.what, 1)
	assert.Empty(t, intentsIn(e, now, time.Minute), "the close is done")
}

// A close goes reduce-only in one-way mode when it reduces the account's
// net position (baseline and grid) by all of its quantity; against a
// baseline of the other sign it cannot, and goes plain (a reduce-only one
// would be refused for ever).
func TestCloseReducesTheAccountsNetPosition(t *testing.T) {
	for _, tc := range []struct {
		name               string
		mode               exchange.PositionMode
		baseline, position exchange.Steps
		side               exchange.Side
		qty                exchange.Steps
		want               bool
	}{
		{"long, no baseline", exchange.OneWay, 0, 3, exchange.Sell, 3, true},
		{"short, no baseline", exchange.OneWay, 0, -3, exchange.Buy, 3, true},
		{"long, baseline long", exchange.OneWay, 5, 3, exchange.Sell, 3, true},
		{"long, baseline short beyond it", exchange.OneWay, -5, 3, exchange.Sell, 3, false},
		{"long, baseline short within it", exchange.OneWay, -1, 3, exchange.Sell, 3, false},
		{"short, baseline long beyond it", exchange.OneWay, 5, -3, exchange.Buy, 3, false},
		{"a leg of a split close", exchange.OneWay, 0, 10, exchange.Sell, 4, true},
		{"hedge", exchange.Hedge, 0, 3, exchange.Sell, 3, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := New(unitRules, WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("3")), WithPositionMode(tc.mode))
			require.NoError(t, err)
			e.baseline, e.books.Position = tc.baseline, tc.position
			assert.Equal(t, tc.want, e.closeReduces(tc.side, tc.qty))
		})
	}
}

// A grid that shares its symbol with other grids (WithSharedSymbol) sends
// no reduce-only order in one-way mode — neither exits nor a stop's
// close — because the account's net may stand on the other side; and a
// refusal of its close is not settled from the venue's position, which
// holds the others' too. Without the option, the live soak's neutral
// grids on one symbol had their closes refused (the account net short
// under a grid's long) and then took their holdings out as "closed
// elsewhere" (crowd seed 149: books 21 short, venue 19).
func TestSharedSymbolSendsNoReduceOnlyAndNeverSettlesFromTheVenue(t *testing.T) {
	e, t0, in, _, obs := heldGrid(t, Long, WithSharedSymbol())
	require.Equal(t, []string{"place close/1 exit SELL 3 market"}, strsOf(in), "the close goes plain")
	out := strsOf(mustApplyEv(t, e, t0, reduceOnlyRefusal(in[0].Ref)))
	assert.NotContains(t, out, "reconcile", "no read of the venue's position to settle from")
	now := t0.Add(time.Second)
	e.Reconcile(now, Snapshot{HavePosition: true, Position: -9, At: now})
	assert.Equal(t, exchange.Steps(3), e.Books().LongHeld, "nothing taken out as closed elsewhere")
	for _, w := range obs.what {
		assert.NotContains(t, w, "closed elsewhere")
	}
	assert.Contains(t, intentsIn(e, now, 3*time.Second), "1s place close/2 exit SELL 3 market", "sent again after the back-off")
}

// A long grid's exits go reduce-only in one-way mode, but not when it
// shares its symbol.
func TestSharedSymbolExitsArePlain(t *testing.T) {
	for _, shared := range []bool{false, true} {
		opts := []Option{WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("3")),
			WithWindows(1, 1, 0), WithInitialPosition(false), WithMode(Long)}
		if shared {
			opts = append(opts, WithSharedSymbol())
		}
		e, err := New(unitRules, opts...)
		require.NoError(t, err)
		t0 := time.Unix(1000, 0)
		e.OnPrice(t0, 100)
		in := e.OnStreamReady(t0)
		require.Len(t, in, 1)
		mustApplyEv(t, e, t0, OrderEvent{Ref: in[0].Ref, Type: OrderAccepted})
		exit := mustApplyEv(t, e, t0, OrderEvent{Ref: in[0].Ref, Type: OrderFilled, CumQty: 3, Price: 99})
		require.Len(t, exit, 1)
		assert.Equal(t, !shared, exit[0].ReduceOnly, "shared %v", shared)
	}
}
