package backtest

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/sim"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/pricefeed"
	"github.com/gridmesh/gridmesh/risk"
)

// Regression tests of the bugs the live soak found (livesoak_test.go).

// snapshotRefused is a venue whose open orders cannot be read (a long 429):
// a runner on it never gets past its start.
type snapshotRefused struct{ *sim.Venue }

func (v snapshotRefused) OpenOrders(context.Context, string) ([]exchange.Order, error) {
	return nil, &exchange.RateLimitError{RetryAfter: time.Hour, Err: errors.New("429")}
}

// Found by the live soak (seed 115 with restarts from a fresh store): a
// runner stopped while still starting — here stuck reading the venue
// behind a 429 — saved its engine, which had not restored the store yet,
// over the stored state. The next start took that empty state for the
// truth: it restarted the generations at 1 and sent client order IDs the
// venue had already seen, and took the grid's position for a baseline.
// A run stopped before its start ends must leave the store as it was.
func TestStopWhileStartingKeepsTheStoredState(t *testing.T) {
	defer goleak.VerifyNone(t)
	store, err := grid.NewJSONFileStore(t.TempDir() + "/grid.json")
	require.NoError(t, err)
	sc := sim.DefaultCoreConfig(btcRules)
	sc.InitialBalance, _ = btcRules.DecimalToMoney(dec("10000"))
	venue, err := sim.NewVenue(sim.VenueConfig{Core: sc})
	require.NoError(t, err)
	defer venue.Close()
	require.NoError(t, venue.SetPrice(context.Background(), dec("100000")))

	run := func(ex exchange.IExchange, untilIdle bool) {
		feed, err := pricefeed.NewMonitor(btcRules.Symbol)
		require.NoError(t, err)
		defer feed.Close()
		eng, err := grid.New(btcRules, grid.WithGridID("keep"), grid.WithStartPrice(dec("100000")),
			grid.WithBounds(dec("90000"), dec("110000"), 20), grid.WithAmount(dec("500")), grid.WithWindows(3, 3, 1))
		require.NoError(t, err)
		idle := make(chan struct{}, 1)
		runner, err := grid.NewRunner(eng, ex, grid.WithPriceFeed(feed), grid.WithStore(store, time.Hour),
			grid.WithCancelOnStop(false), grid.WithIdleHook(func(grid.IdleState) {
				select {
				case idle <- struct{}{}:
				default:
				}
			}))
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- runner.Run(ctx) }()
		feed.Publish(1_000_000, time.Now())
		if untilIdle {
			select {
			case <-idle:
			case <-time.After(10 * time.Second):
				t.Fatal("the runner did not start")
			}
		} else {
			time.Sleep(100 * time.Millisecond) // waiting for the venue's open orders
		}
		cancel()
		require.NoError(t, <-done)
	}
	run(venue, true)
	before, err := store.Load(context.Background())
	require.NoError(t, err)
	require.Positive(t, before.GenReserved)
	require.NotEmpty(t, before.Slots, "the initial position is held by slots")

	run(snapshotRefused{venue}, false)
	after, err := store.Load(context.Background())
	require.NoError(t, err)
	assert.Equal(t, before, after, "the stored state is as the first run left it")
}

// Found by the live soak (seeds 224 and 237: a stop while the order stream
// was down): the engine places and cancels nothing while the stream is
// down, so a stop that came then canceled no entry and waited its whole
// timeout for a reconnection, leaving the entries live (returned in a
// StopError). A stop settles every order by its cancel's or query's
// answer, by client order ID, and needs no stream: it cancels the entries
// all the same.
func TestStopWithTheOrderStreamDownCancelsTheEntries(t *testing.T) {
	defer goleak.VerifyNone(t)
	sc := sim.DefaultCoreConfig(btcRules)
	sc.InitialBalance, _ = btcRules.DecimalToMoney(dec("10000"))
	venue, err := sim.NewVenue(sim.VenueConfig{Core: sc})
	require.NoError(t, err)
	defer venue.Close()
	require.NoError(t, venue.SetPrice(context.Background(), dec("100000")))
	feed, err := pricefeed.NewMonitor(btcRules.Symbol)
	require.NoError(t, err)
	defer feed.Close()
	eng, err := grid.New(btcRules, grid.WithGridID("down"), grid.WithStartPrice(dec("100000")),
		grid.WithBounds(dec("90000"), dec("110000"), 20), grid.WithAmount(dec("500")), grid.WithWindows(3, 3, 1),
		grid.WithInitialPosition(false))
	require.NoError(t, err)
	idle := make(chan grid.IdleState, 1)
	runner, err := grid.NewRunner(eng, venue, grid.WithPriceFeed(feed), grid.WithStopTimeout(2*time.Second),
		grid.WithIdleHook(func(s grid.IdleState) {
			select {
			case idle <- s:
			default:
			}
		}))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runner.Run(ctx) }()
	feed.Publish(1_000_000, time.Now())
	waitFor := func(what string, ok func(grid.IdleState) bool) {
		t.Helper()
		for deadline := time.After(10 * time.Second); ; {
			select {
			case s := <-idle:
				if ok(s) {
					return
				}
			case <-deadline:
				t.Fatalf("the runner never %s", what)
			}
		}
	}
	waitFor("placed its entries", func(grid.IdleState) bool { return len(livePerLevel(t, venue, "down")) == 3 })

	// The stream drops at the next order update (a manual order's).
	require.NoError(t, venue.SetFaults(sim.Faults{Disconnect: 1}))
	_, err = venue.PlaceOrder(context.Background(), exchange.OrderRequest{Symbol: btcRules.Symbol, ClientOrderID: "manual",
		Side: exchange.Buy, Type: exchange.Limit, Price: dec("80000"), Quantity: dec("0.01")})
	require.NoError(t, err)
	time.Sleep(100 * time.Millisecond) // the runner takes the disconnection in
	require.NoError(t, venue.SetFaults(sim.Faults{}))

	cancel()
	require.NoError(t, <-done, "every entry settled")
	assert.Empty(t, livePerLevel(t, venue, "down"), "no entry left live")
	_, err = venue.QueryOrder(context.Background(), btcRules.Symbol, "manual")
	require.NoError(t, err, "the manual order is not the grid's: untouched")
}

