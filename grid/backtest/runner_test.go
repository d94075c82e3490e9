package backtest

import (
	"context"
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
)

// stepFeed is a price feed the test drives one price at a time.
type stepFeed struct{ ch chan pricefeed.Price }

func (f stepFeed) Subscribe(context.Context) <-chan pricefeed.Price { return f.ch }

// orderEventsSent is the number of order events the venue has emitted:
// one per accepted order (NEW), fill, cancel and expiry.
func orderEventsSent(v *sim.Venue) uint64 {
	s := v.Stats()
	return uint64(s.Orders + s.Fills + s.Canceled + s.Expired)
}

// replayLockstep replays candles through grid.Runner driving eng against
// venue, in lockstep: for each tick of each candle's path it moves the
// clock and the venue (whose fills go out on its order stream), waits until
// the runner is idle having taken every order event the venue sent, then
// feeds the price and waits again, so the runner meets fills and prices in
// the backtest's order. clock is the replay's clock, the runner's (and the
// venue's, if it was built on it). At the end it stops the runner, checks
// that it returned no error and closes the venue.
func replayLockstep(t *testing.T, eng *grid.Engine, venue *sim.Venue, clock *atomic.Int64, candles []pricefeed.Candle) {
	t.Helper()
	idle := make(chan grid.IdleState, 1)
	feed := stepFeed{ch: make(chan pricefeed.Price)}
	// generous limits: the venue is in memory, and the test must not wait on the clock
	x, err := exchange.NewExecutor(venue, exchange.WithRateLimits(
		exchange.RateLimit{Scope: exchange.ScopeOrder, Interval: time.Second, Limit: 1_000_000},
		exchange.RateLimit{Scope: exchange.ScopeRequest, Interval: time.Second, Limit: 1_000_000}))
	require.NoError(t, err)
	runner, err := grid.NewRunner(eng, venue, grid.WithExecutor(x),
		grid.WithPriceFeed(feed), grid.WithTimerInterval(time.Hour), grid.WithReconcileInterval(time.Hour),
		grid.WithCancelOnStop(false),
		grid.WithClock(func() time.Time { return time.UnixMilli(clock.Load()) }),
		grid.WithIdleHook(func(s grid.IdleState) {
			select {
			case <-idle: // keep only the newest
			default:
			}
			idle <- s
		}))
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	var runErr error
	go func() { defer wg.Done(); runErr = runner.Run(ctx) }()

	// settle waits until the runner is idle having taken every order event
	// the venue sent and the given number of prices.
	var last grid.IdleState
	settle := func(prices uint64) {
		for last.Prices != prices || last.OrderEvents != orderEventsSent(venue) {
			select {
			case last = <-idle:
			case <-time.After(10 * time.Second):
				t.Fatalf("runner did not settle: venue sent %d order events, %d prices; runner took %+v", orderEventsSent(venue), prices, last)
			}
		}
	}
	var sentPrices uint64
	step := func(ms int64, p exchange.Ticks) {
		clock.Store(ms)
		require.NoError(t, venue.SetPriceTicks(ctx, p))
		settle(sentPrices) // fills first, as the backtest drains them first
		feed.ch <- pricefeed.Price{Ticks: p, Time: time.UnixMilli(ms)}
		sentPrices++
		settle(sentPrices)
	}
	// The first price starts the runner (before it, it waits for a price
	// and the order stream's ready, and is not idle).
	clock.Store(candles[0].OpenTime)
	require.NoError(t, venue.SetPriceTicks(ctx, candles[0].Open))
	feed.ch <- pricefeed.Price{Ticks: candles[0].Open, Time: time.UnixMilli(candles[0].OpenTime)}
	sentPrices++
	settle(sentPrices)
	for _, c := range candles {
		for j, p := range c.Path() {
			step(c.OpenTime+tickOffsets[j], p)
		}
	}
	cancel()
	wg.Wait()
	require.NoError(t, runErr)
	require.NoError(t, venue.Close())
}

// TestRunnerAgreesWithBacktest runs the same grid over the same real candles
// twice: through the backtest's direct calls, and live through grid.Runner
// against the simulated venue (its order stream, its REST-like calls,
// batching, worker goroutines), stepped in lockstep. The books must agree
// exactly.
func TestRunnerAgreesWithBacktest(t *testing.T) {
	defer goleak.VerifyNone(t)
	candles, err := pricefeed.ReadCandlesFile(shippedMonth, btcRules)
	require.NoError(t, err)
	candles = candles[:600]
	start := btcRules.TicksToPrice(candles[0].Open)
	opts := []grid.Option{
		grid.WithGridID("agree"), grid.WithStartPrice(start),
		grid.WithBounds(dec("94500"), dec("96500"), 80), grid.WithAmount(dec("500")), grid.WithWindows(5, 5, 1),
	}
	sc := sim.DefaultCoreConfig(btcRules)
	sc.InitialBalance, _ = btcRules.DecimalToMoney(dec("100000"))
	sc.Leverage = 5
	// the venue model the backtest uses by default: margin checked, 1 bp of slippage
	sc.CheckMargin, sc.SlippageRate = true, 10_000

	want, err := Run(candles, Config{Rules: btcRules, Sim: sc, Grid: opts})
	require.NoError(t, err)
	require.Positive(t, want.RoundTrips)

	venue, err := sim.NewVenue(sim.VenueConfig{Core: sc})
	require.NoError(t, err)
	eng, err := grid.New(btcRules, opts...)
	require.NoError(t, err)
	var clock atomic.Int64
	replayLockstep(t, eng, venue, &clock, candles)

	got := eng.Books()
	assert.Equal(t, want.RoundTrips, got.RoundTrips, "round trips")
	assert.Equal(t, want.Realized.String(), btcRules.MoneyToDecimal(got.Realized).String(), "realized")
	// the engine books fees in whole Money units (0.0001 USDT): the exact total, rounded
	assert.Equal(t, want.Fees.Round(4).String(), btcRules.MoneyToDecimal(got.Fees).String(), "fees")
	assert.Equal(t, want.Position.String(), btcRules.StepsToQty(got.Position).String(), "position")
	assert.Equal(t, want.Fills, venue.Stats().Fills, "venue fills")
	require.NoError(t, eng.CheckInvariants())
}
