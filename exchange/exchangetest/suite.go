package exchangetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/shopspring/decimal"
)

// Harness is one venue under test, built afresh for each check by the
// constructor handed to [Run]. The zero value is not usable: Exchange,
// Symbol and Price are required. A Harness is used by one check at a time.
type Harness struct {
	// Exchange is the adapter under test. The suite closes it.
	Exchange exchange.IExchange
	// Symbol is the symbol the checks trade.
	Symbol string
	// Price is the market price the venue starts at. The suite calls
	// SetPrice(Price) before trading and places its resting orders a few
	// percent away from it.
	Price decimal.Decimal
	// SetPrice moves the venue's market price: resting orders the move
	// reaches fill, and later post-only orders that would cross are refused.
	// It should also publish the price on the price stream. Nil skips the
	// checks that need a price move.
	SetPrice func(ctx context.Context, price decimal.Decimal) error
	// Now is the venue's clock, used for Fills' since argument. Nil means
	// time.Now.
	Now func() time.Time
	// Timeout bounds every wait for a stream event or for goroutines to
	// end. Zero means 10 seconds.
	Timeout time.Duration
	// Cleanup, when not nil, is called after the suite closed Exchange
	// (for example to stop a local server).
	Cleanup func()
}

var idSeq atomic.Uint64

// Run runs the conformance checks as subtests of t, calling newHarness once
// per check. See the package documentation for what is checked.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	t.Helper()
	checks := []struct {
		name string
		fn   func(t *testing.T, s *suite)
	}{
		{"Rules", testRules},
		{"PlaceQueryCancel", testPlaceQueryCancel},
		{"CancelByClientOrderID", testCancelByClientID},
		{"UnknownOrder", testUnknownOrder},
		{"PostOnlyCross", testPostOnlyCross},
		{"OffGrid", testOffGrid},
		{"FillLifecycle", testFillLifecycle},
		{"PriceStream", testPriceStream},
		{"StreamsStopOnCancel", testStreamsStop},
		{"CloseStopsGoroutines", testClose},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			s := newSuite(t, newHarness)
			c.fn(t, s)
		})
	}
}

// suite is the per-check state.
type suite struct {
	h       Harness
	ctx     context.Context
	rules   exchange.Rules
	timeout time.Duration
	prefix  string
	mode    exchange.PositionMode
}

func newSuite(t *testing.T, newHarness func(t *testing.T) Harness) *suite {
	t.Helper()
	h := newHarness(t)
	if h.Exchange == nil || h.Symbol == "" || !h.Price.IsPositive() {
		t.Fatalf("exchangetest: harness needs Exchange, Symbol and a positive Price (got %v, %q, %s)", h.Exchange, h.Symbol, h.Price)
	}
	if h.Now == nil {
		h.Now = time.Now
	}
	if h.Timeout <= 0 {
		h.Timeout = 10 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel()
		_ = h.Exchange.Close()
		if h.Cleanup != nil {
			h.Cleanup()
		}
	})
	s := &suite{h: h, ctx: ctx, timeout: h.Timeout}
	s.prefix = fmt.Sprintf("xt%d", h.Now().UnixNano()%1_000_000_000)
	r, err := h.Exchange.Rules(ctx, h.Symbol)
	if err != nil {
		t.Fatalf("Rules(%q): %v", h.Symbol, err)
	}
	s.rules = r
	acct, err := h.Exchange.Account(ctx)
	if err != nil {
		t.Fatalf("Account: %v", err)
	}
	s.mode = acct.PositionMode
	if h.SetPrice != nil {
		if err := h.SetPrice(ctx, h.Price); err != nil {
			t.Fatalf("SetPrice(%s): %v", h.Price, err)
		}
	}
	return s
}

// clientID returns a fresh client order ID in [A-Za-z0-9_-], at most 36 chars.
func (s *suite) clientID(tag string) string {
	return fmt.Sprintf("%s-%s-%d", s.prefix, tag, idSeq.Add(1))
}

// level returns the market price moved by pct percent, rounded to the tick.
func (s *suite) level(pct int64) decimal.Decimal {
	p := s.h.Price.Mul(decimal.NewFromInt(100 + pct)).Div(decimal.NewFromInt(100))
	return s.rules.RoundPrice(p)
}

