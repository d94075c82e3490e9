package backtest

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/binance"
	"github.com/gridmesh/gridmesh/exchange/sim"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/pricefeed"
)

// binanceWindows are the limit windows the Binance adapter declares
// (binance.Client.LimitWindows, the sheet's defaults before exchangeInfo is
// loaded), so the tests' limits stay those of the adapter.
func binanceWindows() []exchange.LimitWindow {
	c, err := binance.New(binance.Config{RESTURL: binance.TestnetRESTURL, WSURL: binance.TestnetWSURL})
	if err != nil {
		panic(fmt.Sprintf("binance.New: %v", err)) // the testnet's URLs and the defaults are valid
	}
	defer c.Close()
	return c.LimitWindows()
}

// firstOrderVenue records when each grid's first order reached the venue.
type firstOrderVenue struct {
	*sim.Venue
	start time.Time
	mu    sync.Mutex
	first map[string]time.Duration // grid ID → since start
}

func (v *firstOrderVenue) note(cids ...string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, c := range cids {
		if g, _, err := grid.ParseClientOrderID(c); err == nil {
			if _, ok := v.first[g]; !ok {
				v.first[g] = time.Since(v.start)
			}
		}
	}
}

func (v *firstOrderVenue) PlaceOrder(ctx context.Context, req exchange.OrderRequest) (exchange.Order, error) {
	v.note(req.ClientOrderID)
	return v.Venue.PlaceOrder(ctx, req)
}

func (v *firstOrderVenue) PlaceOrders(ctx context.Context, reqs []exchange.OrderRequest) ([]exchange.BatchResult, error) {
	for _, r := range reqs {
		v.note(r.ClientOrderID)
	}
	return v.Venue.PlaceOrders(ctx, reqs)
}

// TestHundredRunnersShareOneExecutor runs 100 grid.Runners (each its own
// grid ID, on one simulated account) on one executor under Binance's
// declared limits, on synctest's virtual clock, for 3 minutes, then stops
// them all. It reports the time to each grid's first order and the lanes'
// high-water marks, and checks that every grid placed within 10 s of
// virtual time (the start-up reads of the 100 grids — account, positions,
// open orders — are coalesced into a few requests, so that they no longer
// queue for minutes behind the reads' share of REQUEST_WEIGHT) and that no
// entry is left live after the stop (go test -v shows the figures).
func TestHundredRunnersShareOneExecutor(t *testing.T) {
	if testing.Short() {
		t.Skip("100 runners: skipped with -short")
	}
	const grids = 100
	synctest.Test(t, func(t *testing.T) {
		sc := sim.DefaultCoreConfig(btcRules)
		sc.InitialBalance, _ = btcRules.DecimalToMoney(dec("100000000"))
		venue, err := sim.NewVenue(sim.VenueConfig{Core: sc})
		require.NoError(t, err)
		require.NoError(t, venue.SetPrice(context.Background(), dec("100000")))
		v := &firstOrderVenue{Venue: venue, start: time.Now(), first: map[string]time.Duration{}}
		x, err := exchange.NewExecutor(v, exchange.WithLimits(binanceWindows()...))
		require.NoError(t, err)
		feed, err := pricefeed.NewFeed(btcRules.Symbol)
		require.NoError(t, err)

		var wg sync.WaitGroup
		cancels := make([]context.CancelFunc, grids)
		errs := make([]error, grids)
		runners := make([]*grid.Runner, grids)
		for i := range grids {
			eng, err := grid.New(btcRules, laneGridOptions(fmt.Sprintf("h%03d", i), grid.WithSharedSymbol())...)
			require.NoError(t, err)
			r, err := grid.NewRunner(eng, v, grid.WithExecutor(x), grid.WithPriceFeed(feed),
				grid.WithReconcileInterval(time.Minute), grid.WithStopTimeout(2*time.Minute))
			require.NoError(t, err)
			runners[i] = r
			ctx, cancel := context.WithCancel(context.Background())
			cancels[i] = cancel
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = r.Run(ctx) }()
		}
		feed.Publish(1_000_000, time.Now())
		time.Sleep(3 * time.Minute)
		stopAt := time.Now()
		for _, c := range cancels {
			c()
		}
		wg.Wait()
		stopTook := time.Since(stopAt)
		for i, err := range errs {
			assert.NoError(t, err, "grid %d", i)
		}

		var firsts []time.Duration
		v.mu.Lock()
		for _, d := range v.first {
			firsts = append(firsts, d)
		}
		v.mu.Unlock()
		sort.Slice(firsts, func(i, j int) bool { return firsts[i] < firsts[j] })
		assert.Len(t, firsts, grids, "every grid placed")
		if len(firsts) > 0 {
			assert.LessOrEqual(t, firsts[len(firsts)-1], 10*time.Second, "max time to first order")
		}
		// Every grid reconciled in each full interval before the stop (at
		// 1 and 2 minutes; the one due at 3 meets the stop).
		minRec, maxRec := int64(1<<62), int64(0)
		for i, r := range runners {
			n, last := r.Reconciliations()
			minRec, maxRec = min(minRec, n), max(maxRec, n)
			assert.GreaterOrEqual(t, n, int64(2), "grid %d reconciled %d times in 3 minutes at 1 per minute", i, n)
			assert.False(t, last.IsZero(), "grid %d", i)
		}
		t.Logf("reconciliations per grid in 3 minutes at one a minute: min %d, max %d", minRec, maxRec)
		highWater, highOrders, full, dropped := 0, 0, uint64(0), uint64(0)
		for _, r := range runners {
			s, ok := r.LaneStats()
			require.True(t, ok)
			highWater, highOrders = max(highWater, s.HighWater), max(highOrders, s.HighWaterOrders)
			full += s.Full
			dropped += s.Expired + s.Invalid + s.Closed
		}
		open, err := venue.OpenOrders(context.Background(), btcRules.Symbol)
		require.NoError(t, err)
		entries := 0
		for _, o := range open {
			if o.Side == exchange.Buy {
				entries++ // long grids: every buy is an entry
			}
		}
		assert.Zero(t, entries, "entries left live after stop")
		assert.Equal(t, []string{""}, laneNames(x), "every runner closed its lane")
		assert.LessOrEqual(t, highOrders, exchange.DefaultLaneQueue, "lanes stay within their bound")
		if len(firsts) > 0 {
			t.Logf("first order: min %s, median %s, max %s; lane high water %d requests, %d orders; full %d; dropped %d; stop took %s; live after stop: %d entries, %d orders",
				firsts[0], firsts[len(firsts)/2], firsts[len(firsts)-1], highWater, highOrders, full, dropped, stopTook, entries, len(open))
		}
		xs := x.Stats()
		t.Logf("requests %v; coalesced reads %d; errors %v", xs.Requests, xs.Coalesced, xs.Errors)
		feed.Close()
		require.NoError(t, venue.Close())
	})
}
