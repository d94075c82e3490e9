package backtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
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

// Live-path tests of order identity (issue 9): the real grid.Runner and
// exchange.Executor against the simulated venue, wrapped to record every
// client order ID it was sent and to refuse for rate.

// recordingVenue is a sim.Venue that records every placement it receives,
// declares a receive window, and can refuse placements for rate.
type recordingVenue struct {
	*sim.Venue
	recv time.Duration

	mu       sync.Mutex
	placed   map[string]int // client order ID → placements received with it
	limited  int            // placements still to refuse with a 429
	retryFor time.Duration
	// slow delays every placement, whatever its context: a request on the
	// wire reaches the venue even if its sender has given up on it.
	slow      time.Duration
	onTheWire chan string // receives the client order ID of each slow placement as it starts
}

func newRecordingVenue(t *testing.T, recv time.Duration, cfg func(*sim.VenueConfig)) *recordingVenue {
	t.Helper()
	sc := sim.DefaultCoreConfig(btcRules)
	sc.InitialBalance, _ = btcRules.DecimalToMoney(dec("100000"))
	vc := sim.VenueConfig{Core: sc}
	if cfg != nil {
		cfg(&vc)
	}
	v, err := sim.NewVenue(vc)
	require.NoError(t, err)
	t.Cleanup(func() { v.Close() })
	require.NoError(t, v.SetPrice(context.Background(), dec("100000")))
	return &recordingVenue{Venue: v, recv: recv, placed: map[string]int{}}
}

func (v *recordingVenue) ReceiveWindow() time.Duration { return v.recv }

func (v *recordingVenue) PlaceOrder(ctx context.Context, req exchange.OrderRequest) (exchange.Order, error) {
	v.mu.Lock()
	if v.limited > 0 {
		v.limited--
		v.mu.Unlock()
		return exchange.Order{}, &exchange.RateLimitError{RetryAfter: v.retryFor}
	}
	v.placed[req.ClientOrderID]++
	slow := v.slow
	v.mu.Unlock()
	if slow > 0 {
		select {
		case v.onTheWire <- req.ClientOrderID:
		default:
		}
		time.Sleep(slow)
		ctx = context.WithoutCancel(ctx)
	}
	return v.Venue.PlaceOrder(ctx, req)
}

// PlaceOrders places one by one through PlaceOrder, so that every order is
// recorded and refused alike.
func (v *recordingVenue) PlaceOrders(ctx context.Context, reqs []exchange.OrderRequest) ([]exchange.BatchResult, error) {
	out := make([]exchange.BatchResult, len(reqs))
	for i, r := range reqs {
		out[i].Order, out[i].Err = v.PlaceOrder(ctx, r)
	}
	return out, nil
}

// reused lists the client order IDs the venue received more than once
// (a 429 refusal created nothing and is not counted: a retry is fine).
func (v *recordingVenue) reused(t *testing.T) []string {
	t.Helper()
	v.mu.Lock()
	defer v.mu.Unlock()
	var ids []string
	for id, n := range v.placed {
		if n > 1 {
			ids = append(ids, fmt.Sprintf("%s×%d", id, n))
		}
	}
	return ids
}

// livePerLevel counts the venue's live orders of grid gridID per level.
func livePerLevel(t *testing.T, v exchange.IExchange, gridID string) map[int64][]string {
	t.Helper()
	open, err := v.OpenOrders(context.Background(), btcRules.Symbol)
	require.NoError(t, err)
	by := map[int64][]string{}
	for _, o := range open {
		g, ref, err := grid.ParseClientOrderID(o.ClientOrderID)
		if err == nil && g == gridID {
			by[ref.Level] = append(by[ref.Level], o.ClientOrderID)
		}
	}
	return by
}

func assertOneOrderPerLevel(t *testing.T, v exchange.IExchange, gridID string) {
	t.Helper()
	for lvl, ids := range livePerLevel(t, v, gridID) {
		assert.Len(t, ids, 1, "level %d has %d live orders: %v", lvl, len(ids), ids)
	}
}