// qty returns a quantity valid at any price from price×0.9 up: at least
// MinQty, at least 1.2×MinNotional, and at least two steps so that a venue
// can fill it in parts.
func (s *suite) qty(price decimal.Decimal) decimal.Decimal {
	r := s.rules
	q := r.MinQty
	if low := price.Mul(decimal.RequireFromString("0.9")); low.IsPositive() && r.MinNotional.IsPositive() {
		need := r.MinNotional.Mul(decimal.RequireFromString("1.2")).Div(low)
		if need.GreaterThan(q) {
			q = need
		}
	}
	q = q.Div(r.StepSize).Ceil().Mul(r.StepSize)
	if two := r.StepSize.Mul(decimal.NewFromInt(2)); q.LessThan(two) {
		q = two
	}
	return q
}

// limit builds an opening limit order: in hedge mode a buy opens the long
// side and a sell the short side.
func (s *suite) limit(tag string, side exchange.Side, price, qty decimal.Decimal, tif exchange.TimeInForce) exchange.OrderRequest {
	req := exchange.OrderRequest{
		Symbol: s.h.Symbol, ClientOrderID: s.clientID(tag), Side: side,
		Type: exchange.Limit, TimeInForce: tif, Price: price, Quantity: qty,
	}
	if s.mode == exchange.Hedge {
		req.PositionSide = exchange.PositionLong
		if side == exchange.Sell {
			req.PositionSide = exchange.PositionShort
		}
	}
	return req
}

// userStream reads a user-data stream in the test's goroutine, keeping
// every order update it has seen so waits for one order do not lose
// another's.
type userStream struct {
	s    *suite
	ch   <-chan exchange.UserEvent
	seen []exchange.UserEvent
	next int // index in seen of the first event not yet consumed by expectReady
}

func (s *suite) subscribeUser(t *testing.T, ctx context.Context) *userStream {
	t.Helper()
	ch, err := s.h.Exchange.SubscribeUserData(ctx)
	if err != nil {
		t.Fatalf("SubscribeUserData: %v", err)
	}
	u := &userStream{s: s, ch: ch}
	ev := u.read(t, "EventReady")
	if ev.Kind != exchange.EventReady || ev.Reconnected {
		t.Fatalf("first user-data event = %v (Reconnected %v), want READY (Reconnected false)", ev.Kind, ev.Reconnected)
	}
	return u
}

// read returns the next event, failing the test after the timeout.
func (u *userStream) read(t *testing.T, waitingFor string) exchange.UserEvent {
	t.Helper()
	timer := time.NewTimer(u.s.timeout)
	defer timer.Stop()
	select {
	case ev, ok := <-u.ch:
		if !ok {
			t.Fatalf("user-data stream closed while waiting for %s", waitingFor)
		}
		u.seen = append(u.seen, ev)
		return ev
	case <-timer.C:
		t.Fatalf("no user-data event within %s while waiting for %s; seen: %s", u.s.timeout, waitingFor, u.describe())
	}
	return exchange.UserEvent{}
}

func (u *userStream) describe() string {
	var b strings.Builder
	for _, ev := range u.seen {
		if ev.Kind == exchange.EventOrder {
			fmt.Fprintf(&b, "[%s %s %s filled %s] ", ev.Kind, ev.Order.ClientOrderID, ev.Order.Status, ev.Order.FilledQty)
		} else {
			fmt.Fprintf(&b, "[%s] ", ev.Kind)
		}
	}
	return b.String()
}

// orderUpdates returns the order updates seen so far for clientID, in order.
func (u *userStream) orderUpdates(clientID string) []exchange.OrderUpdate {
	var out []exchange.OrderUpdate
	for _, ev := range u.seen {
		if ev.Kind == exchange.EventOrder && ev.Order.ClientOrderID == clientID {
			out = append(out, ev.Order)
		}
	}
	return out
}

// waitTerminal reads until clientID has a terminal update and returns all
// of its updates.
func (u *userStream) waitTerminal(t *testing.T, clientID string) []exchange.OrderUpdate {
	t.Helper()
	for {
		ups := u.orderUpdates(clientID)
		if n := len(ups); n > 0 && ups[n-1].Status.Terminal() {
			return ups
		}
		u.read(t, "a terminal update of "+clientID)
	}
}

