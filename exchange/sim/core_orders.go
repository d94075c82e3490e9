package sim

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
)

// Place submits an order at time now and returns its id (ids count up from
// 1 and are never reused). Before the first [Core.Tick] there is no price to
// tell whether the order crosses, so Place fails with [ErrNoPrice].
//
// A market order, or a limit that crosses the current price (a buy at or
// above it, a sell at or below it), fills at once and completely as taker
// at the current price (never worse than its limit) and does not rest; a
// crossing PostOnly limit is rejected with exchange.ErrPostOnlyRejected
// (or, with CoreConfig.PostOnlyCancelLater, accepted and ended at once by
// an EventCanceled with nothing filled). Any other limit rests until the
// price reaches it, cancel or liquidation.
//
// Every field is checked: a bad one gives an error naming it and its value
// (matching exchange.ErrInvalidOrder, exchange.ErrPositionMode,
// exchange.ErrReduceOnlyRejected or exchange.ErrInsufficientMargin), and a
// rejected order leaves no trace: no id, no event, no state change.
func (c *Core) Place(now time.Time, o OrderSpec) (uint64, error) {
	if err := c.check(o); err != nil {
		return 0, err
	}
	crossing := o.Market || (o.Side == exchange.Buy && o.Price >= c.price) || (o.Side == exchange.Sell && o.Price <= c.price)
	if crossing && o.PostOnly {
		if c.cfg.PostOnlyCancelLater {
			return c.placeCanceled(now, o), nil
		}
		return 0, fmt.Errorf("sim: post-only %s at %d ticks crosses the price %d: %w", o.Side, o.Price, c.price, exchange.ErrPostOnlyRejected)
	}
	closing := o.ReduceOnly || c.closes(o.Side, o.PositionSide)
	if closing && c.reducible(o.Side, o.PositionSide) <= 0 {
		return 0, fmt.Errorf("sim: %s %s order of %d steps would not reduce the %s position %d: %w",
			o.Side, o.PositionSide, o.Qty, o.PositionSide, c.pos[o.PositionSide].qty, exchange.ErrReduceOnlyRejected)
	}
	px := o.Price
	if crossing {
		px = c.takerPrice(o.Side, o.Price, o.Market)
	}
	if c.cfg.CheckMargin && !closing {
		need := ceilDiv(int64(exchange.Notional(px, o.Qty)), c.cfg.Leverage)
		if avail := c.Available(); int64(need) > int64(avail) {
			m := c.cfg.Rules.MoneyToDecimal
			return 0, fmt.Errorf("sim: %s of %s at %s needs initial margin %s, available %s: %w", o.Side,
				c.cfg.Rules.StepsToQty(o.Qty), c.cfg.Rules.TicksToPrice(px), m(need), m(avail), exchange.ErrInsufficientMargin)
		}
	}
	c.now = now
	c.nextID++
	c.stats.Orders++
	ord := order{
		id: c.nextID, tag: o.Tag, price: o.Price, qty: o.Qty, side: o.Side, ps: o.PositionSide,
		postOnly: o.PostOnly, reduceOnly: o.ReduceOnly, closing: closing,
	}
	if o.Market {
		ord.price = px
	}
	if crossing {
		q := ord.qty
		if closing {
			q = min(q, c.reducible(ord.side, ord.ps))
		}
		if px != c.price {
			c.stats.Slippage += exchange.Notional(max(px-c.price, c.price-px), q)
		}
		c.fill(EventFill, &ord, q, px, false)
		if ord.filled < ord.qty {
			c.remove(EventExpired, &ord)
		}
	} else {
		c.insert(ord)
	}
	c.recomputeGuards()
	return ord.id, nil
}

