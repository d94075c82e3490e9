package exchange

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// tightOrders is one order window of 2 per second: a burst of 1, then one
// order every ~500 ms. Queries count in it too; with WithQueryShare(100)
// they share it with orders.
func tightOrders() LimitWindow {
	return LimitWindow{Name: "orders", Per: PerAccount, Interval: time.Second, Max: 2, Costs: []OpCost{
		{Op: OpPlace, PerOrder: 1}, {Op: OpBatchPlace, PerOrder: 1}, {Op: OpCancel, PerOrder: 1}, {Op: OpQuery, Units: 1},
	}}
}

// tightLanes is the lane tests' executor: a scripted venue on a barrier
// clock of the given participants (the test goroutine among them), limited
// by tightOrders with queries sharing the window. With warm, one placement
// ("warm") spends the window's burst first, so the next order waits for a
// token, ~500 ms later.
func tightLanes(t *testing.T, participants int, warm bool) (*barrierClock, *scriptedExchange, *Executor) {
	t.Helper()
	clk := newBarrierClock(participants)
	f := newScripted(clk)
	e := mustExecutor(t, f, WithExecutorClock(clk), WithLimits(tightOrders()), WithQueryShare(100))
	if warm {
		_, err := e.Place(context.Background(), execOrder("warm"))
		require.NoError(t, err)
	}
	return clk, f, e
}

// goLeave runs fn on a goroutine that wg counts and that leaves clk when fn
// returns; the goroutine must already be one of clk's participants
// (counted by newBarrierClock or added with clk.Join).
func goLeave(wg *sync.WaitGroup, clk *barrierClock, fn func()) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer clk.Leave()
		fn()
	}()
}

// laneOrder returns lane l's order on symbol sym.
func laneOrder(sym, cid string) OrderRequest {
	o := execOrder(cid)
	o.Symbol = sym
	return o
}

// waitQueued waits (in real time: the goroutines are asleep on the virtual
// clock) until l holds n queued requests.
func waitQueued(t *testing.T, l *Lane, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return l.Stats().Queued == n }, 5*time.Second, time.Millisecond, "lane %q never held %d requests", l.Name(), n)
}

// When the limiter is the bottleneck, lanes take turns: a lane with six
// placements queued does not hold back a lane with two.
func TestLanesTakeTurns(t *testing.T) {
	defer goleak.VerifyNone(t)
	clk, f, e := tightLanes(t, 8, true)
	a, err := e.Lane("A")
	require.NoError(t, err)
	b, err := e.Lane("B")
	require.NoError(t, err)

	var wg sync.WaitGroup
	place := func(l *Lane, i int) {
		goLeave(&wg, clk, func() {
			_, err := l.Place(context.Background(), laneOrder(l.Name(), fmt.Sprintf("%s%d", l.Name(), i)))
			assert.NoError(t, err)
		})
	}
	for i := range 6 {
		place(a, i)
	}
	for i := range 2 {
		place(b, i)
	}
	wg.Wait()

	var lanes []string
	for _, c := range f.Calls()[1:] {
		lanes = append(lanes, c.cids[0][:1])
	}
	assert.Equal(t, []string{"A", "B", "A", "B", "A", "A", "A", "A"}, lanes)
	assert.Equal(t, uint64(6), a.Stats().Admitted)
	assert.Equal(t, 6, a.Stats().HighWater)
	assert.Equal(t, uint64(2), b.Stats().Waits)
	for _, w := range e.LimitWindows() {
		var calls []fakeCall
		calls = append(calls, f.Calls()...)
		assert.Empty(t, windowViolations(calls, []RateLimit{{Scope: ScopeOrder, Interval: w.Interval, Limit: w.Max}},
			func(c fakeCall, _ string) int { return len(c.cids) }))
	}
}