// waitStatus reads until clientID has an update with the status.
func (u *userStream) waitStatus(t *testing.T, clientID string, st exchange.OrderStatus) []exchange.OrderUpdate {
	t.Helper()
	for {
		ups := u.orderUpdates(clientID)
		for _, up := range ups {
			if up.Status == st {
				return ups
			}
		}
		u.read(t, st.String()+" of "+clientID)
	}
}

func testRules(t *testing.T, s *suite) {
	r := s.rules
	if r.Symbol != s.h.Symbol {
		t.Errorf("Rules.Symbol = %q, want %q", r.Symbol, s.h.Symbol)
	}
	if err := r.Validate(); err != nil {
		t.Errorf("Rules.Validate: %v", err)
	}
	if !s.h.Price.Equal(r.RoundPrice(s.h.Price)) {
		t.Errorf("harness Price %s is not on the tick %s", s.h.Price, r.TickSize)
	}
	again, err := s.h.Exchange.Rules(s.ctx, s.h.Symbol)
	if err != nil {
		t.Fatalf("second Rules: %v", err)
	}
	if !again.TickSize.Equal(r.TickSize) || !again.StepSize.Equal(r.StepSize) || !again.MinQty.Equal(r.MinQty) || !again.MinNotional.Equal(r.MinNotional) {
		t.Errorf("Rules changed between calls: %+v then %+v", r, again)
	}
}

// checkEcho compares an order the venue returned with the request.
func checkEcho(t *testing.T, what string, got exchange.Order, req exchange.OrderRequest) {
	t.Helper()
	if got.ClientOrderID != req.ClientOrderID {
		t.Errorf("%s: ClientOrderID = %q, want %q", what, got.ClientOrderID, req.ClientOrderID)
	}
	if got.Symbol != req.Symbol {
		t.Errorf("%s: Symbol = %q, want %q", what, got.Symbol, req.Symbol)
	}
	if got.Side != req.Side {
		t.Errorf("%s: Side = %v, want %v", what, got.Side, req.Side)
	}
	if !got.Price.Equal(req.Price) {
		t.Errorf("%s: Price = %s, want %s", what, got.Price, req.Price)
	}
	if !got.Quantity.Equal(req.Quantity) {
		t.Errorf("%s: Quantity = %s, want %s", what, got.Quantity, req.Quantity)
	}
	if got.OrderID == "" {
		t.Errorf("%s: empty OrderID", what)
	}
}

func findOrder(orders []exchange.Order, clientID string) (exchange.Order, bool) {
	for _, o := range orders {
		if o.ClientOrderID == clientID {
			return o, true
		}
	}
	return exchange.Order{}, false
}

