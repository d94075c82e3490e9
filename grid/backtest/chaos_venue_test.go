package backtest

import (
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/sim"
	"github.com/gridmesh/gridmesh/grid"
)

// The chaos harness (described in chaos_harness_test.go), its venue side:
// the executor, the order stream and the venue core's events.

// send plays the executor for one intent.
func (h *chaos) send(it grid.Intent) {
	a := action{at: h.now + h.latency(), kind: actLand, epoch: h.epoch, it: it, respond: true}
	f := h.p.f
	window := int64(h.p.recvWindow) - int64(time.Millisecond)
	switch it.Kind {
	case grid.IntentPlace, grid.IntentCancel:
		switch {
		case it.Kind == grid.IntentPlace && h.chance(f.marg):
			h.n.margin++
			h.push(action{at: a.at, kind: actRespond, epoch: h.epoch, evs: []grid.OrderEvent{{Ref: it.Ref, Type: grid.OrderRejected, Reason: "insufficient margin"}}})
			return
		case h.chance(f.failed): // nothing happens; the answer is an error
			h.n.failedReq++
			h.push(action{at: a.at, kind: actRespond, epoch: h.epoch, evs: []grid.OrderEvent{{Ref: it.Ref, Type: grid.OrderUnknown, Reason: "timeout, not sent"}}})
			return
		case h.chance(f.inFlight): // the answer is an error, the request lands later
			h.n.inFlight++
			h.push(action{at: a.at, kind: actRespond, epoch: h.epoch, evs: []grid.OrderEvent{{Ref: it.Ref, Type: grid.OrderUnknown, Reason: "timeout, in flight"}}})
			a.at, a.respond = h.now+h.r.Int64N(window), false
		case h.chance(f.retry):
			h.n.retried++
			a.at = h.now + h.r.Int64N(window)
		}
		if a.lost = h.chance(f.lost); a.lost {
			h.n.lostResp++
		}
	}
	h.push(a)
}

func (h *chaos) do(a action) {
	if h.actions++; h.actions > maxActions {
		h.fail("livelock: more than %d actions (the last %+v)", maxActions, a.it)
		return
	}
	switch a.kind {
	case actLand:
		h.land(a)
	case actRespond:
		if a.epoch != h.epoch {
			return // the process that asked is gone
		}
		for _, ev := range a.evs {
			h.apply("response", ev, fillKey{}, 0)
		}
	case actStream:
		if a.epoch != h.epoch || a.session != h.session || !h.up {
			return
		}
		h.apply("stream", a.evs[0], a.fill, a.fee)
	case actReconcile:
		if a.epoch == h.epoch && h.up {
			h.reconcile("repair")
		}
	case actSnapshot:
		if a.epoch == h.epoch && h.up {
			h.logf("reconcile with a snapshot read %s ago", time.Duration(h.now-a.snap.readAt))
			h.call("reconcile stale", func() ([]grid.Intent, error) { return h.eng.Reconcile(h.t(), a.snap.Snapshot), nil })
		}
	case actResume:
		if a.epoch == h.epoch {
			h.logf("resume")
			h.call("resume", func() ([]grid.Intent, error) { return h.eng.Resume(h.t()), nil })
		}
	case actReconnect:
		if a.epoch != h.epoch || h.up {
			return
		}
		h.logf("stream up")
		h.up = true
		h.call("stream ready", func() ([]grid.Intent, error) { return h.eng.OnStreamReady(h.t()), nil })
		h.push(action{at: h.now + h.latency(), kind: actReconcile, epoch: h.epoch})
	}
}

