package backtest

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/sim"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/pricefeed"
	"github.com/gridmesh/gridmesh/risk"
)

// laneRig is a simulated venue at 100,000 with a price feed, for runners
// that share one executor. Grids are long, 20 levels of 1,000 between
// 90,000 and 110,000, windows 3/3/1: started, each has three entries
// below (99,000, 98,000, 97,000) and three exits above.
type laneRig struct {
	t     *testing.T
	venue *sim.Venue
	feed  *pricefeed.Feed
}

func newLaneRig(t *testing.T) *laneRig {
	t.Helper()
	sc := sim.DefaultCoreConfig(btcRules)
	sc.InitialBalance, _ = btcRules.DecimalToMoney(dec("100000"))
	venue, err := sim.NewVenue(sim.VenueConfig{Core: sc})
	require.NoError(t, err)
	t.Cleanup(func() { venue.Close() })
	require.NoError(t, venue.SetPrice(context.Background(), dec("100000")))
	feed, err := pricefeed.NewFeed(btcRules.Symbol)
	require.NoError(t, err)
	t.Cleanup(feed.Close)
	return &laneRig{t: t, venue: venue, feed: feed}
}

func laneGridOptions(id string, extra ...grid.Option) []grid.Option {
	return append([]grid.Option{grid.WithGridID(id), grid.WithStartPrice(dec("100000")),
		grid.WithBounds(dec("90000"), dec("110000"), 20), grid.WithAmount(dec("500")), grid.WithWindows(3, 3, 1)}, extra...)
}

// runningGrid is a runner and its engine, running.
type runningGrid struct {
	eng    *grid.Engine
	runner *grid.Runner
	cancel context.CancelFunc
	done   chan error
}

// start runs a grid on the rig's venue (or on venue, when not nil).
func (rg *laneRig) start(venue exchange.IExchange, opts []grid.Option, ropts ...grid.RunnerOption) *runningGrid {
	t := rg.t
	t.Helper()
	if venue == nil {
		venue = rg.venue
	}
	eng, err := grid.New(btcRules, opts...)
	require.NoError(t, err)
	runner, err := grid.NewRunner(eng, venue, append([]grid.RunnerOption{grid.WithPriceFeed(rg.feed)}, ropts...)...)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	g := &runningGrid{eng: eng, runner: runner, cancel: cancel, done: make(chan error, 1)}
	go func() { g.done <- runner.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-g.done:
		case <-time.After(30 * time.Second):
		}
	})
	return g
}

// stop stops the grid and returns Run's error.
func (g *runningGrid) stop(t *testing.T) error {
	t.Helper()
	g.cancel()
	select {
	case err := <-g.done:
		g.done <- err // for the cleanup
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("the runner did not stop")
		return nil
	}
}

// gridOrders returns the venue's open orders of grid id, by price.
func (rg *laneRig) gridOrders(id string) map[string]exchange.Side {
	rg.t.Helper()
	open, err := rg.venue.OpenOrders(context.Background(), btcRules.Symbol)
	require.NoError(rg.t, err)
	out := map[string]exchange.Side{}
	for _, o := range open {
		if g, _, err := grid.ParseClientOrderID(o.ClientOrderID); err == nil && g == id {
			out[o.Price.String()] = o.Side
		}
	}
	return out
}

// eventually waits until cond holds (polling), or fails with what.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func laneNames(x *exchange.Executor) []string {
	var names []string
	for _, s := range x.LaneStats() {
		names = append(names, s.Name)
	}
	return names
}

