package exchange

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// binanceSimWindows is Binance USDⓈ-M's declaration as its adapter makes it
// (exchange/binance/limits.go; protocol sheet §3).
func binanceSimWindows() []LimitWindow {
	return []LimitWindow{
		{Name: "ORDERS_10S", Per: PerAccount, Interval: 10 * time.Second, Max: 300, Costs: []OpCost{
			{Op: OpPlace, PerOrder: 1}, {Op: OpBatchPlace, Units: 5},
		}},
		{Name: "ORDERS_1M", Per: PerAccount, Interval: time.Minute, Max: 1200, Costs: []OpCost{
			{Op: OpPlace, PerOrder: 1}, {Op: OpBatchPlace, Units: 1},
		}},
		{Name: "REQUEST_WEIGHT_1M", Per: PerIP, Interval: time.Minute, Max: 2400, Costs: []OpCost{
			{Op: OpBatchPlace, Units: 5}, {Op: OpCancel, Units: 1}, {Op: OpBatchCancel, Units: 1},
			{Op: OpQuery, Units: 1}, {Op: OpOpenOrders, Units: 1}, {Op: OpFills, Units: 5},
			{Op: OpAccount, Units: 10}, {Op: OpPositions, Units: 10}, {Op: OpRules, Units: 1},
		}},
	}
}

// simVenue is an in-memory venue with Binance's limits: it books open orders
// per symbol, counts every window as Binance does (fixed windows aligned to
// the clock), refuses a request that would pass one with a 429, and reports
// its counts on every response, as Binance's headers do.
type simVenue struct {
	*scriptedExchange
	windows []LimitWindow

	mu      sync.Mutex
	open    map[string]map[string]bool // symbol → client order IDs
	count   map[string]int             // window → units in its current fixed window
	foreign map[string]int             // window → units another program uses at the start of each fixed window
	start   map[string]time.Time       // window → start of its current fixed window
	refused int
}

func newSimVenue(clk ExecutorClock, windows []LimitWindow) *simVenue {
	return &simVenue{scriptedExchange: newScripted(clk), windows: windows,
		open: map[string]map[string]bool{}, count: map[string]int{}, start: map[string]time.Time{}, foreign: map[string]int{}}
}

func (v *simVenue) MaxBatch() int { return 5 }

// units is what a request of op carrying orders takes from w.
func simUnits(w LimitWindow, op string, orders int) int {
	c, _ := w.cost(op)
	return c.Units + c.PerOrder*orders
}

// admit counts a request against the venue's windows, or refuses it.
func (v *simVenue) admit(ctx context.Context, op string, cids []string) error {
	now := v.clock.Now()
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, w := range v.windows {
		if st := now.Truncate(w.Interval); !st.Equal(v.start[w.Name]) {
			v.start[w.Name], v.count[w.Name] = st, v.foreign[w.Name]
		}
		if v.count[w.Name]+simUnits(w, op, len(cids)) > w.Max {
			v.refused++
			return &RateLimitError{RetryAfter: v.start[w.Name].Add(w.Interval).Sub(now)}
		}
	}
	var us []Usage
	for _, w := range v.windows {
		v.count[w.Name] += simUnits(w, op, len(cids))
		us = append(us, Usage{Window: w.Name, Used: v.count[w.Name], At: now, Reset: v.start[w.Name].Add(w.Interval)})
	}
	ReportUsage(ctx, us...)
	return nil
}

func (v *simVenue) call(ctx context.Context, op string, cids ...string) error {
	if _, err := v.record(ctx, op, cids...); err != nil {
		return err
	}
	return v.admit(ctx, op, cids)
}

func (v *simVenue) book(sym, cid string, live bool) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.open[sym] == nil {
		v.open[sym] = map[string]bool{}
	}
	was := v.open[sym][cid]
	if live {
		v.open[sym][cid] = true
	} else {
		delete(v.open[sym], cid)
	}
	return was
}

func (v *simVenue) PlaceOrder(ctx context.Context, req OrderRequest) (Order, error) {
	if err := v.call(ctx, OpPlace, req.ClientOrderID); err != nil {
		return Order{}, err
	}
	v.book(req.Symbol, req.ClientOrderID, true)
	return Order{Symbol: req.Symbol, ClientOrderID: req.ClientOrderID, Status: StatusNew}, nil
}

