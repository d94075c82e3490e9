package grid

import (
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/slot"
)

// rejectBackoff is how long a slot waits after a refusal before it places
// again; it doubles with each refusal in a row, up to 64 times (about a
// minute), and resets when an order is accepted.
const rejectBackoff = time.Second

// exitable reports whether a held quantity can be sent as an order.
func (e *Engine) exitable(lv *level) bool {
	return lv.s.Held >= int64(max(e.minQty, 1)) && exchange.Notional(lv.exit, exchange.Steps(lv.s.Held)) >= e.minNotion
}

func (e *Engine) sideOf(kind slot.Kind, role slot.Role) exchange.Side {
	if (kind == slot.Long) == (role == slot.RoleEntry) {
		return exchange.Buy
	}
	return exchange.Sell
}

func (e *Engine) posSide(kind slot.Kind) exchange.PositionSide {
	if e.cfg.posMode != exchange.Hedge {
		return exchange.PositionBoth
	}
	if kind == slot.Short {
		return exchange.PositionShort
	}
	return exchange.PositionLong
}

func (e *Engine) placeEntry(now time.Time, i int64, lv *level) {
	s := &lv.s
	e.resize(lv)
	gen, ok := e.nextGen(s.Gen)
	if !ok {
		return // waiting for the host to reserve generations
	}
	in := Intent{
		Kind: IntentPlace, Ref: OrderRef{Level: i, Gen: gen}, Role: slot.RoleEntry,
		Side: e.sideOf(s.Kind, slot.RoleEntry), PositionSide: e.posSide(s.Kind),
		Price: lv.price, Qty: lv.qty, PostOnly: true,
	}
	in.Price, in.PostOnly = e.entryPrice(lv, in.Side) // re-priced after post-only rejections (reprice.go)
	e.submit(now, i, lv, in)
}

func (e *Engine) placeExit(now time.Time, i int64, lv *level) {
	s := &lv.s
	px := lv.exit
	gen, ok := e.nextGen(s.Gen)
	if !ok {
		return // waiting for the host to reserve generations
	}
	in := Intent{
		Kind: IntentPlace, Ref: OrderRef{Level: i, Gen: gen}, Role: slot.RoleExit,
		Side: e.sideOf(s.Kind, slot.RoleExit), PositionSide: e.posSide(s.Kind),
		Price: px, Qty: exchange.Steps(s.Held), ReduceOnly: e.reduceOnly,
	}
	// An exit on the right side of the price rests as a maker; one the
	// price has already passed (a gap) is sent as a plain limit and takes
	// the better market price.
	if s.Kind == slot.Long {
		in.PostOnly = px > e.price
	} else {
		in.PostOnly = px < e.price
	}
	e.submit(now, i, lv, in)
}

func (e *Engine) submit(now time.Time, i int64, lv *level, in Intent) {
	ev := slot.Event{Type: slot.Submit, Role: in.Role, Gen: in.Ref.Gen, Qty: int64(in.Qty)}
	if _, err := e.applySlot(now, i, lv, ev); err != nil {
		e.log.Error("grid: submit refused by the slot", "level", i, "err", err)
		return
	}
	in.SendBy = lv.req.placed(now, e.cfg.sendTimeout)
	e.books.Placed++
	e.out = append(e.out, in)
}

func (e *Engine) cancel(now time.Time, i int64, lv *level) {
	ref := OrderRef{Level: i, Gen: lv.s.Gen}
	if _, err := e.applySlot(now, i, lv, slot.Event{Type: slot.CancelSent, Gen: ref.Gen}); err != nil {
		e.log.Error("grid: cancel refused by the slot", "level", i, "err", err)
		return
	}
	lv.req.askedAt = now.UnixNano()
	e.books.Canceled++
	e.out = append(e.out, Intent{Kind: IntentCancel, Ref: ref, Role: lv.s.Role})
}

// applyQuiet applies an event the engine itself generates and expects to be legal.
func (e *Engine) applyQuiet(now time.Time, i int64, lv *level, ev slot.Event) {
	if _, err := e.applySlot(now, i, lv, ev); err != nil {
		e.log.Error("grid: internal slot event refused", "level", i, "event", ev.Type, "err", err)
	}
}

// applySlot applies one event to a slot and keeps the engine's aggregate
// books (position, cost, layers, open orders) in step with the change.
func (e *Engine) applySlot(now time.Time, i int64, lv *level, ev slot.Event) (slot.Effect, error) {
	s := &lv.s
	held, cost, wasLayer, wasLive := s.Held, s.Cost, s.State != slot.Free, s.Live()
	eff, err := s.Apply(ev)
	if err != nil || eff.Ignored {
		return eff, err
	}
	dh, dc := exchange.Steps(s.Held-held), exchange.Money(s.Cost-cost)
	if s.Kind == slot.Long {
		e.books.LongHeld += dh
		e.books.LongCost += dc
		e.books.Position += dh
	} else {
		e.books.ShortHeld += dh
		e.books.ShortCost += dc
		e.books.Position -= dh
	}
	if isLayer := s.State != slot.Free; isLayer != wasLayer {
		if isLayer {
			e.layers++
		} else {
			e.layers--
		}
	}
	if isLive := s.Live(); isLive != wasLive {
		if isLive {
			e.books.OpenOrders++
		} else {
			e.books.OpenOrders--
		}
	}
	return eff, nil
}