// TestRunnersShareAnExecutorAndStopAlone runs two grids on one executor:
// each gets its own lane, and stopping one closes its lane only — the
// other keeps its orders and goes on placing.
func TestRunnersShareAnExecutorAndStopAlone(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	rg := newLaneRig(t)
	x, err := exchange.NewExecutor(rg.venue)
	require.NoError(t, err)
	a := rg.start(nil, laneGridOptions("ga", grid.WithSharedSymbol()), grid.WithExecutor(x))
	b := rg.start(nil, laneGridOptions("gb", grid.WithSharedSymbol()), grid.WithExecutor(x))
	rg.feed.Publish(1_000_000, time.Now())
	six := func(id string) func() bool { return func() bool { return len(rg.gridOrders(id)) == 6 } }
	eventually(t, "grid ga's six orders", six("ga"))
	eventually(t, "grid gb's six orders", six("gb"))
	assert.ElementsMatch(t, []string{"", "grid ga BTCUSDT", "grid gb BTCUSDT"}, laneNames(x), "one lane per runner, named after grid and symbol")
	sa, ok := a.runner.LaneStats()
	require.True(t, ok)
	assert.Equal(t, "grid ga BTCUSDT", sa.Name)
	assert.Positive(t, sa.Admitted, "grid ga's requests went through its lane")

	require.NoError(t, a.stop(t))
	assert.Equal(t, []string{"", "grid gb BTCUSDT"}, laneNames(x), "only the stopped grid's lane is closed")
	sa, _ = a.runner.LaneStats()
	assert.True(t, sa.Closing, "the stopped grid's lane is closed; its counts stay readable")
	sb, _ := b.runner.LaneStats()
	assert.False(t, sb.Closing)
	assert.Equal(t, map[string]exchange.Side{"101000": exchange.Sell, "102000": exchange.Sell, "103000": exchange.Sell},
		rg.gridOrders("ga"), "the stopped grid canceled its entries, kept its exits")
	assert.Len(t, rg.gridOrders("gb"), 6, "the other grid's orders are untouched")

	// The other grid goes on: the price falls through 99,000 (its entry
	// fills) and the window moves down a level: it places the exit at
	// 100,000 and a new entry at 96,000.
	require.NoError(t, rg.venue.SetPrice(context.Background(), dec("98500")))
	rg.feed.Publish(985_000, time.Now())
	eventually(t, "grid gb places its new entry and exit", func() bool {
		o := rg.gridOrders("gb")
		return o["96000"] == exchange.Buy && o["100000"] == exchange.Sell
	})
	require.NoError(t, b.stop(t))
	assert.Equal(t, []string{""}, laneNames(x))
	require.NoError(t, a.eng.CheckInvariants())
	require.NoError(t, b.eng.CheckInvariants())
}

// ownVenue is a venue value of a runner's own over a shared sim.Venue.
type ownVenue struct{ *sim.Venue }

// TestRunnerRefusesASecondRunnerOfOneGrid: a second runner of one grid ID
// and symbol on one executor (a host's mistake) is refused at its start,
// even through a venue value of its own, and the first runs on in its
// lane; grids sharing a symbol must both say so (grid.WithSharedSymbol).
func TestRunnerRefusesASecondRunnerOfOneGrid(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	rg := newLaneRig(t)
	x, err := exchange.NewExecutor(rg.venue)
	require.NoError(t, err)
	a := rg.start(nil, laneGridOptions("gx"), grid.WithExecutor(x), grid.WithCancelOnStop(false))
	eventually(t, "the first lane", func() bool { return len(x.LaneStats()) == 2 })

	for _, tc := range []struct {
		name  string
		venue exchange.IExchange
		opts  []grid.Option
		want  string
	}{
		{"same grid", nil, laneGridOptions("gx", grid.WithSharedSymbol()), `grid "gx" already runs on BTCUSDT of this account`},
		{"same grid, a venue of its own", &ownVenue{Venue: rg.venue}, laneGridOptions("gx"), `grid "gx" already runs on BTCUSDT`},
		{"another grid, not shared", nil, laneGridOptions("gy", grid.WithSharedSymbol()), `grids "gx" and "gy" both trade BTCUSDT on one account: give each grid.WithSharedSymbol()`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			venue := tc.venue
			if venue == nil {
				venue = rg.venue
			}
			eng, err := grid.New(btcRules, tc.opts...)
			require.NoError(t, err)
			runner, err := grid.NewRunner(eng, venue, grid.WithPriceFeed(rg.feed), grid.WithExecutor(x))
			require.NoError(t, err)
			err = runner.Run(context.Background())
			require.ErrorIs(t, err, grid.ErrSymbolShared)
			assert.ErrorContains(t, err, tc.want)
			assert.Empty(t, eng.Books().Placed, "nothing placed")
		})
	}
	assert.Equal(t, []string{"", "grid gx BTCUSDT"}, laneNames(x))
	require.NoError(t, a.stop(t))
	assert.Equal(t, []string{""}, laneNames(x))

	// Both shared: they run side by side.
	b := rg.start(nil, laneGridOptions("gb", grid.WithSharedSymbol()), grid.WithExecutor(x), grid.WithCancelOnStop(false))
	c := rg.start(nil, laneGridOptions("gc", grid.WithSharedSymbol()), grid.WithExecutor(x), grid.WithCancelOnStop(false))
	eventually(t, "both lanes", func() bool { return len(x.LaneStats()) == 3 })
	require.NoError(t, b.stop(t))
	require.NoError(t, c.stop(t))
}

