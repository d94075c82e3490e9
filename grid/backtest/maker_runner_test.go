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

// TestRunnerRepricesAPostOnlyRejection runs grid.Runner against the
// simulated venue, both ways a venue refuses a post-only order: at once
// (Binance -5022) and later (accepted, then canceled unfilled: Bitget).
// The venue's price falls to 97 before the runner's feed says so; with
// its last price at 99 the engine places its entry at level 98, which
// crosses. Either way the slot backs off and, on the timer, places the
// entry again re-priced 3 ticks under its last price: a buy at 96, which
// rests.
func TestRunnerRepricesAPostOnlyRejection(t *testing.T) {
	defer goleak.VerifyNone(t)
	rules := exchange.Rules{Symbol: "TEST", TickSize: dec("1"), StepSize: dec("1"), MinQty: dec("1"), MinNotional: dec("0")}
	for _, later := range []bool{false, true} {
		sc := sim.DefaultCoreConfig(rules)
		sc.InitialBalance, _ = rules.DecimalToMoney(dec("100000"))
		sc.PostOnlyCancelLater = later
		venue, err := sim.NewVenue(sim.VenueConfig{Core: sc})
		require.NoError(t, err)
		// levels 90, 92, …, 110; one entry and one exit live
		eng, err := grid.New(rules, grid.WithGridID("rp"), grid.WithStartPrice(dec("101")), grid.WithBounds(dec("90"), dec("110"), 10),
			grid.WithQuantity(dec("1")), grid.WithWindows(1, 1, 0), grid.WithInitialPosition(false), grid.WithRepricing(3))
		require.NoError(t, err)
		var clock atomic.Int64
		clock.Store(1_700_000_000_000)
		feed := stepFeed{ch: make(chan pricefeed.Price)}
		x, err := exchange.NewExecutor(venue, exchange.WithRateLimits(
			exchange.RateLimit{Scope: exchange.ScopeOrder, Interval: time.Second, Limit: 1_000_000},
			exchange.RateLimit{Scope: exchange.ScopeRequest, Interval: time.Second, Limit: 1_000_000}))
		require.NoError(t, err)
		// The engine is the runner's: its Stats are read on the runner's
		// goroutine, whenever it is idle.
		var rejects atomic.Int64
		runner, err := grid.NewRunner(eng, venue, grid.WithExecutor(x), grid.WithPriceFeed(feed),
			grid.WithTimerInterval(5*time.Millisecond), grid.WithReconcileInterval(time.Hour), grid.WithCancelOnStop(false),
			grid.WithClock(func() time.Time { return time.UnixMilli(clock.Load()) }),
			grid.WithIdleHook(func(grid.IdleState) { rejects.Store(int64(eng.Stats().PostOnlyRejects)) }))
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Add(1)
		var runErr error
		go func() { defer wg.Done(); runErr = runner.Run(ctx) }()

		buys := func() []string {
			oo, err := venue.OpenOrders(ctx, "TEST")
			require.NoError(t, err)
			var out []string
			for _, o := range oo {
				if o.Side == exchange.Buy {
					out = append(out, o.Price.String())
				}
			}
			return out
		}
		price := func(p int64) {
			feed.ch <- pricefeed.Price{Ticks: exchange.Ticks(p), Time: time.UnixMilli(clock.Load())}
		}
		require.NoError(t, venue.SetPriceTicks(ctx, 101))
		price(101)
		require.Eventually(t, func() bool { return len(buys()) == 1 && buys()[0] == "100" }, 5*time.Second, time.Millisecond, "entry at 100")
		// The venue falls through 100 (the entry fills) to 97; the feed
		// reports 99 first.
		clock.Add(1000)
		require.NoError(t, venue.SetPriceTicks(ctx, 99))
		require.NoError(t, venue.SetPriceTicks(ctx, 97))
		price(99)
		require.Eventually(t, func() bool { return rejects.Load() == 1 }, 5*time.Second, time.Millisecond, "the entry at 98 is refused")
		assert.Empty(t, buys())
		// After the back-off the timer places it again, 3 ticks under 99.
		clock.Add(1500)
		require.Eventually(t, func() bool { b := buys(); return len(b) == 1 && b[0] == "96" }, 5*time.Second, time.Millisecond, "re-priced entry at 96")
		cancel()
		wg.Wait()
		require.NoError(t, runErr)
		require.NoError(t, venue.Close())
		st := eng.Stats() // the runner has stopped: the engine is the test's again
		assert.Equal(t, 1, st.PostOnlyRejects)
		assert.Equal(t, 1, st.Repriced)
		if later {
			assert.Zero(t, st.Rejected, "the venue refused nothing at once")
		} else {
			assert.Equal(t, 1, st.Rejected)
		}
	}
}