// Found by the live soak (seeds 211 and 324: restarts while the initial
// position's market order was of unknown outcome): a restart restored the
// initial order as live, with the levels it was to fill still reserved,
// and then adopted a live venue order at one of those levels. The state it
// saved listed that level both as waiting for the initial order and as
// holding an order, and every later start refused it ("stored state does
// not fit the engine"): the grid could not be restarted at all. The
// venue's order wins: the level is no longer the initial order's.
func TestAdoptedOrderAtALevelWaitingForTheInitialOrder(t *testing.T) {
	newEngine := func() *grid.Engine {
		eng, err := grid.New(btcRules, grid.WithGridID("init"), grid.WithStartPrice(dec("100000")),
			grid.WithBounds(dec("90000"), dec("110000"), 20), grid.WithAmount(dec("500")), grid.WithWindows(3, 3, 1))
		require.NoError(t, err)
		return eng
	}
	now := time.Unix(1_700_000_000, 0)
	first := newEngine()
	_, err := first.Recover(now, grid.Snapshot{HavePosition: true}, false)
	require.NoError(t, err)
	first.OnPrice(now, 1_000_000)
	in := first.OnStreamReady(now)
	require.NotEmpty(t, in)
	require.Equal(t, grid.InitialLevel, in[0].Ref.Level, "the initial position's order, left unanswered")
	st := first.State()
	require.True(t, st.Initial.Live)
	require.NotEmpty(t, st.Initial.Waiting)
	lvl := st.Initial.Waiting[0]

	// The restart finds a live order of the grid at a waiting level (the
	// last run placed it after its state was saved).
	second := newEngine()
	require.NoError(t, second.RestoreState(st))
	var exit grid.SlotView
	second.Slots(func(v grid.SlotView) {
		if v.Level == lvl {
			exit = v
		}
	})
	_, err = second.Recover(now.Add(time.Minute), grid.Snapshot{HavePosition: true, Position: exit.Qty, Orders: []grid.VenueOrder{{
		Ref: grid.OrderRef{Level: lvl, Gen: exit.Slot.Gen + 1}, Side: exchange.Sell, Price: exit.Exit, Qty: exit.Qty,
	}}}, false)
	require.NoError(t, err)
	require.NoError(t, second.CheckInvariants())

	third := newEngine()
	require.NoError(t, third.RestoreState(second.State()), "the state a restart saves can be restored")
}