// Within a lane, a cancel and a query (resolving an unknown outcome) queued
// after placements go first.
func TestLaneCancelsBeforePlacements(t *testing.T) {
	defer goleak.VerifyNone(t)
	clk, f, e := tightLanes(t, 4, true)
	l, err := e.Lane("grid")
	require.NoError(t, err)

	var wg sync.WaitGroup
	goLeave(&wg, clk, func() {
		_, err := l.Place(context.Background(), execOrder("p1"))
		assert.NoError(t, err)
	})
	waitQueued(t, l, 1)
	goLeave(&wg, clk, func() {
		_, err := l.Place(context.Background(), execOrder("p2"))
		assert.NoError(t, err)
	})
	waitQueued(t, l, 2)
	goLeave(&wg, clk, func() {
		_, err := l.Cancel(context.Background(), CancelRequest{Symbol: "BTCUSDT", ClientOrderID: "c1"})
		assert.NoError(t, err)
	})
	waitQueued(t, l, 3)
	goLeave(&wg, clk, func() {
		_, err := l.Query(context.Background(), "BTCUSDT", "u1")
		assert.NoError(t, err)
	})
	wg.Wait()
	var got []string
	for _, c := range f.Calls()[1:] {
		got = append(got, c.op+" "+c.cids[0])
	}
	assert.Equal(t, []string{"cancel c1", "query u1", "place p1", "place p2"}, got)
}

// A full lane refuses a placement at once; closing it fails its queued
// requests, unsent, and the other lanes keep running.
func TestLaneFullAndClose(t *testing.T) {
	defer goleak.VerifyNone(t)
	clk, f, e := tightLanes(t, 3, true)
	full, err := e.Lane("full", WithLaneQueue(2))
	require.NoError(t, err)
	other, err := e.Lane("other")
	require.NoError(t, err)

	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		goLeave(&wg, clk, func() {
			_, errs[i] = full.Place(context.Background(), execOrder(fmt.Sprintf("q%d", i)))
		})
	}
	waitQueued(t, full, 2)

	// No room: refused at once, on the caller's goroutine, without waiting.
	_, err = full.Place(context.Background(), execOrder("x"))
	assert.ErrorIs(t, err, ErrLaneFull)
	assert.ErrorIs(t, err, ErrNotSent)
	res := full.PlaceBatch(context.Background(), []OrderRequest{execOrder("b1"), execOrder("b2")})
	for _, r := range res {
		assert.ErrorIs(t, r.Err, ErrLaneFull)
	}
	st := full.Stats()
	assert.Equal(t, 2, st.QueuedOrders)
	assert.Equal(t, 2, st.HighWaterOrders)
	assert.Equal(t, uint64(3), st.Full)

	require.NoError(t, full.Close())
	require.NoError(t, full.Close(), "idempotent")
	wg.Wait()
	for _, err := range errs {
		assert.ErrorIs(t, err, ErrLaneClosed)
		assert.ErrorIs(t, err, ErrNotSent)
	}
	_, err = full.Cancel(context.Background(), CancelRequest{ClientOrderID: "q0"})
	assert.ErrorIs(t, err, ErrLaneClosed)
	assert.Equal(t, uint64(2+1), full.Stats().Closed)

	// The other lane still runs (and waits for the limiter as before).
	goLeave(&wg, clk, func() {
		_, err := other.Place(context.Background(), execOrder("o1"))
		assert.NoError(t, err)
	})
	wg.Wait()
	assert.Equal(t, []string{"place@0s", "place@500.250126ms"}, f.opsAndTimes())
	for _, ls := range e.LaneStats() {
		assert.NotEqual(t, "full", ls.Name, "a closed lane leaves the rounds")
	}
	assert.Equal(t, map[string]uint64{"lane_full": 3, "lane_closed": 3}, e.Stats().Errors)
}

// Drain drops the queued placements and refuses new ones, but lets the
// grid cancel its orders, and returns once the lane is idle.
func TestLaneDrain(t *testing.T) {
	defer goleak.VerifyNone(t)
	clk, f, e := tightLanes(t, 2, true)
	l, err := e.Lane("grid")
	require.NoError(t, err)

	var wg sync.WaitGroup
	var placeErr error
	goLeave(&wg, clk, func() {
		_, placeErr = l.Place(context.Background(), execOrder("p1"))
	})
	waitQueued(t, l, 1)
	goLeave(&wg, clk, func() {
		require.NoError(t, l.Drain(context.Background()))
		_, err := l.Place(context.Background(), execOrder("p2"))
		assert.ErrorIs(t, err, ErrLaneClosed)
		_, err = l.Cancel(context.Background(), CancelRequest{Symbol: "BTCUSDT", ClientOrderID: "live"})
		assert.NoError(t, err, "cancels still run after a drain")
		require.NoError(t, l.Drain(context.Background()))
	})
	wg.Wait()
	assert.ErrorIs(t, placeErr, ErrLaneClosed)
	assert.ErrorIs(t, placeErr, ErrNotSent)
	assert.Equal(t, []string{"place@0s", "cancel@500.250126ms"}, f.opsAndTimes())
	assert.True(t, l.Stats().Closing)
}