func testPlaceQueryCancel(t *testing.T, s *suite) {
	us := s.subscribeUser(t, s.ctx)
	price := s.level(-5)
	req := s.limit("pqc", exchange.Buy, price, s.qty(price), exchange.GTC)
	placed, err := s.h.Exchange.PlaceOrder(s.ctx, req)
	if err != nil {
		t.Fatalf("PlaceOrder(%+v): %v", req, err)
	}
	checkEcho(t, "PlaceOrder", placed, req)
	if placed.Status != exchange.StatusNew {
		t.Errorf("PlaceOrder status = %v, want NEW", placed.Status)
	}
	q, err := s.h.Exchange.QueryOrder(s.ctx, s.h.Symbol, req.ClientOrderID)
	if err != nil {
		t.Fatalf("QueryOrder(%q): %v", req.ClientOrderID, err)
	}
	checkEcho(t, "QueryOrder", q, req)
	if q.OrderID != placed.OrderID || q.Status != exchange.StatusNew || !q.FilledQty.IsZero() {
		t.Errorf("QueryOrder = id %s status %v filled %s, want id %s NEW 0", q.OrderID, q.Status, q.FilledQty, placed.OrderID)
	}
	open, err := s.h.Exchange.OpenOrders(s.ctx, s.h.Symbol)
	if err != nil {
		t.Fatalf("OpenOrders: %v", err)
	}
	o, ok := findOrder(open, req.ClientOrderID)
	if !ok {
		t.Fatalf("OpenOrders lacks %q: %+v", req.ClientOrderID, open)
	}
	checkEcho(t, "OpenOrders", o, req)

	c, err := s.h.Exchange.CancelOrder(s.ctx, exchange.CancelRequest{Symbol: s.h.Symbol, OrderID: placed.OrderID})
	if err != nil {
		t.Fatalf("CancelOrder(%s): %v", placed.OrderID, err)
	}
	if c.Status != exchange.StatusCanceled || c.ClientOrderID != req.ClientOrderID {
		t.Errorf("CancelOrder = %q %v, want %q CANCELED", c.ClientOrderID, c.Status, req.ClientOrderID)
	}
	q, err = s.h.Exchange.QueryOrder(s.ctx, s.h.Symbol, req.ClientOrderID)
	if err != nil {
		t.Fatalf("QueryOrder after cancel: %v", err)
	}
	if q.Status != exchange.StatusCanceled {
		t.Errorf("QueryOrder after cancel status = %v, want CANCELED", q.Status)
	}
	open, err = s.h.Exchange.OpenOrders(s.ctx, s.h.Symbol)
	if err != nil {
		t.Fatalf("OpenOrders after cancel: %v", err)
	}
	if _, ok := findOrder(open, req.ClientOrderID); ok {
		t.Errorf("OpenOrders still lists canceled %q", req.ClientOrderID)
	}
	if _, err := s.h.Exchange.CancelOrder(s.ctx, exchange.CancelRequest{Symbol: s.h.Symbol, OrderID: placed.OrderID}); !errors.Is(err, exchange.ErrOrderNotFound) {
		t.Errorf("second CancelOrder error = %v, want ErrOrderNotFound", err)
	}
	ups := us.waitTerminal(t, req.ClientOrderID)
	want := []exchange.OrderStatus{exchange.StatusNew, exchange.StatusCanceled}
	if got := statuses(ups); !equalStatuses(got, want) {
		t.Errorf("stream statuses of %q = %v, want %v", req.ClientOrderID, got, want)
	}
	for _, up := range ups {
		if up.OrderID != placed.OrderID || up.Side != exchange.Buy || !up.Price.Equal(price) || !up.Quantity.Equal(req.Quantity) {
			t.Errorf("stream update %+v does not match order %s", up, placed.OrderID)
		}
	}
}

func testCancelByClientID(t *testing.T, s *suite) {
	price := s.level(5)
	req := s.limit("cbc", exchange.Sell, price, s.qty(price), exchange.GTC)
	placed, err := s.h.Exchange.PlaceOrder(s.ctx, req)
	if err != nil {
		t.Fatalf("PlaceOrder: %v", err)
	}
	checkEcho(t, "PlaceOrder", placed, req)
	c, err := s.h.Exchange.CancelOrder(s.ctx, exchange.CancelRequest{Symbol: s.h.Symbol, ClientOrderID: req.ClientOrderID})
	if err != nil {
		t.Fatalf("CancelOrder by client ID: %v", err)
	}
	if c.Status != exchange.StatusCanceled || c.OrderID != placed.OrderID {
		t.Errorf("CancelOrder = %s %v, want %s CANCELED", c.OrderID, c.Status, placed.OrderID)
	}
	if _, err := s.h.Exchange.CancelOrder(s.ctx, exchange.CancelRequest{Symbol: s.h.Symbol, ClientOrderID: req.ClientOrderID}); !errors.Is(err, exchange.ErrOrderNotFound) {
		t.Errorf("second CancelOrder error = %v, want ErrOrderNotFound", err)
	}
}

func testUnknownOrder(t *testing.T, s *suite) {
	id := s.clientID("nx")
	if _, err := s.h.Exchange.QueryOrder(s.ctx, s.h.Symbol, id); !errors.Is(err, exchange.ErrOrderNotFound) {
		t.Errorf("QueryOrder(unknown) error = %v, want ErrOrderNotFound", err)
	}
	if _, err := s.h.Exchange.CancelOrder(s.ctx, exchange.CancelRequest{Symbol: s.h.Symbol, ClientOrderID: id}); !errors.Is(err, exchange.ErrOrderNotFound) {
		t.Errorf("CancelOrder(unknown) error = %v, want ErrOrderNotFound", err)
	}
}