// check validates an order spec against the mode, the rules and the price.
// It allocates only when it fails.
func (c *Core) check(o OrderSpec) error {
	if !c.hasPrice {
		return fmt.Errorf("sim: place before the first tick: %w", ErrNoPrice)
	}
	var errs []error
	if o.Side != exchange.Buy && o.Side != exchange.Sell {
		errs = append(errs, specErr("Side", o.Side.String(), "must be Buy or Sell", exchange.ErrInvalidOrder))
	}
	if o.Qty <= 0 {
		errs = append(errs, specErr("Qty", fmt.Sprint(int64(o.Qty)), "must be positive", exchange.ErrInvalidOrder))
	}
	if !o.Market && o.Price <= 0 {
		errs = append(errs, specErr("Price", fmt.Sprint(int64(o.Price)), "must be positive for a limit order", exchange.ErrInvalidOrder))
	}
	if o.Market && o.PostOnly {
		errs = append(errs, specErr("PostOnly", "true", "is not allowed on a market order", exchange.ErrInvalidOrder))
	}
	switch c.cfg.PositionMode {
	case exchange.Hedge:
		if o.PositionSide != exchange.PositionLong && o.PositionSide != exchange.PositionShort {
			errs = append(errs, specErr("PositionSide", o.PositionSide.String(), "must be LONG or SHORT in hedge mode", exchange.ErrPositionMode))
		}
		if o.ReduceOnly {
			errs = append(errs, specErr("ReduceOnly", "true", "is not allowed in hedge mode (closing orders reduce by themselves)", exchange.ErrPositionMode))
		}
	default:
		if o.PositionSide != exchange.PositionBoth {
			errs = append(errs, specErr("PositionSide", o.PositionSide.String(), "must be BOTH in one-way mode", exchange.ErrPositionMode))
		}
	}
	if len(errs) == 0 {
		px := o.Price
		if o.Market {
			px = c.price
		}
		// the highest price it can fill at: a crossing sell fills at the
		// current price, above its limit
		top := px
		if o.Side == exchange.Sell {
			top = max(px, c.price)
		}
		if n, err := exchange.CheckedNotional(max(top, 0), o.Qty); err != nil || n > exchange.MaxNotional {
			return specErr("Qty", fmt.Sprint(int64(o.Qty)), fmt.Sprintf("at price %d ticks is a notional beyond %d Money units", top, int64(exchange.MaxNotional)), exchange.ErrInvalidOrder)
		}
		exempt := o.ReduceOnly && !c.cfg.ReduceOnlyMinNotional // Binance: reduce-only needs no minimum notional
		if o.Qty < c.minQty || (!exempt && exchange.Notional(px, o.Qty) < c.minNotional) {
			if err := c.cfg.Rules.CheckTicks(px, o.Qty); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// SpecError reports an [OrderSpec] field that is not acceptable. It names
// the field and the value, and unwraps to the exchange sentinel callers
// branch on (exchange.ErrInvalidOrder or exchange.ErrPositionMode). The
// zero value is not meaningful; a SpecError is immutable once returned.
type SpecError struct {
	Field  string
	Value  string
	Reason string
	Err    error
}

func specErr(field, value, reason string, err error) error {
	return &SpecError{Field: field, Value: value, Reason: reason, Err: err}
}

// Error names the field, the value and the reason.
func (e *SpecError) Error() string {
	return "sim: OrderSpec." + e.Field + " " + e.Value + " " + e.Reason + ": " + e.Err.Error()
}

// Unwrap returns the exchange sentinel.
func (e *SpecError) Unwrap() error { return e.Err }

// Cancel cancels the live order id at time now and emits EventCanceled. It
// fails with exchange.ErrOrderNotFound when no live order has that id.
func (c *Core) Cancel(now time.Time, id uint64) error {
	book := &c.bids
	i := indexOf(*book, id)
	if i < 0 {
		book = &c.asks
		i = indexOf(*book, id)
	}
	if i < 0 {
		return fmt.Errorf("sim: cancel order %d: %w", id, exchange.ErrOrderNotFound)
	}
	c.now = now
	o := (*book)[i]
	*book = slices.Delete(*book, i, i+1)
	c.remove(EventCanceled, &o)
	c.recomputeGuards()
	return nil
}

func indexOf(book []order, id uint64) int {
	for i := range book {
		if book[i].id == id {
			return i
		}
	}
	return -1
}

// remove emits the end of an order that is not (or no longer) in the book.
func (c *Core) remove(kind EventKind, o *order) {
	if kind == EventCanceled {
		c.stats.Canceled++
	} else {
		c.stats.Expired++
	}
	c.emit(Event{
		Kind: kind, Time: c.now, OrderID: o.id, Tag: o.tag, Side: o.side, PositionSide: o.ps,
		Price: o.price, Qty: o.qty - o.filled, CumQty: o.filled, OrderQty: o.qty,
	})
}

// insert adds a resting order behind every order of the same price.
func (c *Core) insert(o order) {
	if o.side == exchange.Buy {
		i := 0
		for i < len(c.bids) && c.bids[i].price >= o.price {
			i++
		}
		c.bids = slices.Insert(c.bids, i, o)
		return
	}
	i := 0
	for i < len(c.asks) && c.asks[i].price <= o.price {
		i++
	}
	c.asks = slices.Insert(c.asks, i, o)
}

// OpenOrders returns the live orders in id (placement) order.
func (c *Core) OpenOrders() []OrderView {
	return c.AppendOpenOrders(make([]OrderView, 0, len(c.bids)+len(c.asks)))
}

// AppendOpenOrders appends the live orders in id order to dst and returns it.
func (c *Core) AppendOpenOrders(dst []OrderView) []OrderView {
	n := len(dst)
	for i := range c.bids {
		dst = append(dst, c.bids[i].view())
	}
	for i := range c.asks {
		dst = append(dst, c.asks[i].view())
	}
	slices.SortFunc(dst[n:], func(a, b OrderView) int { return cmpID(a.ID, b.ID) })
	return dst
}

func cmpID(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Order returns the live order id. Closed orders are not kept: their end is
// reported by events.
func (c *Core) Order(id uint64) (OrderView, bool) {
	if i := indexOf(c.bids, id); i >= 0 {
		return c.bids[i].view(), true
	}
	if i := indexOf(c.asks, id); i >= 0 {
		return c.asks[i].view(), true
	}
	return OrderView{}, false
}

func (o *order) view() OrderView {
	st := exchange.StatusNew
	if o.filled > 0 {
		st = exchange.StatusPartiallyFilled
	}
	return OrderView{
		ID: o.id, Tag: o.tag, Side: o.side, PositionSide: o.ps, Price: o.price, Qty: o.qty,
		Filled: o.filled, Status: st, PostOnly: o.postOnly, ReduceOnly: o.reduceOnly,
	}
}
