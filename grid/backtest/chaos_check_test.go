package backtest

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/slot"
)

// The chaos harness (described in chaos_harness_test.go), its checks:
// the venue's view, reconciliation, the invariants and equity agreement,
// restarts and the final settle.

// staleSnapshot is a snapshot and when it was read.
type staleSnapshot struct {
	grid.Snapshot
	readAt int64
}

// snapshot is the venue's view of the grid, as the runner reads it.
func (h *chaos) snapshot() grid.Snapshot {
	var snap grid.Snapshot
	h.buf = h.core.AppendOpenOrders(h.buf[:0])
	for _, o := range h.buf {
		snap.Orders = append(snap.Orders, grid.VenueOrder{Ref: grid.RefFromTag(o.Tag), Side: o.Side, Price: o.Price, Qty: o.Qty, Filled: o.Filled})
	}
	snap.Position, snap.HavePosition = h.venuePosition(), true
	return snap
}

func (h *chaos) venuePosition() exchange.Steps {
	var pos exchange.Steps
	for _, ps := range []exchange.PositionSide{exchange.PositionBoth, exchange.PositionLong, exchange.PositionShort} {
		q, _ := h.core.Position(ps)
		pos += q
	}
	return pos
}

// venueGross is the venue's equity change before fees (funding is not
// modelled); engineGross the engine's realized plus unrealized, at the
// current price.
func (h *chaos) venueGross() exchange.Money {
	return h.core.Equity(h.price) - h.p.core.InitialBalance + h.core.Stats().FeesPaid
}

func (h *chaos) engineGross() exchange.Money {
	b := h.eng.Books()
	return b.Realized + b.Unrealized(h.price)
}

// venueFlat reports whether every position side of the venue is closed.
func (h *chaos) venueFlat() bool {
	for _, ps := range []exchange.PositionSide{exchange.PositionBoth, exchange.PositionLong, exchange.PositionShort} {
		if q, _ := h.core.Position(ps); q != 0 {
			return false
		}
	}
	return true
}

// reconcile runs one reconciliation; one that asks for nothing while
// nothing is in flight is a quiescent point, where the books must agree.
func (h *chaos) reconcile(why string) {
	if !h.up {
		return
	}
	snap := h.snapshot()
	if h.chance(h.p.f.staleSnap) {
		// The runner reads open orders and the position on a worker; the
		// engine applies them after whatever arrived meanwhile.
		h.n.staleSnaps++
		h.push(action{at: h.now + h.r.Int64N(int64(3*time.Second)), kind: actSnapshot, epoch: h.epoch, snap: &staleSnapshot{snap, h.now}})
		return
	}
	asked := false
	h.call("reconcile "+why, func() ([]grid.Intent, error) {
		in := h.eng.Reconcile(h.t(), snap)
		asked = len(in) > 0
		return in, nil
	})
	if !asked && h.quiescent() {
		h.agree("quiescent")
		h.quiet++
	}
}

// quiescent reports whether nothing is in flight and every slot is settled.
func (h *chaos) quiescent() bool {
	for i := range h.q {
		if k := h.q[i].kind; k != actReconnect && k != actResume && (h.q[i].epoch == h.epoch || k == actLand) {
			return false
		}
	}
	if h.held != nil || !h.up {
		return false
	}
	settled := true
	open := 0
	h.eng.Slots(func(v grid.SlotView) {
		s := v.Slot
		switch {
		case s.Unknown || s.State == slot.EntryPending || s.State == slot.ExitPending || s.State == slot.Canceling:
			settled = false
		case s.Live():
			open++
		}
	})
	return settled && open == h.eng.Books().OpenOrders
}

// check runs after every event: the engine's own invariants, at most one
// live venue order per slot.
func (h *chaos) check() {
	if h.err != nil {
		return
	}
	if err := h.eng.CheckInvariants(); err != nil {
		h.fail("engine invariants: %v", err)
		return
	}
	clear(h.perLevel)
	h.buf = h.core.AppendOpenOrders(h.buf[:0])
	for _, o := range h.buf {
		ref := grid.RefFromTag(o.Tag)
		if h.perLevel[ref.Level]++; h.perLevel[ref.Level] > 1 {
			h.fail("level %d has %d live orders on the venue (the latest %s)", ref.Level, h.perLevel[ref.Level], ref)
			return
		}
	}
}

