package grid

import (
	"errors"
	"fmt"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/slot"
)

// OrderEventType says what happened to one of the grid's orders. The zero
// value is invalid.
type OrderEventType uint8

const (
	// OrderAccepted: the venue acknowledged the order (it rests).
	OrderAccepted OrderEventType = iota + 1
	// OrderRejected: the venue refused the order; nothing was created
	// (post-only cross, margin, precision, …).
	OrderRejected
	// OrderFilled: the order filled, partly or fully. CumQty is its
	// cumulative filled quantity, Price the price of the newly filled part
	// and Fee that part's fee (signed: positive paid, negative rebate).
	OrderFilled
	// OrderCanceled: the order is canceled; CumQty is its final filled quantity.
	OrderCanceled
	// OrderExpired: the venue ended the order (a post-only order refused
	// after acceptance, a reduce-only knock-out, …); as OrderCanceled.
	OrderExpired
	// OrderUnknown: a place or cancel request's outcome is unknown
	// (timeout, 5xx, connection lost after sending). The engine answers
	// with a query intent, never a resend.
	OrderUnknown
	// OrderNotFound: a query found no such order. It proves a placement
	// absent only if the venue looked (AskedAt) after the request could no
	// longer arrive: its send time (SentAt of its unknown outcome, else the
	// intent's SendBy) plus the receive window; otherwise the engine
	// queries again then (see [request]).
	OrderNotFound
	// OrderFee: the fee of one trade of the order (TradeID, Fee; CumQty is
	// the trade's quantity), which the host recovered from the venue's
	// trades ([exchange.IExchange.Fills]) for a fill the engine booked
	// without its fee (learned from a query or a reconciliation). Booked
	// once per trade; see [Engine.FeesMissing].
	OrderFee
	// OrderNotSent: the host dropped a placement before it started writing
	// it (its SendBy passed while it was queued, the queue was full, the
	// runner is stopping); nothing reached the venue. The slot is free
	// again, after the same back-off as a refusal.
	OrderNotSent
)

// String names the event type.
func (t OrderEventType) String() string {
	switch t {
	case OrderAccepted:
		return "accepted"
	case OrderRejected:
		return "rejected"
	case OrderFilled:
		return "filled"
	case OrderCanceled:
		return "canceled"
	case OrderExpired:
		return "expired"
	case OrderUnknown:
		return "unknown"
	case OrderNotFound:
		return "not-found"
	case OrderNotSent:
		return "not-sent"
	case OrderFee:
		return "fee"
	}
	return fmt.Sprintf("OrderEventType(%d)", uint8(t))
}

// OrderEvent is one update of one of the grid's orders, as the host learned
// it from the venue's answers or order stream (or from a query).
type OrderEvent struct {
	Ref    OrderRef
	Type   OrderEventType
	CumQty exchange.Steps // OrderFilled, OrderCanceled, OrderExpired
	Price  exchange.Ticks // price of the newly filled part
	Fee    exchange.Money // fee of the newly filled part (signed)
	// TradeID (OrderFilled, OrderFee) is the venue's ID of the trade the
	// fee belongs to: with it, a fee is booked exactly once whatever the
	// order of the updates; without it, with the newly filled quantity.
	TradeID string
	Reason  string // the venue's reason, for logs
	// Cause (OrderRejected) is the venue's error, for the engine to tell a
	// refusal that proves a misconfiguration ([exchange.ErrPositionMode],
	// [exchange.ErrAuth]: the grid halts) from an ordinary one; nil if
	// unknown.
	Cause error
	// SentAt (OrderUnknown of a placement) is when the host started writing
	// the request ([exchange.UnknownOutcomeError.SentAt]); zero if unknown.
	SentAt time.Time
	// AskedAt (OrderNotFound) is when the host sent the query that found
	// nothing: the venue looked no earlier. Zero if unknown: the answer is
	// then taken to be up to a receive window old.
	AskedAt time.Time
}

// OnStreamReady tells the engine the venue's order stream is live: from now
// on no fill will be missed. The engine places nothing before it. After a
// reconnection call it again; the host should also reconcile.
func (e *Engine) OnStreamReady(now time.Time) []Intent {
	e.out = e.out[:0]
	e.ready = true
	switch {
	case !e.started && e.havePrice:
		e.begin(now)
	case e.started:
		e.tendAll(now)
	}
	return e.out
}

