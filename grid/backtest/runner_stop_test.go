package backtest

import (
	"context"
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

// startRunner runs a small grid on a fresh simulated venue at 100,000 and
// waits until it has placed its orders (5 order events: the initial
// market order's NEW and FILL, three entries' NEW).
func startRunner(t *testing.T, opts []grid.Option, ropts ...grid.RunnerOption) (*sim.Venue, context.CancelFunc, <-chan error) {
	t.Helper()
	sc := sim.DefaultCoreConfig(btcRules)
	sc.InitialBalance, _ = btcRules.DecimalToMoney(dec("10000"))
	venue, err := sim.NewVenue(sim.VenueConfig{Core: sc})
	require.NoError(t, err)
	t.Cleanup(func() { venue.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, venue.SetPrice(ctx, dec("100000")))
	feed, err := pricefeed.NewFeed(btcRules.Symbol)
	require.NoError(t, err)
	t.Cleanup(feed.Close)
	eng, err := grid.New(btcRules, append([]grid.Option{grid.WithStartPrice(dec("100000")),
		grid.WithBounds(dec("90000"), dec("110000"), 20), grid.WithAmount(dec("500")), grid.WithWindows(3, 3, 1)}, opts...)...)
	require.NoError(t, err)
	started := make(chan struct{})
	ropts = append(ropts, grid.WithPriceFeed(feed), grid.WithIdleHook(func(s grid.IdleState) {
		if s.OrderEvents >= 5 {
			select {
			case <-started:
			default:
				close(started)
			}
		}
	}))
	runner, err := grid.NewRunner(eng, venue, ropts...)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- runner.Run(ctx) }()
	feed.Publish(1_000_000, time.Now())
	select {
	case <-started:
	case err := <-done:
		cancel()
		return venue, cancel, errNow(err)
	case <-time.After(10 * time.Second):
		t.Fatal("the runner did not start")
	}
	return venue, cancel, done
}

func errNow(err error) <-chan error {
	ch := make(chan error, 1)
	ch <- err
	return ch
}

func TestRunnerStopCancelsEntriesAndLeavesNoGoroutine(t *testing.T) {
	defer goleak.VerifyNone(t)
	venue, cancel, done := startRunner(t, nil)
	open, err := venue.OpenOrders(context.Background(), btcRules.Symbol)
	require.NoError(t, err)
	require.Len(t, open, 6, "three entries below, three exits above")
	cancel()
	require.NoError(t, <-done)
	open, err = venue.OpenOrders(context.Background(), btcRules.Symbol)
	require.NoError(t, err)
	for _, o := range open {
		assert.Equal(t, exchange.Sell, o.Side, "only exits stay: entries are canceled on stop")
	}
	assert.Len(t, open, 3)
}

func TestRunnerKeepsOrdersWhenAsked(t *testing.T) {
	defer goleak.VerifyNone(t)
	venue, cancel, done := startRunner(t, nil, grid.WithCancelOnStop(false))
	cancel()
	require.NoError(t, <-done)
	open, err := venue.OpenOrders(context.Background(), btcRules.Symbol)
	require.NoError(t, err)
	assert.Len(t, open, 6)
}

func TestRunnerRefusesToStartWhenChecksFail(t *testing.T) {
	defer goleak.VerifyNone(t)
	plan := risk.Plan{Leverage: 50, MakerFee: dec("0.0002"), TakerFee: dec("0.0005"), MaintenanceRate: dec("0.004")}
	venue, cancel, done := startRunner(t, []grid.Option{grid.WithRiskChecks(plan, risk.LeverageCheck{})})
	defer cancel()
	err := <-done
	require.ErrorIs(t, err, grid.ErrChecksFailed)
	assert.Contains(t, err.Error(), "leverage")
	open, _ := venue.OpenOrders(context.Background(), btcRules.Symbol)
	assert.Empty(t, open, "nothing placed")
}

// TestRunnerRestartWithStore stops a runner and starts a new engine on the
// same venue and store: the books come back from the store, the slots from
// the venue, and the initial position is not bought twice.
func TestRunnerRestartWithStore(t *testing.T) {
	defer goleak.VerifyNone(t)
	store, err := grid.NewJSONFileStore(t.TempDir() + "/grid.json")
	require.NoError(t, err)
	sc := sim.DefaultCoreConfig(btcRules)
	sc.InitialBalance, _ = btcRules.DecimalToMoney(dec("10000"))
	venue, err := sim.NewVenue(sim.VenueConfig{Core: sc})
	require.NoError(t, err)
	defer venue.Close()
	require.NoError(t, venue.SetPrice(context.Background(), dec("100000")))

	runOnce := func() grid.Books {
		feed, err := pricefeed.NewFeed(btcRules.Symbol)
		require.NoError(t, err)
		defer feed.Close()
		eng, err := grid.New(btcRules, grid.WithGridID("keep"), grid.WithStartPrice(dec("100000")),
			grid.WithBounds(dec("90000"), dec("110000"), 20), grid.WithAmount(dec("500")), grid.WithWindows(3, 3, 1))
		require.NoError(t, err)
		idle := make(chan struct{}, 1)
		runner, err := grid.NewRunner(eng, venue, grid.WithPriceFeed(feed), grid.WithStore(store, time.Hour),
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
		// settle: idle with the six orders (3 entries, 3 exits) on the venue
		for {
			select {
			case <-idle:
			case <-time.After(10 * time.Second):
				t.Fatal("runner did not settle")
			}
			if open, _ := venue.OpenOrders(context.Background(), btcRules.Symbol); len(open) == 6 {
				break
			}
		}
		cancel()
		require.NoError(t, <-done)
		return eng.Books()
	}
	first := runOnce()
	require.Equal(t, 1, first.Fills, "the initial position's market order")
	second := runOnce()
	assert.Equal(t, first.Fills, second.Fills, "restored from the store; no second initial purchase")
	assert.Equal(t, first.Fees, second.Fees)
	assert.Equal(t, first.Position, second.Position)
	pos, err := venue.Positions(context.Background(), btcRules.Symbol)
	require.NoError(t, err)
	assert.Equal(t, "0.041", pos[0].Quantity.String(), "bought once")
}

func TestRunnerSettlesBeforeRecovering(t *testing.T) {
	defer goleak.VerifyNone(t)
	venue, cancel, done := startRunner(t, nil, grid.WithRestartSettle(20*time.Millisecond), grid.WithCancelOnStop(false))
	cancel()
	require.NoError(t, <-done)
	open, err := venue.OpenOrders(context.Background(), btcRules.Symbol)
	require.NoError(t, err)
	assert.Len(t, open, 6, "started after the settle as usual")
}