// PostOnlyRejected reports whether a post-only order was refused, in either
// of the two ways venues refuse: err matches [exchange.ErrPostOnlyRejected]
// (nothing was created), or the order was accepted and its updates end in
// EXPIRED or CANCELED with nothing filled. The engine treats both as the
// same slot event; adapter authors can use this to check their own venue.
func PostOnlyRejected(err error, updates []exchange.OrderUpdate) bool {
	if err != nil {
		return errors.Is(err, exchange.ErrPostOnlyRejected)
	}
	if len(updates) == 0 {
		return false
	}
	last := updates[len(updates)-1]
	return (last.Status == exchange.StatusExpired || last.Status == exchange.StatusCanceled) && last.FilledQty.IsZero()
}

func testPostOnlyCross(t *testing.T, s *suite) {
	if s.h.SetPrice == nil {
		t.Skip("harness has no SetPrice")
	}
	us := s.subscribeUser(t, s.ctx)
	for _, side := range []exchange.Side{exchange.Buy, exchange.Sell} {
		price := s.level(2)
		if side == exchange.Sell {
			price = s.level(-2)
		}
		req := s.limit("po", side, price, s.qty(price), exchange.PostOnly)
		_, err := s.h.Exchange.PlaceOrder(s.ctx, req)
		var ups []exchange.OrderUpdate
		switch {
		case err == nil:
			ups = us.waitTerminal(t, req.ClientOrderID)
		case !errors.Is(err, exchange.ErrPostOnlyRejected):
			t.Fatalf("crossing post-only %v at %s (market %s): error %v, want ErrPostOnlyRejected or a later expiry", side, price, s.h.Price, err)
		}
		if !PostOnlyRejected(err, ups) {
			t.Errorf("crossing post-only %v was not rejected: err %v, updates %+v", side, err, ups)
		}
		open, oerr := s.h.Exchange.OpenOrders(s.ctx, s.h.Symbol)
		if oerr != nil {
			t.Fatalf("OpenOrders: %v", oerr)
		}
		if _, ok := findOrder(open, req.ClientOrderID); ok {
			t.Errorf("rejected post-only %q rests on the book", req.ClientOrderID)
		}
	}
	// A post-only order that does not cross rests.
	price := s.level(-3)
	req := s.limit("pok", exchange.Buy, price, s.qty(price), exchange.PostOnly)
	o, err := s.h.Exchange.PlaceOrder(s.ctx, req)
	if err != nil {
		t.Fatalf("non-crossing post-only: %v", err)
	}
	if o.Status != exchange.StatusNew {
		t.Errorf("non-crossing post-only status = %v, want NEW", o.Status)
	}
}

func testOffGrid(t *testing.T, s *suite) {
	price := s.level(-5)
	qty := s.qty(price)
	half := decimal.RequireFromString("0.5")
	cases := []struct {
		name       string
		price, qty decimal.Decimal
	}{
		{"price off tick", price.Add(s.rules.TickSize.Mul(half)), qty},
		{"quantity off step", price, qty.Add(s.rules.StepSize.Mul(half))},
		{"zero quantity", price, decimal.Zero},
		{"negative price", price.Neg(), qty},
	}
	for _, c := range cases {
		req := s.limit("bad", exchange.Buy, c.price, c.qty, exchange.GTC)
		_, err := s.h.Exchange.PlaceOrder(s.ctx, req)
		if !errors.Is(err, exchange.ErrInvalidOrder) {
			t.Errorf("%s (price %s qty %s): error %v, want ErrInvalidOrder", c.name, c.price, c.qty, err)
		}
		if _, qerr := s.h.Exchange.QueryOrder(s.ctx, s.h.Symbol, req.ClientOrderID); !errors.Is(qerr, exchange.ErrOrderNotFound) {
			t.Errorf("%s: invalid order %q exists (query error %v)", c.name, req.ClientOrderID, qerr)
		}
	}
}

func statuses(ups []exchange.OrderUpdate) []exchange.OrderStatus {
	out := make([]exchange.OrderStatus, len(ups))
	for i, u := range ups {
		out[i] = u.Status
	}
	return out
}

