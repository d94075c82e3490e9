package grid

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/slot"
)

// VenueOrder is one live order of this grid as the venue reports it, its
// client order ID already parsed into a reference.
type VenueOrder struct {
	Ref    OrderRef
	Side   exchange.Side
	Price  exchange.Ticks
	Qty    exchange.Steps
	Filled exchange.Steps
}

// VenueFill is one recent fill of one of this grid's orders, as the venue
// reports it (see [Snapshot.Fills]).
type VenueFill struct {
	Ref   OrderRef
	Side  exchange.Side
	Price exchange.Ticks
	Qty   exchange.Steps
	// TradeID is the venue's ID of the trade; a restart books each
	// trade's fee once under it (see [Engine.Recover]).
	TradeID string
	// Fee is the trade's fee in quote money (positive paid, negative
	// rebate); a fee in another asset is in FeeAsset and OtherFee
	// instead (kept apart: Stats.UnbookedFees).
	Fee      exchange.Money
	FeeAsset string
	OtherFee decimal.Decimal
	// Time is when the trade happened, on the venue's clock (zero when the
	// venue does not say): a restart books the funding settled while no
	// runner ran with the position these times give (see [FundingHistory]).
	Time time.Time
}

// Snapshot is the venue's view of the grid: its live orders (only those
// with this grid's client order ID prefix), the symbol's position on the
// grid's side(s), signed, and — for a restart from a stored state — the
// grid's recent fills, which show the slots that moved on after the state
// was saved.
type Snapshot struct {
	Orders       []VenueOrder
	Position     exchange.Steps
	HavePosition bool
	// PositionLong and PositionShort are, in hedge mode, the venue's
	// position on each side (both ≥ 0; Position is their difference);
	// HaveSides says they were read. A hard stop whose close the venue
	// refused settles each side from them (see [Engine.HardStop]).
	PositionLong, PositionShort exchange.Steps
	HaveSides                   bool
	Fills                       []VenueFill
	// At is when the host started reading the venue (zero: unknown, taken
	// as read after everything the engine asked). A hard stop settles a
	// refused close only from a snapshot read after it asked for one
	// ([IntentReconcile]).
	At time.Time
}

// refs is the set of the snapshot's order references.
func (snap Snapshot) refs() map[OrderRef]struct{} {
	live := make(map[OrderRef]struct{}, len(snap.Orders))
	for _, o := range snap.Orders {
		live[o.Ref] = struct{}{}
	}
	return live
}

// Reconcile compares the venue's view with the slots and repairs the drift
// — the venue is the source of truth: missed events, manual orders and
// cancellations by the venue are repaired from what it shows:
//
//   - a slot whose acknowledged order is no longer live on the venue gets a
//     query, whose answer (filled, canceled, not found) settles it;
//   - a live order of this grid that its slot does not know is adopted when
//     it fits the slot (an entry of a free slot, an exit of a holding slot
//     no larger than held) and canceled by its ID otherwise;
//   - a difference between the venue's position (less the baseline the
//     grid found at start) and the slots' is reported as drift;
//   - a hard stop whose reduce-only close the venue refused settles the
//     close from the position shown (see [Engine.HardStop]).
//
// Orders without the grid's prefix never reach the engine and are never
// touched. Every repair is logged and reported to the observer.
func (e *Engine) Reconcile(now time.Time, snap Snapshot) []Intent {
	e.out = e.out[:0]
	live := snap.refs()
	t := now.UnixNano()
	for j := range e.levels {
		lv := &e.levels[j]
		s := &lv.s
		if !s.Live() || s.Unknown {
			continue
		}
		ref := OrderRef{Level: e.base + int64(j), Gen: s.Gen}
		if _, ok := live[ref]; ok {
			continue
		}
		if !lv.req.seen() && t < lv.req.landBy(e.cfg.recvWindow) {
			continue // may not have reached the venue yet
		}
		e.repair(now, "order vanished from the venue: querying", ref)
		e.applyQuiet(now, ref.Level, lv, slot.Event{Type: slot.OutcomeUnknown, Gen: s.Gen})
		lv.req.queryAt = t + int64(e.cfg.ackTimeout)
		e.out = append(e.out, Intent{Kind: IntentQuery, Ref: ref, Role: s.Role})
	}
	for _, o := range snap.Orders {
		e.reconcileOrder(now, o)
	}
	e.settleRefusedClose(now, snap) // a hard stop waiting for the venue's position
	if snap.HavePosition {
		if drift := snap.Position - e.baseline - e.books.Position; drift != 0 {
			e.drift = drift
			e.repair(now, fmt.Sprintf("position drift: venue %d − baseline %d ≠ slots %d (%+d steps)", snap.Position, e.baseline, e.books.Position, drift), OrderRef{})
		} else {
			e.drift = 0
		}
	}
	return e.out
}