// placeWindow is an executor limit of n placed orders per interval (and
// nothing else), so that placements wait in their lane.
func placeWindow(n int, every time.Duration) exchange.ExecutorOption {
	return exchange.WithLimits(exchange.LimitWindow{Name: "PLACE", Per: exchange.PerAccount, Interval: every, Max: n,
		Costs: []exchange.OpCost{{Op: exchange.OpPlace, PerOrder: 1}, {Op: exchange.OpBatchPlace, PerOrder: 1}}})
}

// TestRunnerFullLaneIsBackPressure: a lane that holds its bound of
// placements refuses the next one at once; the runner answers it
// OrderNotSent (the slot backs off, nothing reaches the venue) and the
// lane counts it.
func TestRunnerFullLaneIsBackPressure(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	rg := newLaneRig(t)
	// One order per 30 s, within the engine's send timeout (a minute here):
	// the entries wait in the lane rather than expire.
	x, err := exchange.NewExecutor(rg.venue, placeWindow(1, 30*time.Second))
	require.NoError(t, err)
	lane, err := x.Lane("host lane", exchange.WithLaneQueue(1))
	require.NoError(t, err)
	defer lane.Close()
	// No initial position: the start places the three entries, and exits
	// as they fill.
	g := rg.start(nil, laneGridOptions("gf", grid.WithInitialPosition(false), grid.WithAckTimeout(time.Minute), grid.WithSendTimeout(time.Minute)),
		grid.WithLane(lane), grid.WithCancelOnStop(false))
	rg.feed.Publish(1_000_000, time.Now())
	eventually(t, "one entry placed, the others waiting in the lane", func() bool {
		s, _ := g.runner.LaneStats()
		return s.Admitted > 0 && s.QueuedOrders == 1 && len(rg.gridOrders("gf")) == 1
	})
	// The window moves down a level: a new entry at 96,000, refused.
	rg.feed.Publish(985_000, time.Now())
	eventually(t, "the new entry refused by the full lane", func() bool {
		s, _ := g.runner.LaneStats()
		return s.Full > 0
	})
	require.NoError(t, g.stop(t))
	s, ok := g.runner.LaneStats()
	require.True(t, ok)
	assert.Equal(t, "host lane", s.Name)
	assert.Positive(t, s.Full)
	assert.True(t, s.Closing, "the stop drained the host's lane")
	assert.Equal(t, []string{"", "host lane"}, laneNames(x), "the host closes its own lane")
	st := g.eng.Stats()
	assert.Equal(t, int(s.Full+s.Closed+s.Expired+s.Invalid), st.NotSent, "every placement the lane did not send came back OrderNotSent")
	assert.Len(t, rg.gridOrders("gf"), 1, "only the admitted order reached the venue")
	require.NoError(t, g.eng.CheckInvariants())
}

// staleCheckVenue records the placements it receives that had left their
// slot's window (long grid, windows 3/3/1, levels 1,000 apart: an entry
// is stale 4 levels below the price) when they arrived.
type staleCheckVenue struct {
	*sim.Venue
	price atomic.Int64 // ticks
	mu    sync.Mutex
	stale []string
}

func (v *staleCheckVenue) check(reqs ...exchange.OrderRequest) {
	p := btcRules.TicksToPrice(exchange.Ticks(v.price.Load()))
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, r := range reqs {
		if r.Side == exchange.Buy && r.Type == exchange.Limit && r.Price.Add(dec("4000")).LessThan(p) {
			v.stale = append(v.stale, fmt.Sprintf("%s %s at price %s", r.Side, r.Price, p))
		}
	}
}

func (v *staleCheckVenue) PlaceOrder(ctx context.Context, req exchange.OrderRequest) (exchange.Order, error) {
	v.check(req)
	return v.Venue.PlaceOrder(ctx, req)
}

func (v *staleCheckVenue) PlaceOrders(ctx context.Context, reqs []exchange.OrderRequest) ([]exchange.BatchResult, error) {
	v.check(reqs...)
	return v.Venue.PlaceOrders(ctx, reqs)
}

