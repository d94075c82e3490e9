package grid

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/slot"
)

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// unitRules count prices and quantities in whole units, so intents read plainly.
var unitRules = exchange.Rules{Symbol: "TEST", TickSize: d("1"), StepSize: d("1"), MinQty: d("1"), MinNotional: d("0")}

func TestNewReportsEveryBadOptionAtOnce(t *testing.T) {
	_, err := New(unitRules,
		WithGridID("has_underscore"),
		WithStartPrice(d("-1")),
		WithBounds(d("100"), d("90"), 0),
		WithAmount(d("-5")),
		WithWindows(0, 1, -1),
	)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrInvalidOption)
	msg := err.Error()
	for _, want := range []string{
		`grid: WithGridID = "has_underscore"`,
		"grid: WithStartPrice = -1: must be positive",
		"grid: WithBounds = 100..90: upper must be above lower",
		"grid: WithBounds = 0: intervals must be 1 to 100000",
		"grid: WithAmount = -5: must be positive",
		"grid: WithWindows = 0,1,-1",
	} {
		assert.Contains(t, msg, want)
	}
	var oe *OptionError
	assert.True(t, errors.As(err, &oe))
}

func TestNewRequiresSizingAndShape(t *testing.T) {
	_, err := New(unitRules, WithStartPrice(d("100")))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "choose WithBounds or WithTrailing")
	assert.Contains(t, err.Error(), "set WithAmount")
	_, err = New(unitRules, WithStartPrice(d("100")), WithTrailing(d("1"), 0), WithQuantity(d("1")))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "layer cap must be positive")
}

func TestNewRejectsLevelsBelowTheSymbolMinimum(t *testing.T) {
	rules := exchange.Rules{Symbol: "BTCUSDT", TickSize: d("0.1"), StepSize: d("0.001"), MinQty: d("0.001"), MinNotional: d("100")}
	_, err := New(rules, WithStartPrice(d("100000")), WithBounds(d("90000"), d("110000"), 4), WithAmount(d("50")))
	require.Error(t, err)
	// 50 / 90000 = 0.000555… floors to 0 steps.
	assert.Contains(t, err.Error(), "grid: level 0 at 90000: quantity 0 is below the minimum 0.001")
	_, err = New(rules, WithStartPrice(d("100000")), WithBounds(d("90000"), d("110000"), 4), WithAmount(d("150")))
	require.Error(t, err)
	// 150 / 90000 floors to 0.001, worth 90 < 100.
	assert.Contains(t, err.Error(), "grid: level 0 at 90000: entry notional 90 is below the minimum 100")
	_, err = New(rules, WithStartPrice(d("100000")), WithBounds(d("90000"), d("110000"), 4), WithAmount(d("250")))
	assert.NoError(t, err)
}

func TestFixedAmountSizing(t *testing.T) {
	rules := exchange.Rules{Symbol: "BTCUSDT", TickSize: d("0.1"), StepSize: d("0.001"), MinQty: d("0.001"), MinNotional: d("5")}
	e, err := New(rules, WithStartPrice(d("100000")), WithBounds(d("90000"), d("110000"), 4), WithAmount(d("500")), WithInitialPosition(false))
	require.NoError(t, err)
	want := map[int64]exchange.Steps{0: 5, 1: 5, 2: 5, 3: 4} // 500/90000=0.00555→0.005; 500/105000=0.00476→0.004
	got := map[int64]exchange.Steps{}
	e.Slots(func(s SlotView) { got[s.Level] = s.Qty })
	assert.Equal(t, want, got)
}

func TestNothingPlacedBeforeStreamReady(t *testing.T) {
	e, err := New(unitRules, WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("1")), WithWindows(3, 3, 1))
	require.NoError(t, err)
	now := time.Unix(0, 0)
	assert.Empty(t, e.OnPrice(now, 100))
	assert.Empty(t, e.OnPrice(now, 99))
	in := e.OnStreamReady(now)
	var got []string
	for _, i := range in {
		got = append(got, i.String())
	}
	// At 99 (on level 9): initial position for levels 9..19 (11 units, nearest first),
	// entries on the 3 levels below.
	assert.Equal(t, []string{
		"place initial/1 entry BUY 11 market",
		"place 8/1 entry BUY 1@98 post-only",
		"place 7/1 entry BUY 1@97 post-only",
		"place 6/1 entry BUY 1@96 post-only",
	}, sortedPlaces(got))
}

