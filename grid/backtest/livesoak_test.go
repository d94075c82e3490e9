package backtest

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/sim"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/pricefeed"
	"github.com/gridmesh/gridmesh/risk"
)

// The live-path chaos soak (issue 12, item 4): the real grid.Runner and
// exchange.Executor — several grids on one shared executor — against a
// sim.Venue with its fault injection, inside testing/synctest so that the
// runners' timers, the executor's back-offs and the venue's delays run on a
// virtual clock. A seed draws the faults and the soak's actions; the
// goroutines' interleaving is the scheduler's. Whatever it is, the soak
// checks that no slot ever has two live orders on the venue, that no client
// order ID reaches the venue twice, that the engines' books equal the
// venue's at quiet points (every slot's order and fills, the position, the
// gross equity change exactly; the fees at most the venue's: a fill first
// learned from a query or a reconciliation carries no fee), that a hard
// stop closes the position and a pause that cancels entries leaves none,
// that a stop leaves no entry live it should have canceled and settles
// within its timeout, and (synctest and goleak) that no goroutine is left.
// A restart from a stale store (saves failing for a while before the crash)
// is held to all of it too: the engine books what happened after the save
// from the venue's recent fills. No grid limit order may reach the venue
// when the price has already left its window by more than the hysteresis
// (a stale placement, livesoak_stale_test.go).
//
// GRIDMESH_LIVESOAK_SEEDS=n runs seeds 1..n of each profile (default: a
// few, for CI); GRIDMESH_LIVESOAK_SEED=s runs one seed, of the profile
// GRIDMESH_LIVESOAK_PROFILE names (default "mixed"); GRIDMESH_LIVESOAK_TRACE=1
// logs the engines' and runners' logs too. The profiles: "mixed" draws
// everything from the seed; "hardstops" makes every grid's risk trigger a
// hard stop that closes the position, toggled often, with market orders
// lost on their way half the time (a hard stop's close of unknown outcome
// is rare in "mixed"); "crowd" runs 8 to 20 grids on the executor under
// tight declared limits and checks that none starves (livesoak_crowd_test.go).

// liveSoakCISeeds is how many seeds of each profile CI runs.
var liveSoakCISeeds = map[string]uint64{"mixed": 48, "hardstops": 24, "crowd": 8}

// liveSoakSharedRoom is the least room another program leaves the grids
// of the shared window of 200 per 10 s (GRIDMESH_LIVESOAK_SHARED_ROOM;
// default 10): a seed's room is this plus seed/4%26, and 0 means no shared
// window. At 10, 1,000 seeds of "mixed" and of "hardstops" pass; at 15 and
// at 5, 300 of "mixed". The findings once noted here are closed: the query
// held for minutes at 15 (seeds 314 and 626) came from the issue-12 branch
// before it met the mainline's lanes and runner fixes and has not been seen
// since; the request "past a full window" at 15 (seed 314, 1 run in 30) was
// the check's own error, a batch released as the window opened and counted
// late behind its first order's time on the wire (livesoak_usage_test.go);
// and a window that ran full no longer reopens with every waiting request
// at once (the executor sends one and waits for its count). From about 5
// down the soak asks more than the window holds, for any executor: a
// stopping grid's cancels and queries, in its fair part of 5 units per
// 10 s shared by three grids, can need more than the stop's 30 s, the more
// so when a 429 fault takes one of those windows (seed 106, its room
// exactly the base: at 5 about 5 runs in 100, at 3 4 in 10, at 10 none in
// 30); and at 1 a quiet point's wait, which counts on each grid reconciling
// within it, ends with books not yet reconciled (seed 106: 10 in 10).
var liveSoakSharedRoom = 10