// A placement whose validity condition fails is dropped unsent: at once
// when it fails before queuing, when its turn comes while queued (without
// spending its units), and just before writing.
func TestWithValidUntil(t *testing.T) {
	defer goleak.VerifyNone(t)
	clk, f, e := tightLanes(t, 2, false) // the test goroutine holds the clock until the price moved
	l, err := e.Lane("grid")
	require.NoError(t, err)

	never := WithValidUntil(context.Background(), func() bool { return false })
	_, err = l.Place(never, execOrder("stale"))
	assert.ErrorIs(t, err, ErrNotSent)
	assert.Empty(t, f.Calls())

	_, err = l.Place(context.Background(), execOrder("warm"))
	require.NoError(t, err)
	var valid atomic.Bool
	valid.Store(true)
	ctx := WithValidUntil(context.Background(), valid.Load)
	var wg sync.WaitGroup
	goLeave(&wg, clk, func() {
		_, err := l.Place(ctx, execOrder("moved"))
		assert.ErrorIs(t, err, ErrNotSent)
	})
	waitQueued(t, l, 1)
	valid.Store(false) // the price left the slot's window while it waited
	clk.Leave()
	wg.Wait()
	assert.Equal(t, []string{"place@0s"}, f.opsAndTimes())
	assert.Equal(t, uint64(2), l.Stats().Invalid)

	// Its units were not spent: the next order goes at the first token.
	clk2, f2, e2 := tightLanes(t, 1, false)
	_, err = e2.Place(context.Background(), execOrder("a"))
	require.NoError(t, err)
	_, err = e2.Place(WithValidUntil(context.Background(), func() bool { return clk2.Now().Equal(execEpoch) }), execOrder("b"))
	assert.ErrorIs(t, err, ErrNotSent, "valid when queued, stale at its turn")
	_, err = e2.Place(context.Background(), execOrder("c"))
	require.NoError(t, err)
	assert.Equal(t, []string{"place@0s", "place@500.250126ms"}, f2.opsAndTimes())
}

func TestLaneOptionsAreChecked(t *testing.T) {
	e := mustExecutor(t, newScripted(newBarrierClock(1)))
	_, err := e.Lane("", WithLaneQueue(0), nil)
	require.Error(t, err)
	for _, want := range []string{"name: empty", "WithLaneQueue: 0: must be at least 1", "option 1 is nil"} {
		assert.ErrorContains(t, err, want)
	}
	l, err := e.Lane("g1")
	require.NoError(t, err)
	_, err = e.Lane("g1")
	assert.ErrorContains(t, err, `name "g1": a lane of that name is open`)
	require.NoError(t, l.Close())
	_, err = e.Lane("g1")
	assert.NoError(t, err, "the name is free once the lane is closed")
}

// A queued request whose context ends leaves the queue, unsent, and the
// requests behind it still go.
func TestLaneAbandonedRequestLeavesTheQueue(t *testing.T) {
	defer goleak.VerifyNone(t)
	clk, f, e := tightLanes(t, 3, true) // the test goroutine holds the clock until it has canceled
	l, err := e.Lane("grid")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	goLeave(&wg, clk, func() {
		_, err := l.Place(ctx, execOrder("gone"))
		assert.ErrorIs(t, err, ErrNotSent)
		assert.ErrorIs(t, err, context.Canceled)
	})
	waitQueued(t, l, 1)
	goLeave(&wg, clk, func() {
		_, err := l.Place(context.Background(), execOrder("kept"))
		assert.NoError(t, err)
	})
	waitQueued(t, l, 2)
	cancel()
	clk.Leave()
	wg.Wait()
	assert.Equal(t, []string{"place@0s", "place@500.250126ms"}, f.opsAndTimes())
	assert.Equal(t, uint64(1), l.Stats().Abandoned)
}