// TestRunnerDropsPlacementsTheMarketLeft: placements waiting for the rate
// limits when the price leaves their slots' window are dropped unsent
// (exchange.WithValidUntil) and come back to the engine as OrderNotSent.
func TestRunnerDropsPlacementsTheMarketLeft(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	rg := newLaneRig(t)
	v := &staleCheckVenue{Venue: rg.venue}
	v.price.Store(1_000_000)
	// One order per 30 s: within the engine's send timeout (a minute
	// here), so the other entries wait rather than expire.
	x, err := exchange.NewExecutor(v, placeWindow(1, 30*time.Second))
	require.NoError(t, err)
	g := rg.start(v, laneGridOptions("gs", grid.WithInitialPosition(false), grid.WithAckTimeout(time.Minute), grid.WithSendTimeout(time.Minute)),
		grid.WithExecutor(x), grid.WithCancelOnStop(false))
	rg.feed.Publish(1_000_000, time.Now())
	eventually(t, "one entry placed, the next waiting", func() bool {
		s, _ := g.runner.LaneStats()
		return s.Queued > 0 && len(rg.gridOrders("gs")) == 1
	})
	// The price jumps up five levels: every entry below 101,000 is stale
	// (the engine would cancel it), and new entries are wanted at
	// 104,000, 103,000 and 102,000: their arrival makes the executor look
	// at its queue.
	v.price.Store(1_045_000)
	rg.feed.Publish(1_045_000, time.Now())
	eventually(t, "the stale entries dropped", func() bool {
		s, _ := g.runner.LaneStats()
		return s.Invalid > 0
	})
	require.NoError(t, g.stop(t))
	s, _ := g.runner.LaneStats()
	st := g.eng.Stats()
	assert.GreaterOrEqual(t, st.NotSent, int(s.Invalid), "each dropped placement came back OrderNotSent")
	v.mu.Lock()
	assert.Empty(t, v.stale, "no placement reached the venue after it went stale")
	v.mu.Unlock()
	require.NoError(t, g.eng.CheckInvariants())
}

// busyVenue answers account and position reads slowly, and counts the
// reads that start, so that a runner with one worker always has urgent
// work queued (account polls and reconciliations, one after the other).
type busyVenue struct {
	*sim.Venue
	delay  time.Duration
	reads  atomic.Int64 // account, position and open-order reads started
	placed atomic.Int64 // placements received
}

func (v *busyVenue) Account(ctx context.Context) (exchange.Account, error) {
	v.reads.Add(1)
	time.Sleep(v.delay)
	return v.Venue.Account(ctx)
}

func (v *busyVenue) Positions(ctx context.Context, symbol string) ([]exchange.Position, error) {
	time.Sleep(v.delay)
	return v.Venue.Positions(ctx, symbol)
}

func (v *busyVenue) OpenOrders(ctx context.Context, symbol string) ([]exchange.Order, error) {
	v.reads.Add(1)
	return v.Venue.OpenOrders(ctx, symbol)
}

func (v *busyVenue) PlaceOrder(ctx context.Context, req exchange.OrderRequest) (exchange.Order, error) {
	v.placed.Add(1)
	return v.Venue.PlaceOrder(ctx, req)
}

func (v *busyVenue) PlaceOrders(ctx context.Context, reqs []exchange.OrderRequest) ([]exchange.BatchResult, error) {
	v.placed.Add(1)
	return v.Venue.PlaceOrders(ctx, reqs)
}