// reconcileOrder settles one live venue order against its slot.
func (e *Engine) reconcileOrder(now time.Time, o VenueOrder) {
	if o.Ref.Level == InitialLevel {
		if !e.initial.live || o.Ref.Gen != e.initial.gen {
			e.repair(now, "orphan initial-position order: canceling", o.Ref)
			e.out = append(e.out, Intent{Kind: IntentCancel, Ref: o.Ref})
		}
		return
	}
	if o.Ref.Level == CloseLevel && e.adoptClose(now, o) {
		return
	}
	i := o.Ref.Level
	if i < e.minL || i > e.maxL {
		e.orphan(now, o, "no such level")
		return
	}
	e.ensure(i, i)
	lv := e.lv(i)
	s := &lv.s
	switch {
	case s.Kind == 0:
		e.orphan(now, o, "no slot at this level")
	case s.Live() && s.Gen == o.Ref.Gen:
		if s.State == slot.EntryPending || s.State == slot.ExitPending {
			e.applyQuiet(now, i, lv, slot.Event{Type: slot.Ack, Gen: s.Gen}) // the ack was missed
		}
		lv.req.see(now)
		if o.Filled > exchange.Steps(s.Filled) {
			role := s.Role
			eff, err := e.applySlot(now, i, lv, slot.Event{Type: slot.Fill, Gen: s.Gen, Qty: int64(o.Filled), Price: int64(o.Price)})
			if err != nil {
				e.orphan(now, o, err.Error())
				return
			}
			e.book(now, i, lv, o.Ref, role, eff, 0) // the fee is not known: recovered from the venue's trades
			e.noteFeeless(o.Ref, OrderEvent{}, exchange.Steps(eff.Entered+eff.Exited))
			e.repair(now, "fill missed on the stream: booked from the venue's order", o.Ref)
		}
	case !s.Live() && o.Ref.Gen > s.Gen:
		role := slot.RoleEntry
		if o.Side != e.sideOf(s.Kind, slot.RoleEntry) {
			role = slot.RoleExit
		}
		held, cost := s.Held, s.Cost
		switch rest := int64(o.Qty - o.Filled); {
		case !e.fitsBooks(o.Price, o.Qty): // keeps the products below exact
			e.orphan(now, o, e.beyondBooks("order", o.Price, o.Qty))
			return
		case role == slot.RoleEntry && s.State != slot.Free:
			e.orphan(now, o, "does not fit its slot ("+s.State.String()+")")
			return
		case role == slot.RoleEntry:
			held += int64(o.Filled)
			cost += int64(o.Filled) * int64(o.Price)
		case rest > s.Held && e.started:
			e.orphan(now, o, "does not fit its slot ("+s.State.String()+")")
			return
		case rest > s.Held:
			// Recovering: the exit's rest is a position the slot holds,
			// priced at the entry level (the true entry price is gone).
			held, cost = rest, s.Cost+(rest-s.Held)*int64(lv.price)
		}
		ev := slot.Event{Type: slot.Reconciled, Role: role, Gen: o.Ref.Gen, Qty: int64(o.Qty), Filled: int64(o.Filled), Acked: true, Held: held, Cost: cost}
		if _, err := e.applySlot(now, i, lv, ev); err != nil {
			e.orphan(now, o, err.Error())
			return
		}
		lv.req = request{askedAt: now.UnixNano(), sendBy: now.UnixNano(), seenAt: now.UnixNano()}
		e.releaseInitialTarget(i)
		e.repair(now, "adopted a live order the engine did not know", o.Ref)
	default:
		e.orphan(now, o, "its slot has moved on")
	}
}

