package backtest

import (
	"context"
	"strings"
	"sync"
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

// closeCounter is a venue that counts the grid's closing orders sent.
type closeCounter struct {
	*sim.Venue
	closes atomic.Int32
}

func (v *closeCounter) count(req exchange.OrderRequest) {
	if _, ref, err := grid.ParseClientOrderID(req.ClientOrderID); err == nil && ref.Level == grid.CloseLevel {
		v.closes.Add(1)
	}
}

func (v *closeCounter) PlaceOrder(ctx context.Context, req exchange.OrderRequest) (exchange.Order, error) {
	v.count(req)
	return v.Venue.PlaceOrder(ctx, req)
}

func (v *closeCounter) PlaceOrders(ctx context.Context, reqs []exchange.OrderRequest) ([]exchange.BatchResult, error) {
	for _, req := range reqs {
		v.count(req)
	}
	return v.Venue.PlaceOrders(ctx, reqs)
}

// repairSeen records the engine's repairs (on the runner's goroutine).
type repairSeen struct {
	grid.NopObserver
	mu   sync.Mutex
	what []string
}

func (r *repairSeen) Repair(what string, _ grid.OrderRef) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.what = append(r.what, what)
}

func (r *repairSeen) closedElsewhere() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, w := range r.what {
		if strings.HasPrefix(w, "position closed elsewhere") {
			return true
		}
	}
	return false
}

// Issue 12: the grid's position is closed behind its back (by hand, with
// an order of another client order ID) before a risk hard stop: the
// stop's reduce-only close is refused by sim.Venue (nothing to reduce).
// The runner reads the venue's position and settles the close: it is done,
// the position the grid thought it held is booked as closed elsewhere, at
// no PnL, and no closing order is sent again. Before the fix the same
// close was sent again after 1 s, 2 s, 4 s, … (three in the first 3 s),
// and the books went on showing the position.
//
// Variant "half": half the position is closed by hand; the stop's close
// fills what is left (the venue trims a reduce-only order to the
// position), and the next close, for the rest the grid still believes it
// holds, is refused and settled the same way.
func TestRunnerHardStopSettlesAPositionClosedBehindItsBack(t *testing.T) {
	for name, tc := range map[string]struct {
		frac string
		mode exchange.PositionMode
	}{
		"all": {"1", exchange.OneWay}, "half": {"0.5", exchange.OneWay},
		"hedge, all": {"1", exchange.Hedge}, "hedge, half": {"0.5", exchange.Hedge},
	} {
		t.Run(name, func(t *testing.T) { runClosedBehindItsBack(t, dec(tc.frac), tc.mode) })
	}
}

func runClosedBehindItsBack(t *testing.T, frac decimal.Decimal, mode exchange.PositionMode) {
	defer goleak.VerifyNone(t)
	sc := sim.DefaultCoreConfig(btcRules)
	sc.InitialBalance, _ = btcRules.DecimalToMoney(dec("10000"))
	sc.PositionMode = mode
	sv, err := sim.NewVenue(sim.VenueConfig{Core: sc})
	require.NoError(t, err)
	defer sv.Close()
	venue := &closeCounter{Venue: sv}
	require.NoError(t, venue.SetPrice(context.Background(), dec("100000")))
	feed, err := pricefeed.NewMonitor(btcRules.Symbol)
	require.NoError(t, err)
	defer feed.Close()
	var trigger atomic.Bool
	mon := risk.MonitorFunc{Label: "test", Fn: func(risk.Observation) risk.Status { return risk.Status{Triggered: trigger.Load()} }}
	obs := &repairSeen{}
	eng, err := grid.New(btcRules, grid.WithGridID("behind"), grid.WithStartPrice(dec("100000")),
		grid.WithBounds(dec("90000"), dec("110000"), 20), grid.WithAmount(dec("500")), grid.WithWindows(3, 3, 1),
		grid.WithRiskMonitors(0, mon), grid.WithRiskHardStop(true), grid.WithObserver(obs), grid.WithPositionMode(mode))
	require.NoError(t, err)
	runner, err := grid.NewRunner(eng, venue, grid.WithPriceFeed(feed), grid.WithTimerInterval(20*time.Millisecond))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runner.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	feed.Publish(1_000_000, time.Now())
	position := func() decimal.Decimal {
		ps, err := venue.Positions(context.Background(), btcRules.Symbol)
		require.NoError(t, err)
		return ps[0].Quantity
	}
	for deadline := time.Now().Add(10 * time.Second); position().IsZero() || len(livePerLevel(t, venue, "behind")) < 6; {
		require.True(t, time.Now().Before(deadline), "the grid did not start")
		time.Sleep(5 * time.Millisecond)
	}
	held := position() // the initial position: the grid's own
	manual := btcRules.FloorQty(held.Mul(frac))
	req := exchange.OrderRequest{Symbol: btcRules.Symbol, ClientOrderID: "manual-close", Side: exchange.Sell, Type: exchange.Market, Quantity: manual, ReduceOnly: true}
	if mode == exchange.Hedge {
		req.PositionSide, req.ReduceOnly = exchange.PositionLong, false // closes LONG by its side
	}
	_, err = venue.PlaceOrder(context.Background(), req)
	require.NoError(t, err)
	require.True(t, position().Equal(held.Sub(manual)))

	trigger.Store(true)
	// Until the close is settled, or the same close was sent three times
	// (what the back-off did before the fix, within about 3 s).
	for deadline := time.Now().Add(10 * time.Second); !obs.closedElsewhere() && venue.closes.Load() < 3; {
		require.True(t, time.Now().Before(deadline), "the hard stop neither settled nor resent its close")
		time.Sleep(5 * time.Millisecond)
	}
	closes := venue.closes.Load()
	time.Sleep(1500 * time.Millisecond) // past the first back-off: nothing more is sent
	cancel()
	require.NoError(t, <-done)
	done <- nil // for the deferred stop

	want := int32(1) // all: the one refused close
	if !frac.Equal(dec("1")) {
		want = 2 // half: the close that filled the rest, then the refused one
	}
	assert.True(t, obs.closedElsewhere(), "the close was not settled from the venue's position")
	assert.Equal(t, want, closes, "closing orders sent")
	assert.Equal(t, want, venue.closes.Load(), "a closing order sent after the close was settled")
	assert.True(t, position().IsZero())
	st := eng.Stats()
	assert.True(t, st.Position.IsZero(), "the books still show %s", st.Position)
	assert.Equal(t, manual.String(), st.ClosedElsewhereLong.String(), "the quantity closed elsewhere")
	assert.True(t, st.ClosedElsewhereShort.IsZero())
	assert.Equal(t, 1, st.Rejected, "one refusal")
	assert.Zero(t, st.OpenOrders)
}
