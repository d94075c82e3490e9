package grid

import (
	"fmt"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/slot"
)

type initialOrder struct {
	gen     uint32
	live    bool
	filled  exchange.Steps
	targets []int64 // levels to receive the position, nearest the price first
	next    int
	req     request
}

// placeInitial sends one market order for the position of every slot on
// the far side of the start price: for a long grid the levels at or above
// it (each then exits one level up), for a short grid the mirror. The
// levels are reserved until their share arrives, nearest the price first.
func (e *Engine) placeInitial(now time.Time) {
	var total exchange.Steps
	e.initial.targets = e.initial.targets[:0]
	kind := slot.Long
	if e.cfg.mode == Short {
		kind = slot.Short
	}
	first, last, step := e.k, e.maxL, int64(1)
	if !e.on {
		first = e.k + 1
	}
	if kind == slot.Short {
		first, last, step = e.k, e.minL, -1
	}
	e.ensure(min(first, last), max(first, last))
	for i := first; (step > 0 && i <= last) || (step < 0 && i >= last); i += step {
		lv := e.lv(i)
		if lv.s.Kind != kind || lv.bad != "" || lv.s.State != slot.Free {
			continue
		}
		lv.reserved = true
		e.initial.targets = append(e.initial.targets, i)
		total += lv.qty
	}
	if total == 0 {
		return
	}
	gen, ok := e.nextGen(e.initial.gen)
	if !ok {
		// No generation reserved yet: release the levels; the grid starts
		// without its initial position rather than wait with entries held.
		for _, i := range e.initial.targets {
			e.lv(i).reserved = false
		}
		e.initial.targets = e.initial.targets[:0]
		e.log.Warn("grid: initial position skipped: no client order generation reserved yet")
		return
	}
	e.initial.gen = gen
	e.initial.live, e.initial.filled, e.initial.next = true, 0, 0
	e.books.Placed++
	e.books.OpenOrders++
	e.out = append(e.out, Intent{
		Kind: IntentPlace, Ref: OrderRef{Level: InitialLevel, Gen: e.initial.gen}, Role: slot.RoleEntry,
		Side: e.sideOf(kind, slot.RoleEntry), PositionSide: e.posSide(kind), Market: true, Qty: total,
		SendBy: e.initial.req.placed(now, e.cfg.sendTimeout),
	})
}

// initialTimer queries the initial-position order once it has gone
// unanswered for the ack timeout, and again while its outcome is unknown.
func (e *Engine) initialTimer(t int64) {
	in := &e.initial
	if !in.live {
		return
	}
	if in.req.timerQueryDue(t, e.cfg.ackTimeout) {
		e.out = append(e.out, Intent{Kind: IntentQuery, Ref: OrderRef{Level: InitialLevel, Gen: in.gen}})
	}
}

func (e *Engine) applyInitial(now time.Time, ev OrderEvent) error {
	in := &e.initial
	if ev.Ref.Gen != in.gen || !in.live {
		e.books.Stale++
		return nil
	}
	switch ev.Type {
	case OrderAccepted:
		in.req.see(now)
		return nil
	case OrderUnknown:
		if !in.req.seen() {
			in.req.sentAt(ev.SentAt)
		}
		in.req.queryAt = now.UnixNano() + int64(e.cfg.ackTimeout)
		e.out = append(e.out, Intent{Kind: IntentQuery, Ref: ev.Ref})
		return nil
	case OrderNotFound:
		if !in.req.absent(now, ev.AskedAt, e.cfg.recvWindow) {
			return nil // may still arrive: the timer queries again
		}
		e.endInitial(now, "not found")
		return nil
	case OrderNotSent:
		if in.req.seen() {
			e.books.Stale++
			return nil
		}
		e.books.NotSent++
		e.endInitial(now, "not sent")
		return nil
	case OrderRejected:
		e.books.Rejected++
		e.endInitial(now, "rejected: "+ev.Reason)
		return nil
	case OrderFilled, OrderCanceled, OrderExpired:
		in.req.see(now)
	default:
		return fmt.Errorf("grid: initial order: unknown event type %d", ev.Type)
	}
	delta := ev.CumQty - in.filled
	fee := e.tradeFee(ev)
	if delta <= 0 && ev.TradeID != "" {
		e.books.Fees += fee // a trade's fee on an update whose quantity was known
	}
	if delta > 0 {
		in.filled = ev.CumQty
		e.books.Fills++
		e.books.Fees += fee
		e.noteFeeless(ev.Ref, ev, delta)
		e.obs.Fill(FillNote{Time: now, Ref: ev.Ref, Side: e.sideOf(e.initialKind(), slot.RoleEntry), Price: ev.Price, Qty: delta, Fee: fee})
		left, feeLeft := delta, fee
		for left > 0 && in.next < len(in.targets) {
			i := in.targets[in.next]
			lv := e.lv(i)
			q := min(lv.qty-exchange.Steps(lv.s.Held), left)
			share, _ := exchange.MulDiv(int64(fee), int64(q), int64(delta)) // exact; cannot fail: q ≤ delta
			fee := exchange.Money(share)
			left -= q
			if left == 0 {
				fee = feeLeft
			}
			feeLeft -= fee
			lv.fees += fee
			e.applyQuiet(now, i, lv, slot.Event{Type: slot.Reconciled, Held: lv.s.Held + int64(q), Cost: lv.s.Cost + int64(ev.Price)*int64(q)})
			if exchange.Steps(lv.s.Held) >= lv.qty {
				lv.reserved = false
				in.next++
				e.tend(now, i)
			}
		}
	}
	if ev.Type != OrderFilled || in.next >= len(in.targets) {
		e.endInitial(now, "")
	}
	return nil
}

func (e *Engine) initialKind() slot.Kind {
	if e.cfg.mode == Short {
		return slot.Short
	}
	return slot.Long
}

// endInitial releases the levels the initial order did not fill.
func (e *Engine) endInitial(now time.Time, why string) {
	in := &e.initial
	in.live = false
	e.books.OpenOrders--
	for _, i := range in.targets[in.next:] {
		lv := e.lv(i)
		lv.reserved = false
		e.tend(now, i)
	}
	in.next = len(in.targets)
	if why != "" {
		e.log.Warn("grid: initial position order ended early", "reason", why, "filled", in.filled)
	}
}
