package grid

import (
	"errors"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/slot"
)

// closer is a hard stop's closing of the grid's own position: once every
// order of the grid is gone, market orders sell what the long slots hold
// and buy back what the short slots hold — or, limit first (a grid
// control's stop, or [WithStopClose]), limit orders offset through the
// last price, each canceled by its ID after the close timeout, and market
// orders for what they did not fill. The baseline the grid found at
// start is never touched. A closing order gets the slots' unknown-outcome
// handling (query, never resend until proven absent) and IDs from the
// reserved generations; one that ends before the position is closed
// (refused, expired, proven absent, dropped unsent) is sent again for what
// is left, after a back-off, until the grid holds nothing — except a
// reduce-only refusal, after which nothing is sent until the venue's
// position is read (closeverify.go). A quantity over
// the venue's market maximum ([exchange.Rules.MarketQtyBounds]) goes out
// as several orders, as equal as the step allows.
type closer struct {
	wanted  bool // close once no other order of the grid is live
	gen     uint32
	legs    []closeLeg // per side (one net side for a neutral grid in one-way mode), split to the market maximum
	rejects uint8      // closing orders refused in a row
	retryAt int64      // Unix ns before which no closing order is sent again
	done    bool       // nothing left to close (logged once)
	// limitFirst: the first closing orders are limits (see WithStopClose);
	// limitTried: they were sent, so what is left goes at market.
	limitFirst, limitTried bool
	// dustLong, dustShort, dustNet: what the close gave up on each side
	// (or net) as below the venue's minimum order (see closeDust);
	// noExemption: the venue refused a reduce-only close below its
	// minimum notional, so it does not exempt them.
	dustLong, dustShort, dustNet exchange.Steps
	noExemption                  bool
	// restored: the closing orders live when a restored state was saved,
	// with the quantity of their fills it booked (see supersedeClose).
	restored map[uint32]exchange.Steps
	// verify: the venue refused a reduce-only close
	// (exchange.ErrReduceOnlyRejected), so no closing order is sent until
	// a snapshot read after verifyFrom shows the venue's position
	// (closeverify.go); verifyAsked is when IntentReconcile was last
	// emitted (0: not yet), refusedWhy the venue's message, and
	// refusedWarned that an unchanged position was logged at WARN.
	verify                  bool
	verifyAsked, verifyFrom int64
	refusedWhy              string
	refusedWarned           bool
}

type closeLeg struct {
	gen    uint32 // its reference's generation; 0: no order
	live   bool
	side   exchange.Side
	qty    exchange.Steps // ordered
	filled exchange.Steps
	// cross is what a net order closes internally: the long and short
	// slots' offsetting holdings, booked at the price of its first fill.
	cross exchange.Steps
	req   request
	// A limit leg: its price, when it is canceled to go to market, and
	// its cancel's state (cancels are sent again until it ends).
	limit     bool
	price     exchange.Ticks
	expireAt  int64
	canceling bool
	cancelAt  int64
}

// liveOrders is the number of closing orders not yet ended.
func (c *closer) liveOrders() int {
	n := 0
	for i := range c.legs {
		if c.legs[i].live {
			n++
		}
	}
	return n
}

// HardStop halts the grid (every live order canceled by its ID, nothing
// placed again) and, with closePosition, closes the position the grid's
// slots hold with market orders once the cancels are confirmed: in one-way
// mode, reduce-only (for a neutral grid, one order for the net of both
// sides), but plain against a baseline of the other sign, which the close
// does not reduce; by position side in hedge mode, where the venue refuses
// reduce-only (Binance -1106).
//
// With [WithStopClose] the close goes limit first, as a grid control's does.
//
// A closing order the venue refuses as reduce-only with nothing (or less)
// to reduce ([exchange.ErrReduceOnlyRejected]) is not sent again blindly:
// the engine asks for the venue's view ([IntentReconcile]) and settles
// the close from the position the [Snapshot] given to [Engine.Reconcile]
// shows, less the baseline: none left — the close is done, and what the
// slots held is taken out at no PnL and reported
// (Stats.ClosedElsewhereLong, ClosedElsewhereShort, an observer repair);
// less — the difference likewise, and the rest is closed at once; as much —
// the close is sent again after the back-off, logged at WARN once.
func (e *Engine) HardStop(now time.Time, reason string, closePosition bool) []Intent {
	e.out = e.out[:0]
	e.halt(now, reason, true)
	if closePosition && !e.closing.wanted {
		e.closing.limitFirst = e.cfg.closeSet && e.cfg.closeTimeout > 0
		e.closing.wanted = true
		e.maybeClose(now)
	}
	return e.out
}