func TestLiveSoak(t *testing.T) {
	if v := os.Getenv("GRIDMESH_LIVESOAK_SHARED_ROOM"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "GRIDMESH_LIVESOAK_SHARED_ROOM")
		liveSoakSharedRoom = n
	}
	defer goleak.VerifyNone(t)
	trace := os.Getenv("GRIDMESH_LIVESOAK_TRACE") != ""
	for _, profile := range []string{"mixed", "hardstops", "crowd"} {
		first, n := uint64(1), liveSoakCISeeds[profile]
		if s := os.Getenv("GRIDMESH_LIVESOAK_SEEDS"); s != "" {
			v, err := strconv.ParseUint(s, 10, 64)
			require.NoError(t, err, "GRIDMESH_LIVESOAK_SEEDS")
			n = v
		}
		if s := os.Getenv("GRIDMESH_LIVESOAK_SEED"); s != "" {
			if p := os.Getenv("GRIDMESH_LIVESOAK_PROFILE"); profile != p && (p != "" || profile != "mixed") {
				continue
			}
			v, err := strconv.ParseUint(s, 10, 64)
			require.NoError(t, err, "GRIDMESH_LIVESOAK_SEED")
			first, n = v, 1
		}
		var failed atomic.Int64
		t.Run(profile, func(t *testing.T) {
			for seed := first; seed < first+n; seed++ {
				t.Run(fmt.Sprint(seed), func(t *testing.T) {
					t.Parallel()
					synctest.Test(t, func(t *testing.T) {
						s := newLiveSoak(t, seed, profile, trace)
						s.run()
						if len(s.violations) > 0 {
							failed.Add(1)
							t.Errorf("seed %d (%s): %d violations:\n  %s\nplan: %s\ntrace:\n  %s\nrerun: GRIDMESH_LIVESOAK_PROFILE=%s GRIDMESH_LIVESOAK_SEED=%d GRIDMESH_LIVESOAK_TRACE=1 go test ./grid/backtest -run 'TestLiveSoak$' -count=1 -v",
								seed, profile, len(s.violations), strings.Join(s.violations, "\n  "), s.p, strings.Join(s.trace, "\n  "), profile, seed)
						}
					})
				})
			}
		})
		if f := failed.Load(); f > 0 {
			t.Errorf("%s: %d of %d seeds failed", profile, f, n)
		}
	}
}

// liveSoakPlan is what a seed draws before the run.
type liveSoakPlan struct {
	seed         uint64
	profile      string
	grids        int
	mode         grid.Mode
	recv, ack    time.Duration
	reconcile    time.Duration
	faults       sim.Faults
	partial      exchange.Steps
	tradeThrough bool
	steps        int
	wireP, busyP float64
	lostMarket   float64 // chance that a market order is lost on its way (unknown outcome)
	workers      int
	sharedRoom   int  // what another program on the IP leaves of a 200-per-10 s window (0: no shared window)
	tradingHalts bool // the venue halts the symbol's trading now and then
}

func (p liveSoakPlan) String() string {
	return fmt.Sprintf("grids %d %s, recv %s, ack %s, reconcile %s, partial %d, through %v, steps %d, wire %.2f, 503 %.2f, workers %d, lost market orders %.1f, shared window room %d, trading halts %v, faults %+v",
		p.grids, p.mode, p.recv, p.ack, p.reconcile, p.partial, p.tradeThrough, p.steps, p.wireP, p.busyP, p.workers, p.lostMarket, p.sharedRoom, p.tradingHalts, p.faults)
}

func drawLiveSoakPlan(seed uint64, profile string) liveSoakPlan {
	r := rand.New(rand.NewPCG(seed, 0x11fe_50a4))
	p := liveSoakPlan{seed: seed, profile: profile, grids: 1 + r.IntN(3), steps: 120 + r.IntN(120), workers: 1 + r.IntN(4)}
	p.mode = []grid.Mode{grid.Long, grid.Short, grid.Neutral}[r.IntN(3)]
	p.recv = time.Duration(200+r.IntN(1800)) * time.Millisecond
	// An ack timeout and a reconciliation interval such that three grids'
	// queries and reconciliations stay within the executor's default
	// request weight (1,200 a minute): far shorter ones keep every
	// placement waiting in the limiter past its ack timeout, and the grids
	// query more than they trade.
	p.ack = time.Duration(1000+r.IntN(3000)) * time.Millisecond
	p.reconcile = time.Duration(5+r.IntN(6)) * time.Second
	if r.IntN(3) == 0 {
		p.partial = exchange.Steps(1 + r.IntN(3))
	}
	p.tradeThrough = r.IntN(2) == 0
	u := func(max float64) float64 { return r.Float64() * max }
	p.faults = sim.Faults{Seed: seed, LostResponse: u(0.08), FailedUnknown: u(0.05), InsufficientMargin: u(0.02),
		DuplicateUpdate: u(0.05), ExchangeCancel: u(0.03)}
	if r.IntN(3) > 0 { // a third of the seeds keep every update (the fees must then match exactly)
		p.faults.DropUpdate, p.faults.DelayUpdate, p.faults.ReorderUpdate, p.faults.Disconnect = u(0.03), u(0.05), u(0.05), u(0.03)
	}
	p.wireP, p.busyP = u(0.1), u(0.03)
	if r.IntN(3) == 0 {
		p.lostMarket = 0.3
	}
	if profile == "hardstops" {
		p.lostMarket = 0.5
	}
	return p
}

