package exchange

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"
)

// execEpoch is where every test clock starts.
var execEpoch = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// barrierClock is a virtual clock for the executor's tests. Time moves only
// in Sleep, and only when every participant is asleep (or gone): it then
// jumps to the earliest wake-up. With one participant, Sleep returns at once
// with the clock advanced by d. With several goroutines it keeps their
// virtual times consistent: no goroutine's clock moves while another is
// still working at an earlier time, so a fake venue that reads Now sees each
// request at the instant the executor admitted it.
type barrierClock struct {
	mu      sync.Mutex
	now     time.Time
	active  int
	waiters []*clockWaiter
	sleeps  []time.Duration
}

type clockWaiter struct {
	at      time.Time
	ch      chan struct{}
	forever bool // a wait without a timeout: time never moves to it
	woken   bool // ended by Wake
}

// barrierWaiter is an ExecutorWaiter of a barrierClock: while it waits its
// goroutine counts as asleep, and Wake counts it as running at once, so
// time cannot move before the woken goroutine has acted.
type barrierWaiter struct {
	c       *barrierClock
	cur     *clockWaiter // the current wait; nil when none
	pending bool         // a Wake came while nobody waited
}

func (c *barrierClock) NewWaiter() ExecutorWaiter { return &barrierWaiter{c: c} }

func (w *barrierWaiter) Wait(ctx context.Context, d time.Duration) (bool, error) {
	c := w.c
	c.mu.Lock()
	if w.pending {
		w.pending = false
		c.mu.Unlock()
		return true, nil
	}
	cw := &clockWaiter{ch: make(chan struct{}), forever: d < 0}
	if d >= 0 {
		cw.at = c.now.Add(d)
	}
	w.cur = cw
	c.waiters = append(c.waiters, cw)
	c.active--
	c.advanceLocked()
	c.mu.Unlock()
	select {
	case <-cw.ch:
		c.mu.Lock()
		w.cur = nil
		woken := cw.woken
		c.mu.Unlock()
		return woken, nil
	case <-ctx.Done():
		c.mu.Lock()
		w.cur = nil
		if c.removeLocked(cw) {
			c.active++
		}
		woken := cw.woken
		c.mu.Unlock()
		if woken {
			return true, nil
		}
		return false, ctx.Err()
	}
}

func (w *barrierWaiter) Wake() {
	c := w.c
	c.mu.Lock()
	defer c.mu.Unlock()
	cw := w.cur
	if cw == nil || cw.woken {
		w.pending = true
		return
	}
	if c.removeLocked(cw) {
		cw.woken = true
		c.active++
		close(cw.ch)
		return
	}
	w.pending = true // the clock already woke it: its next wait ends at once
}

// removeLocked takes w out of the sleepers; false when it was not there.
func (c *barrierClock) removeLocked(w *clockWaiter) bool {
	for i, x := range c.waiters {
		if x == w {
			c.waiters = append(c.waiters[:i], c.waiters[i+1:]...)
			return true
		}
	}
	return false
}

func newBarrierClock(participants int) *barrierClock {
	return &barrierClock{now: execEpoch, active: participants}
}

