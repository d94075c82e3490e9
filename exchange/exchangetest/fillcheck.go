package exchangetest

import (
	"fmt"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/shopspring/decimal"
)

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

// checkFee checks the fee of one fill (what names it): nonzero with its
// asset when the venue charges fees, zero when the harness says it does not.
func checkFee(t reporter, what string, fee decimal.Decimal, asset string, noFees bool) {
	t.Helper()
	switch {
	case noFees && !fee.IsZero():
		t.Errorf("%s: Fee %s %s, but Harness.NoFees says the venue charges none", what, fee, asset)
	case !noFees && fee.IsZero():
		t.Errorf("%s: Fee is zero: a fill on a venue that charges fees carries its signed fee (positive paid, negative rebate); set Harness.NoFees for a zero-fee venue", what)
	case !noFees && asset == "":
		t.Errorf("%s: Fee %s without FeeAsset", what, fee)
	}
}

// checkStreamFill checks what one fill update of a resting order the price
// reached must carry besides its quantities: a trade ID, maker liquidity
// and its fee.
func checkStreamFill(t reporter, u exchange.OrderUpdate, noFees bool) {
	t.Helper()
	what := fmt.Sprintf("fill update of %q (trade %q, %s at %s)", u.ClientOrderID, u.TradeID, u.LastFillQty, u.LastFillPrice)
	if u.TradeID == "" {
		t.Errorf("%s: empty TradeID", what)
	}
	if !u.Maker {
		t.Errorf("%s: Maker is false for a resting order filled by a price move", what)
	}
	checkFee(t, what, u.Fee, u.FeeAsset, noFees)
}

// fillSeen is one fill as first seen on the order stream.
type fillSeen struct {
	orderID, clientID string
	cum, qty, price   decimal.Decimal
	fee               decimal.Decimal
	feeAsset          string
}

// tradeLedger collects the fills of the order stream by trade ID, failing
// when one trade ID names two different fills (a redelivery of the same
// fill, with the same order and cumulative quantity, is allowed: consumers
// discard it).
type tradeLedger struct {
	byID  map[string]fillSeen
	order []string // trade IDs, first seen first
}

func newTradeLedger() *tradeLedger { return &tradeLedger{byID: map[string]fillSeen{}} }

// add records the fill of u, if it is a fill.
func (l *tradeLedger) add(t reporter, u exchange.OrderUpdate) {
	t.Helper()
	if !u.LastFillQty.IsPositive() || u.TradeID == "" {
		return
	}
	f := fillSeen{orderID: u.OrderID, clientID: u.ClientOrderID, cum: u.FilledQty, qty: u.LastFillQty, price: u.LastFillPrice, fee: u.Fee, feeAsset: u.FeeAsset}
	old, ok := l.byID[u.TradeID]
	if !ok {
		l.byID[u.TradeID] = f
		l.order = append(l.order, u.TradeID)
		return
	}
	if old.orderID != f.orderID || !old.cum.Equal(f.cum) || !old.qty.Equal(f.qty) {
		t.Errorf("trade ID %q names two fills: %s of %q (order %s, filled %s) and %s of %q (order %s, filled %s); a trade ID must be unique per fill",
			u.TradeID, old.qty, old.clientID, old.orderID, old.cum, f.qty, f.clientID, f.orderID, f.cum)
	}
}

// compareFills checks the venue's Fills (fills) against the stream's
// (ledger) for the orders in orders (order ID → client order ID): each of
// those fills is listed once, under a trade ID no other fill has, with the
// stream's quantity, price and fee; every fill of those orders on the
// stream is listed; and each fill's fee is present. complete says the
// stream reported every fill (no loss was reported), so Fills may list
// nothing more. It returns the quantity Fills lists per order ID.
func compareFills(t reporter, fills []exchange.Fill, ledger *tradeLedger, orders map[string]string, complete, noFees bool) map[string]decimal.Decimal {
	t.Helper()
	listed := map[string]exchange.Fill{}
	perOrder := map[string]decimal.Decimal{}
	for _, f := range fills {
		clientID, ours := orders[f.OrderID]
		if !ours {
			continue
		}
		what := fmt.Sprintf("Fills entry of %q (trade %q, %s at %s)", clientID, f.TradeID, f.Quantity, f.Price)
		if f.ClientOrderID != "" && f.ClientOrderID != clientID {
			t.Errorf("%s: ClientOrderID %q, want %q", what, f.ClientOrderID, clientID)
		}
		if f.TradeID == "" {
			t.Errorf("%s: empty TradeID", what)
			continue
		}
		if prev, dup := listed[f.TradeID]; dup {
			t.Errorf("Fills lists trade ID %q twice: %s of order %s and %s of order %s; a trade ID must be unique per fill",
				f.TradeID, prev.Quantity, prev.OrderID, f.Quantity, f.OrderID)
			continue
		}
		listed[f.TradeID] = f
		perOrder[f.OrderID] = perOrder[f.OrderID].Add(f.Quantity)
		checkFee(t, what, f.Fee, f.FeeAsset, noFees)
		if !f.Maker {
			t.Errorf("%s: Maker is false for a resting order filled by a price move", what)
		}
		seen, onStream := ledger.byID[f.TradeID]
		switch {
		case !onStream && complete:
			t.Errorf("%s: not on the order stream, which reported no loss", what)
		case onStream && (seen.orderID != f.OrderID || !seen.qty.Equal(f.Quantity) || !seen.price.Equal(f.Price)):
			t.Errorf("%s: the stream has trade %q as %s at %s of order %s", what, f.TradeID, seen.qty, seen.price, seen.orderID)
		case onStream && (!seen.fee.Equal(f.Fee) || seen.feeAsset != f.FeeAsset):
			t.Errorf("%s: fee %s %s, the stream's %s %s", what, f.Fee, f.FeeAsset, seen.fee, seen.feeAsset)
		}
	}
	for _, id := range ledger.order {
		seen := ledger.byID[id]
		if _, ours := orders[seen.orderID]; !ours {
			continue
		}
		if _, ok := listed[id]; !ok {
			t.Errorf("trade %q of %q (%s at %s) is on the order stream but not in Fills", id, seen.clientID, seen.qty, seen.price)
		}
	}
	return perOrder
}