// liveSoak is one seed's run.
type liveSoak struct {
	t          *testing.T
	p          liveSoakPlan
	r          *rand.Rand
	v          *soakVenue
	x          *exchange.Executor
	feed       *pricefeed.Monitor
	grids      []*soakGrid
	price      exchange.Ticks
	initial    exchange.Money
	stale      int         // stops with a stale store (saves failing since a moment before): restarts from it
	noState    int         // restarts from a store holding no books (its first save failed)
	halts      *rand.Rand  // draws the venue's trading halts (nil: none)
	crowd      *crowdWatch // the crowd profile's watch of the grids' waits (nil in the others)
	trace      []string
	violations []string
	logTrace   bool
}

// soakGrid is one grid: its options stay, its engine and runner change at
// every restart.
type soakGrid struct {
	id           string
	store        *soakStore
	start        exchange.Ticks
	saveEvery    time.Duration
	cancelOnStop bool
	hardStop     bool // the monitor stops the grid for good (else it pauses entries)
	closePos     bool
	pauseCancels bool
	trigger      atomic.Bool
	began        atomic.Bool // the run got past its start (its idle hook ran)
	books        booksWatch  // when its risk monitors last saw its books

	eng      *grid.Engine
	cancel   context.CancelFunc
	done     chan error
	stopping bool
	running  bool
	restarts int
}

const soakLevel = 1000 // ticks (100 USDT) between levels

func newLiveSoak(t *testing.T, seed uint64, profile string, trace bool) *liveSoak {
	p := drawLiveSoakPlan(seed, profile)
	if seed%4 == 2 { // apart from the seed's draws, which stay as they were
		p.sharedRoom = liveSoakSharedRoom + int(seed/4%26)
	}
	p.tradingHalts = seed%4 == 1
	if profile == "crowd" {
		crowdPlan(&p)
	}
	s := &liveSoak{t: t, p: p, r: rand.New(rand.NewPCG(seed, 0xa11ce)), price: 1_000_000, logTrace: trace}
	if p.tradingHalts {
		s.halts = rand.New(rand.NewPCG(seed, 0x4a17))
	}
	sc := sim.DefaultCoreConfig(btcRules)
	sc.InitialBalance, _ = btcRules.DecimalToMoney(dec("1000000"))
	sc.PartialFill, sc.TradeThrough = p.partial, p.tradeThrough
	s.initial = sc.InitialBalance
	venue, err := sim.NewVenue(sim.VenueConfig{Core: sc, Faults: p.faults})
	require.NoError(t, err)
	t.Cleanup(func() { venue.Close() })
	require.NoError(t, venue.SetPriceTicks(context.Background(), s.price))
	s.v = &soakVenue{Venue: venue, recv: p.recv, rng: rand.New(rand.NewPCG(seed, 0x3e7)), wireP: p.wireP,
		wireMax: p.recv / 2, busyP: p.busyP, lostMarket: p.lostMarket, used: map[string]int{}}
	s.v.stale.setMarket(s.price)
	xopts := []exchange.ExecutorOption{exchange.WithRequestTimeout(p.recv), exchange.WithExecutorRand(rand.New(rand.NewPCG(seed, 7)))}
	if profile == "crowd" {
		s.crowd = newCrowdWatch(p.reconcile, s.v.stale.outside)
		s.v.crowd = s.crowd
		xopts = append(xopts, exchange.WithLimits(crowdWindows()...))
	}
	if p.sharedRoom > 0 {
		s.v.shared = &sharedIP{max: 200, room: p.sharedRoom, interval: 10 * time.Second}
		xopts = append(xopts, exchange.WithLimits(s.v.shared.window()))
	}
	s.x, err = exchange.NewExecutor(s.v, xopts...)
	require.NoError(t, err)
	s.feed, err = pricefeed.NewMonitor(btcRules.Symbol)
	require.NoError(t, err)
	t.Cleanup(s.feed.Close)
	dir := t.TempDir()
	for i := range p.grids {
		fs, err := grid.NewJSONFileStore(fmt.Sprintf("%s/g%d.json", dir, i))
		require.NoError(t, err)
		g := &soakGrid{id: fmt.Sprintf("g%d", i), store: &soakStore{Store: fs}, start: s.price,
			saveEvery: time.Duration(1+s.r.IntN(5)) * time.Second, cancelOnStop: s.r.IntN(4) > 0,
			hardStop: s.r.IntN(3) == 0, closePos: s.r.IntN(2) == 0, pauseCancels: s.r.IntN(2) == 0}
		if profile == "hardstops" {
			g.hardStop, g.closePos = true, true
		}
		s.grids = append(s.grids, g)
	}
	return s
}

