package exchange

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readVenue answers reads, counting each call by operation; a read may be
// held in flight until release is closed (hold) and may fail (fail).
type readVenue struct {
	IExchange // nil: other methods are not called
	mu        sync.Mutex
	calls     map[string]int
	hold      chan struct{} // not nil: Account waits for it to close
	fail      error         // returned by Account, Positions and AllPositions
	positions []Position    // the account's positions, every symbol
	open      map[string][]Order
}

func newReadVenue() *readVenue {
	return &readVenue{calls: map[string]int{}, open: map[string][]Order{}}
}

func (v *readVenue) count(op string) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.calls[op]++
	return v.calls[op]
}

func (v *readVenue) Calls(op string) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.calls[op]
}

func (v *readVenue) Name() string { return "reads" }

func (v *readVenue) Rules(ctx context.Context, symbol string) (Rules, error) {
	v.count(OpRules)
	return Rules{Symbol: symbol}, nil
}

// Account answers the number of the call as the wallet, so that two
// requests give two answers.
func (v *readVenue) Account(ctx context.Context) (Account, error) {
	n := v.count(OpAccount)
	if v.hold != nil && n == 1 {
		select {
		case <-v.hold:
		case <-ctx.Done():
			return Account{}, ctx.Err()
		}
	}
	if v.fail != nil {
		return Account{}, v.fail
	}
	return Account{TotalWallet: decimal.NewFromInt(int64(n)), Balances: []Balance{{Asset: "USDT", WalletBalance: decimal.NewFromInt(int64(n))}}}, nil
}

func (v *readVenue) Positions(ctx context.Context, symbol string) ([]Position, error) {
	v.count(OpPositions)
	if v.fail != nil {
		return nil, v.fail
	}
	return positionsOf(v.positions, symbol), nil
}

func (v *readVenue) OpenOrders(ctx context.Context, symbol string) ([]Order, error) {
	v.count(OpOpenOrders)
	return append([]Order(nil), v.open[symbol]...), nil
}

// allReadVenue is a readVenue that can read every symbol's positions.
type allReadVenue struct{ *readVenue }

func (v allReadVenue) AllPositions(ctx context.Context) ([]Position, error) {
	v.count(OpAllPositions)
	if v.fail != nil {
		return nil, v.fail
	}
	return append([]Position(nil), v.positions...), nil
}

var _ AllPositionsReader = allReadVenue{}

// readWindow is a request window only reads count in, each 10 of its 20
// per minute: the first read goes at once (the burst), the next ~55 s
// later.
func readWindow(extra ...OpCost) LimitWindow {
	w := LimitWindow{Name: "reads", Per: PerIP, Interval: time.Minute, Max: 20, Costs: []OpCost{
		{Op: OpAccount, Units: 10}, {Op: OpPositions, Units: 10}, {Op: OpOpenOrders, Units: 10}, {Op: OpRules, Units: 10},
	}}
	w.Costs = append(w.Costs, extra...)
	return w
}

// lanes opens one lane per name.
func lanes(t *testing.T, e *Executor, names ...string) []*Lane {
	t.Helper()
	out := make([]*Lane, len(names))
	for i, n := range names {
		l, err := e.Lane(n)
		require.NoError(t, err)
		out[i] = l
	}
	return out
}

// queue starts call on its own goroutine and returns once it waits (in
// the executor's queue, or for a shared answer).
func queue(wg *sync.WaitGroup, call func()) {
	wg.Add(1)
	go func() { defer wg.Done(); call() }()
	synctest.Wait()
}

// queueEach queues call for each lane, one after the other (each waiting
// before the next is made), and returns once every call returned.
func queueEach(ls []*Lane, call func(i int, l *Lane)) {
	var wg sync.WaitGroup
	for i, l := range ls {
		queue(&wg, func() { call(i, l) })
	}
	wg.Wait()
}

// readEach queues read(lane i, syms[i]) on each lane (see queueEach) and
// returns the answers; a read must not fail.
func readEach[T any](t *testing.T, ls []*Lane, syms []string, read func(*Lane, context.Context, string) (T, error)) []T {
	got := make([]T, len(ls))
	queueEach(ls, func(i int, l *Lane) {
		var err error
		got[i], err = read(l, context.Background(), syms[i])
		assert.NoError(t, err)
	})
	return got
}