// Issue 9, bug 1: a placement held by a venue's Retry-After longer than the
// ack timeout plus the receive window went out after the engine had
// queried it, heard "not found" and placed the next generation: two live
// orders for one slot. Now the held placement is dropped unsent at its
// send deadline, and every slot ends with one order.
func TestRetryAfterLongerThanAckTimeoutPlacesOneOrderPerSlot(t *testing.T) {
	defer goleak.VerifyNone(t)
	v := newRecordingVenue(t, 100*time.Millisecond, nil)
	v.limited, v.retryFor = 1, 1500*time.Millisecond
	feed, err := pricefeed.NewFeed(btcRules.Symbol)
	require.NoError(t, err)
	defer feed.Close()
	eng, err := grid.New(btcRules, grid.WithGridID("held"), grid.WithStartPrice(dec("100000")),
		grid.WithBounds(dec("90000"), dec("110000"), 20), grid.WithAmount(dec("500")), grid.WithWindows(3, 3, 1),
		grid.WithInitialPosition(false), grid.WithAckTimeout(300*time.Millisecond), grid.WithReceiveWindow(100*time.Millisecond))
	require.NoError(t, err)
	x, err := exchange.NewExecutor(v, exchange.WithRetryPolicy(exchange.RetryPolicy{MaxAttempts: 4, BaseBackoff: 10 * time.Millisecond, MaxBackoff: 5 * time.Second}))
	require.NoError(t, err)
	runner, err := grid.NewRunner(eng, v, grid.WithExecutor(x), grid.WithPriceFeed(feed), grid.WithTimerInterval(20*time.Millisecond),
		grid.WithCancelOnStop(false))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runner.Run(ctx) }()
	feed.Publish(1_000_000, time.Now())
	// Past the 1.5 s pause and the ack timeouts, the slots place again
	// (after their back-off) until the three entries below the price rest.
	for deadline := time.Now().Add(15 * time.Second); len(livePerLevel(t, v, "held")) < 3 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // room for a late duplicate to land
	cancel()
	require.NoError(t, <-done)
	assertOneOrderPerLevel(t, v, "held")
	assert.Len(t, livePerLevel(t, v, "held"), 3, "the three entries below the price")
	assert.Empty(t, v.reused(t))
	assert.Positive(t, eng.Books().NotSent, "the held placements were dropped unsent")
}

// flakyStore is a store whose saves start failing at a moment the test
// picks, as if the process had crashed just after its last good save: the
// state it keeps is that save's.
type flakyStore struct {
	grid.Store
	frozen atomic.Bool
}

func (s *flakyStore) Save(ctx context.Context, st grid.StoredState) error {
	if s.frozen.Load() {
		return errors.New("disk gone")
	}
	return s.Store.Save(ctx, st)
}

// Issue 9, bug 2: a restart from a store saved before the crash reused the
// client order IDs of the orders the last run sent after that save (and
// canceled its newer live orders as orphans). Over many seeds: one grid
// trades a random walk, its store stops saving at a random moment, the
// process stops without saving, and a new process carries on from the
// stale store. No client order ID may be sent twice, and no level may
// hold two live orders. GRIDMESH_RESTART_SEEDS runs more seeds.
func TestRestartFromAStaleStoreReusesNoClientOrderID(t *testing.T) {
	defer goleak.VerifyNone(t)
	seeds := 6
	if s := os.Getenv("GRIDMESH_RESTART_SEEDS"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err)
		seeds = n
	}
	for seed := 1; seed <= seeds; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { restartFromStaleStore(t, uint64(seed)) })
	}
}