func sortedPlaces(in []string) []string {
	out := append([]string(nil), in...)
	// initial first, then by level descending (the order the assertion reads best)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if less(out[j], out[i]) {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func less(a, b string) bool {
	if strings.Contains(a, "initial") != strings.Contains(b, "initial") {
		return strings.Contains(a, "initial")
	}
	return a > b
}

func TestInitialPositionThenExitsAndWindow(t *testing.T) {
	e, err := New(unitRules, WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("2")), WithWindows(3, 2, 1))
	require.NoError(t, err)
	v := newBookVenue(t, e, 100)
	// The market order filled the 10 slots at or above 100 (levels 100..109)
	// × 2 at 100; exits rest on the two nearest levels above (101, 102), the
	// rest wait for the window.
	assert.Equal(t, exchange.Steps(20), v.position)
	var exits []exchange.Ticks
	for _, o := range v.orders {
		if o.Role == slot.RoleExit {
			exits = append(exits, o.Price)
		}
	}
	assert.ElementsMatch(t, []exchange.Ticks{101, 102}, exits)
	v.tick(102) // sells @101 and @102; the window moves up: exits @103, @104
	assert.Equal(t, exchange.Steps(16), v.position)
	assert.Equal(t, 2, e.Books().RoundTrips)
	assert.Equal(t, exchange.Money(2*(101-100)+2*(102-100)), e.Books().Realized)
	exits = exits[:0]
	for _, o := range v.orders {
		if o.Role == slot.RoleExit {
			exits = append(exits, o.Price)
		}
	}
	assert.ElementsMatch(t, []exchange.Ticks{103, 104}, exits)
}

// TestRandomWalkKeepsInvariants drives every kind of grid along seeded
// random walks and checks after every tick: the engine's invariants, its
// position against the venue's, and that the incremental window sweep
// left nothing a full re-tend would do.
func TestRandomWalkKeepsInvariants(t *testing.T) {
	type shape struct {
		name string
		opts []Option
	}
	shapes := []shape{
		{"long-bounded", []Option{WithBounds(d("900"), d("1100"), 40)}},
		{"short-bounded", []Option{WithMode(Short), WithBounds(d("900"), d("1100"), 40)}},
		{"neutral-bounded", []Option{WithMode(Neutral), WithBounds(d("900"), d("1100"), 40), WithPositionMode(exchange.Hedge)}},
		{"long-geometric", []Option{WithBounds(d("900"), d("1100"), 25), WithGeometric()}},
		{"long-no-initial", []Option{WithBounds(d("900"), d("1100"), 40), WithInitialPosition(false)}},
		{"long-trailing", []Option{WithTrailing(d("5"), 12)}},
		{"short-trailing", []Option{WithMode(Short), WithTrailing(d("5"), 12)}},
		{"neutral-trailing-geometric", []Option{WithMode(Neutral), WithTrailing(d("0.004"), 15), WithGeometric()}},
	}
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 20; seed++ {
				rng := rand.New(rand.NewPCG(seed, 7))
				opts := append([]Option{WithStartPrice(d("1000")), WithQuantity(d("1")),
					WithWindows(1+rng.IntN(6), 1+rng.IntN(6), rng.IntN(3))}, sh.opts...)
				e, err := New(unitRules, opts...)
				require.NoError(t, err)
				v := newBookVenue(t, e, 1000)
				p := exchange.Ticks(1000)
				for step := 0; step < 300; step++ {
					p += exchange.Ticks(rng.IntN(41) - 20)
					if rng.IntN(25) == 0 {
						p += exchange.Ticks(rng.IntN(161) - 80) // a gap
					}
					p = max(p, 700)
					p = min(p, 1300)
					v.tick(p)
				}
				if e.cfg.trailing {
					assert.LessOrEqual(t, e.layers, e.cfg.layerCap)
				}
			}
		})
	}
}

func TestTrailingLayerCap(t *testing.T) {
	e, err := New(unitRules, WithStartPrice(d("1000")), WithTrailing(d("10"), 3), WithQuantity(d("1")), WithWindows(5, 5, 0))
	require.NoError(t, err)
	v := newBookVenue(t, e, 1000)
	assert.Len(t, v.orders, 3, "only 3 entries: the layer cap")
	v.tick(900) // fills 990, 980, 970; no more entries below: the cap is reached
	assert.Equal(t, exchange.Steps(3), v.position)
	for _, o := range v.orders {
		assert.Equal(t, slot.RoleExit, o.Role)
	}
	v.tick(995) // exits @1000 (from 990), @990 (from 980), @980 (from 970) fill; room again
	assert.Equal(t, exchange.Steps(0), v.position)
	assert.Equal(t, 3, e.Books().RoundTrips)
}