// spendBurst spends the read window's burst with a Rules read, so that
// the next reads wait in the executor's queue together.
func spendBurst(t *testing.T, e *Executor) {
	t.Helper()
	_, err := e.Rules(context.Background(), "BTCUSDT")
	require.NoError(t, err)
}

// Two lanes' Account calls queued behind the limiter share one request:
// one venue call, both answered, each with its own copy, the window
// charged once, and both lanes counting it as served.
func TestCoalesceAccountQueuedTogether(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := newReadVenue()
		e := mustExecutor(t, v, WithLimits(readWindow()))
		ls := lanes(t, e, "A", "B")
		spendBurst(t, e)

		got := make([]Account, 2)
		errs := make([]error, 2)
		start := time.Now()
		queueEach(ls, func(i int, l *Lane) { got[i], errs[i] = l.Account(context.Background()) })
		took := time.Since(start)

		require.NoError(t, errs[0])
		require.NoError(t, errs[1])
		assert.Equal(t, 1, v.Calls(OpAccount), "one venue request for both")
		assert.True(t, got[0].TotalWallet.Equal(decimal.NewFromInt(1)))
		assert.True(t, got[1].TotalWallet.Equal(decimal.NewFromInt(1)))
		got[0].Balances[0].Asset = "changed"
		assert.Equal(t, "USDT", got[1].Balances[0].Asset, "each caller has its own balances")

		sa, sb := ls[0].Stats(), ls[1].Stats()
		assert.Equal(t, uint64(1), sa.Admitted)
		assert.Equal(t, uint64(1), sb.Admitted)
		assert.Equal(t, uint64(1), sa.Joined+sb.Joined, "one of them joined the other's request")
		st := e.Stats()
		assert.Equal(t, uint64(1), st.Requests[OpAccount])
		assert.Equal(t, uint64(1), st.Coalesced)
		// The window was charged once: a third read waits one refill (~55 s
		// for 10 units), not two.
		start = time.Now()
		_, err := e.Rules(context.Background(), "BTCUSDT")
		require.NoError(t, err)
		assert.Less(t, time.Since(start)+took, 2*time.Minute-10*time.Second)
	})
}

// A call made while the request is already on its way is not joined: the
// venue may have looked before the call. It gets its own, later answer.
func TestCoalesceNeverJoinsInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := newReadVenue()
		v.hold = make(chan struct{})
		e := mustExecutor(t, v, WithLimits(readWindow()))
		ls := lanes(t, e, "A", "B")

		var wg sync.WaitGroup
		var first, second Account
		queue(&wg, func() {
			var err error
			first, err = ls[0].Account(context.Background())
			assert.NoError(t, err)
		})
		require.Equal(t, 1, v.Calls(OpAccount), "A's request is in flight")
		queue(&wg, func() {
			var err error
			second, err = ls[1].Account(context.Background())
			assert.NoError(t, err)
		})
		close(v.hold)
		wg.Wait()

		assert.Equal(t, 2, v.Calls(OpAccount), "B sent its own request")
		assert.True(t, first.TotalWallet.Equal(decimal.NewFromInt(1)))
		assert.True(t, second.TotalWallet.Equal(decimal.NewFromInt(2)), "B's answer is the later look")
		assert.Zero(t, ls[1].Stats().Joined)
		assert.Zero(t, e.Stats().Coalesced)
	})
}

// The shared request's error reaches every call that joined it.
func TestCoalesceSharesErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := newReadVenue()
		v.fail = &VenueError{Venue: "reads", Code: -2015, Msg: "Invalid API-key", HTTPStatus: 401, Kind: ErrAuth}
		e := mustExecutor(t, v, WithLimits(readWindow()))
		ls := lanes(t, e, "A", "B", "C")
		spendBurst(t, e)

		errs := make([]error, len(ls))
		queueEach(ls, func(i int, l *Lane) { _, errs[i] = l.Account(context.Background()) })
		assert.Equal(t, 1, v.Calls(OpAccount))
		for i, err := range errs {
			assert.ErrorIs(t, err, ErrAuth, "lane %d", i)
			assert.ErrorContains(t, err, "Invalid API-key", "lane %d", i)
		}
	})
}

