package binancetest

// This file: PUT /fapi/v1/order, the modification of a LIMIT order
// (sheet §4.10).

import (
	"net/http"
	"net/url"
)

// maxAmends is how many times one order may be modified (sheet §4.10).
const maxAmends = 10000

// handleModify serves PUT /fapi/v1/order: weight 0, one unit on each
// ORDERS limiter. orderId wins over origClientOrderId; symbol, side,
// quantity and price are required (priceMatch is not modelled). A price or
// quantity that breaks a filter refuses the modification and leaves the
// order as it was. Binance cancels the order instead when it is partly
// filled and the new quantity is not above the executed one, or when it is
// GTX and the new price would execute at once (x and X CANCELED: the sheet,
// §12.9, could not confirm whether the venue says EXPIRED). Otherwise the
// order takes the new price and quantity, loses its queue priority, and
// the user stream reports x AMENDMENT; a GTC order moved across the market
// then fills at once as taker. Assumptions: a side other than the order's
// is -1102, an order no longer open is -2013.
func (s *Server) handleModify(p url.Values, hdr http.Header) (any, *apiErr) {
	if aerr := s.orderCount(1, 1, hdr); aerr != nil {
		return nil, aerr
	}
	b, aerr := s.bookOf(p)
	if aerr != nil {
		return nil, aerr
	}
	o, aerr := s.lookup(b, p)
	if aerr != nil {
		return nil, aerr
	}
	if o == nil || (o.status != "NEW" && o.status != "PARTIALLY_FILLED") {
		return nil, errf(400, -2013, "Order does not exist.")
	}
	if o.typ != "LIMIT" {
		return nil, errf(400, -5025, "Only limit order is supported.")
	}
	if side := p.Get("side"); side != o.side {
		return nil, errf(400, -1102, "Mandatory parameter 'side' was not sent, was empty/null, or malformed.")
	}
	qty, aerr := parseQty(b.spec, p.Get("quantity"))
	if aerr != nil {
		return nil, aerr
	}
	price, aerr := parsePrice(b.spec, p.Get("price"))
	if aerr != nil {
		return nil, aerr
	}
	if o.amends >= maxAmends {
		return nil, errf(400, -5026, "Exceeds maximum modify order limit.")
	}
	if price.Equal(o.price) && qty.Equal(o.qty) {
		return nil, errf(400, -5027, "No need to modify the order.")
	}
	if !o.reduceOnly && price.Mul(qty).LessThan(b.spec.MinNotional) {
		return nil, errf(400, -5029, "Order's notional must be no smaller than %s (unless you choose reduce only).", b.spec.MinNotional)
	}
	bid, ask := b.bidAsk()
	crosses := (o.side == "BUY" && price.GreaterThanOrEqual(ask)) || (o.side == "SELL" && price.LessThanOrEqual(bid))
	if qty.LessThanOrEqual(o.filled) || (o.tif == "GTX" && crosses) {
		s.close(o, "CANCELED", "0")
		return s.wire(o, false), nil
	}
	// The margin check sees the order as it would be, not as it was.
	b.removeOpen(o)
	aerr = s.checkMargin(o.symbol, o.side, o.ps, qty.Sub(o.filled), price, o.reduceOnly)
	b.open = append(b.open, o) // at the back: the order loses its priority
	if aerr != nil {
		return nil, aerr
	}
	o.price, o.qty, o.updated, o.key = price, qty, s.nowMs(), ticksOf(b.spec, price)
	o.amends++
	s.emitOrder(o, "AMENDMENT", nil)
	if crosses {
		fill := ask
		if o.side == "SELL" {
			fill = bid
		}
		s.fill(o, o.qty.Sub(o.filled), fill, false)
	}
	return s.wire(o, false), nil
}