func (s *liveSoak) logf(format string, a ...any) {
	s.trace = append(s.trace, time.Now().UTC().Format("15:04:05.000 ")+fmt.Sprintf(format, a...))
}

func (s *liveSoak) fail(format string, a ...any) {
	s.violations = append(s.violations, time.Now().UTC().Format("15:04:05.000 ")+fmt.Sprintf(format, a...))
}

// startGrid builds a new engine and runner for g (a first start or a
// restart: the same options, store and venue) and runs it.
func (s *liveSoak) startGrid(g *soakGrid) {
	if g.restarts > 0 && !s.storeHasBooks(g) {
		// Its first save failed (the crash came at once): the restart is
		// one without a store, which takes over no books of the last run
		// (see the grid package: a restart without a store).
		s.noState++
		s.logf("%s: restarts with no books stored", g.id)
	}
	g.store.frozen.Store(false)
	g.books.at.Store(time.Now().UnixNano())
	mon := risk.MonitorFunc{Label: "soak", Fn: func(o risk.Observation) risk.Status {
		g.books.observe(o)
		return risk.Status{Triggered: g.trigger.Load(), Reason: "the soak's trigger"}
	}}
	lo, hi := btcRules.TicksToPrice(g.start-20*soakLevel), btcRules.TicksToPrice(g.start+20*soakLevel)
	opts := []grid.Option{grid.WithGridID(g.id), grid.WithMode(s.p.mode), grid.WithStartPrice(btcRules.TicksToPrice(g.start)),
		grid.WithBounds(lo, hi, 40), grid.WithAmount(dec("500")), grid.WithWindows(3, 3, 1),
		grid.WithAckTimeout(s.p.ack), grid.WithRiskMonitors(0, mon)}
	// The grids share BTCUSDT on one account (and grid.Runner refuses
	// grids on one symbol of one venue without it).
	opts = append(opts, grid.WithSharedSymbol())
	if g.hardStop {
		opts = append(opts, grid.WithRiskHardStop(g.closePos))
	} else {
		opts = append(opts, grid.WithPauseCancelsEntries(g.pauseCancels))
	}
	if s.logTrace {
		opts = append(opts, grid.WithLogger(slog.New(slog.NewTextHandler(s.t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})).With("g", g.id)))
	}
	eng, err := grid.New(btcRules, opts...)
	require.NoError(s.t, err)
	laneOpt, closeLane := grid.WithExecutor(s.x), func() {}
	if s.crowd != nil {
		laneOpt, closeLane = s.crowdRunnerOptions(g)
	}
	ropts := []grid.RunnerOption{laneOpt, grid.WithPriceFeed(s.feed), grid.WithStore(g.store, g.saveEvery),
		grid.WithTimerInterval(100 * time.Millisecond), grid.WithReconcileInterval(s.p.reconcile),
		grid.WithWorkers(s.p.workers), grid.WithCancelOnStop(g.cancelOnStop), grid.WithStopTimeout(30 * time.Second),
		grid.WithRestartSettle(s.p.recv)}
	if s.logTrace {
		ropts = append(ropts, grid.WithRunnerLogger(slog.New(slog.NewTextHandler(s.t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})).With("g", g.id)))
	}
	g.began.Store(false)
	ropts = append(ropts, grid.WithIdleHook(func(grid.IdleState) { g.began.Store(true) }))
	runner, err := grid.NewRunner(eng, s.v, ropts...)
	require.NoError(s.t, err)
	ctx, cancel := context.WithCancel(context.Background())
	g.eng, g.cancel, g.done, g.running, g.stopping = eng, cancel, make(chan error, 1), true, false
	go func() {
		err := runner.Run(ctx)
		closeLane()
		g.done <- err
	}()
	s.logf("%s: started (restart %d)", g.id, g.restarts)
}

// storeHasBooks reports whether g's store holds a state with something of
// the grid's in it (books or slots), not just the generations reserved at
// its start.
func (s *liveSoak) storeHasBooks(g *soakGrid) bool {
	st, err := g.store.Store.Load(context.Background())
	if err != nil {
		return false
	}
	return st.Books != (grid.StoredBooks{}) || len(st.Slots) > 0 || st.Initial.Gen > 0 || st.Terminal != nil
}