// Positions of several symbols waiting at once are read with one
// AllPositions request; each caller gets its symbol's rows only, and a
// symbol absent from the answer has no position.
func TestCoalescePositionsThroughAllPositions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := newReadVenue()
		v.positions = []Position{
			{Symbol: "BTCUSDT", PositionSide: PositionLong, Quantity: decimal.RequireFromString("0.002")},
			{Symbol: "ETHUSDT", PositionSide: PositionBoth, Quantity: decimal.RequireFromString("-1.5")},
			{Symbol: "BTCUSDT", PositionSide: PositionShort, Quantity: decimal.RequireFromString("-0.001")},
		}
		e := mustExecutor(t, allReadVenue{v}, WithLimits(readWindow()))
		syms := []string{"BTCUSDT", "ETHUSDT", "SOLUSDT", "BTCUSDT"}
		ls := lanes(t, e, "btc", "eth", "sol", "btc2")
		spendBurst(t, e)

		got := readEach(t, ls, syms, (*Lane).Positions)

		assert.Equal(t, 1, v.Calls(OpAllPositions))
		assert.Zero(t, v.Calls(OpPositions))
		assert.Equal(t, []Position{v.positions[0], v.positions[2]}, got[0])
		assert.Equal(t, []Position{v.positions[1]}, got[1])
		assert.Empty(t, got[2], "no row: no position")
		assert.Equal(t, got[0], got[3])
		got[0][0].Symbol = "changed"
		assert.Equal(t, "BTCUSDT", got[3][0].Symbol, "each caller has its own rows")
		st := e.Stats()
		assert.Equal(t, uint64(1), st.Requests[OpAllPositions])
		assert.Zero(t, st.Requests[OpPositions])
		assert.Equal(t, uint64(3), st.Coalesced)
	})
}

// A lone Positions call is sent as itself, even when the adapter can read
// every symbol.
func TestCoalesceLonePositionsStaysPerSymbol(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := newReadVenue()
		e := mustExecutor(t, allReadVenue{v}, WithLimits(readWindow()))
		_, err := e.Positions(context.Background(), "BTCUSDT")
		require.NoError(t, err)
		assert.Equal(t, 1, v.Calls(OpPositions))
		assert.Zero(t, v.Calls(OpAllPositions))
	})
}

// Without AllPositionsReader, Positions calls of different symbols are
// sent one by one; those of one symbol still share.
func TestCoalescePositionsWithoutCapability(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := newReadVenue()
		v.positions = []Position{{Symbol: "ETHUSDT", PositionSide: PositionBoth, Quantity: decimal.NewFromInt(1)}}
		e := mustExecutor(t, v, WithLimits(readWindow()))
		syms := []string{"BTCUSDT", "ETHUSDT", "ETHUSDT"}
		ls := lanes(t, e, "a", "b", "c")
		spendBurst(t, e)

		got := readEach(t, ls, syms, (*Lane).Positions)
		assert.Equal(t, 2, v.Calls(OpPositions), "one per symbol")
		assert.Empty(t, got[0])
		assert.Equal(t, v.positions, got[1])
		assert.Equal(t, v.positions, got[2])
	})
}

// An all-positions read costing more than the per-symbol reads it would
// replace is not used.
func TestCoalesceAllPositionsOnlyWhenCheaper(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := newReadVenue()
		w := readWindow(OpCost{Op: OpAllPositions, Units: 25})
		w.Max = 50 // bursts of 25: the all-positions read fits
		e := mustExecutor(t, allReadVenue{v}, WithLimits(w))
		ls := lanes(t, e, "a", "b")
		spendBurst(t, e)
		spendBurst(t, e) // twice: bursts of 25
		readEach(t, ls, []string{"BTCUSDT", "ETHUSDT"}, (*Lane).Positions)
		assert.Equal(t, 2, v.Calls(OpPositions))
		assert.Zero(t, v.Calls(OpAllPositions))
	})
}

// OpenOrders of one symbol share; of another symbol they do not.
func TestCoalesceOpenOrdersPerSymbol(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := newReadVenue()
		v.open["BTCUSDT"] = []Order{{Symbol: "BTCUSDT", ClientOrderID: "a"}}
		e := mustExecutor(t, v, WithLimits(readWindow()))
		syms := []string{"BTCUSDT", "ETHUSDT", "BTCUSDT"}
		ls := lanes(t, e, "a", "b", "c")
		spendBurst(t, e)
		got := readEach(t, ls, syms, (*Lane).OpenOrders)
		assert.Equal(t, 2, v.Calls(OpOpenOrders))
		assert.Equal(t, v.open["BTCUSDT"], got[0])
		assert.Empty(t, got[1])
		assert.Equal(t, v.open["BTCUSDT"], got[2])
	})
}