// maybeClose sends the closing orders when a hard stop asked for them, no
// other order of the grid is live, no closing order is live and the
// back-off after a failed one has passed.
func (e *Engine) maybeClose(now time.Time) {
	c := &e.closing
	if !c.wanted || !e.ready || e.books.OpenOrders > 0 {
		return
	}
	if c.verify {
		e.askPosition(now) // a reduce-only close was refused: read the venue first
		return
	}
	if now.UnixNano() < c.retryAt {
		return
	}
	long, short := e.books.LongHeld, e.books.ShortHeld
	if long == 0 && short == 0 {
		if !c.done {
			c.done = true
			e.log.Warn("grid: the grid's position is closed")
		}
		return
	}
	c.legs = c.legs[:0]
	net := e.cfg.posMode == exchange.OneWay && e.cfg.mode == Neutral
	if net {
		cross := min(long, short)
		switch q := long - short; {
		case q > 0:
			e.closeSide(now, &c.dustNet, exchange.Sell, q, cross)
		case q < 0:
			e.closeSide(now, &c.dustNet, exchange.Buy, -q, cross)
		default:
			// Both sides offset exactly: nothing to trade; close them
			// against each other at the last price.
			e.bookCross(now, cross)
		}
		return
	}
	if long > 0 {
		e.closeSide(now, &c.dustLong, exchange.Sell, long, 0)
	}
	if short > 0 {
		e.closeSide(now, &c.dustShort, exchange.Buy, short, 0)
	}
}

// bookCross closes the long and short slots' offsetting holdings of a
// one-way neutral grid against each other at the last price.
func (e *Engine) bookCross(now time.Time, cross exchange.Steps) {
	e.bookClose(now, slot.Long, cross, e.price)
	e.bookClose(now, slot.Short, cross, e.price)
}

// sendClose sends the orders that close qty on side: one, or several when
// qty passes the venue's maximum (of a market order; of a limit order for
// the limit-first close). Limit first, they are limits offset through the
// last price; once those were tried, market orders.
func (e *Engine) sendClose(now time.Time, side exchange.Side, qty, cross exchange.Steps) {
	c := &e.closing
	limit := c.limitFirst && !c.limitTried && e.havePrice
	most := e.mktMax
	if limit {
		c.limitTried = true
		most = e.limMax
	}
	parts := int64(1)
	if most > 0 {
		parts = (int64(qty) + int64(most) - 1) / int64(most)
	}
	base, extra := int64(qty)/parts, int64(qty)%parts
	for k := range parts {
		q := base
		if k < extra {
			q++
		}
		if !e.sendCloseLeg(now, side, exchange.Steps(q), cross, limit) {
			return
		}
		cross = 0 // the internal cross is booked once, with the first leg's fill
	}
}

// sendCloseLeg sends one closing order (a market order, or a limit one
// with limit); false when no generation is reserved for it yet (Reserved
// sends it later).
func (e *Engine) sendCloseLeg(now time.Time, side exchange.Side, qty, cross exchange.Steps, limit bool) bool {
	c := &e.closing
	gen, ok := e.nextGen(c.gen)
	if !ok {
		return false
	}
	c.gen = gen
	c.legs = append(c.legs, closeLeg{gen: gen, live: true, side: side, qty: qty, cross: cross})
	leg := &c.legs[len(c.legs)-1]
	kind := slot.Long
	if side == exchange.Buy {
		kind = slot.Short
	}
	in := Intent{Kind: IntentPlace, Ref: OrderRef{Level: CloseLevel, Gen: gen}, Role: slot.RoleExit,
		Side: side, PositionSide: e.posSide(kind), Market: true, Qty: qty,
		ReduceOnly: e.closeReduces(side, qty)}
	if limit {
		in.Market, in.Price = false, e.closePrice(side)
		leg.limit, leg.price = true, in.Price
		leg.expireAt = now.UnixNano() + int64(e.closeTimeout())
	}
	if e.cfg.posMode == exchange.OneWay && e.cfg.mode == Neutral {
		in.PositionSide = exchange.PositionBoth
	}
	in.SendBy = leg.req.placed(now, e.cfg.sendTimeout)
	e.books.Placed++
	e.books.OpenOrders++
	e.out = append(e.out, in)
	e.log.Warn("grid: closing the grid's position", "ref", in.Ref.String(), "side", side.String(), "qty", e.rules.StepsToQty(qty).String(), "limit", limit)
	return true
}

// closeTimeout is how long a limit close rests before it goes to market.
func (e *Engine) closeTimeout() time.Duration {
	if e.cfg.closeSet {
		return e.cfg.closeTimeout
	}
	return defaultCloseTimeout
}