// apply feeds one order event to the engine, noting the fee it books.
func (h *chaos) apply(what string, ev grid.OrderEvent, fk fillKey, fee exchange.Money) {
	h.logf("%s %s %s cum %d @%d fee %d", what, ev.Ref, ev.Type, ev.CumQty, ev.Price, ev.Fee)
	before := h.eng.Books()
	h.call(what+" "+ev.Type.String(), func() ([]grid.Intent, error) { return h.eng.Apply(h.t(), ev) })
	after := h.eng.Books()
	switch booked := after.Fills - before.Fills; {
	case booked == 0:
	case booked == 1 && fk != (fillKey{}):
		if h.booked[fk] {
			h.fail("fill %+v of %s booked twice", fk, ev.Ref)
		}
		h.booked[fk] = true
		h.feesBooked += fee
	case booked == 1 && ev.Fee == 0:
	default:
		h.fail("%s %s booked %d fills", what, ev.Ref, booked)
	}
}

// land carries out a request at the venue.
func (h *chaos) land(a action) {
	it := a.it
	tag := it.Ref.Tag()
	respond := func(evs ...grid.OrderEvent) {
		if !a.respond || a.epoch != h.epoch {
			return
		}
		if a.lost {
			evs = []grid.OrderEvent{{Ref: it.Ref, Type: grid.OrderUnknown, Reason: "response lost"}}
		}
		h.push(action{at: h.now + h.latency(), kind: actRespond, epoch: a.epoch, evs: evs})
	}
	switch it.Kind {
	case grid.IntentPlace:
		if _, used := h.orders[tag]; used {
			h.fail("client order ID of %s used twice", it.Ref)
			return
		}
		h.logf("venue places %s", it)
		id, err := h.core.Place(h.t(), sim.OrderSpec{
			Tag: tag, Side: it.Side, PositionSide: it.PositionSide, Market: it.Market,
			Price: it.Price, Qty: it.Qty, PostOnly: it.PostOnly, ReduceOnly: it.ReduceOnly,
		})
		if err != nil {
			h.logf("venue refuses %s: %v", it.Ref, err)
			h.drainCore()
			respond(grid.OrderEvent{Ref: it.Ref, Type: grid.OrderRejected, Reason: err.Error()})
			return
		}
		h.orders[tag] = &venueOrder{id: id, live: true, qty: it.Qty, limit: it.Price}
		h.stream(grid.OrderEvent{Ref: it.Ref, Type: grid.OrderAccepted}, fillKey{}, 0)
		h.drainCore()
		respond(grid.OrderEvent{Ref: it.Ref, Type: grid.OrderAccepted})
	case grid.IntentCancel:
		o := h.orders[tag]
		if o == nil || !o.live {
			respond(h.answer(it.Ref)...) // the runner queries an order the venue did not find
			return
		}
		h.logf("venue cancels %s on request", it.Ref)
		if err := h.core.Cancel(h.t(), o.id); err != nil {
			h.fail("cancel %s: %v", it.Ref, err)
			return
		}
		h.drainCore()
		if a.lost {
			respond()
		}
	case grid.IntentQuery:
		if !a.respond || a.epoch != h.epoch {
			return
		}
		if h.chance(h.p.f.queryLost) {
			h.n.queryLost++
			return
		}
		h.push(action{at: h.now + h.latency(), kind: actRespond, epoch: a.epoch, evs: h.answer(it.Ref)})
	}
	h.check()
}

// answer is the venue's answer to a query by client order ID, as the
// runner turns it into events.
func (h *chaos) answer(ref grid.OrderRef) []grid.OrderEvent {
	o := h.orders[ref.Tag()]
	switch {
	case o == nil:
		h.n.notFound++
		return []grid.OrderEvent{{Ref: ref, Type: grid.OrderNotFound}}
	case o.live:
		evs := []grid.OrderEvent{{Ref: ref, Type: grid.OrderAccepted}}
		if o.cum > 0 {
			evs = append(evs, grid.OrderEvent{Ref: ref, Type: grid.OrderFilled, CumQty: o.cum, Price: o.fillP})
		}
		return evs
	case o.end == sim.EventFill:
		return []grid.OrderEvent{{Ref: ref, Type: grid.OrderAccepted}, {Ref: ref, Type: grid.OrderFilled, CumQty: o.cum, Price: o.fillP}}
	case o.end == sim.EventCanceled:
		return []grid.OrderEvent{{Ref: ref, Type: grid.OrderCanceled, CumQty: o.cum, Price: o.endPrice()}}
	default:
		return []grid.OrderEvent{{Ref: ref, Type: grid.OrderExpired, CumQty: o.cum, Price: o.endPrice()}}
	}
}