func equalStatuses(a, b []exchange.OrderStatus) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// reporter is the part of *testing.T the pure checks use.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// checkFillSequence checks one filled order's updates: NEW first, then
// PARTIALLY_FILLED zero or more times, then FILLED; cumulative quantity
// never decreasing; last-fill quantities adding up to it; fills at or
// better than the limit.
func checkFillSequence(t reporter, ups []exchange.OrderUpdate, req exchange.OrderRequest) {
	t.Helper()
	if len(ups) < 2 || ups[0].Status != exchange.StatusNew || ups[len(ups)-1].Status != exchange.StatusFilled {
		t.Fatalf("updates of %q = %v, want NEW, (PARTIALLY_FILLED,) FILLED", req.ClientOrderID, statuses(ups))
	}
	sum, prev := decimal.Zero, decimal.Zero
	for i, u := range ups {
		if i > 0 && i < len(ups)-1 && u.Status != exchange.StatusPartiallyFilled {
			t.Errorf("update %d of %q is %v, want PARTIALLY_FILLED", i, req.ClientOrderID, u.Status)
		}
		if u.FilledQty.LessThan(prev) {
			t.Errorf("update %d of %q: FilledQty went from %s to %s", i, req.ClientOrderID, prev, u.FilledQty)
		}
		prev = u.FilledQty
		if i == 0 {
			if !u.FilledQty.IsZero() || !u.LastFillQty.IsZero() {
				t.Errorf("NEW update of %q has fills: %+v", req.ClientOrderID, u)
			}
			continue
		}
		if !u.LastFillQty.IsPositive() || u.TradeID == "" {
			t.Errorf("fill update %d of %q lacks LastFillQty/TradeID: %+v", i, req.ClientOrderID, u)
		}
		if (req.Side == exchange.Buy && u.LastFillPrice.GreaterThan(req.Price)) || (req.Side == exchange.Sell && u.LastFillPrice.LessThan(req.Price)) {
			t.Errorf("fill update %d of %q at %s is worse than the limit %s", i, req.ClientOrderID, u.LastFillPrice, req.Price)
		}
		sum = sum.Add(u.LastFillQty)
		if !sum.Equal(u.FilledQty) {
			t.Errorf("update %d of %q: last fills sum to %s, FilledQty %s", i, req.ClientOrderID, sum, u.FilledQty)
		}
	}
	if !prev.Equal(req.Quantity) {
		t.Errorf("%q FILLED with FilledQty %s, want %s", req.ClientOrderID, prev, req.Quantity)
	}
}

func netPosition(t *testing.T, s *suite) decimal.Decimal {
	t.Helper()
	ps, err := s.h.Exchange.Positions(s.ctx, s.h.Symbol)
	if err != nil {
		t.Fatalf("Positions: %v", err)
	}
	n := decimal.Zero
	for _, p := range ps {
		if p.Symbol != s.h.Symbol {
			t.Errorf("Positions(%q) returned %q", s.h.Symbol, p.Symbol)
		}
		n = n.Add(p.Quantity)
	}
	return n
}