func (c *barrierClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Sleeps returns every duration slept, in order.
func (c *barrierClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

func (c *barrierClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	w := &clockWaiter{at: c.now.Add(d), ch: make(chan struct{})}
	c.waiters = append(c.waiters, w)
	c.active--
	c.advanceLocked()
	c.mu.Unlock()
	select {
	case <-w.ch:
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		for i, x := range c.waiters {
			if x == w {
				c.waiters = append(c.waiters[:i], c.waiters[i+1:]...)
				c.active++
				break
			}
		}
		c.mu.Unlock()
		return ctx.Err()
	}
}

// Join adds a participant: call it before starting the goroutine.
func (c *barrierClock) Join() {
	c.mu.Lock()
	c.active++
	c.mu.Unlock()
}

// Leave removes a participant that has finished.
func (c *barrierClock) Leave() {
	c.mu.Lock()
	c.active--
	c.advanceLocked()
	c.mu.Unlock()
}

func (c *barrierClock) advanceLocked() {
	if c.active > 0 || len(c.waiters) == 0 {
		return
	}
	sort.SliceStable(c.waiters, func(i, j int) bool {
		a, b := c.waiters[i], c.waiters[j]
		if a.forever != b.forever {
			return b.forever
		}
		return a.at.Before(b.at)
	})
	if c.waiters[0].forever {
		return // every goroutine waits for another: nothing to advance to
	}
	if t := c.waiters[0].at; t.After(c.now) {
		c.now = t
	}
	n := 0
	for n < len(c.waiters) && !c.waiters[n].forever && !c.waiters[n].at.After(c.now) {
		close(c.waiters[n].ch)
		n++
	}
	c.waiters = c.waiters[n:]
	c.active += n
}

// fakeCall is one request the fake venue received.
type fakeCall struct {
	op   string
	at   time.Time
	cids []string // client order IDs of the orders it carried
}

// fakeReply is one scripted answer. block makes the call wait for its
// context to end and return the context's error.
type fakeReply struct {
	err   error
	block bool
	batch []BatchResult // for batch ops; nil: every order succeeds
}

// scriptedExchange is a fake IExchange that records every request with the
// clock's time and answers from a per-op script of replies; when an op's
// script is empty it succeeds. Safe for concurrent use.
type scriptedExchange struct {
	clock ExecutorClock

	mu     sync.Mutex
	calls  []fakeCall
	script map[string][]fakeReply
}

var _ IExchange = (*scriptedExchange)(nil)

func newScripted(clk ExecutorClock) *scriptedExchange {
	return &scriptedExchange{clock: clk, script: map[string][]fakeReply{}}
}

// on queues replies for op.
func (f *scriptedExchange) on(op string, replies ...fakeReply) *scriptedExchange {
	f.mu.Lock()
	f.script[op] = append(f.script[op], replies...)
	f.mu.Unlock()
	return f
}

// record logs a call and pops its reply.
func (f *scriptedExchange) record(ctx context.Context, op string, cids ...string) (fakeReply, error) {
	f.mu.Lock()
	f.calls = append(f.calls, fakeCall{op: op, at: f.clock.Now(), cids: cids})
	var r fakeReply
	if q := f.script[op]; len(q) > 0 {
		r, f.script[op] = q[0], q[1:]
	}
	f.mu.Unlock()
	if r.block {
		<-ctx.Done()
		return r, ctx.Err()
	}
	return r, r.err
}

func (f *scriptedExchange) Calls() []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeCall(nil), f.calls...)
}

// opsAndTimes renders the calls as "op@offset" from execEpoch.
func (f *scriptedExchange) opsAndTimes() []string {
	var out []string
	for _, c := range f.Calls() {
		out = append(out, fmt.Sprintf("%s@%s", c.op, c.at.Sub(execEpoch)))
	}
	return out
}

func (f *scriptedExchange) Name() string { return "fake" }

func (f *scriptedExchange) Rules(ctx context.Context, symbol string) (Rules, error) {
	_, err := f.record(ctx, OpRules)
	return Rules{Symbol: symbol}, err
}

func (f *scriptedExchange) PlaceOrder(ctx context.Context, req OrderRequest) (Order, error) {
	if _, err := f.record(ctx, OpPlace, req.ClientOrderID); err != nil {
		return Order{}, err
	}
	return Order{Symbol: req.Symbol, ClientOrderID: req.ClientOrderID, OrderID: "id-" + req.ClientOrderID, Side: req.Side, Price: req.Price, Quantity: req.Quantity, Status: StatusNew}, nil
}

func (f *scriptedExchange) CancelOrder(ctx context.Context, req CancelRequest) (Order, error) {
	if _, err := f.record(ctx, OpCancel, req.ClientOrderID); err != nil {
		return Order{}, err
	}
	return Order{Symbol: req.Symbol, ClientOrderID: req.ClientOrderID, Status: StatusCanceled}, nil
}

func (f *scriptedExchange) QueryOrder(ctx context.Context, symbol, clientOrderID string) (Order, error) {
	if _, err := f.record(ctx, OpQuery, clientOrderID); err != nil {
		return Order{}, err
	}
	return Order{Symbol: symbol, ClientOrderID: clientOrderID, Status: StatusNew}, nil
}

func (f *scriptedExchange) OpenOrders(ctx context.Context, symbol string) ([]Order, error) {
	_, err := f.record(ctx, OpOpenOrders)
	return nil, err
}

func (f *scriptedExchange) Fills(ctx context.Context, symbol string, since time.Time) ([]Fill, error) {
	_, err := f.record(ctx, OpFills)
	return nil, err
}

func (f *scriptedExchange) Account(ctx context.Context) (Account, error) {
	_, err := f.record(ctx, OpAccount)
	return Account{CanTrade: true}, err
}

func (f *scriptedExchange) Positions(ctx context.Context, symbol string) ([]Position, error) {
	_, err := f.record(ctx, OpPositions)
	return nil, err
}

func (f *scriptedExchange) SubscribePrices(context.Context, string) (<-chan PriceUpdate, error) {
	return nil, ErrUnsupported
}

func (f *scriptedExchange) SubscribeKlines(context.Context, string, string) (<-chan Kline, error) {
	return nil, ErrUnsupported
}