// OnStreamDown tells the engine the order stream dropped: it places and
// cancels nothing until the next OnStreamReady.
func (e *Engine) OnStreamDown(time.Time) { e.ready = false }

// begin starts the grid at the current price: the initial position (bounded
// long and short grids) and every order of the windows.
//
// A grid with a start trigger stays idle until it fires (see gate); a
// grid restored in a terminal state starts stopped.
func (e *Engine) begin(now time.Time) {
	if !e.gate(now) {
		e.bandLo, e.bandHi = 1, 0 // idle: every price is looked at
		return
	}
	e.started = true
	if e.cfg.initialPosition() && !e.recovered && !e.halted {
		e.placeInitial(now)
	}
	e.tendAll(now)
	if e.closing.wanted {
		e.maybeClose(now) // a restored terminal grid goes on closing
	}
}

// ErrIllegalUpdate is matched by the error [Engine.Apply] returns when an
// update contradicts the engine's view; the host should reconcile.
var ErrIllegalUpdate = errors.New("grid: update contradicts the engine's view")

// Apply feeds one order update to the engine and returns the intents it
// causes: an exit after an entry fills, an entry after a round trip, a
// query after an unknown outcome. An update of an order the engine does not
// know (another grid's, or an older generation) is ignored and counted as
// stale. An update that contradicts the engine's view returns an error
// matching [ErrIllegalUpdate]; the slot is unchanged and the host should
// reconcile.
func (e *Engine) Apply(now time.Time, ev OrderEvent) ([]Intent, error) {
	e.out = e.out[:0]
	err := e.apply(now, ev)
	e.maybeClose(now) // a hard stop closes once the last order has ended
	return e.out, err
}

