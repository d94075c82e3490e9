package exchange

import (
	"context"
	"fmt"
	"time"
)

// count counts a request dropped unsent after admission.
func (l *Lane) count(why dropReason) {
	s := l.x.sched
	s.mu.Lock()
	l.st.dropped[why]++
	s.mu.Unlock()
}

// spec fills in the lane's name.
func (l *Lane) spec(cs callSpec) callSpec {
	cs.lane = l.name
	return cs
}

// Place places one order through the lane; see [Executor.Place]. A full
// lane refuses it at once with [ErrLaneFull].
func (l *Lane) Place(ctx context.Context, req OrderRequest) (Order, error) {
	return runCall(ctx, l, l.spec(callSpec{op: opPlace, symbol: req.Symbol, clientID: req.ClientOrderID, orders: 1}),
		func(c context.Context) (Order, error) { return l.x.ex.PlaceOrder(c, req) })
}

// Cancel cancels one order through the lane; see [Executor.Cancel].
func (l *Lane) Cancel(ctx context.Context, req CancelRequest) (Order, error) {
	return runCall(ctx, l, l.spec(callSpec{op: opCancel, symbol: req.Symbol, clientID: req.ClientOrderID, orders: 1}),
		func(c context.Context) (Order, error) { return l.x.ex.CancelOrder(c, req) })
}

// Query looks an order up by its client order ID through the lane; see
// [Executor.Query].
func (l *Lane) Query(ctx context.Context, symbol, clientOrderID string) (Order, error) {
	return runCall(ctx, l, l.spec(callSpec{op: opQuery, symbol: symbol, clientID: clientOrderID}),
		func(c context.Context) (Order, error) { return l.x.ex.QueryOrder(c, symbol, clientOrderID) })
}

// OpenOrders lists the symbol's live orders through the lane.
func (l *Lane) OpenOrders(ctx context.Context, symbol string) ([]Order, error) {
	return runCall(ctx, l, l.spec(callSpec{op: opOpenOrders, symbol: symbol}),
		func(c context.Context) ([]Order, error) { return l.x.ex.OpenOrders(c, symbol) })
}

// Fills lists the symbol's executions at or after since through the lane.
func (l *Lane) Fills(ctx context.Context, symbol string, since time.Time) ([]Fill, error) {
	return runCall(ctx, l, l.spec(callSpec{op: opFills, symbol: symbol}),
		func(c context.Context) ([]Fill, error) { return l.x.ex.Fills(c, symbol, since) })
}

// Positions returns the symbol's positions through the lane.
func (l *Lane) Positions(ctx context.Context, symbol string) ([]Position, error) {
	return runCall(ctx, l, l.spec(callSpec{op: opPositions, symbol: symbol}),
		func(c context.Context) ([]Position, error) { return l.x.ex.Positions(c, symbol) })
}

// Account returns balances and account configuration through the lane.
func (l *Lane) Account(ctx context.Context) (Account, error) {
	return runCall(ctx, l, l.spec(callSpec{op: opAccount}),
		func(c context.Context) (Account, error) { return l.x.ex.Account(c) })
}

// Rules returns the symbol's trading rules through the lane.
func (l *Lane) Rules(ctx context.Context, symbol string) (Rules, error) {
	return runCall(ctx, l, l.spec(callSpec{op: opRules, symbol: symbol}),
		func(c context.Context) (Rules, error) { return l.x.ex.Rules(c, symbol) })
}

// Do sends fn, a request of the venue's named operation op (OpMarketData,
// "leverage", "listenKey", …), through the lane as a read: it takes op's
// declared cost from each window, waits its turn among the lane's reads,
// and is retried on a [Retryable] error. It is meant for requests that do
// not place or cancel orders: their outcome is never treated as unknown.
func (l *Lane) Do(ctx context.Context, op string, fn func(context.Context) error) error {
	cs := l.spec(callSpec{op: opNamed, named: op, own: true})
	if o, ok := opByName(op); ok {
		if o.mutating() {
			return l.x.fail(fmt.Errorf("exchange: Do(%q): orders are placed and canceled with Place, Cancel, PlaceBatch and CancelBatch: %w", op, ErrUnsupported))
		}
		cs.op, cs.named = o, ""
	}
	_, err := runCall(ctx, l, cs, func(c context.Context) (struct{}, error) { return struct{}{}, fn(c) })
	return err
}

// ReceiveWindow is the executor's; see [Executor.ReceiveWindow].
func (l *Lane) ReceiveWindow() time.Duration { return l.x.recvWindow }

// ResendSafe is the executor's; see [Executor.ResendSafe].
func (l *Lane) ResendSafe(sentAt, now time.Time) bool { return l.x.ResendSafe(sentAt, now) }

// Executor returns the executor the lane belongs to.
func (l *Lane) Executor() *Executor { return l.x }

// Place places one order. A place whose outcome is unknown (the venue said
// so, or the deadline passed after the request may have been sent) returns
// an [*UnknownOutcomeError] and is never resent. The executor's own
// methods go through its own lane, which has no bound.
func (e *Executor) Place(ctx context.Context, req OrderRequest) (Order, error) {
	return e.def.Place(ctx, req)
}

// Cancel cancels one order; an unknown outcome is reported as by [Executor.Place].
func (e *Executor) Cancel(ctx context.Context, req CancelRequest) (Order, error) {
	return e.def.Cancel(ctx, req)
}

// Query looks an order up by its client order ID ([IExchange.QueryOrder]).
func (e *Executor) Query(ctx context.Context, symbol, clientOrderID string) (Order, error) {
	return e.def.Query(ctx, symbol, clientOrderID)
}

// OpenOrders lists the symbol's live orders ([IExchange.OpenOrders]).
func (e *Executor) OpenOrders(ctx context.Context, symbol string) ([]Order, error) {
	return e.def.OpenOrders(ctx, symbol)
}

// Fills lists the symbol's executions at or after since ([IExchange.Fills]).
func (e *Executor) Fills(ctx context.Context, symbol string, since time.Time) ([]Fill, error) {
	return e.def.Fills(ctx, symbol, since)
}

// Positions returns the symbol's positions ([IExchange.Positions]).
func (e *Executor) Positions(ctx context.Context, symbol string) ([]Position, error) {
	return e.def.Positions(ctx, symbol)
}

// Account returns balances and account configuration ([IExchange.Account]).
func (e *Executor) Account(ctx context.Context) (Account, error) {
	return e.def.Account(ctx)
}

// Rules returns the symbol's trading rules ([IExchange.Rules]).
func (e *Executor) Rules(ctx context.Context, symbol string) (Rules, error) {
	return e.def.Rules(ctx, symbol)
}

// Do sends a request of the venue's named operation op through the
// executor's own lane; see [Lane.Do].
func (e *Executor) Do(ctx context.Context, op string, fn func(context.Context) error) error {
	return e.def.Do(ctx, op, fn)
}