func (v *simVenue) PlaceOrders(ctx context.Context, reqs []OrderRequest) ([]BatchResult, error) {
	cids := make([]string, len(reqs))
	for i, r := range reqs {
		cids[i] = r.ClientOrderID
	}
	if err := v.call(ctx, OpBatchPlace, cids...); err != nil {
		return nil, err
	}
	out := make([]BatchResult, len(reqs))
	for i, r := range reqs {
		v.book(r.Symbol, r.ClientOrderID, true)
		out[i].Order = Order{Symbol: r.Symbol, ClientOrderID: r.ClientOrderID, Status: StatusNew}
	}
	return out, nil
}

func (v *simVenue) CancelOrder(ctx context.Context, req CancelRequest) (Order, error) {
	if err := v.call(ctx, OpCancel, req.ClientOrderID); err != nil {
		return Order{}, err
	}
	if !v.book(req.Symbol, req.ClientOrderID, false) {
		return Order{}, ErrOrderNotFound
	}
	return Order{Symbol: req.Symbol, ClientOrderID: req.ClientOrderID, Status: StatusCanceled}, nil
}

func (v *simVenue) CancelOrders(ctx context.Context, reqs []CancelRequest) ([]BatchResult, error) {
	cids := make([]string, len(reqs))
	for i, r := range reqs {
		cids[i] = r.ClientOrderID
	}
	if err := v.call(ctx, OpBatchCancel, cids...); err != nil {
		return nil, err
	}
	out := make([]BatchResult, len(reqs))
	for i, r := range reqs {
		if !v.book(r.Symbol, r.ClientOrderID, false) {
			out[i].Err = ErrOrderNotFound
			continue
		}
		out[i].Order = Order{Symbol: r.Symbol, ClientOrderID: r.ClientOrderID, Status: StatusCanceled}
	}
	return out, nil
}

func (v *simVenue) OpenOrders(ctx context.Context, symbol string) ([]Order, error) {
	return nil, v.call(ctx, OpOpenOrders)
}

func (v *simVenue) Positions(ctx context.Context, symbol string) ([]Position, error) {
	return nil, v.call(ctx, OpPositions)
}

func (v *simVenue) Fills(ctx context.Context, symbol string, since time.Time) ([]Fill, error) {
	return nil, v.call(ctx, OpFills)
}

func (v *simVenue) liveOrders() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := 0
	for _, m := range v.open {
		n += len(m)
	}
	return n
}

// simConfig sets up a run of many grids on one executor.
type simConfig struct {
	grids     int
	entries   int           // orders each grid places at start, in one batch
	tick      time.Duration // a grid moves its window (one cancel, one place) about this often
	duration  time.Duration // the grids stop then
	laneQueue int
	// validTicks is how many window moves a placement survives: later it
	// is stale, and dropped unsent.
	validTicks int
	// foreignWeight is the IP weight another program on the same IP uses
	// at the start of every minute: only the venue's usage reports reveal
	// it.
	foreignWeight int
}

// simResult is what a run measured.
type simResult struct {
	maxFirstOrder     time.Duration // the latest of the grids' first orders reaching the venue
	reconcileInterval time.Duration
	minRounds         int     // fewest reconciliation rounds of a grid (each once per interval)
	maxRounds         int     // most
	maxRoundLatency   float64 // longest round, as a fraction of the interval
	highWater         int     // most requests queued in one lane at once
	highWaterOrders   int     // most placement orders queued in one lane at once
	full, dropped     int     // placements refused for a full lane; dropped unsent (stale, expired)
	placed            int     // orders the venue accepted
	liveAfterStop     int
	refused           int      // the venue's 429s
	violations        []string // sliding windows that held more than their Max
	calls             int
}

// simGrid is one grid's view: its lane and the orders it believes live.
type simGrid struct {
	sym  string
	lane *Lane
	mu   sync.Mutex
	live map[string]bool // client order ID → being canceled
	seq  int
	tick int
	full int
	drop int
}