func (e *Engine) apply(now time.Time, ev OrderEvent) error {
	if ev.Type == OrderFee {
		e.applyFee(now, ev)
		return nil
	}
	if ev.Ref.Level == InitialLevel {
		return e.applyInitial(now, ev)
	}
	if ev.Ref.Level == CloseLevel {
		e.applyClose(now, ev)
		return nil
	}

	i := ev.Ref.Level
	if i < e.minL || i > e.maxL {
		e.books.Stale++
		return nil
	}
	e.ensure(i, i)
	lv := e.lv(i)
	if lv.s.Kind == 0 {
		e.books.Stale++
		return nil
	}
	s := &lv.s
	current := ev.Ref.Gen == s.Gen && s.Live()
	var se slot.Event
	switch ev.Type {
	case OrderAccepted:
		se = slot.Event{Type: slot.Ack, Gen: ev.Ref.Gen}
	case OrderRejected:
		se = slot.Event{Type: slot.Reject, Gen: ev.Ref.Gen}
	case OrderFilled:
		se = slot.Event{Type: slot.Fill, Gen: ev.Ref.Gen, Qty: int64(ev.CumQty), Price: int64(ev.Price)}
	case OrderCanceled:
		se = slot.Event{Type: slot.Canceled, Gen: ev.Ref.Gen, Qty: int64(ev.CumQty), Price: int64(ev.Price)}
	case OrderExpired:
		se = slot.Event{Type: slot.Expired, Gen: ev.Ref.Gen, Qty: int64(ev.CumQty), Price: int64(ev.Price)}
	case OrderUnknown:
		if current && (s.State == slot.EntryPending || s.State == slot.ExitPending) {
			lv.req.sentAt(ev.SentAt)
		}
		se = slot.Event{Type: slot.OutcomeUnknown, Gen: ev.Ref.Gen}
	case OrderNotSent:
		if !current || lv.req.seen() {
			e.books.Stale++
			return nil
		}
		e.books.NotSent++
		se = slot.Event{Type: slot.Reject, Gen: ev.Ref.Gen}
	case OrderNotFound:
		if !current {
			e.books.Stale++
			return nil
		}
		if !lv.req.absent(now, ev.AskedAt, e.cfg.recvWindow) {
			return nil // the placement may still arrive: the timer asks again
		}
		if lv.req.seen() {
			se = slot.Event{Type: slot.Canceled, Gen: ev.Ref.Gen, Qty: s.Filled} // it ended and was forgotten
		} else {
			se = slot.Event{Type: slot.Reject, Gen: ev.Ref.Gen} // it never existed
		}
	default:
		return fmt.Errorf("grid: order event type %d is not valid", ev.Type)
	}
	if current {
		switch ev.Type {
		case OrderAccepted, OrderFilled, OrderCanceled, OrderExpired:
			lv.req.see(now)
		}
	}
	role, layers := lv.s.Role, e.layers
	state := lv.s.State
	late := unrequestedEnd(ev, current, state) && lv.s.Filled == 0 // a later post-only rejection (reprice.go)
	// A query's "still live" about a cancel whose outcome was unknown:
	// the cancel did not take effect, so it is sent again below.
	recancel := ev.Type == OrderAccepted && lv.s.State == slot.Canceling && lv.s.Unknown && ev.Ref.Gen == lv.s.Gen
	var fee exchange.Money
	switch ev.Type {
	case OrderFilled, OrderCanceled, OrderExpired:
		fee = e.tradeFee(ev) // zero for a trade already booked
	}
	eff, err := e.applySlot(now, i, lv, se)
	if fee != 0 && ev.TradeID != "" && (err != nil || eff.Entered+eff.Exited == 0) {
		// The trade's fee was paid whatever its quantity update does
		// here (a reordered or stale one, a contradiction the
		// reconciliation will book without a fee): book it alone. (An
		// update without a trade ID cannot tell a reordered fill from a
		// duplicate: its fee goes with new quantity only.)
		e.books.Fees += fee
		lv.fees += fee
		fee = 0
	}
	if err != nil {
		e.books.Illegal++
		e.needReconcile = true
		e.obs.Repair("illegal update: "+err.Error(), ev.Ref)
		e.log.Warn("grid: update contradicts the engine's view; reconcile", "ref", ev.Ref, "event", ev.Type, "err", err)
		return fmt.Errorf("%w: %s %s: %w", ErrIllegalUpdate, ev.Ref, ev.Type, err)
	}
	if eff.Ignored {
		e.books.Stale++
		return nil
	}
	switch ev.Type {
	case OrderRejected, OrderNotSent:
		if ev.Type == OrderRejected {
			e.books.Rejected++
		}
		// Back off before this slot asks again: a venue that keeps
		// refusing (margin, a restriction, a local rate-limit refusal)
		// must not be asked on every price move.
		lv.rejects = min(lv.rejects+1, 7)
		lv.retryAt = now.UnixNano() + int64(rejectBackoff)<<(lv.rejects-1)
		if ev.Type == OrderRejected && !(role == slot.RoleEntry && postOnlyRefusal(ev)) {
			e.refused(now, i, lv, e.sideOf(lv.s.Kind, role), ev)
		}
	case OrderAccepted, OrderFilled:
		lv.rejects, lv.retryAt = 0, 0
		e.sideRetryAt[e.sideOf(lv.s.Kind, role)] = 0
	}
	e.makerOutcome(now, i, lv, role, state, ev, late, eff.Entered)
	e.book(now, i, lv, ev.Ref, role, eff, fee)
	e.noteFeeless(ev.Ref, ev, exchange.Steps(eff.Entered+eff.Exited))
	if recancel && lv.s.State == slot.Canceling && !lv.s.Unknown {
		e.cancel(now, i, lv)
	}
	if eff.Query {
		lv.req.queryAt = now.UnixNano() + int64(e.cfg.ackTimeout)
		e.out = append(e.out, Intent{Kind: IntentQuery, Ref: ev.Ref, Role: role})
	}
	// Follow up on this slot, except after a refusal: the price is at or
	// through an entry's level, or the venue refuses the exit (margin, a
	// reduce-only with nothing to reduce); the next move or timer tries
	// again, rather than at once and forever.
	if ev.Type != OrderRejected && ev.Type != OrderNotSent {
		e.tend(now, i)
	}
	if e.cfg.trailing && layers >= e.cfg.layerCap && e.layers < e.cfg.layerCap {
		e.tendAll(now) // the layer cap released room
	}
	return nil
}

// book books what a slot event did with the order's fills: the fill
// count, the fee (zero when the fill was learned without one: a query, a
// reconciliation), realized PnL and a completed round trip.
func (e *Engine) book(now time.Time, i int64, lv *level, ref OrderRef, role slot.Role, eff slot.Effect, fee exchange.Money) {
	if eff.Entered > 0 || eff.Exited > 0 {
		if e.cfg.cancelBurst > 0 {
			e.cancelBudget = min(e.cancelBudget+e.cfg.cancelPerFill, e.cfg.cancelBurst)
		}
		e.books.Fills++
		e.books.Fees += fee
		lv.fees += fee
		e.obs.Fill(FillNote{Time: now, Ref: ref, Side: e.sideOf(lv.s.Kind, role), Price: exchange.Ticks(eff.Price), Qty: exchange.Steps(eff.Entered + eff.Exited), Fee: fee})
	}
	e.books.Realized += exchange.Money(eff.Realized)
	lv.pnl += exchange.Money(eff.Realized)
	if eff.RoundTrip {
		e.books.RoundTrips++
		e.obs.RoundTrip(RoundTrip{Time: now, Level: i, Qty: exchange.Steps(lv.s.Filled), Realized: lv.pnl, Fees: lv.fees})
		lv.pnl, lv.fees = 0, 0
	}
}