func TestUnknownOutcomeQueriesAndNeverResendsEarly(t *testing.T) {
	e, err := New(unitRules, WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("1")),
		WithWindows(1, 1, 0), WithInitialPosition(false), WithReceiveWindow(5*time.Second))
	require.NoError(t, err)
	t0 := time.Unix(1000, 0)
	e.OnPrice(t0, 100)
	in := e.OnStreamReady(t0)
	require.Len(t, in, 1)
	place := in[0]
	assert.Equal(t, "place 9/1 entry BUY 1@99 post-only", place.String())

	// The placement, sent at t0, timed out: the engine asks for a query, not a resend.
	in, err = e.Apply(t0.Add(time.Second), OrderEvent{Ref: place.Ref, Type: OrderUnknown, SentAt: t0})
	require.NoError(t, err)
	require.Len(t, in, 1)
	assert.Equal(t, "query 9/1", in[0].String())

	// Not found 2 s after sending: it may still arrive. Nothing changes.
	in, err = e.Apply(t0.Add(2*time.Second), OrderEvent{Ref: place.Ref, Type: OrderNotFound})
	require.NoError(t, err)
	assert.Empty(t, in)
	assert.Empty(t, e.OnTimer(t0.Add(3*time.Second)), "no re-query before the receive window has passed, no resend")

	// After the window the timer queries again; not found now proves the
	// order never existed: the slot is freed and a new generation placed.
	in = e.OnTimer(t0.Add(6 * time.Second))
	require.Len(t, in, 1)
	assert.Equal(t, "query 9/1", in[0].String())
	in, err = e.Apply(t0.Add(6*time.Second), OrderEvent{Ref: place.Ref, Type: OrderNotFound, AskedAt: t0.Add(6 * time.Second)})
	require.NoError(t, err)
	require.Len(t, in, 1)
	assert.Equal(t, "place 9/2 entry BUY 1@99 post-only", in[0].String(), "a new generation: never two live orders under one ID")
	assert.Empty(t, e.OnTimer(t0.Add(7*time.Second)))
}

func TestUnknownOutcomeThatDidArriveIsAdopted(t *testing.T) {
	e, err := New(unitRules, WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("1")),
		WithWindows(1, 1, 0), WithInitialPosition(false))
	require.NoError(t, err)
	t0 := time.Unix(1000, 0)
	e.OnPrice(t0, 100)
	place := e.OnStreamReady(t0)[0]
	_, err = e.Apply(t0, OrderEvent{Ref: place.Ref, Type: OrderUnknown})
	require.NoError(t, err)
	// The query finds it live and partly filled.
	_, err = e.Apply(t0, OrderEvent{Ref: place.Ref, Type: OrderAccepted})
	require.NoError(t, err)
	_, err = e.Apply(t0, OrderEvent{Ref: place.Ref, Type: OrderFilled, CumQty: 1, Price: 99})
	require.NoError(t, err)
	assert.Equal(t, exchange.Steps(1), e.Books().Position)
	require.NoError(t, e.CheckInvariants())
}

func TestPauseStopsEntriesButNotExits(t *testing.T) {
	e, err := New(unitRules, WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("1")),
		WithWindows(2, 2, 0), WithInitialPosition(false))
	require.NoError(t, err)
	v := newBookVenue(t, e, 100)
	v.tick(99) // fills @99; exit @100 placed
	v.run(e.Pause(v.now, "volume spike", true))
	for _, o := range v.orders {
		assert.Equal(t, slot.RoleExit, o.Role, "entries canceled on pause")
	}
	v.tick(97)
	v.tick(95)
	assert.Equal(t, exchange.Steps(1), v.position, "no entry fills while paused")
	v.tick(101) // the exit still works
	assert.Equal(t, exchange.Steps(0), v.position)
	assert.True(t, e.Stats().Paused)
	v.run(e.Resume(v.now))
	assert.Len(t, v.orders, 2, "entries back on the two levels below")
}