func (f *scriptedExchange) SubscribeUserData(context.Context) (<-chan UserEvent, error) {
	return nil, ErrUnsupported
}

func (f *scriptedExchange) Close() error { return nil }

// fakeDecl declares limits, weights and a receive window.
type fakeDecl struct {
	limits  []RateLimit
	weights map[string]int // missing ops weigh 1
	recv    time.Duration
}

func (d *fakeDecl) RateLimits() []RateLimit { return d.limits }

func (d *fakeDecl) Weight(op string) int {
	if w, ok := d.weights[op]; ok {
		return w
	}
	return 1
}

func (d *fakeDecl) ReceiveWindow() time.Duration { return d.recv }

// fakeBatch gives a scriptedExchange batch placement and cancellation.
type fakeBatch struct {
	f   *scriptedExchange
	max int
}

func (b *fakeBatch) MaxBatch() int { return b.max }

func (b *fakeBatch) PlaceOrders(ctx context.Context, reqs []OrderRequest) ([]BatchResult, error) {
	cids := make([]string, len(reqs))
	for i, r := range reqs {
		cids[i] = r.ClientOrderID
	}
	r, err := b.f.record(ctx, OpBatchPlace, cids...)
	if err != nil {
		return nil, err
	}
	if r.batch != nil {
		return r.batch, nil
	}
	out := make([]BatchResult, len(reqs))
	for i, q := range reqs {
		out[i].Order = Order{Symbol: q.Symbol, ClientOrderID: q.ClientOrderID, OrderID: "id-" + q.ClientOrderID, Status: StatusNew}
	}
	return out, nil
}

func (b *fakeBatch) CancelOrders(ctx context.Context, reqs []CancelRequest) ([]BatchResult, error) {
	cids := make([]string, len(reqs))
	for i, r := range reqs {
		cids[i] = r.ClientOrderID
	}
	r, err := b.f.record(ctx, OpBatchCancel, cids...)
	if err != nil {
		return nil, err
	}
	if r.batch != nil {
		return r.batch, nil
	}
	out := make([]BatchResult, len(reqs))
	for i, q := range reqs {
		out[i].Order = Order{Symbol: q.Symbol, ClientOrderID: q.ClientOrderID, Status: StatusCanceled}
	}
	return out, nil
}

// The capability combinations the executor finds by type assertion.
type (
	declaredExchange struct {
		*scriptedExchange
		*fakeDecl
	}
	batchingExchange struct {
		*scriptedExchange
		*fakeBatch
	}
	declaredBatchingExchange struct {
		*scriptedExchange
		*fakeDecl
		*fakeBatch
	}
)

// recordingObserver keeps every event.
type recordingObserver struct {
	mu     sync.Mutex
	events []ExecutorEvent
}

func (o *recordingObserver) ObserveExecutor(ev ExecutorEvent) {
	o.mu.Lock()
	o.events = append(o.events, ev)
	o.mu.Unlock()
}

// summary renders the events as "KIND op attempt wait".
func (o *recordingObserver) summary() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for _, ev := range o.events {
		out = append(out, fmt.Sprintf("%s %s #%d %s", ev.Kind, ev.Op, ev.Attempt, ev.Wait))
	}
	return out
}

// windowViolations checks every window of limits against calls: for each
// call, the units of the calls in [call.at, call.at+Interval) must not exceed
// Limit, which bounds every window the venue could count in. units gives a
// call's units in a window of that scope (0: not counted).
func windowViolations(calls []fakeCall, limits []RateLimit, units func(c fakeCall, scope string) int) []string {
	calls = append([]fakeCall(nil), calls...)
	sortCallsByTime(calls)
	var bad []string
	for _, w := range limits {
		sum, j := 0, 0
		for i, c := range calls {
			for j < len(calls) && calls[j].at.Sub(c.at) < w.Interval {
				sum += units(calls[j], w.Scope)
				j++
			}
			if sum > w.Limit {
				bad = append(bad, fmt.Sprintf("%s window %d per %s: %d units in [%s, +%s)", w.Scope, w.Limit, w.Interval, sum, c.at.Sub(execEpoch), w.Interval))
				break
			}
			sum -= units(calls[i], w.Scope)
		}
	}
	return bad
}

func sortCallsByTime(calls []fakeCall) {
	sort.SliceStable(calls, func(i, j int) bool { return calls[i].at.Before(calls[j].at) })
}

// mustExecutor builds an executor or fails the test.
func mustExecutor(t *testing.T, ex IExchange, opts ...ExecutorOption) *Executor {
	t.Helper()
	e, err := NewExecutor(ex, opts...)
	if err != nil {
		t.Fatalf("NewExecutor: %v", err)
	}
	return e
}
