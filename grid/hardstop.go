package grid

import (
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/slot"
)

// closer is a hard stop's closing of the grid's own position: once every
// order of the grid is gone, one market order per side sells what the long
// slots hold and buys back what the short slots hold. The baseline the
// grid found at start is never touched.
type closer struct {
	wanted bool // close once no order of the grid is live
	sent   bool
	gen    uint32
	long   closeLeg
	short  closeLeg
}

type closeLeg struct {
	gen    uint32 // its reference's generation; 0: no order
	live   bool
	qty    exchange.Steps // ordered
	filled exchange.Steps
}

// liveOrders is the number of closing orders not yet ended.
func (c *closer) liveOrders() int {
	n := 0
	if c.long.live {
		n++
	}
	if c.short.live {
		n++
	}
	return n
}

// HardStop halts the grid (every live order canceled by its ID, nothing
// placed again) and, with closePosition, closes the position the grid's
// slots hold with market orders once the cancels are confirmed: reduce-only
// in one-way mode for a long or short grid; by position side in hedge mode,
// where the venue refuses reduce-only (Binance -1106); and, for a neutral
// grid in one-way mode, one plain order per side, whose sum is the net.
func (e *Engine) HardStop(now time.Time, reason string, closePosition bool) []Intent {
	out := e.Halt(now, reason)
	if closePosition && !e.closing.wanted {
		e.closing.wanted = true
		e.maybeClose(now)
		out = e.out
	}
	return out
}

// maybeClose sends the closing orders when a hard stop asked for them and
// no order of the grid is live any more.
func (e *Engine) maybeClose(now time.Time) {
	c := &e.closing
	if !c.wanted || c.sent || e.books.OpenOrders > 0 || !e.ready {
		return
	}
	c.sent = true
	c.gen++
	reduce := e.cfg.posMode == exchange.OneWay && e.cfg.mode != Neutral
	if q := e.books.LongHeld; q > 0 {
		c.long = closeLeg{gen: c.gen, live: true, qty: q}
		e.out = append(e.out, Intent{Kind: IntentPlace, Ref: OrderRef{Level: CloseLevel, Gen: c.gen}, Role: slot.RoleExit,
			Side: exchange.Sell, PositionSide: e.posSide(slot.Long), Market: true, Qty: q, ReduceOnly: reduce})
		e.books.Placed++
		e.books.OpenOrders++
	}
	if q := e.books.ShortHeld; q > 0 {
		c.gen++ // one reference per order
		c.short = closeLeg{gen: c.gen, live: true, qty: q}
		e.out = append(e.out, Intent{Kind: IntentPlace, Ref: OrderRef{Level: CloseLevel, Gen: c.gen}, Role: slot.RoleExit,
			Side: exchange.Buy, PositionSide: e.posSide(slot.Short), Market: true, Qty: q, ReduceOnly: reduce})
		e.books.Placed++
		e.books.OpenOrders++
	}
	e.log.Warn("grid: closing the grid's position", "long", e.books.LongHeld, "short", e.books.ShortHeld)
}

// applyClose books an update of a closing order: a fill takes the quantity
// out of the slots of its side, nearest their exits first, booking each
// slot's realized PnL against its own cost.
func (e *Engine) applyClose(now time.Time, ev OrderEvent) {
	c := &e.closing
	leg, kind := &c.long, slot.Long
	if ev.Ref.Gen == c.short.gen {
		leg, kind = &c.short, slot.Short
	}
	if !leg.live || ev.Ref.Gen != leg.gen {
		e.books.Stale++
		return
	}
	switch ev.Type {
	case OrderFilled, OrderCanceled, OrderExpired:
	case OrderRejected, OrderNotFound:
		leg.live = false
		e.books.OpenOrders--
		e.log.Error("grid: closing order failed; the position is still open", "ref", ev.Ref, "reason", ev.Reason)
		return
	default:
		return
	}
	delta := ev.CumQty - leg.filled
	if delta > 0 {
		leg.filled = ev.CumQty
		e.books.Fills++
		e.books.Fees += ev.Fee
		left := delta
		for j := range e.levels {
			if left == 0 {
				break
			}
			lv := &e.levels[j]
			if lv.s.Kind != kind || lv.s.Held == 0 || lv.s.Live() {
				continue
			}
			q := min(exchange.Steps(lv.s.Held), left)
			removed, _ := exchange.MulDiv(lv.s.Cost, int64(q), lv.s.Held) // exact; cannot fail: q ≤ Held
			realized := int64(ev.Price)*int64(q) - removed
			if kind == slot.Short {
				realized = -realized
			}
			e.books.Realized += exchange.Money(realized)
			e.applyQuiet(now, e.base+int64(j), lv, slot.Event{Type: slot.Reconciled, Held: lv.s.Held - int64(q), Cost: lv.s.Cost - removed})
			left -= q
		}
	}
	if ev.Type != OrderFilled || leg.filled >= leg.qty {
		leg.live = false
		e.books.OpenOrders--
	}
}