// TestRunnerPlacesDespiteSteadyUrgentWork is the regression test of the
// live soak's seed 30: a runner with one worker, account polling on and
// frequent reconciliations against a venue that reads slowly always has
// urgent work queued when its worker frees. Urgent work went strictly
// first, so a placement waited as long as that lasted (forever, here); now
// it waits for at most a few urgent jobs.
func TestRunnerPlacesDespiteSteadyUrgentWork(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	rg := newLaneRig(t)
	v := &busyVenue{Venue: rg.venue, delay: 20 * time.Millisecond}
	quiet := risk.MonitorFunc{Label: "quiet", Fn: func(risk.Observation) risk.Status { return risk.Status{} }}
	g := rg.start(v, laneGridOptions("gu", grid.WithInitialPosition(false), grid.WithRiskMonitors(0, quiet)),
		grid.WithWorkers(1), grid.WithAccountPoll(time.Millisecond), grid.WithTimerInterval(time.Millisecond),
		grid.WithReconcileInterval(time.Millisecond), grid.WithCancelOnStop(false))
	rg.feed.Publish(1_000_000, time.Now())
	eventually(t, "the three entries", func() bool { return len(rg.gridOrders("gu")) == 3 })
	eventually(t, "urgent work under way", func() bool { return v.reads.Load() > 10 })

	// The window moves down a level: one new entry at 96,000.
	placed, reads := v.placed.Load(), v.reads.Load()
	rg.feed.Publish(985_000, time.Now())
	eventually(t, "the new entry at 96,000", func() bool { return rg.gridOrders("gu")["96000"] == exchange.Buy })
	assert.Equal(t, placed+1, v.placed.Load())
	// The price reaches the runner while a read may be under way; then at
	// most 4 urgent jobs (each one read counted here) go before the
	// placement: about 6. Slack for the timing of the feed on a busy
	// machine; before the fix the placement never went.
	assert.LessOrEqual(t, v.reads.Load()-reads, int64(12), "urgent jobs before the placement")
	require.NoError(t, g.stop(t))
}

func TestNewRunnerChecksTheLaneOptions(t *testing.T) {
	rg := newLaneRig(t)
	x, err := exchange.NewExecutor(rg.venue)
	require.NoError(t, err)
	lane, err := x.Lane("host")
	require.NoError(t, err)
	defer lane.Close()
	for _, tc := range []struct {
		name string
		opts []grid.RunnerOption
		want string
	}{
		{"nil lane", []grid.RunnerOption{grid.WithLane(nil)}, "grid: WithLane = nil: must be a lane"},
		{"lane and executor", []grid.RunnerOption{grid.WithLane(lane), grid.WithExecutor(x)}, "grid: WithLane and WithExecutor = both set: give the grid's lane or the executor to open it on, not both"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eng, err := grid.New(btcRules, laneGridOptions("go")...)
			require.NoError(t, err)
			_, err = grid.NewRunner(eng, rg.venue, tc.opts...)
			require.ErrorIs(t, err, grid.ErrInvalidOption)
			assert.EqualError(t, err, tc.want)
		})
	}
	// A lane, or the executor itself, is enough: the runner takes the
	// venue's receive window from it.
	eng, err := grid.New(btcRules, laneGridOptions("gl")...)
	require.NoError(t, err)
	r, err := grid.NewRunner(eng, rg.venue, grid.WithLane(x))
	require.NoError(t, err)
	_, ok := r.LaneStats()
	assert.False(t, ok, "no lane statistics before Run, nor from an executor used as a lane")
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b = append(s.b, p...)
	return len(p), nil
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.b)
}

// TestRunnerWarnsWhenReconcilingFasterThanTheLimitsAllow: with 100 lanes
// on an executor under Binance's limits, every grid can reconcile only
// every 2 minutes; a runner asked to reconcile every 50 ms says so.
func TestRunnerWarnsWhenReconcilingFasterThanTheLimitsAllow(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	rg := newLaneRig(t)
	x, err := exchange.NewExecutor(rg.venue, exchange.WithLimits(binanceWindows()...))
	require.NoError(t, err)
	for i := range 99 {
		l, err := x.Lane(fmt.Sprintf("other %d", i))
		require.NoError(t, err)
		defer l.Close()
	}
	var logs syncBuffer
	g := rg.start(nil, laneGridOptions("gw"), grid.WithExecutor(x), grid.WithReconcileInterval(50*time.Millisecond),
		grid.WithRunnerLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	rg.feed.Publish(1_000_000, time.Now())
	eventually(t, "the warning", func() bool {
		return strings.Contains(logs.String(), "the reconciliation interval is shorter than the executor's limits allow")
	})
	// the minimum for the 100 lanes open now: open orders 1, positions 10
	// and rules 1, 1,200 units, at REQUEST_WEIGHT_1M's sustained read rate
	// (10 a second)
	min := x.MinReconcileInterval(exchange.OpOpenOrders, exchange.OpPositions, exchange.OpRules)
	assert.Equal(t, 2*time.Minute, min.Round(time.Second))
	assert.Contains(t, logs.String(), "interval=50ms minimum="+min.String())
	require.NoError(t, g.stop(t))
	assert.Equal(t, 1, strings.Count(logs.String(), "reconciliation interval is shorter"), "warned once")
}