// closePrice is a limit close's price: the last price moved through the
// market by the close offset, rounded to the tick toward the last price
// (a sell at or above last × (1 − offset), a buy at or below last × (1 +
// offset)), and at least one tick.
func (e *Engine) closePrice(side exchange.Side) exchange.Ticks {
	off := defaultCloseOffset
	if e.cfg.closeSet {
		off = e.cfg.closeOffset
	}
	d := decimal.NewFromInt(int64(e.price)).Mul(off)
	if side == exchange.Sell {
		return max(e.price-exchange.Ticks(d.Floor().IntPart()), 1)
	}
	return e.price + exchange.Ticks(d.Floor().IntPart())
}

// closeTick cancels, by its ID, each limit close whose timeout has
// passed (what it did not fill then goes at market, see maybeClose), and
// sends a cancel again when one has gone unanswered for the ack timeout.
func (e *Engine) closeTick(now time.Time) {
	c := &e.closing
	if !e.ready {
		return
	}
	t := now.UnixNano()
	for i := range c.legs {
		leg := &c.legs[i]
		if !leg.live || !leg.limit || t < leg.expireAt {
			continue
		}
		if leg.canceling && t < leg.cancelAt+int64(e.cfg.ackTimeout) {
			continue
		}
		if !leg.canceling {
			e.log.Warn("grid: limit close timed out; canceling it to close at market", "ref", OrderRef{Level: CloseLevel, Gen: leg.gen}.String())
		}
		leg.canceling, leg.cancelAt = true, t
		e.books.Canceled++
		e.out = append(e.out, Intent{Kind: IntentCancel, Ref: OrderRef{Level: CloseLevel, Gen: leg.gen}, Role: slot.RoleExit})
	}
}

// closeLegOf finds the live leg of a closing order's reference.
func (c *closer) closeLegOf(ref OrderRef) *closeLeg {
	for i := range c.legs {
		if c.legs[i].live && c.legs[i].gen == ref.Gen {
			return &c.legs[i]
		}
	}
	return nil
}

// applyClose books an update of a closing order.
func (e *Engine) applyClose(now time.Time, ev OrderEvent) {
	c := &e.closing
	leg := c.closeLegOf(ev.Ref)
	if leg == nil {
		e.books.Stale++
		return
	}
	switch ev.Type {
	case OrderAccepted:
		leg.req.see(now)
		return
	case OrderUnknown:
		if !leg.req.seen() {
			leg.req.sentAt(ev.SentAt)
		}
		leg.req.queryAt = now.UnixNano() + int64(e.cfg.ackTimeout)
		e.out = append(e.out, Intent{Kind: IntentQuery, Ref: ev.Ref, Role: slot.RoleExit})
		return
	case OrderNotFound:
		if !leg.req.absent(now, ev.AskedAt, e.cfg.recvWindow) {
			return // may still arrive: the timer asks again
		}
		e.endClose(now, leg, "not found")
		return
	case OrderNotSent:
		if leg.req.seen() {
			e.books.Stale++
			return
		}
		e.books.NotSent++
		e.endClose(now, leg, "not sent")
		return
	case OrderRejected:
		e.books.Rejected++
		if errors.Is(ev.Cause, exchange.ErrReduceOnlyRejected) && !e.cfg.shared {
			e.refusedReduceOnly(now, leg, ev)
			return // maybeClose asks for the venue's position
		}
		if e.refusedAsDust(leg, ev) {
			e.endClose(now, leg, "")
			e.log.Warn("grid: the venue refused a reduce-only close below its minimum notional", "ref", ev.Ref.String(), "reason", ev.Reason)
			return // maybeClose gives the remainder up as dust
		}
		e.endClose(now, leg, "rejected: "+ev.Reason)
		return
	case OrderFilled, OrderCanceled, OrderExpired:
		leg.req.see(now)
	default:
		return
	}
	fee := e.tradeFee(ev)
	if delta := ev.CumQty - leg.filled; delta <= 0 {
		if ev.TradeID != "" {
			e.books.Fees += fee // a trade's fee on an update whose quantity was known
		}
	} else {
		leg.filled = ev.CumQty
		e.books.Fills++
		e.books.Fees += fee
		e.noteFeeless(ev.Ref, ev, delta)
		e.obs.Fill(FillNote{Time: now, Ref: ev.Ref, Side: leg.side, Price: ev.Price, Qty: delta, Fee: fee})
		if leg.cross > 0 {
			e.bookClose(now, slot.Long, leg.cross, ev.Price)
			e.bookClose(now, slot.Short, leg.cross, ev.Price)
			leg.cross = 0
		}
		kind := slot.Long
		if leg.side == exchange.Buy {
			kind = slot.Short
		}
		e.bookClose(now, kind, delta, ev.Price)
		c.rejects, c.retryAt = 0, 0
	}
	if ev.Type != OrderFilled || leg.filled >= leg.qty {
		e.endClose(now, leg, "")
	}
}