// Reads wait in a round of their own: a lane whose reads are held back by
// their window still places orders, and the other way round.
func TestLaneReadsDoNotBlockPlacements(t *testing.T) {
	defer goleak.VerifyNone(t)
	clk := newBarrierClock(2) // the test goroutine holds the clock
	f := newScripted(clk)
	e := mustExecutor(t, f, WithExecutorClock(clk), WithLimits(
		LimitWindow{Name: "orders", Per: PerAccount, Interval: time.Second, Max: 10, Costs: []OpCost{{Op: OpPlace, PerOrder: 1}}},
		LimitWindow{Name: "reads", Per: PerAccount, Interval: time.Hour, Max: 1, Costs: []OpCost{{Op: OpOpenOrders, Units: 1}}},
	))
	l, err := e.Lane("grid")
	require.NoError(t, err)
	_, err = l.OpenOrders(context.Background(), "BTCUSDT")
	require.NoError(t, err)
	var wg sync.WaitGroup
	goLeave(&wg, clk, func() {
		_, err := l.OpenOrders(context.Background(), "BTCUSDT") // an hour away
		assert.ErrorIs(t, err, ErrLaneClosed)
	})
	waitQueued(t, l, 1)
	_, err = l.Place(context.Background(), execOrder("p1"))
	require.NoError(t, err, "the placement does not wait behind the read")
	require.NoError(t, l.Close())
	clk.Leave()
	wg.Wait()
	assert.Equal(t, []string{"openOrders@0s", "place@0s"}, f.opsAndTimes())
}

// A batch that needs more room than single orders may be passed over by
// them, but only for one round: then it holds the window until it fits,
// instead of starving behind a stream of singles.
func TestLaneBatchIsNotStarvedBySingles(t *testing.T) {
	defer goleak.VerifyNone(t)
	clk := newBarrierClock(4)
	f := newScripted(clk)
	ex := batchingExchange{f, &fakeBatch{f: f, max: 5}}
	e := mustExecutor(t, ex, WithExecutorClock(clk), WithLimits(LimitWindow{Name: "orders", Per: PerAccount, Interval: time.Second, Max: 10,
		Costs: []OpCost{{Op: OpPlace, PerOrder: 1}, {Op: OpBatchPlace, PerOrder: 1}}}))
	b, err := e.Lane("B")
	require.NoError(t, err)
	_, err = b.Place(context.Background(), execOrder("b-first"))
	require.NoError(t, err)
	var wg sync.WaitGroup
	for i := range 3 {
		l, err := e.Lane(fmt.Sprintf("S%d", i))
		require.NoError(t, err)
		goLeave(&wg, clk, func() {
			for k := range 10 {
				_, err := l.Place(context.Background(), execOrder(fmt.Sprintf("s%d-%d", i, k)))
				assert.NoError(t, err)
			}
		})
	}
	goLeave(&wg, clk, func() {
		reqs := make([]OrderRequest, 5)
		for i := range reqs {
			reqs[i] = execOrder(fmt.Sprintf("b%d", i))
		}
		for _, r := range b.PlaceBatch(context.Background(), reqs) {
			assert.NoError(t, r.Err)
		}
	})
	wg.Wait()
	calls := f.Calls()
	require.Len(t, calls, 32)
	at := -1
	for i, c := range calls {
		if c.op == OpBatchPlace {
			at = i
		}
	}
	assert.Less(t, at, 12, "the batch went out after %d of 31 singles", at)
	assert.Empty(t, windowViolations(calls, []RateLimit{{Interval: time.Second, Limit: 10}}, func(c fakeCall, _ string) int { return len(c.cids) }))
}

// A lane that joins late goes first once, then takes turns: it gets no
// credit for the time it was idle, so it cannot lock out the lane that has
// been trading.
func TestLaneJoiningLateGetsNoCredit(t *testing.T) {
	defer goleak.VerifyNone(t)
	clk, f, e := tightLanes(t, 1, false)
	a, err := e.Lane("A")
	require.NoError(t, err)
	b, err := e.Lane("B")
	require.NoError(t, err)
	for i := range 10 { // A trades alone for a while
		_, err := a.Place(context.Background(), execOrder(fmt.Sprintf("A%d", i)))
		require.NoError(t, err)
	}
	var wg sync.WaitGroup
	for _, l := range []*Lane{a, b} {
		for i := range 4 {
			clk.Join()
			goLeave(&wg, clk, func() {
				_, err := l.Place(context.Background(), execOrder(fmt.Sprintf("%s-%d", l.Name(), i)))
				assert.NoError(t, err)
			})
		}
	}
	waitQueued(t, a, 4)
	waitQueued(t, b, 4)
	clk.Leave()
	wg.Wait()
	var lanes []string
	for _, c := range f.Calls()[10:] {
		lanes = append(lanes, c.cids[0][:1])
	}
	require.Len(t, lanes, 8)
	assert.Equal(t, "B", lanes[0], "the new lane's first order goes first")
	assert.Contains(t, lanes[:4], "A", "then the lanes take turns: %v", lanes)
}