// endPrice is the price an end-of-order update carries: the fill price when
// the order filled (what an adapter reports as the average price), its
// limit otherwise.
func (o *venueOrder) endPrice() exchange.Ticks {
	if o.cum > 0 {
		return o.fillP
	}
	return o.limit
}

// drainCore turns the core's events into order-stream updates and keeps the
// harness's memory of every order.
func (h *chaos) drainCore() {
	for {
		evs := h.core.Events()
		if len(evs) == 0 {
			return
		}
		for k := range evs {
			ev := &evs[k]
			ref := grid.RefFromTag(ev.Tag)
			o := h.orders[ev.Tag]
			switch ev.Kind {
			case sim.EventFill:
				if o == nil {
					h.fail("fill of an order the harness does not know: %+v", *ev)
					return
				}
				if o.cum > 0 && o.fillP != ev.Price {
					h.fail("order %s filled at two prices %d and %d: the answer to a query would be wrong", ref, o.fillP, ev.Price)
				}
				o.cum, o.fillP = ev.CumQty, ev.Price
				if ev.CumQty == ev.OrderQty {
					o.live, o.end = false, sim.EventFill
				}
				h.stream(grid.OrderEvent{Ref: ref, Type: grid.OrderFilled, CumQty: ev.CumQty, Price: ev.Price, Fee: ev.Fee}, fillKey{ev.OrderID, ev.CumQty}, ev.Fee)
			case sim.EventCanceled, sim.EventExpired:
				if o == nil {
					h.fail("end of an order the harness does not know: %+v", *ev)
					return
				}
				o.live, o.end = false, ev.Kind
				typ := grid.OrderCanceled
				if ev.Kind == sim.EventExpired {
					typ = grid.OrderExpired
				}
				h.stream(grid.OrderEvent{Ref: ref, Type: typ, CumQty: ev.CumQty, Price: o.endPrice()}, fillKey{}, 0)
			case sim.EventLiquidation:
				h.fail("the venue liquidated the account at %d: the plan's balance is too small", ev.Price)
			}
		}
	}
}

// stream sends one update down the (faulty) order stream.
func (h *chaos) stream(ev grid.OrderEvent, fk fillKey, fee exchange.Money) {
	if !h.up {
		return // lost while the stream is down
	}
	f := h.p.f
	if h.chance(f.drop) {
		h.logf("stream drops %s %s cum %d", ev.Ref, ev.Type, ev.CumQty)
		h.n.dropped++
		return
	}
	a := action{at: h.now + h.latency(), kind: actStream, epoch: h.epoch, session: h.session, evs: []grid.OrderEvent{ev}, fill: fk, fee: fee}
	if h.chance(f.delay) {
		h.n.delayed++
		a.at += int64(1+h.r.IntN(30)) * int64(time.Second)
	}
	if h.chance(f.dup) {
		h.n.duplicated++
		d := a
		d.at += h.r.Int64N(int64(5 * time.Second))
		h.push(d)
	}
	if h.held != nil {
		held := *h.held
		h.held = nil
		h.push(a)
		held.at = max(held.at, a.at)
		h.push(held) // after the update that overtook it
		return
	}
	if h.chance(f.reorder) {
		h.n.reordered++
		h.held = &a
		return
	}
	h.push(a)
}

func (h *chaos) flushHeld() {
	if h.held != nil {
		a := *h.held
		h.held = nil
		a.at = max(a.at, h.now)
		h.push(a)
	}
}