// Found by the live soak (seed 245: an entry live at a quiet point while a
// risk pause that cancels entries held): a pause cancels the live entries
// at once, but none while the order stream is down (nor one whose outcome
// is unknown), and afterwards only the entries near the price were
// looked at again. An entry the price had left behind stayed live for the
// whole pause, and a stop left it live too. The timer cancels it.
func TestPauseCancelsEntriesTheStreamHidAtThePause(t *testing.T) {
	eng, err := grid.New(btcRules, grid.WithGridID("pause"), grid.WithStartPrice(dec("100000")),
		grid.WithBounds(dec("90000"), dec("110000"), 40), grid.WithAmount(dec("500")), grid.WithWindows(3, 3, 1),
		grid.WithInitialPosition(false))
	require.NoError(t, err)
	now := time.Unix(1_700_000_000, 0)
	_, err = eng.Recover(now, grid.Snapshot{HavePosition: true}, false)
	require.NoError(t, err)
	eng.OnPrice(now, 1_000_000)
	var entries []grid.OrderRef
	for _, it := range eng.OnStreamReady(now) {
		if it.Kind == grid.IntentPlace {
			entries = append(entries, it.Ref)
		}
	}
	require.Len(t, entries, 3)
	for _, ref := range entries {
		_, err := eng.Apply(now, grid.OrderEvent{Ref: ref, Type: grid.OrderAccepted})
		require.NoError(t, err)
	}

	eng.OnStreamDown(now)
	assert.Empty(t, eng.Pause(now, "risk", true), "nothing is canceled while the stream is down")
	now = now.Add(time.Second)
	eng.OnPrice(now, 1_030_000) // the price leaves the entries far behind
	now = now.Add(time.Second)
	in := append([]grid.Intent(nil), eng.OnStreamReady(now)...) // the engine reuses its intent slice
	in = append(in, eng.OnTimer(now.Add(time.Second))...)
	canceled := map[grid.OrderRef]bool{}
	for _, it := range in {
		if it.Kind == grid.IntentCancel {
			canceled[it.Ref] = true
		}
	}
	for _, ref := range entries {
		assert.True(t, canceled[ref], "entry %s canceled once the stream is back", ref)
	}
}

// closeUpdatesLost is a venue whose order stream never delivers the
// updates of a hard stop's closing orders.
type closeUpdatesLost struct{ *sim.Venue }

func (v closeUpdatesLost) SubscribeUserData(ctx context.Context) (<-chan exchange.UserEvent, error) {
	in, err := v.Venue.SubscribeUserData(ctx)
	if err != nil {
		return nil, err
	}
	out := make(chan exchange.UserEvent)
	go func() {
		defer close(out)
		for ev := range in {
			if _, ref, err := grid.ParseClientOrderID(ev.Order.ClientOrderID); err == nil && ref.Level == grid.CloseLevel {
				continue
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// Found by the live soak (profile hardstops, seed 4: a neutral grid's
// position closed twice): a stop that came while a hard stop's closing
// order was live (placed, its fill not yet on the order stream) ended at
// once and saved the grid as still holding its position; the restart
// restored that, could not learn of the closing order's fill, and closed
// the position a second time — opening one the other way. A stop settles
// the closing orders as it does the entries.
func TestStopWaitsForAHardStopsCloseInFlight(t *testing.T) {
	defer goleak.VerifyNone(t)
	store, err := grid.NewJSONFileStore(t.TempDir() + "/grid.json")
	require.NoError(t, err)
	sc := sim.DefaultCoreConfig(btcRules)
	sc.InitialBalance, _ = btcRules.DecimalToMoney(dec("10000"))
	venue, err := sim.NewVenue(sim.VenueConfig{Core: sc})
	require.NoError(t, err)
	defer venue.Close()
	require.NoError(t, venue.SetPrice(context.Background(), dec("100000")))
	feed, err := pricefeed.NewMonitor(btcRules.Symbol)
	require.NoError(t, err)
	defer feed.Close()
	var trigger atomic.Bool
	mon := risk.MonitorFunc{Label: "test", Fn: func(risk.Observation) risk.Status { return risk.Status{Triggered: trigger.Load()} }}
	eng, err := grid.New(btcRules, grid.WithGridID("close"), grid.WithStartPrice(dec("100000")),
		grid.WithBounds(dec("90000"), dec("110000"), 20), grid.WithAmount(dec("500")), grid.WithWindows(3, 3, 1),
		grid.WithAckTimeout(2*time.Second), grid.WithRiskMonitors(0, mon), grid.WithRiskHardStop(true))
	require.NoError(t, err)
	runner, err := grid.NewRunner(eng, closeUpdatesLost{venue}, grid.WithPriceFeed(feed), grid.WithStore(store, time.Hour),
		grid.WithTimerInterval(20*time.Millisecond), grid.WithCancelOnStop(false))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runner.Run(ctx) }()
	feed.Publish(1_000_000, time.Now())
	position := func() decimal.Decimal {
		ps, err := venue.Positions(context.Background(), btcRules.Symbol)
		require.NoError(t, err)
		return ps[0].Quantity
	}
	for deadline := time.Now().Add(10 * time.Second); position().IsZero() || len(livePerLevel(t, venue, "close")) < 6; {
		require.True(t, time.Now().Before(deadline), "the grid did not start")
		time.Sleep(5 * time.Millisecond)
	}
	trigger.Store(true)
	for deadline := time.Now().Add(10 * time.Second); !position().IsZero(); {
		require.True(t, time.Now().Before(deadline), "the hard stop did not close the position")
		time.Sleep(time.Millisecond)
	}
	cancel() // the closing order has filled; the grid has not heard of it yet (its query is due in 2 s)
	require.NoError(t, <-done)
	st, err := store.Load(context.Background())
	require.NoError(t, err)
	for _, s := range st.Slots {
		assert.Zero(t, s.Held, "level %d saved as holding after the close filled", s.Level)
	}
}