// releaseInitialTarget takes level i out of the levels waiting for the
// initial position's order: the live order adopted there (the venue's
// truth) wins, and the level must not be both.
func (e *Engine) releaseInitialTarget(i int64) {
	lv := e.lv(i)
	if !lv.reserved {
		return
	}
	lv.reserved = false
	in := &e.initial
	for k := in.next; k < len(in.targets); k++ {
		if in.targets[k] == i {
			in.targets = append(in.targets[:k], in.targets[k+1:]...)
			return
		}
	}
}

func (e *Engine) orphan(now time.Time, o VenueOrder, why string) {
	e.repair(now, "orphan order canceled: "+why, o.Ref)
	e.out = append(e.out, Intent{Kind: IntentCancel, Ref: o.Ref})
}

func (e *Engine) repair(now time.Time, what string, ref OrderRef) {
	e.repairs++
	e.log.Warn("grid: reconcile", "repair", what, "ref", ref.String(), "time", now)
	e.obs.Repair(what, ref)
}

// Recover rebuilds the slots of a restarted grid (same grid ID) from the
// venue before anything is placed. Call it once, before the first
// OnStreamReady. The rules, in order:
//
//  1. every live order of this grid is adopted by its slot: an entry with
//     what it has filled held, an exit with its remaining quantity held
//     (priced at the entry level: the true entry price is gone);
//  2. the rest of the position the grid can claim — at most holdings of
//     the slots on the far side of the price, nearest first, each up to its
//     quantity — is given to those slots, when claim is true (the host's
//     Store says the grid held it); with claim false nothing more is taken;
//  3. whatever remains is the baseline: a position the grid does not own
//     and never closes, subtracted in every later position comparison.
//
// A grid that recovered anything (an order, a claimed position) does not
// buy its initial position again; a fresh one (nothing of its own on the
// venue) starts as new, on top of any baseline.
//
// After [Engine.RestoreState] the stored state says what the grid owns:
// every restored live order is checked against the venue (matched, or
// queried when the venue no longer shows it), orders of newer generations
// are adopted as above after the fills the state did not book are booked
// from Snapshot.Fills (see supersede: the slots' orders, the initial
// position's, a hard stop's closing orders — PnL and fees, each trade's
// fee once), nothing is claimed and the stored baseline stands;
// a position difference is reported as drift for the queries and later
// reconciliations to explain.
func (e *Engine) Recover(now time.Time, snap Snapshot, claim bool) ([]Intent, error) {
	e.out = e.out[:0]
	if e.started {
		return e.out, fmt.Errorf("grid: Recover after the grid started")
	}
	restored := e.restoredState()
	if restored {
		e.supersede(now, snap)
		e.recheckRestored(now, snap)
	}
	for _, o := range snap.Orders {
		e.reconcileOrder(now, o)
	}
	e.recovered = e.recovered || len(snap.Orders) > 0
	if restored {
		// The stored state says what the grid owns: the stored baseline
		// stands, and a difference is drift that the queries just sent
		// (orders that ended while the grid was down) and later
		// reconciliations explain.
		if snap.HavePosition {
			e.drift = snap.Position - e.baseline - e.books.Position
			if e.drift != 0 {
				e.repair(now, fmt.Sprintf("position drift after restoring the stored state: venue %d − baseline %d ≠ slots %d (%+d steps)", snap.Position, e.baseline, e.books.Position, e.drift), OrderRef{})
			}
		}
		return e.out, nil
	}
	// Exits adopted as orders hold their quantity already; entries their fills.
	rest := snap.Position - e.books.Position
	if claim && e.havePrice {
		before := rest
		rest = e.claim(now, rest)
		e.recovered = e.recovered || rest != before
	}
	e.baseline = rest
	if rest != 0 {
		e.log.Info("grid: position not owned by the grid kept as baseline", "steps", rest)
	}
	e.raiseGenerations(now)
	return e.out, nil
}