// agree checks the venue's books against the engine's at a quiescent point.
func (h *chaos) agree(where string) {
	if h.err != nil {
		return
	}
	slots := map[int64]slot.Slot{}
	h.eng.Slots(func(v grid.SlotView) { slots[v.Level] = v.Slot })
	h.buf = h.core.AppendOpenOrders(h.buf[:0])
	onVenue := map[grid.OrderRef]bool{}
	for _, o := range h.buf {
		ref := grid.RefFromTag(o.Tag)
		onVenue[ref] = true
		s, ok := slots[ref.Level]
		if !ok || !s.Live() || s.Gen != ref.Gen {
			h.fail("%s: venue order %s belongs to no slot (slot %+v)", where, ref, s)
			return
		}
		if s.Filled != int64(o.Filled) {
			h.fail("%s: venue order %s filled %d, its slot says %d", where, ref, o.Filled, s.Filled)
			return
		}
	}
	for lvl, s := range slots {
		if s.Live() && !onVenue[grid.OrderRef{Level: lvl, Gen: s.Gen}] {
			h.fail("%s: slot %d has order %d/%d live (%s), the venue does not", where, lvl, lvl, s.Gen, s.State)
			return
		}
	}
	b := h.eng.Books()
	if venue := h.venuePosition(); b.Position+h.eng.Baseline() != venue {
		h.fail("%s: position: engine %d + baseline %d ≠ venue %d", where, b.Position, h.eng.Baseline(), venue)
		return
	}
	cs := h.core.Stats()
	// Since the base (the start, or a restart without a store): the
	// venue's gross equity change less the baseline's own change in value.
	venueGross := h.venueGross() - h.base.venue - exchange.Notional(h.price-h.base.mark, h.eng.Baseline())
	engineGross := h.engineGross() - h.base.engine
	if venueGross != engineGross {
		h.fail("%s: gross equity change at %d: engine %d (realized %d + unrealized %d), venue %d", where, h.price, engineGross, b.Realized, b.Unrealized(h.price), venueGross)
		return
	}
	if b.Fees != h.feesBooked-h.base.fees {
		h.fail("%s: engine fees %d ≠ fees of the fill updates it booked %d", where, b.Fees, h.feesBooked-h.base.fees)
		return
	}
	if b.Fees > cs.FeesPaid && cs.FeesPaid >= 0 && h.p.core.MakerFee >= 0 {
		h.fail("%s: engine fees %d exceed the venue's %d", where, b.Fees, cs.FeesPaid)
		return
	}
	if !h.base.rebased && b.LongHeld == 0 && b.ShortHeld == 0 && h.venueFlat() && b.Realized != cs.RealizedPnL {
		h.fail("%s: flat, realized: engine %d, venue %d", where, b.Realized, cs.RealizedPnL)
	}
}

// restart replaces the engine by a new process: the store keeps the old
// one's state (through JSON), the new one restores it and recovers from the
// venue's view. Responses and updates meant for the old process are lost;
// its requests in flight land or not.
func (h *chaos) restart() { h.restartWith(true, false) }

// restartWith restarts the engine with or without the store; without it,
// the new engine recovers from the venue alone (claiming the rest of the
// position when claim is set) and the equity comparison starts afresh.
func (h *chaos) restartWith(store, claim bool) {
	st := h.eng.State()
	data, err := json.Marshal(st)
	if err != nil {
		h.fail("encode state: %v", err)
		return
	}
	var back grid.StoredState
	if err := json.Unmarshal(data, &back); err != nil {
		h.fail("decode state: %v", err)
		return
	}
	kept := h.q[:0]
	for _, a := range h.q {
		// Without a store the new process cannot know what the old one
		// had in flight: the host waits a receive window before it starts
		// (the requests land first), modelled here as none landing.
		if store && a.kind == actLand && h.r.IntN(2) == 0 {
			a.respond = false
			kept = append(kept, a) // sent before the crash: it lands
		}
	}
	h.q = kept
	for i := len(h.q)/2 - 1; i >= 0; i-- { // re-heapify
		h.siftDown(i)
	}
	h.held = nil
	h.epoch++
	h.session++
	h.restarts++
	h.logf("restart (%d slots stored)", len(back.Slots))
	eng, err := grid.New(soakRules, h.p.opts...)
	if err != nil {
		h.fail("restart: New: %v", err)
		return
	}
	if store {
		if err := eng.RestoreState(back); err != nil {
			h.fail("restart: RestoreState: %v", err)
			return
		}
	}
	if h.tr {
		old := map[int64]slot.Slot{}
		h.eng.Slots(func(v grid.SlotView) { old[v.Level] = v.Slot })
		eng.Slots(func(v grid.SlotView) {
			if o := old[v.Level]; o != v.Slot {
				h.logf("restored level %d: %+v, was %+v", v.Level, v.Slot, o)
			}
		})
	}
	h.eng = eng
	h.call("price", func() ([]grid.Intent, error) { return h.eng.OnPrice(h.t(), h.price), nil })
	snap := h.snapshot()
	h.call("recover", func() ([]grid.Intent, error) { return h.eng.Recover(h.t(), snap, claim) })
	if !store {
		h.base.rebased = true
		h.base.venue, h.base.engine, h.base.fees, h.base.mark = h.venueGross(), h.engineGross(), h.feesBooked, h.price
	}
	h.up = true
	h.call("stream ready", func() ([]grid.Intent, error) { return h.eng.OnStreamReady(h.t()), nil })
}

// settle lets everything in flight arrive with no new fault, advancing the
// clock (the price stays) until a reconciliation asks for nothing and every
// slot is settled; then the books must agree.
func (h *chaos) settle() {
	h.calm = true
	h.flushHeld()
	if !h.up {
		h.up = true
		h.call("stream ready", func() ([]grid.Intent, error) { return h.eng.OnStreamReady(h.t()), nil })
	}
	step := int64(h.p.recvWindow)
	for round := 0; round < 200 && h.err == nil; round++ {
		for len(h.q) > 0 && h.err == nil {
			a := h.pop()
			h.now = max(h.now, a.at)
			h.do(a)
		}
		h.now += step
		h.timer()
		for len(h.q) > 0 && h.err == nil {
			a := h.pop()
			h.now = max(h.now, a.at)
			h.do(a)
		}
		snap := h.snapshot()
		asked := false
		h.call("reconcile final", func() ([]grid.Intent, error) {
			in := h.eng.Reconcile(h.t(), snap)
			asked = len(in) > 0
			return in, nil
		})
		if !asked && len(h.q) == 0 && h.quiescent() {
			h.agree("end")
			return
		}
	}
	if h.err == nil {
		var pending []string
		h.eng.Slots(func(v grid.SlotView) {
			if v.Slot.Live() || v.Slot.Unknown {
				pending = append(pending, fmt.Sprintf("%d:%s/%d unknown=%v", v.Level, v.Slot.State, v.Slot.Gen, v.Slot.Unknown))
			}
		})
		h.fail("did not settle: %d actions pending, slots %v", len(h.q), pending)
	}
}
