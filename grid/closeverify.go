package grid

import (
	"fmt"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/slot"
)

// A hard stop's close that the venue refuses as a reduce-only order with
// nothing (or less than the close) to reduce — exchange.ErrReduceOnlyRejected:
// Binance -2022, -2024, -4062, -4118; sim.Venue alike — is not a transient
// refusal: the grid's belief of its position and the venue's disagree (the
// position was closed elsewhere: a liquidation, a manual close, an earlier
// close whose fill the grid missed). Sending the same close again after a
// back-off would be refused again, or, where the venue has opened a
// position since, close something that is not the grid's. So the closer
// sends nothing until it has read the venue's position (IntentReconcile,
// answered by Engine.Reconcile with a snapshot read after the ask), and
// settles the close from what it shows:
//
//   - the venue holds none of what the grid thought it held (less the
//     baseline): the close is done; the holding is taken out of the slots
//     at no PnL — the PnL of that close is the venue's, not the grid's to
//     invent — and reported (Stats.ClosedElsewhereLong/Short, a repair to
//     the observer, a WARN log);
//   - it holds less: the difference is taken out the same way, and what
//     is left is closed at once;
//   - it holds as much or more: the refusal has another cause; the close
//     is sent again after the back-off, logged at WARN once with the
//     venue's message (and shown in Stats.Refusal), not on every retry.
//
// A grid that shares its symbol (WithSharedSymbol) cannot read its own
// position off the venue's, so its refused closes back off and are sent
// again, as any refusal is.

// refusedReduceOnly ends a closing order the venue refused as reduce-only
// and holds the close until the venue's position is read.
func (e *Engine) refusedReduceOnly(now time.Time, leg *closeLeg, ev OrderEvent) {
	c := &e.closing
	e.endClose(now, leg, "") // no back-off: the position read decides
	c.verify, c.verifyAsked, c.verifyFrom = true, 0, 0
	c.refusedWhy = ev.Reason
	log := e.log.Info
	if c.refusedWarned {
		log = e.log.Debug // refused again, as the WARN said: not logged on every retry
	}
	log("grid: the venue refused the reduce-only close: reading its position before closing again",
		"ref", ev.Ref.String(), "reason", ev.Reason)
}

// askPosition asks the host for the venue's view (IntentReconcile) unless
// it was asked and the ack timeout has not passed (closeTimer).
func (e *Engine) askPosition(now time.Time) {
	c := &e.closing
	if c.verifyAsked != 0 {
		return
	}
	t := now.UnixNano()
	c.verifyAsked = t
	if c.verifyFrom == 0 {
		c.verifyFrom = t
	}
	e.out = append(e.out, Intent{Kind: IntentReconcile})
}

// settleRefusedClose settles a refused close from a snapshot of the venue
// read after the grid asked for it (see the comment at the top).
func (e *Engine) settleRefusedClose(now time.Time, snap Snapshot) {
	c := &e.closing
	if !c.verify || c.verifyAsked == 0 || !snap.HavePosition {
		return
	}
	if e.books.OpenOrders > 0 {
		// An order of the grid is live (a closing order of an earlier run
		// this reconciliation adopted, to cancel): the position moves
		// with it. Ask again once it ended (maybeClose), and take only a
		// read made after that.
		c.verifyAsked, c.verifyFrom = 0, 0
		return
	}
	if !snap.At.IsZero() && snap.At.UnixNano() < c.verifyFrom {
		// Read before the refusal was known (a periodic reconciliation
		// under way): it may show the position as it was. Ask again.
		c.verifyAsked = 0
		if e.ready {
			e.askPosition(now)
		}
		return
	}
	c.verify, c.verifyAsked, c.verifyFrom = false, 0, 0
	if e.takeClosedElsewhere(now, snap) {
		c.rejects, c.retryAt = 0, 0
		e.maybeClose(now) // done, or the rest closed at once
		return
	}
	c.rejects = min(c.rejects+1, 6)
	c.retryAt = now.UnixNano() + int64(rejectBackoff)<<(c.rejects-1)
	e.refusal = "reduce-only close refused though the venue shows the position: " + c.refusedWhy
	args := []any{"long", e.rules.StepsToQty(e.books.LongHeld).String(), "short", e.rules.StepsToQty(e.books.ShortHeld).String(),
		"venue", e.rules.StepsToQty(snap.Position).String(), "baseline", e.rules.StepsToQty(e.baseline).String(),
		"retry", time.Unix(0, c.retryAt), "reason", c.refusedWhy}
	if c.refusedWarned {
		e.log.Debug("grid: the venue refuses the reduce-only close again though it shows the position; backing off", args...)
		return
	}
	c.refusedWarned = true
	e.log.Warn("grid: the venue refuses the reduce-only close though it shows the position the grid holds; backing off", args...)
}

// takeClosedElsewhere takes out of the slots what the grid holds beyond
// what the snapshot shows the venue holds for it, and reports whether it
// took anything. In one-way mode the venue's net position less the
// baseline is compared with the grid's net; in hedge mode each side with
// the venue's side (the baseline counted on its own side), or, when the
// snapshot has no sides, the net for a grid that holds one side only.
func (e *Engine) takeClosedElsewhere(now time.Time, snap Snapshot) bool {
	b := &e.books
	long, short := b.LongHeld, b.ShortHeld
	var overLong, overShort exchange.Steps
	switch {
	case e.cfg.posMode == exchange.Hedge && snap.HaveSides:
		overLong = long - max(snap.PositionLong-max(e.baseline, 0), 0)
		overShort = short - max(snap.PositionShort-max(-e.baseline, 0), 0)
	case e.cfg.posMode == exchange.Hedge && long > 0 && short > 0:
		return false // the net cannot tell the sides apart
	default:
		v := snap.Position - e.baseline
		if n := long - short; n > 0 {
			overLong = n - max(v, 0)
		} else if n < 0 {
			overShort = -n - max(-v, 0)
		}
	}
	took := false
	if overLong > 0 {
		took = e.closedElsewhere(now, slot.Long, overLong, snap) || took
	}
	if overShort > 0 {
		took = e.closedElsewhere(now, slot.Short, overShort, snap) || took
	}
	return took
}

// closedElsewhere takes qty of kind out of the slots at no PnL, books it
// as closed elsewhere and reports it (a repair, a WARN log).
func (e *Engine) closedElsewhere(now time.Time, kind slot.Kind, qty exchange.Steps, snap Snapshot) bool {
	taken, cost := e.takeHeld(now, kind, qty)
	if taken == 0 {
		return false
	}
	side := "long"
	if kind == slot.Long {
		e.books.ClosedElsewhereLong += taken
	} else {
		side = "short"
		e.books.ClosedElsewhereShort += taken
	}
	q := e.rules.StepsToQty(taken).String()
	e.repair(now, fmt.Sprintf("position closed elsewhere: the venue refused the reduce-only close and shows %s, less baseline %s; %s %s taken out of the slots at no PnL (entry cost %s)",
		e.rules.StepsToQty(snap.Position), e.rules.StepsToQty(e.baseline), side, q, e.rules.MoneyToDecimal(cost)), OrderRef{Level: CloseLevel, Gen: e.closing.gen})
	e.log.Warn("grid: the grid's position was closed elsewhere (a liquidation, a manual close, a missed fill): taken out of the books at no PnL",
		"side", side, "qty", q, "entryCost", e.rules.MoneyToDecimal(cost).String(), "venue", e.rules.StepsToQty(snap.Position).String(),
		"reason", e.closing.refusedWhy)
	return true
}
