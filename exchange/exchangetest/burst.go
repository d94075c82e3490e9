package exchangetest

import (
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/shopspring/decimal"
)

// testFillBurst places Harness.BurstOrders resting buys without reading
// the order stream, fills them all with one price move, and only then
// reads. The stream must deliver every order's NEW and fills, or say that
// it lost some: an EventDisconnected and then an EventReady with
// Reconnected set, after which the venue's REST view (QueryOrder, Fills)
// must hold every fill, as the runner reconciles from it. Silently losing
// an event fails.
func testFillBurst(t tb, s *suite) {
	if s.h.SetPrice == nil {
		t.Skip("harness has no SetPrice")
	}
	us := s.subscribeUser(t, s.ctx)
	since := s.h.Now().Truncate(time.Millisecond)
	n := s.h.BurstOrders
	reqs, orders, qty := s.restingBuys(t, "b", n)
	us.moveTo(t, s.level(-4))

	// Read until every order is FILLED or the stream reports a loss.
	deadline := time.Now().Add(s.timeout)
	done := map[string]bool{} // order IDs with a FILLED update
	for len(done) < n && !us.lossReported() {
		ev, ok := us.next(t, time.Until(deadline), "the burst's fills")
		if !ok {
			break
		}
		if ev.Kind == exchange.EventOrder && ev.Order.Status == exchange.StatusFilled {
			if _, ours := orders[ev.Order.OrderID]; ours {
				done[ev.Order.OrderID] = true
			}
		}
	}
	filled := len(done)
	us.touch = decimal.Zero

	ledger := newTradeLedger()
	for _, ev := range us.seen {
		if ev.Kind != exchange.EventOrder || !ev.Order.LastFillQty.IsPositive() {
			continue
		}
		if _, ours := orders[ev.Order.OrderID]; ours {
			checkStreamFill(t, ev.Order, s.h.NoFees)
			ledger.add(t, ev.Order)
		}
	}
	lost := us.lossReported()
	if !lost && filled < n {
		t.Fatalf("%d of %d burst orders have no FILLED update within %s, and the order stream reported no loss: "+
			"an adapter that cannot deliver an event must send EventDisconnected and then EventReady{Reconnected: true}, "+
			"so that the consumer reconciles; seen: %s", n-filled, n, s.timeout, us.describe())
	}
	if lost {
		t.Logf("the order stream reported a loss during a burst of %d orders; checking the venue's own view", n)
		waitReconnected(t, us)
	} else {
		for _, req := range reqs {
			checkFillSequence(t, us.orderUpdates(req.ClientOrderID), req)
		}
	}
	for _, req := range reqs {
		ups := us.orderUpdates(req.ClientOrderID)
		for i := 1; i < len(ups); i++ {
			if ups[i].FilledQty.LessThan(ups[i-1].FilledQty) {
				t.Errorf("updates of %q: FilledQty went from %s to %s", req.ClientOrderID, ups[i-1].FilledQty, ups[i].FilledQty)
			}
		}
		if lost {
			q, err := s.h.Exchange.QueryOrder(s.ctx, s.h.Symbol, req.ClientOrderID)
			if err != nil {
				t.Fatalf("QueryOrder(%q) after the loss: %v", req.ClientOrderID, err)
			}
			if q.Status != exchange.StatusFilled || !q.FilledQty.Equal(qty) {
				t.Errorf("QueryOrder(%q) after the burst = %v filled %s, want FILLED %s", req.ClientOrderID, q.Status, q.FilledQty, qty)
			}
		}
	}
	fills, err := s.h.Exchange.Fills(s.ctx, s.h.Symbol, since)
	if err != nil {
		t.Fatalf("Fills: %v", err)
	}
	perOrder := compareFills(t, fills, ledger, orders, !lost, s.h.NoFees)
	for id, c := range orders {
		if !perOrder[id].Equal(qty) {
			t.Errorf("Fills of burst order %q add up to %s, want %s", c, perOrder[id], qty)
		}
	}
}

// waitReconnected reads until the stream, having reported a loss, is
// ready again (EventReady with Reconnected set).
func waitReconnected(t tb, us *userStream) {
	t.Helper()
	for {
		for i, ev := range us.seen {
			if i > 0 && ev.Kind == exchange.EventReady {
				if !ev.Reconnected {
					t.Errorf("EventReady after the first has Reconnected false")
				}
				return
			}
		}
		us.read(t, "EventReady{Reconnected: true} after the reported loss")
	}
}

// restingBuys places n resting buys between 1 % and 3 % below the market,
// of one quantity, and returns the requests, the client order ID of each
// order ID, and the quantity.
func (s *suite) restingBuys(t tb, tag string, n int) ([]exchange.OrderRequest, map[string]string, decimal.Decimal) {
	t.Helper()
	hi, lo := s.level(-1), s.level(-3)
	qty := s.qty(lo)
	span := hi.Sub(lo)
	reqs := make([]exchange.OrderRequest, 0, n)
	orders := map[string]string{} // order ID → client order ID
	for i := 0; i < n; i++ {
		price := s.rules.RoundPrice(hi.Sub(span.Mul(decimal.NewFromInt(int64(i))).Div(decimal.NewFromInt(int64(n)))))
		req := s.limit(tag, exchange.Buy, price, qty, exchange.GTC)
		o, err := s.placePaced(t, req)
		if err != nil {
			t.Fatalf("resting order %d of %d (%s at %s): %v", i+1, n, qty, price, err)
		}
		reqs = append(reqs, req)
		orders[o.OrderID] = req.ClientOrderID
	}
	return reqs, orders, qty
}
