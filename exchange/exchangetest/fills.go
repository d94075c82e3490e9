package exchangetest

import (
	"errors"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/shopspring/decimal"
)

func netPosition(t tb, s *suite) decimal.Decimal {
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

// testFillLifecycle fills an entry and its exit by moving the price and
// checks each order's updates, the fees, the trade IDs, QueryOrder, Fills
// and Positions against each other.
func testFillLifecycle(t tb, s *suite) {
	if s.h.SetPrice == nil {
		t.Skip("harness has no SetPrice")
	}
	us := s.subscribeUser(t, s.ctx)
	base := netPosition(t, s)
	since := s.h.Now().Truncate(time.Millisecond)
	two := s.rules.TickSize.Mul(decimal.NewFromInt(2))

	entryPrice := s.level(-2)
	entry := s.limit("in", exchange.Buy, entryPrice, s.qty(entryPrice), exchange.GTC)
	placed, err := s.placePaced(t, entry)
	if err != nil {
		t.Fatalf("PlaceOrder entry: %v", err)
	}
	us.waitStatus(t, entry.ClientOrderID, exchange.StatusNew)
	us.moveTo(t, entryPrice.Sub(two))
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
	if !q.AvgPrice.IsZero() && !q.AvgPrice.Equal(entryPrice) {
		t.Errorf("QueryOrder filled: AvgPrice %s, want %s (every fill at the limit) or zero (not reported)", q.AvgPrice, entryPrice)
	}
	if _, err := s.h.Exchange.CancelOrder(s.ctx, exchange.CancelRequest{Symbol: s.h.Symbol, OrderID: placed.OrderID}); !errors.Is(err, exchange.ErrOrderNotFound) {
		t.Errorf("CancelOrder of the filled entry: error %v, want ErrOrderNotFound", err)
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
	exitPlaced, err := s.placePaced(t, exit)
	if err != nil {
		t.Fatalf("PlaceOrder exit: %v", err)
	}
	us.waitStatus(t, exit.ClientOrderID, exchange.StatusNew)
	us.moveTo(t, exitPrice.Add(two))
	xups := us.waitTerminal(t, exit.ClientOrderID)
	us.touch = decimal.Zero
	checkFillSequence(t, xups, exit)
	if got := netPosition(t, s); !got.Equal(base) {
		t.Errorf("position after exit = %s, want %s", got, base)
	}

	// Every fill carries its trade ID (one per fill), maker flag and fee;
	// Fills since the start hold exactly the stream's fills.
	ledger := newTradeLedger()
	var last time.Time
	for _, u := range append(ups, xups...) {
		if u.LastFillQty.IsPositive() {
			checkStreamFill(t, u, s.h.NoFees)
			ledger.add(t, u)
		}
	}
	fills, err := s.h.Exchange.Fills(s.ctx, s.h.Symbol, since)
	if err != nil {
		t.Fatalf("Fills: %v", err)
	}
	orders := map[string]string{placed.OrderID: entry.ClientOrderID, exitPlaced.OrderID: exit.ClientOrderID}
	for _, f := range fills {
		if _, ours := orders[f.OrderID]; !ours {
			continue
		}
		if f.Time.Before(since) {
			t.Errorf("Fills(since %s) returned a fill at %s", since, f.Time)
		}
		if f.Symbol != s.h.Symbol {
			t.Errorf("fill %s has Symbol %q, want %q", f.TradeID, f.Symbol, s.h.Symbol)
		}
		if f.Time.After(last) {
			last = f.Time
		}
	}
	perOrder := compareFills(t, fills, ledger, orders, true, s.h.NoFees)
	for id, c := range orders {
		if !perOrder[id].Equal(entry.Quantity) {
			t.Errorf("Fills of %q add up to %s, want %s", c, perOrder[id], entry.Quantity)
		}
	}
	later, err := s.h.Exchange.Fills(s.ctx, s.h.Symbol, last.Add(time.Millisecond))
	if err != nil {
		t.Fatalf("Fills later: %v", err)
	}
	for _, f := range later {
		if _, ok := ledger.byID[f.TradeID]; ok {
			t.Errorf("Fills(since %s) returned trade %s at %s", last.Add(time.Millisecond), f.TradeID, f.Time)
		}
	}
}