func restartFromStaleStore(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 42))
	v := newRecordingVenue(t, 50*time.Millisecond, nil)
	fs, err := grid.NewJSONFileStore(t.TempDir() + "/grid.json")
	require.NoError(t, err)
	store := &flakyStore{Store: fs}
	price := int64(1_000_000) // ticks of 0.1
	run := func(steps int, freezeAt int) {
		feed, err := pricefeed.NewFeed(btcRules.Symbol)
		require.NoError(t, err)
		defer feed.Close()
		eng, err := grid.New(btcRules, grid.WithGridID("crash"), grid.WithStartPrice(dec("100000")),
			grid.WithBounds(dec("99000"), dec("101000"), 20), grid.WithAmount(dec("500")), grid.WithWindows(3, 3, 1))
		require.NoError(t, err)
		runner, err := grid.NewRunner(eng, v, grid.WithPriceFeed(feed), grid.WithStore(store, 10*time.Millisecond),
			grid.WithTimerInterval(10*time.Millisecond), grid.WithCancelOnStop(false))
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- runner.Run(ctx) }()
		for i := 0; i < steps; i++ {
			if i == freezeAt {
				store.frozen.Store(true)
			}
			price += (rng.Int64N(5) - 2) * 300
			price = min(max(price, 990_500), 1_009_500)
			require.NoError(t, v.SetPriceTicks(context.Background(), exchange.Ticks(price)))
			feed.Publish(exchange.Ticks(price), time.Now())
			time.Sleep(time.Duration(5+rng.IntN(20)) * time.Millisecond)
		}
		cancel()
		require.NoError(t, <-done)
		store.frozen.Store(false)
	}
	run(60, 20+rng.IntN(30))
	run(60, 1000)
	assert.Empty(t, v.reused(t), "seed %d: client order IDs sent twice", seed)
	assertOneOrderPerLevel(t, v, "crash")
}

// Issue 9, bug 4: stopping the runner left entries that were in flight
// live, even with WithCancelOnStop: only acknowledged orders were canceled
// and answers arriving after the context ended were dropped. With every
// placement taking 150 ms on the wire (it lands whatever its sender does),
// the stop comes while the entries are in flight; afterwards no entry of
// the grid may be left on the venue.
func TestStopWithEntriesInFlightLeavesNoEntryLive(t *testing.T) {
	defer goleak.VerifyNone(t)
	v := newRecordingVenue(t, 50*time.Millisecond, nil)
	feed, err := pricefeed.NewFeed(btcRules.Symbol)
	require.NoError(t, err)
	defer feed.Close()
	eng, err := grid.New(btcRules, grid.WithGridID("inflight"), grid.WithStartPrice(dec("100000")),
		grid.WithBounds(dec("90000"), dec("110000"), 20), grid.WithAmount(dec("500")), grid.WithWindows(3, 3, 1),
		grid.WithInitialPosition(false))
	require.NoError(t, err)
	idle := make(chan struct{}, 1)
	runner, err := grid.NewRunner(eng, v, grid.WithPriceFeed(feed), grid.WithStopTimeout(5*time.Second),
		grid.WithIdleHook(func(grid.IdleState) {
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
	<-idle // started: the three entries are on the venue
	v.mu.Lock()
	v.slow, v.onTheWire = 150*time.Millisecond, make(chan string, 16)
	v.mu.Unlock()
	// The price falls two levels: new entries go out (in flight for 150 ms)
	// and the window's cancels too. Stop while they are on their way.
	require.NoError(t, v.SetPriceTicks(context.Background(), 980_000))
	feed.Publish(980_000, time.Now())
	for id := range v.onTheWire {
		if _, ref, err := grid.ParseClientOrderID(id); err == nil && ref.Level <= 6 {
			break // a new entry is on the wire
		}
	}
	cancel()
	require.NoError(t, <-done)
	open, err := v.OpenOrders(context.Background(), btcRules.Symbol)
	require.NoError(t, err)
	for _, o := range open {
		assert.Equal(t, exchange.Sell, o.Side, "entry %s left live after stop", o.ClientOrderID)
	}
}

// NewRunner takes the venue's receive window, and refuses a shorter one.
func TestRunnerUsesTheVenuesReceiveWindow(t *testing.T) {
	v := newRecordingVenue(t, 5*time.Second, nil)
	eng, err := grid.New(btcRules, grid.WithStartPrice(dec("100000")), grid.WithBounds(dec("90000"), dec("110000"), 20),
		grid.WithAmount(dec("500")), grid.WithReceiveWindow(time.Second))
	require.NoError(t, err)
	_, err = grid.NewRunner(eng, v)
	require.ErrorIs(t, err, grid.ErrInvalidOption)
	assert.Contains(t, err.Error(), "WithReceiveWindow = 1s: is shorter than the venue's receive window 5s")
}
