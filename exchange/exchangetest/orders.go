package exchangetest

import (
	"errors"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/shopspring/decimal"
)

func testRules(t tb, s *suite) {
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
func checkEcho(t tb, what string, got exchange.Order, req exchange.OrderRequest) {
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

func testPlaceQueryCancel(t tb, s *suite) {
	us := s.subscribeUser(t, s.ctx)
	price := s.level(-5)
	req := s.limit("pqc", exchange.Buy, price, s.qty(price), exchange.GTC)
	placed, err := s.placePaced(t, req)
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

func testCancelByClientID(t tb, s *suite) {
	price := s.level(5)
	req := s.limit("cbc", exchange.Sell, price, s.qty(price), exchange.GTC)
	placed, err := s.placePaced(t, req)
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

func testUnknownOrder(t tb, s *suite) {
	id := s.clientID("nx")
	if _, err := s.h.Exchange.QueryOrder(s.ctx, s.h.Symbol, id); !errors.Is(err, exchange.ErrOrderNotFound) {
		t.Errorf("QueryOrder(unknown) error = %v, want ErrOrderNotFound", err)
	}
	if _, err := s.h.Exchange.CancelOrder(s.ctx, exchange.CancelRequest{Symbol: s.h.Symbol, ClientOrderID: id}); !errors.Is(err, exchange.ErrOrderNotFound) {
		t.Errorf("CancelOrder(unknown) error = %v, want ErrOrderNotFound", err)
	}
}

// unlistedSymbol is a symbol no venue lists.
const unlistedSymbol = "GMXNOSUCHSYMBOLUSDT"

// testUnknownSymbol checks that an unlisted symbol is ErrInvalidOrder for
// Rules, and is never taken for a missing order by QueryOrder (a
// not-found answer is the engine's proof of absence).
func testUnknownSymbol(t tb, s *suite) {
	if _, err := s.h.Exchange.Rules(s.ctx, unlistedSymbol); !errors.Is(err, exchange.ErrInvalidOrder) {
		t.Errorf("Rules(%q) error = %v, want ErrInvalidOrder", unlistedSymbol, err)
	}
	_, err := s.h.Exchange.QueryOrder(s.ctx, unlistedSymbol, s.clientID("nx"))
	if err == nil || errors.Is(err, exchange.ErrOrderNotFound) {
		t.Errorf("QueryOrder(%q, …) error = %v, want an error other than ErrOrderNotFound", unlistedSymbol, err)
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

func testPostOnlyCross(t tb, s *suite) {
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
		_, err := s.placePaced(t, req)
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
	o, err := s.placePaced(t, req)
	if err != nil {
		t.Fatalf("non-crossing post-only: %v", err)
	}
	if o.Status != exchange.StatusNew {
		t.Errorf("non-crossing post-only status = %v, want NEW", o.Status)
	}
}

func testOffGrid(t tb, s *suite) {
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
		_, err := s.placePaced(t, req)
		if !errors.Is(err, exchange.ErrInvalidOrder) {
			t.Errorf("%s (price %s qty %s): error %v, want ErrInvalidOrder", c.name, c.price, c.qty, err)
		}
		if _, qerr := s.h.Exchange.QueryOrder(s.ctx, s.h.Symbol, req.ClientOrderID); !errors.Is(qerr, exchange.ErrOrderNotFound) {
			t.Errorf("%s: invalid order %q exists (query error %v)", c.name, req.ClientOrderID, qerr)
		}
	}
}
