package backtest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/sim"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/pricefeed"
)

// stepFeed is a price feed the test drives one price at a time.
type stepFeed struct{ ch chan pricefeed.Price }

func (f stepFeed) Subscribe(context.Context) <-chan pricefeed.Price { return f.ch }

// orderEventsSent is the number of order events the venue has emitted:
// one per accepted order (NEW), fill, cancel and expiry. A liquidation's
// order is counted in Orders but sends no NEW, only its fills.
func orderEventsSent(v *sim.Venue) uint64 {
	s := v.Stats()
	return uint64(s.Orders + s.Fills + s.Canceled + s.Expired - s.Liquidations)
}

// lockstep runs grid.Runner live against a sim.Venue, stepped price by
// price in lockstep with the venue: each price is set on the venue, the
// runner takes every order event that caused, then takes the price from
// its feed, and the test goes on only when the runner is idle again. The
// runner's clock is the replay's (clock, in Unix ms), so its times are the
// data's.
type lockstep struct {
	t      *testing.T
	venue  *sim.Venue
	clock  *atomic.Int64
	feed   stepFeed
	idle   chan grid.IdleState
	last   grid.IdleState
	prices uint64
	// klines is the runner's venue when it is a klineVenue: candles
	// sent to the runner by kline are counted like prices.
	klines *klineVenue
	sentK  uint64
	cancel context.CancelFunc
	wg     sync.WaitGroup
	runErr error
	// base is the venue's order events sent before this runner started
	// (a restart on the same venue): the runner never takes them.
	base uint64
}

// startLockstep starts a runner of eng against venue on the replay clock,
// with generous rate limits (the venue is in memory: the test must not
// wait on the clock), hourly timer and reconciliation (so neither runs
// unless asked: opts may override), and entries left in place at the end.
// ex is the venue the runner is given: venue itself, or a wrapper of it.
func startLockstep(t *testing.T, venue *sim.Venue, ex exchange.IExchange, eng *grid.Engine, clock *atomic.Int64, opts ...grid.RunnerOption) *lockstep {
	t.Helper()
	s := &lockstep{t: t, venue: venue, clock: clock, feed: stepFeed{ch: make(chan pricefeed.Price)}, idle: make(chan grid.IdleState, 1), base: orderEventsSent(venue)}
	if kv, ok := ex.(*klineVenue); ok {
		s.klines = kv
	}
	x, err := exchange.NewExecutor(ex, exchange.WithRateLimits(
		exchange.RateLimit{Scope: exchange.ScopeOrder, Interval: time.Second, Limit: 1_000_000},
		exchange.RateLimit{Scope: exchange.ScopeRequest, Interval: time.Second, Limit: 1_000_000}))
	require.NoError(t, err)
	base := []grid.RunnerOption{grid.WithExecutor(x),
		grid.WithPriceFeed(s.feed), grid.WithTimerInterval(time.Hour), grid.WithReconcileInterval(time.Hour),
		grid.WithCancelOnStop(false),
		grid.WithClock(func() time.Time { return time.UnixMilli(clock.Load()) }),
		grid.WithIdleHook(func(st grid.IdleState) {
			select {
			case <-s.idle: // keep only the newest
			default:
			}
			s.idle <- st
		})}
	runner, err := grid.NewRunner(eng, ex, append(base, opts...)...)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.runErr = runner.Run(ctx) }()
	return s
}

// settle waits until the runner is idle having taken every order event
// the venue sent, every price and every candle sent to it.
func (s *lockstep) settle() {
	s.t.Helper()
	for s.last.Prices != s.prices || s.base+s.last.OrderEvents != orderEventsSent(s.venue) || s.last.Klines != s.sentK {
		select {
		case s.last = <-s.idle:
		case <-time.After(10 * time.Second):
			s.t.Fatalf("runner did not settle: venue sent %d order events, %d prices, %d candles; runner took %+v",
				orderEventsSent(s.venue)-s.base, s.prices, s.sentK, s.last)
		}
	}
}

// price sends p at ms to the feed (the venue already has it) and settles.
func (s *lockstep) price(ms int64, p exchange.Ticks) {
	s.t.Helper()
	s.feed.ch <- pricefeed.Price{Ticks: p, Time: time.UnixMilli(ms)}
	s.prices++
	s.settle()
}

// step moves the replay to ms and the venue's price to p, lets the runner
// take the venue's fills first (as the backtest drains them first), then
// the price.
func (s *lockstep) step(ms int64, p exchange.Ticks) {
	s.t.Helper()
	s.clock.Store(ms)
	require.NoError(s.t, s.venue.SetPriceTicks(context.Background(), p))
	s.settle()
	s.price(ms, p)
}

// begin sends the first price, which starts the runner (before it, it
// waits for a price and the order stream's ready, and is not idle).
func (s *lockstep) begin(c pricefeed.Candle) {
	s.t.Helper()
	s.clock.Store(c.OpenTime)
	require.NoError(s.t, s.venue.SetPriceTicks(context.Background(), c.Open))
	s.price(c.OpenTime, c.Open)
}

// candle steps through c's four ticks (open, then the extremes, then the
// close: c.Path, at the backtest's tick offsets).
func (s *lockstep) candle(c pricefeed.Candle) {
	s.t.Helper()
	for j, p := range c.Path() {
		s.step(c.OpenTime+tickOffsets[j], p)
	}
}

// kline sends a closed candle to the runner (the venue must be a
// klineVenue with a subscription of k's symbol) and settles.
func (s *lockstep) kline(k exchange.Kline) {
	s.t.Helper()
	require.NotNil(s.t, s.klines, "the runner's venue is not a klineVenue")
	ch := s.klines.channel(k.Symbol)
	require.NotNil(s.t, ch, "no candle subscription of %s", k.Symbol)
	k.Closed = true
	ch <- k
	s.sentK++
	s.settle()
}

// stop stops the runner and the venue, failing the test on an error.
func (s *lockstep) stop() {
	s.t.Helper()
	s.cancel()
	s.wg.Wait()
	require.NoError(s.t, s.runErr)
	require.NoError(s.t, s.venue.Close())
}