// When the call that sends the shared request gives up (its context ends)
// before the answer, the calls that joined it queue again and get an
// answer of their own.
func TestCoalesceSenderGoneRequeuesMembers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := newReadVenue()
		v.hold = make(chan struct{}) // the first request never answers
		e := mustExecutor(t, v, WithLimits(readWindow()))
		ls := lanes(t, e, "A", "B")
		spendBurst(t, e)

		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		var errA, errB error
		var b Account
		queue(&wg, func() { _, errA = ls[0].Account(ctx) })
		queue(&wg, func() { b, errB = ls[1].Account(context.Background()) })
		time.Sleep(time.Minute) // A is admitted, B joins, A's request hangs
		synctest.Wait()
		require.Equal(t, 1, v.Calls(OpAccount))
		cancel()
		wg.Wait()
		assert.ErrorIs(t, errA, context.Canceled)
		require.NoError(t, errB)
		assert.Equal(t, 2, v.Calls(OpAccount), "B sent its own request")
		assert.True(t, b.TotalWallet.Equal(decimal.NewFromInt(2)))
	})
}

// A call that joined another's request and gives up while waiting for
// the answer returns its context's error; the others still get theirs.
func TestCoalesceMemberGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := newReadVenue()
		v.hold = make(chan struct{})
		e := mustExecutor(t, v, WithLimits(readWindow()))
		ls := lanes(t, e, "A", "B")
		spendBurst(t, e)

		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		var errA, errB error
		queue(&wg, func() { _, errA = ls[0].Account(context.Background()) })
		queue(&wg, func() { _, errB = ls[1].Account(ctx) })
		time.Sleep(time.Minute)
		synctest.Wait()
		cancel()
		synctest.Wait()
		assert.ErrorIs(t, errB, context.Canceled)
		close(v.hold)
		wg.Wait()
		assert.NoError(t, errA)
		assert.Equal(t, 1, v.Calls(OpAccount))
	})
}

// An all-positions read a window does not list costs what a positions
// read costs there; the legacy form weighs it at least as much.
func TestAllPositionsCostDefaults(t *testing.T) {
	v := newReadVenue()
	e := mustExecutor(t, v, WithLimits(readWindow()))
	for _, w := range e.limits.wins {
		assert.Equal(t, 10, w.unitsOf(opAllPositions, "", 0))
	}
	e = mustExecutor(t, v, WithRateLimits(RateLimit{Scope: ScopeRequest, Interval: time.Minute, Limit: 100}))
	assert.Equal(t, 5, e.limits.wins[0].unitsOf(opAllPositions, "", 0))
	e = mustExecutor(t, legacyReads{v})
	assert.Equal(t, 7, e.limits.wins[0].unitsOf(opAllPositions, "", 0), "an adapter weighing it 1 is charged its positions weight")
}

// legacyReads declares a request window in the legacy form where
// positions weigh 7 and any other operation 1.
type legacyReads struct{ *readVenue }

func (legacyReads) RateLimits() []RateLimit {
	return []RateLimit{{Scope: ScopeRequest, Interval: time.Minute, Limit: 100}}
}

func (legacyReads) Weight(op string) int {
	if op == OpPositions {
		return 7
	}
	return 1
}

// A request sent with Do under a coalesced operation's name runs the
// caller's own function: it never joins, nor is joined by, another call.
func TestCoalesceNeverSharesDo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := newReadVenue()
		e := mustExecutor(t, v, WithLimits(readWindow()))
		ls := lanes(t, e, "A", "B")
		spendBurst(t, e)
		var wg sync.WaitGroup
		var ran bool
		queue(&wg, func() { _, err := ls[0].Account(context.Background()); assert.NoError(t, err) })
		queue(&wg, func() {
			assert.NoError(t, ls[1].Do(context.Background(), OpAccount, func(context.Context) error { ran = true; return nil }))
		})
		wg.Wait()
		assert.True(t, ran, "Do's function ran")
		assert.Equal(t, 1, v.Calls(OpAccount), "the Account call sent its own request")
		assert.Zero(t, e.Stats().Coalesced)
	})
}