// endClose ends a closing leg; what it did not close is sent again once
// the back-off has passed (see maybeClose, called after every update and
// on the timer).
func (e *Engine) endClose(now time.Time, leg *closeLeg, why string) {
	leg.live = false
	e.books.OpenOrders--
	if why == "" {
		return
	}
	c := &e.closing
	c.rejects = min(c.rejects+1, 6)
	c.retryAt = now.UnixNano() + int64(rejectBackoff)<<(c.rejects-1)
	e.log.Error("grid: closing order failed; the position is still open and will be closed again", "ref", OrderRef{Level: CloseLevel, Gen: leg.gen}.String(), "reason", why)
}

// closeTimer queries closing orders unanswered for the ack timeout or whose
// outcome is unknown, and sends what is left to close once a back-off ends.
func (e *Engine) closeTimer(now time.Time) {
	c := &e.closing
	if !c.wanted {
		return
	}
	t := now.UnixNano()
	if c.verify && c.verifyAsked != 0 && t >= c.verifyAsked+int64(e.cfg.ackTimeout) {
		c.verifyAsked = 0 // unanswered (the host's read failed): maybeClose asks again
	}
	for i := range c.legs {
		leg := &c.legs[i]
		if !leg.live || (leg.limit && leg.req.seen() && !leg.canceling && leg.req.queryAt == 0) {
			continue // a limit close the venue acknowledged rests until its timeout
		}
		if leg.req.timerQueryDue(t, e.cfg.ackTimeout) {
			e.out = append(e.out, Intent{Kind: IntentQuery, Ref: OrderRef{Level: CloseLevel, Gen: leg.gen}, Role: slot.RoleExit})
		}
	}
	e.closeTick(now)
	e.maybeClose(now)
}

// bookClose takes qty closed at price out of the slots of kind, in level
// order, booking each slot's realized PnL against its own cost.
func (e *Engine) bookClose(now time.Time, kind slot.Kind, qty exchange.Steps, price exchange.Ticks) {
	taken, removed := e.takeHeld(now, kind, qty)
	// Σ over the slots of price × q − cost removed: the products are
	// exact, as Unrealized's of the whole holding.
	realized := int64(price)*int64(taken) - int64(removed)
	if kind == slot.Short {
		realized = -realized
	}
	e.books.Realized += exchange.Money(realized)
}

// takeHeld takes up to qty out of the holdings of the idle slots of kind,
// in level order, each with its share of its cost (exact), and returns
// what it took and the cost removed with it.
func (e *Engine) takeHeld(now time.Time, kind slot.Kind, qty exchange.Steps) (taken exchange.Steps, removed exchange.Money) {
	left := qty
	for j := range e.levels {
		if left == 0 {
			break
		}
		lv := &e.levels[j]
		if lv.s.Kind != kind || lv.s.Held == 0 || lv.s.Live() {
			continue
		}
		q := min(exchange.Steps(lv.s.Held), left)
		part, _ := exchange.MulDiv(lv.s.Cost, int64(q), lv.s.Held) // exact; cannot fail: q ≤ Held
		e.applyQuiet(now, e.base+int64(j), lv, slot.Event{Type: slot.Reconciled, Held: lv.s.Held - int64(q), Cost: lv.s.Cost - part})
		left -= q
		removed += exchange.Money(part)
	}
	return qty - left, removed
}

// adoptClose keeps a closing order the venue shows: one of the live legs,
// or, while the grid is closing (a terminal state restored), one a
// previous run left, which is adopted as a leg due for cancel at once (its
// fills so far are booked from the cancel's final quantity, and what it
// has not filled goes at market). It reports whether the order was kept.
func (e *Engine) adoptClose(now time.Time, o VenueOrder) bool {
	c := &e.closing
	if c.closeLegOf(o.Ref) != nil {
		return true
	}
	if !c.wanted {
		return false
	}
	c.legs = append(c.legs, closeLeg{gen: o.Ref.Gen, live: true, side: o.Side, qty: o.Qty, limit: true, price: o.Price, expireAt: now.UnixNano()})
	c.legs[len(c.legs)-1].req = request{askedAt: now.UnixNano(), sendBy: now.UnixNano(), seenAt: now.UnixNano()}
	c.gen = max(c.gen, o.Ref.Gen)
	c.limitTried = true
	e.books.OpenOrders++
	e.repair(now, "closing order of an earlier run adopted: canceling it to close the rest at market", o.Ref)
	return true
}