// genEpoch is the origin of the generation floor (2020-01-01 UTC).
const genEpoch = 1_577_836_800

// raiseGenerations starts the generations of a grid recovered without a
// stored state at the restart time in seconds since 2020, so that its new
// client order IDs cannot repeat those of the previous run (which the venue
// may still answer a query about) unless a slot averaged more than one
// order a second. Slots with an adopted order keep its generation.
func (e *Engine) raiseGenerations(now time.Time) {
	secs := now.Unix() - genEpoch
	if secs <= 0 {
		return
	}
	floor := uint32(min(secs, 1<<31))
	e.genFloor = max(e.genFloor, floor) // levels made later start there too
	for j := range e.levels {
		s := &e.levels[j].s
		if s.Kind != 0 && !s.Live() && s.Gen < floor {
			s.Gen = floor
		}
	}
	e.initial.gen = max(e.initial.gen, floor)
}

// recheckRestored queries every order a restored state has live that the
// venue no longer shows (it ended while the grid was down, or a placement
// sent just before the stop has not arrived), and the initial-position
// order if it was live. A placement's query that finds nothing frees the
// slot only a receive window from now: the request may still be in flight.
func (e *Engine) recheckRestored(now time.Time, snap Snapshot) {
	live := snap.refs()
	t := now.UnixNano()
	for j := range e.levels {
		lv := &e.levels[j]
		s := &lv.s
		if !s.Live() {
			continue
		}
		ref := OrderRef{Level: e.base + int64(j), Gen: s.Gen}
		if _, ok := live[ref]; ok {
			continue
		}
		// The last run sent this request before now, at the latest; one
		// that was acknowledged existed.
		lv.req = request{askedAt: t, sendBy: t}
		if s.State != slot.EntryPending && s.State != slot.ExitPending {
			lv.req.seenAt = t
		}
		e.repair(now, "restored order not on the venue: querying", ref)
		e.applyQuiet(now, ref.Level, lv, slot.Event{Type: slot.OutcomeUnknown, Gen: s.Gen})
		lv.req.queryAt = t + int64(e.cfg.ackTimeout)
		e.out = append(e.out, Intent{Kind: IntentQuery, Ref: ref, Role: s.Role})
	}
	if e.initial.live {
		e.initial.req = request{askedAt: t, sendBy: t, queryAt: t + int64(e.cfg.ackTimeout)}
		e.out = append(e.out, Intent{Kind: IntentQuery, Ref: OrderRef{Level: InitialLevel, Gen: e.initial.gen}})
	}
}

// claim gives up to rest of a position to free slots on the far side of
// the price, nearest first, and returns what is left.
func (e *Engine) claim(now time.Time, rest exchange.Steps) exchange.Steps {
	// the same levels an initial position fills: at or beyond the price
	kind, step, from := slot.Long, int64(1), e.k+1
	if e.on {
		from = e.k
	}
	if rest < 0 {
		kind, step, from = slot.Short, -1, e.k
	}
	for i := from; rest != 0 && i >= e.minL && i <= e.maxL; i += step {
		if !e.lad.bounded && e.layers >= e.cfg.layerCap {
			break // the layer cap holds here too: the rest is baseline
		}
		e.ensure(i-1, i+1)
		lv := e.lv(i)
		if lv.s.Kind != kind || lv.s.State != slot.Free || lv.bad != "" {
			if lv.s.Kind != kind && lv.s.Kind != 0 {
				break
			}
			continue
		}
		q := min(lv.qty, absSteps(rest))
		e.applyQuiet(now, i, lv, slot.Event{Type: slot.Reconciled, Held: int64(q), Cost: int64(q) * int64(lv.price)})
		if kind == slot.Long {
			rest -= q
		} else {
			rest += q
		}
	}
	return rest
}

func absSteps(s exchange.Steps) exchange.Steps {
	if s < 0 {
		return -s
	}
	return s
}

// Baseline is the position the grid found at start and does not own.
func (e *Engine) Baseline() exchange.Steps { return e.baseline }

// Drift is the position difference the last Reconcile found (zero when in step).
func (e *Engine) Drift() exchange.Steps { return e.drift }