func (g *simGrid) nextID() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.seq++
	return fmt.Sprintf("%s-%d", g.sym, g.seq)
}

// runLaneSim runs cfg.grids grids, each with its lane on one executor over
// a simVenue with Binance's limits, on a virtual clock.
func runLaneSim(t testing.TB, cfg simConfig) simResult {
	windows := binanceSimWindows()
	clk := newBarrierClock(1) // the test goroutine, until every grid has started
	v := newSimVenue(clk, windows)
	v.foreign["REQUEST_WEIGHT_1M"] = cfg.foreignWeight
	x, err := NewExecutor(v, WithExecutorClock(clk), WithLimits(windows...), WithRetryPolicy(RetryPolicy{MaxAttempts: 3, BaseBackoff: time.Second, MaxBackoff: 5 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	grids := make([]*simGrid, cfg.grids)
	for i := range grids {
		sym := fmt.Sprintf("S%03d", i)
		l, err := x.Lane(sym, WithLaneQueue(cfg.laneQueue))
		if err != nil {
			t.Fatal(err)
		}
		grids[i] = &simGrid{sym: sym, lane: l, live: map[string]bool{}}
	}
	interval := x.MinReconcileInterval(OpOpenOrders, OpPositions, OpFills)
	end := execEpoch.Add(cfg.duration)
	var wg sync.WaitGroup
	var mu sync.Mutex
	rounds := make([][]time.Duration, cfg.grids) // latency of each round
	var errs []error
	keep := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	spawn := func(f func()) {
		clk.Join()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer clk.Leave()
			f()
		}()
	}
	place := func(g *simGrid, cid string, tick int) {
		ctx := WithSendWithin(context.Background(), 10*time.Second)
		ctx = WithValidUntil(ctx, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return g.tick <= tick+cfg.validTicks })
		_, err := g.lane.Place(ctx, OrderRequest{Symbol: g.sym, ClientOrderID: cid})
		g.mu.Lock()
		defer g.mu.Unlock()
		switch {
		case err == nil:
			g.live[cid] = false
		case errors.Is(err, ErrLaneFull):
			g.full++
		case errors.Is(err, ErrNotSent):
			g.drop++
		default:
			keep(err)
		}
	}
	cancel := func(g *simGrid, cid string) {
		_, err := g.lane.Cancel(context.Background(), CancelRequest{Symbol: g.sym, ClientOrderID: cid})
		g.mu.Lock()
		defer g.mu.Unlock()
		switch {
		case err == nil, errors.Is(err, ErrOrderNotFound):
			delete(g.live, cid)
		case errors.Is(err, ErrNotSent):
			g.live[cid] = false
		default:
			keep(err)
		}
	}
	for gi, g := range grids {
		// The trading loop: the start batch, then a window move every tick
		// (staggered), then the stop.
		spawn(func() {
			ctx := context.Background()
			reqs := make([]OrderRequest, cfg.entries)
			for i := range reqs {
				reqs[i] = OrderRequest{Symbol: g.sym, ClientOrderID: g.nextID()}
			}
			for i, r := range g.lane.PlaceBatch(ctx, reqs) {
				if r.Err != nil {
					keep(r.Err)
					continue
				}
				g.mu.Lock()
				g.live[reqs[i].ClientOrderID] = false
				g.mu.Unlock()
			}
			step := cfg.tick + time.Duration(gi%7)*cfg.tick/7
			for clk.Now().Add(step).Before(end) {
				_ = clk.Sleep(ctx, step)
				g.mu.Lock()
				g.tick++
				tick := g.tick
				var oldest string
				ids := make([]string, 0, len(g.live))
				for id, canceling := range g.live {
					if !canceling {
						ids = append(ids, id)
					}
				}
				sort.Slice(ids, func(i, j int) bool { return simSeq(ids[i]) < simSeq(ids[j]) })
				if len(ids) > 0 {
					oldest = ids[0]
					g.live[oldest] = true
				}
				g.mu.Unlock()
				if oldest != "" {
					spawn(func() { cancel(g, oldest) })
				}
				cid := g.nextID()
				spawn(func() { place(g, cid, tick) })
			}
			_ = clk.Sleep(ctx, end.Sub(clk.Now()))
			// Stop: no new placement, then cancel every live order.
			if err := g.lane.Drain(ctx); err != nil {
				keep(err)
			}
			g.mu.Lock()
			var reqsC []CancelRequest
			for id := range g.live {
				reqsC = append(reqsC, CancelRequest{Symbol: g.sym, ClientOrderID: id})
			}
			g.mu.Unlock()
			for i, r := range g.lane.CancelBatch(ctx, reqsC) {
				if r.Err != nil && !errors.Is(r.Err, ErrOrderNotFound) {
					keep(r.Err)
					continue
				}
				g.mu.Lock()
				delete(g.live, reqsC[i].ClientOrderID)
				g.mu.Unlock()
			}
			if err := g.lane.Drain(ctx); err != nil {
				keep(err)
			}
			_ = g.lane.Close()
		})
		// The reconciliation loop: one round per interval, staggered.
		spawn(func() {
			ctx := context.Background()
			next := execEpoch.Add(time.Duration(gi) * interval / time.Duration(cfg.grids))
			for next.Add(interval).Before(end) {
				_ = clk.Sleep(ctx, next.Sub(clk.Now()))
				start := clk.Now()
				_, err1 := g.lane.OpenOrders(ctx, g.sym)
				_, err2 := g.lane.Positions(ctx, g.sym)
				_, err3 := g.lane.Fills(ctx, g.sym, execEpoch)
				if err := errors.Join(err1, err2, err3); err != nil {
					keep(err)
				}
				mu.Lock()
				rounds[gi] = append(rounds[gi], clk.Now().Sub(start))
				mu.Unlock()
				next = next.Add(interval)
			}
		})
	}
	clk.Leave()
	wg.Wait()
	for _, err := range errs {
		t.Errorf("unexpected error: %v", err)
	}
	for _, w := range x.limits.wins {
		if w.inflight != 0 {
			t.Errorf("window %s: %d units still counted on their way", w.def.Name, w.inflight)
		}
	}

	res := simResult{reconcileInterval: interval, liveAfterStop: v.liveOrders(), minRounds: -1}
	calls := v.Calls()
	res.calls = len(calls)
	v.mu.Lock()
	res.refused = v.refused
	v.mu.Unlock()
	first := map[string]time.Time{}
	for _, c := range calls {
		if c.op != OpPlace && c.op != OpBatchPlace {
			continue
		}
		res.placed += len(c.cids)
		sym := c.cids[0][:strings.IndexByte(c.cids[0], '-')]
		if _, ok := first[sym]; !ok {
			first[sym] = c.at
		}
	}
	for _, g := range grids {
		at, ok := first[g.sym]
		if !ok {
			t.Errorf("grid %s never placed an order", g.sym)
			continue
		}
		res.maxFirstOrder = max(res.maxFirstOrder, at.Sub(execEpoch))
		if debugSim && at.Sub(execEpoch) > 10*time.Second {
			t.Logf("lane %s first at %s", g.sym, at.Sub(execEpoch))
		}
		st := g.lane.Stats()
		res.highWater = max(res.highWater, st.HighWater)
		res.highWaterOrders = max(res.highWaterOrders, st.HighWaterOrders)
		res.full += g.full
		res.dropped += g.drop
	}
	for _, rs := range rounds {
		if res.minRounds < 0 || len(rs) < res.minRounds {
			res.minRounds = len(rs)
		}
		res.maxRounds = max(res.maxRounds, len(rs))
		for _, d := range rs {
			res.maxRoundLatency = max(res.maxRoundLatency, float64(d)/float64(interval))
		}
	}
	for _, w := range windows {
		lw := []RateLimit{{Scope: w.Name, Interval: w.Interval, Limit: w.Max}}
		res.violations = append(res.violations, windowViolations(calls, lw, func(c fakeCall, _ string) int {
			return simUnits(w, c.op, len(c.cids))
		})...)
	}
	return res
}

var debugSim = false

// simSeq is the sequence number of a sim client order ID.
func simSeq(cid string) int {
	n := 0
	for _, r := range cid[strings.IndexByte(cid, '-')+1:] {
		n = n*10 + int(r-'0')
	}
	return n
}

// TestHundredGridsShareOneExecutor: 100 grids, each on its lane of one
// executor under Binance's declared limits, start with a batch of entries,
// move their windows every few seconds — more than the limits allow, so
// the lanes fill and stale placements are dropped — reconcile once per
// interval, and stop; another program on the same IP uses 1,000 of the
// 2,400 weight every minute, which only the venue's usage reports reveal.
// Every grid places its first order within 10 s, every grid reconciles in
// every interval, queues stay within their bound, nothing is left live
// after the stop, and no window of the venue's is ever exceeded (without
// the usage reports, the venue refuses a few requests).
func TestHundredGridsShareOneExecutor(t *testing.T) {
	if testing.Short() {
		t.Skip("long simulation")
	}
	cfg := simConfig{grids: 100, entries: 10, tick: 2 * time.Second, duration: 10 * time.Minute, laneQueue: 3, validTicks: 5, foreignWeight: 1000}
	r := runLaneSim(t, cfg)
	t.Logf("100 grids, %s: max time to first order %s; reconcile interval %s, %d–%d rounds per grid (one per interval, by start offset), longest round %.0f%% of the interval; "+
		"queue high-water %d requests, %d placement orders (bound %d); %d placements refused (lane full), %d dropped unsent; "+
		"%d orders accepted; %d live after stop; %d venue refusals; %d requests; violations %v",
		cfg.duration, r.maxFirstOrder, r.reconcileInterval, r.minRounds, r.maxRounds, 100*r.maxRoundLatency,
		r.highWater, r.highWaterOrders, cfg.laneQueue, r.full, r.dropped, r.placed, r.liveAfterStop, r.refused, r.calls, r.violations)
	if r.maxFirstOrder > 10*time.Second {
		t.Errorf("a grid placed its first order only after %s", r.maxFirstOrder)
	}
	wantRounds := int(cfg.duration/r.reconcileInterval) - 1
	if r.minRounds < wantRounds || r.maxRoundLatency > 1 {
		t.Errorf("reconciliation: %d rounds for some grid (want %d), longest round %.2f intervals", r.minRounds, wantRounds, r.maxRoundLatency)
	}
	// A batch larger than the bound (Binance's 5) is let into an empty lane.
	if r.highWaterOrders > max(cfg.laneQueue, 5) {
		t.Errorf("a lane held %d placement orders, bound %d", r.highWaterOrders, cfg.laneQueue)
	}
	if r.liveAfterStop != 0 {
		t.Errorf("%d orders live after stop", r.liveAfterStop)
	}
	if r.refused != 0 || len(r.violations) != 0 {
		t.Errorf("limits exceeded: %d refusals, %v", r.refused, r.violations)
	}
	if r.full == 0 {
		t.Errorf("the load never filled a lane: the test does not exercise back-pressure")
	}
}

// BenchmarkHundredGrids runs the simulation of TestHundredGridsShareOneExecutor
// and reports its figures: the latest first order (s), the reconciliation
// interval (s) and the fewest rounds of a grid, the lanes' high-water mark
// (placement orders), the orders left live after stop, the venue's
// refusals and the windows exceeded.
func BenchmarkHundredGrids(b *testing.B) {
	cfg := simConfig{grids: 100, entries: 10, tick: 2 * time.Second, duration: 10 * time.Minute, laneQueue: 3, validTicks: 5, foreignWeight: 1000}
	var r simResult
	for b.Loop() {
		r = runLaneSim(b, cfg)
	}
	b.ReportMetric(r.maxFirstOrder.Seconds(), "first-order-s")
	b.ReportMetric(r.reconcileInterval.Seconds(), "reconcile-interval-s")
	b.ReportMetric(float64(r.minRounds), "min-rounds")
	b.ReportMetric(r.maxRoundLatency, "max-round/interval")
	b.ReportMetric(float64(r.highWaterOrders), "queue-high-water")
	b.ReportMetric(float64(r.liveAfterStop), "live-after-stop")
	b.ReportMetric(float64(r.refused+len(r.violations)), "windows-exceeded")
	b.ReportMetric(float64(r.placed), "orders-accepted")
}