func TestHaltCancelsEverything(t *testing.T) {
	e, err := New(unitRules, WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("1")), WithWindows(3, 3, 0))
	require.NoError(t, err)
	v := newBookVenue(t, e, 100)
	require.NotEmpty(t, v.orders)
	v.run(e.Halt(v.now, "liquidation seen on the order stream"))
	assert.Empty(t, v.orders)
	v.tick(90)
	v.tick(110)
	assert.Empty(t, v.orders, "a halted grid places nothing")
	assert.True(t, e.Stats().Halted)
	assert.Equal(t, "liquidation seen on the order stream", e.Stats().Reason)
}

func TestStaleAndDuplicateUpdatesAreIgnored(t *testing.T) {
	e, err := New(unitRules, WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("2")),
		WithWindows(1, 1, 0), WithInitialPosition(false))
	require.NoError(t, err)
	t0 := time.Unix(0, 0)
	e.OnPrice(t0, 100)
	place := e.OnStreamReady(t0)[0]
	for range 2 {
		_, err = e.Apply(t0, OrderEvent{Ref: place.Ref, Type: OrderFilled, CumQty: 1, Price: 99, Fee: 3})
		require.NoError(t, err)
	}
	assert.Equal(t, exchange.Steps(1), e.Books().Position)
	assert.Equal(t, exchange.Money(3), e.Books().Fees, "a duplicate's fee is not booked twice")
	_, err = e.Apply(t0, OrderEvent{Ref: OrderRef{Level: 9, Gen: 0}, Type: OrderCanceled})
	require.NoError(t, err)
	_, err = e.Apply(t0, OrderEvent{Ref: OrderRef{Level: 999, Gen: 1}, Type: OrderFilled, CumQty: 1})
	require.NoError(t, err)
	assert.Equal(t, 3, e.Books().Stale)
	// A fill beyond the order's quantity contradicts our view.
	_, err = e.Apply(t0, OrderEvent{Ref: place.Ref, Type: OrderFilled, CumQty: 5, Price: 99})
	assert.ErrorIs(t, err, ErrIllegalUpdate)
	assert.True(t, e.NeedsReconcile())
	assert.False(t, e.NeedsReconcile())
}

func TestCancelBudgetDefersWindowCancels(t *testing.T) {
	e, err := New(unitRules, WithStartPrice(d("100")), WithBounds(d("50"), d("150"), 100), WithQuantity(d("1")),
		WithWindows(2, 2, 0), WithInitialPosition(false), WithCancelBudget(1, 1))
	require.NoError(t, err)
	v := newBookVenue(t, e, 100)
	v.checkEvery = false // deferred cancels leave orders a full re-tend would cancel
	require.Len(t, v.orders, 2)
	v.tick(103) // entries 101, 102 placed; 98 canceled (budget 1 → 0); 99 stays live
	assert.Equal(t, 1, e.Books().Canceled)
	assert.Positive(t, e.Books().CancelsDeferred)
	assert.Len(t, v.orders, 3)
	v.tick(102) // fills @102: earns one cancel back
	assert.Equal(t, 1, e.Books().Fills)
	v.run(e.Halt(v.now, "test"))
	assert.Empty(t, v.orders, "a halt cancels whatever the budget")
	require.NoError(t, e.CheckInvariants())
}

func TestRefusedSlotBacksOff(t *testing.T) {
	e, err := New(unitRules, WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("1")),
		WithWindows(1, 1, 0), WithInitialPosition(false))
	require.NoError(t, err)
	t0 := time.Unix(1000, 0)
	e.OnPrice(t0, 100)
	in := e.OnStreamReady(t0)
	require.Len(t, in, 1)
	refuse := func(at time.Time, ref OrderRef) {
		_, err := e.Apply(at, OrderEvent{Ref: ref, Type: OrderRejected, Reason: "margin is insufficient"})
		require.NoError(t, err)
	}
	refuse(t0, in[0].Ref)
	assert.Empty(t, e.OnTimer(t0.Add(999*time.Millisecond)), "no retry within a second")
	in = e.OnTimer(t0.Add(time.Second))
	require.Len(t, in, 1)
	assert.Equal(t, "place 9/2 entry BUY 1@99 post-only", in[0].String())
	refuse(t0.Add(time.Second), in[0].Ref)
	assert.Empty(t, e.OnTimer(t0.Add(2900*time.Millisecond)), "the wait doubles")
	in = e.OnTimer(t0.Add(3 * time.Second))
	require.Len(t, in, 1)
	_, err = e.Apply(t0.Add(3*time.Second), OrderEvent{Ref: in[0].Ref, Type: OrderAccepted})
	require.NoError(t, err)
	assert.Zero(t, e.levels[9-e.base].rejects, "an accepted order resets the back-off")
}