// OnTimer lets the engine act on time: it queries orders whose outcome is
// unknown (again, once the receive window has passed) and requests never
// answered within the ack timeout, and re-tends the window (retrying
// entries a venue refused). Call it about once a second.
func (e *Engine) OnTimer(now time.Time) []Intent {
	e.out = e.out[:0]
	if !e.started || !e.ready {
		if e.ctl.watch {
			e.control(now) // the checks asked for again at a trigger
		}
		return e.out
	}
	t := now.UnixNano()
	for j := range e.levels {
		lv := &e.levels[j]
		s := &lv.s
		if !s.Live() {
			continue
		}
		i := e.base + int64(j)
		switch {
		case s.Unknown:
			if lv.req.queryDue(t, e.cfg.ackTimeout) {
				e.out = append(e.out, Intent{Kind: IntentQuery, Ref: OrderRef{Level: i, Gen: s.Gen}, Role: s.Role})
			}
		case (s.State == slot.EntryPending || s.State == slot.ExitPending || s.State == slot.Canceling) &&
			lv.req.unanswered(t, e.cfg.ackTimeout):
			e.applyQuiet(now, i, lv, slot.Event{Type: slot.OutcomeUnknown, Gen: s.Gen})
			lv.req.queryAt = t
			if lv.req.queryDue(t, e.cfg.ackTimeout) {
				e.out = append(e.out, Intent{Kind: IntentQuery, Ref: OrderRef{Level: i, Gen: s.Gen}, Role: s.Role})
			}
		}
	}
	e.initialTimer(t)
	e.closeTimer(now)
	e.reserveTimer()
	e.tendAll(now)
	// Orders a halt or a pause must cancel that could not be canceled when
	// it came (the stream was down, the outcome unknown, the order not yet
	// acknowledged) and that the price has left out of tendAll's range.
	switch {
	case e.halted:
		e.cancelWhere(now, slot.RoleNone)
	case e.paused && e.pauseCancels:
		e.cancelWhere(now, slot.RoleEntry)
	default:
		e.cancelHeldSides(now)
	}
	if e.ctl.watch {
		e.control(now) // the time limit
	}
	return e.out
}

// Halt stops the grid for good (a liquidation, an auto-deleveraging fill, a
// margin call, a change of the symbol's rules): every live order of the
// grid is canceled by its ID and nothing is placed again. The engine must
// be rebuilt to trade again.
func (e *Engine) Halt(now time.Time, reason string) []Intent {
	e.out = e.out[:0]
	e.halt(now, reason, true)
	return e.out
}

// halt is Halt appending to e.out; note reports it to the observer (a
// grid control reports its own, with its terminal kind).
func (e *Engine) halt(now time.Time, reason string, note bool) {
	if e.halted {
		return
	}
	e.halted, e.haltReason = true, reason
	e.log.Error("grid: halted", "reason", reason)
	if note {
		e.obs.Risk(RiskNote{Time: now, Halted: true, Reason: reason})
	}
	e.cancelWhere(now, slot.RoleNone)
}

// cancelWhere cancels every acknowledged order of the role (RoleNone: all).
// Orders not yet acknowledged are canceled when their ack arrives.
func (e *Engine) cancelWhere(now time.Time, role slot.Role) {
	if !e.ready {
		return
	}
	for j := range e.levels {
		lv := &e.levels[j]
		st := lv.s.State
		if (st == slot.EntryOpen || st == slot.ExitOpen) && !lv.s.Unknown && (role == slot.RoleNone || lv.s.Role == role) {
			e.cancel(now, e.base+int64(j), lv)
		}
	}
}

// NeedsReconcile reports whether an update contradicted the engine's view
// since the last call, and clears the flag.
func (e *Engine) NeedsReconcile() bool {
	n := e.needReconcile
	e.needReconcile = false
	return n
}