func testFillLifecycle(t *testing.T, s *suite) {
	if s.h.SetPrice == nil {
		t.Skip("harness has no SetPrice")
	}
	us := s.subscribeUser(t, s.ctx)
	base := netPosition(t, s)
	since := s.h.Now().Truncate(time.Millisecond)

	entryPrice := s.level(-2)
	entry := s.limit("in", exchange.Buy, entryPrice, s.qty(entryPrice), exchange.GTC)
	placed, err := s.h.Exchange.PlaceOrder(s.ctx, entry)
	if err != nil {
		t.Fatalf("PlaceOrder entry: %v", err)
	}
	us.waitStatus(t, entry.ClientOrderID, exchange.StatusNew)
	if err := s.h.SetPrice(s.ctx, entryPrice.Sub(s.rules.TickSize.Mul(decimal.NewFromInt(2)))); err != nil {
		t.Fatalf("SetPrice: %v", err)
	}
	ups := us.waitTerminal(t, entry.ClientOrderID)
	checkFillSequence(t, ups, entry)
	for _, u := range ups {
		if u.OrderID != placed.OrderID || u.Kind != exchange.ExecNormal {
			t.Errorf("update %+v: OrderID/Kind do not match order %s", u, placed.OrderID)
		}
	}

	q, err := s.h.Exchange.QueryOrder(s.ctx, s.h.Symbol, entry.ClientOrderID)
	if err != nil {
		t.Fatalf("QueryOrder filled: %v", err)
	}
	if q.Status != exchange.StatusFilled || !q.FilledQty.Equal(entry.Quantity) {
		t.Errorf("QueryOrder filled = %v %s, want FILLED %s", q.Status, q.FilledQty, entry.Quantity)
	}
	if got := netPosition(t, s); !got.Equal(base.Add(entry.Quantity)) {
		t.Errorf("position after entry = %s, want %s", got, base.Add(entry.Quantity))
	}

	// The exit: reduce-only in one-way mode, the long side in hedge mode.
	exitPrice := s.level(2)
	exit := s.limit("out", exchange.Sell, exitPrice, entry.Quantity, exchange.GTC)
	if s.mode == exchange.Hedge {
		exit.PositionSide = exchange.PositionLong
	} else {
		exit.ReduceOnly = true
	}
	exitPlaced, err := s.h.Exchange.PlaceOrder(s.ctx, exit)
	if err != nil {
		t.Fatalf("PlaceOrder exit: %v", err)
	}
	us.waitStatus(t, exit.ClientOrderID, exchange.StatusNew)
	if err := s.h.SetPrice(s.ctx, exitPrice.Add(s.rules.TickSize.Mul(decimal.NewFromInt(2)))); err != nil {
		t.Fatalf("SetPrice: %v", err)
	}
	xups := us.waitTerminal(t, exit.ClientOrderID)
	checkFillSequence(t, xups, exit)
	if got := netPosition(t, s); !got.Equal(base) {
		t.Errorf("position after exit = %s, want %s", got, base)
	}

	// Fills since the start hold exactly the stream's fills.
	streamFills := map[string]decimal.Decimal{}
	var last time.Time
	for _, u := range append(ups, xups...) {
		if u.LastFillQty.IsPositive() {
			streamFills[u.TradeID] = u.LastFillQty
		}
	}
	fills, err := s.h.Exchange.Fills(s.ctx, s.h.Symbol, since)
	if err != nil {
		t.Fatalf("Fills: %v", err)
	}
	got := map[string]decimal.Decimal{}
	for _, f := range fills {
		switch {
		case f.OrderID == placed.OrderID:
			if f.ClientOrderID != "" && f.ClientOrderID != entry.ClientOrderID {
				t.Errorf("fill %s of order %s has ClientOrderID %q, want %q", f.TradeID, f.OrderID, f.ClientOrderID, entry.ClientOrderID)
			}
		case f.OrderID == exitPlaced.OrderID:
			if f.ClientOrderID != "" && f.ClientOrderID != exit.ClientOrderID {
				t.Errorf("fill %s of order %s has ClientOrderID %q, want %q", f.TradeID, f.OrderID, f.ClientOrderID, exit.ClientOrderID)
			}
		default:
			continue
		}
		if f.Time.Before(since) {
			t.Errorf("Fills(since %s) returned a fill at %s", since, f.Time)
		}
		if f.FeeAsset == "" || f.Symbol != s.h.Symbol {
			t.Errorf("fill %+v lacks FeeAsset or Symbol", f)
		}
		if f.Time.After(last) {
			last = f.Time
		}
		got[f.TradeID] = got[f.TradeID].Add(f.Quantity)
	}
	if len(got) != len(streamFills) {
		t.Errorf("Fills returned trades %v, the stream %v", got, streamFills)
	}
	for id, q := range streamFills {
		if !got[id].Equal(q) {
			t.Errorf("trade %s: Fills quantity %s, stream %s", id, got[id], q)
		}
	}
	later, err := s.h.Exchange.Fills(s.ctx, s.h.Symbol, last.Add(time.Millisecond))
	if err != nil {
		t.Fatalf("Fills later: %v", err)
	}
	for _, f := range later {
		if _, ok := streamFills[f.TradeID]; ok {
			t.Errorf("Fills(since %s) returned trade %s at %s", last.Add(time.Millisecond), f.TradeID, f.Time)
		}
	}
}

func testPriceStream(t *testing.T, s *suite) {
	if s.h.SetPrice == nil {
		t.Skip("harness has no SetPrice")
	}
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	ch, err := s.h.Exchange.SubscribePrices(ctx, s.h.Symbol)
	if err != nil {
		t.Fatalf("SubscribePrices: %v", err)
	}
	target := s.level(1)
	timer := time.NewTimer(s.timeout)
	defer timer.Stop()
	// The stream may connect after the first SetPrice; repeat it on every
	// update that does not yet show the target.
	if err := s.h.SetPrice(s.ctx, target); err != nil {
		t.Fatalf("SetPrice: %v", err)
	}
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	for {
		select {
		case u, ok := <-ch:
			if !ok {
				t.Fatal("price stream closed early")
			}
			if u.Symbol != s.h.Symbol {
				t.Fatalf("price update for %q, want %q", u.Symbol, s.h.Symbol)
			}
			if !u.Bid.IsZero() && !u.Ask.IsZero() && u.Bid.GreaterThan(u.Ask) {
				t.Errorf("price update bid %s above ask %s", u.Bid, u.Ask)
			}
			if u.Price.Equal(target) {
				return
			}
		case <-poll.C:
			if err := s.h.SetPrice(s.ctx, target); err != nil {
				t.Fatalf("SetPrice: %v", err)
			}
		case <-timer.C:
			t.Fatalf("no price update showing %s within %s", target, s.timeout)
		}
	}
}

// drainUntilClosed reads ch until it is closed, failing after timeout.
func drainUntilClosed[T any](t *testing.T, name string, ch <-chan T, timeout time.Duration) {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-timer.C:
			t.Fatalf("%s channel not closed within %s of its context ending", name, timeout)
		}
	}
}

func testStreamsStop(t *testing.T, s *suite) {
	ctx, cancel := context.WithCancel(s.ctx)
	prices, err := s.h.Exchange.SubscribePrices(ctx, s.h.Symbol)
	if err != nil {
		t.Fatalf("SubscribePrices: %v", err)
	}
	klines, err := s.h.Exchange.SubscribeKlines(ctx, s.h.Symbol, "1m")
	if err != nil {
		t.Fatalf("SubscribeKlines: %v", err)
	}
	us := s.subscribeUser(t, ctx)
	cancel()
	drainUntilClosed(t, "price", prices, s.timeout)
	drainUntilClosed(t, "kline", klines, s.timeout)
	drainUntilClosed(t, "user-data", us.ch, s.timeout)
}

func testClose(t *testing.T, s *suite) {
	// Let goroutines from the harness's setup settle before the baseline.
	before := settledGoroutines(s.timeout / 10)
	if _, err := s.h.Exchange.SubscribePrices(s.ctx, s.h.Symbol); err != nil {
		t.Fatalf("SubscribePrices: %v", err)
	}
	if _, err := s.h.Exchange.SubscribeKlines(s.ctx, s.h.Symbol, "1m"); err != nil {
		t.Fatalf("SubscribeKlines: %v", err)
	}
	s.subscribeUser(t, s.ctx) // never drained: Close must not wait on the consumer
	price := s.level(-5)
	if _, err := s.h.Exchange.PlaceOrder(s.ctx, s.limit("cl", exchange.Buy, price, s.qty(price), exchange.GTC)); err != nil {
		t.Fatalf("PlaceOrder: %v", err)
	}
	if err := s.h.Exchange.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	deadline := time.Now().Add(s.timeout)
	n := runtime.NumGoroutine()
	for n > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	if n > before {
		var buf bytes.Buffer
		_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
		t.Errorf("%d goroutines after Close, %d before the streams opened:\n%s", n, before, buf.String())
	}
	if _, err := s.h.Exchange.OpenOrders(context.Background(), s.h.Symbol); !errors.Is(err, exchange.ErrClosed) {
		t.Errorf("OpenOrders after Close: error %v, want ErrClosed", err)
	}
	if _, err := s.h.Exchange.SubscribeUserData(context.Background()); !errors.Is(err, exchange.ErrClosed) {
		t.Errorf("SubscribeUserData after Close: error %v, want ErrClosed", err)
	}
}

// settledGoroutines returns the goroutine count once it has stopped
// falling for a while (bounded by wait×10).
func settledGoroutines(wait time.Duration) int {
	if wait <= 0 {
		wait = time.Second
	}
	n := runtime.NumGoroutine()
	for i := 0; i < 10; i++ {
		time.Sleep(wait / 10)
		m := runtime.NumGoroutine()
		if m >= n {
			return n
		}
		n = m
	}
	return n
}
