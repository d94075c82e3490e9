package grid

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/slot"
)

// venueGen is what the venue shows of one order of a slot: its side, its
// fills (oldest first) and, if it is still live, the order itself.
type venueGen struct {
	gen   uint32
	side  exchange.Side
	fills []VenueFill
	live  *VenueOrder
}

// supersede rebuilds, from the venue, the slots a stored state is stale
// about: those of which the venue shows an order (live, or among the recent
// fills) of a newer generation than the state's. The state was saved
// before that order was sent, so what it says of the slot has been
// overtaken: its order is not queried, and the slot's history since the
// state is replayed from the venue's fills, oldest order first — the
// stored order's fills beyond what the state booked, then every fill of
// the newer orders — booking each as a live fill would: an entry adds to
// what the slot holds and its cost, an exit realizes its profit against
// the slot's cost (the same exact rule as package slot), and each trade's
// fee is booked once under its trade ID. The slot then holds what the
// replay leaves and adopts the newest order if it is live. A history the
// slot's books cannot follow (money beyond the level's bounds) rebuilds
// the slot without booking it, as drift for reconciliation to report.
func (e *Engine) supersede(now time.Time, snap Snapshot) {
	e.supersedeInitial(now, snap)
	hist := map[int64][]*venueGen{}
	find := func(ref OrderRef, side exchange.Side) *venueGen {
		for _, g := range hist[ref.Level] {
			if g.gen == ref.Gen {
				return g
			}
		}
		g := &venueGen{gen: ref.Gen, side: side}
		hist[ref.Level] = append(hist[ref.Level], g)
		return g
	}
	ours := func(l int64) bool { return l != InitialLevel && l != CloseLevel && l >= e.minL && l <= e.maxL }
	for k := range snap.Orders {
		if o := &snap.Orders[k]; ours(o.Ref.Level) {
			find(o.Ref, o.Side).live = o
		}
	}
	for _, f := range snap.Fills {
		if ours(f.Ref.Level) {
			g := find(f.Ref, f.Side)
			g.fills = append(g.fills, f)
		}
	}
	// A closing order sent after the state was saved proves that every
	// order the state has live had ended before it (a hard stop closes
	// only once the grid has no order left): each ends now, with the fills
	// the venue shows for it, so that the close is taken out of what the
	// slots hold at that point.
	settle := map[int64]bool{}
	if e.closedSinceSaved(snap) {
		live := snap.refs()
		for j := range e.levels {
			s := &e.levels[j].s
			ref := OrderRef{Level: e.base + int64(j), Gen: s.Gen}
			if _, ok := live[ref]; !s.Live() || ok {
				continue
			}
			settle[ref.Level] = true
			find(ref, e.sideOf(s.Kind, s.Role))
		}
	}
	levels := make([]int64, 0, len(hist))
	for i := range hist {
		levels = append(levels, i)
	}
	slices.Sort(levels) // a deterministic order of repairs and notes
	for _, i := range levels {
		gens := hist[i]
		e.ensure(i-1, i+1)
		lv := e.lv(i)
		s := &lv.s
		slices.SortFunc(gens, func(a, b *venueGen) int { return cmp.Compare(a.gen, b.gen) })
		newest := gens[len(gens)-1]
		switch {
		case s.Kind == 0 || newest.gen < s.Gen || newest.gen == s.Gen && !settle[i]:
			continue
		case newest.gen == s.Gen:
			e.repair(now, "stored state is stale: its order ended before a later hard stop's close; settled from the venue's fills", OrderRef{Level: i, Gen: s.Gen})
		default:
			e.repair(now, fmt.Sprintf("stored state is stale: the venue has order %d of this slot; rebuilt from the venue's fills", newest.gen), OrderRef{Level: i, Gen: s.Gen})
		}
		r, err := e.replay(now, i, lv, gens)
		if err != nil {
			e.log.Error("grid: the venue's fills of a stale slot cannot be booked; rebuilt without them", "level", i, "err", err)
			e.rebuildUnbooked(now, i, lv, newest)
			continue
		}
		e.commitReplay(now, i, lv, newest, r)
	}
	e.supersedeClose(now, snap)
}

// supersedeInitial books the fills of the initial-position order that the
// stored state, saved while it was live, did not book: first, since the
// slots' later orders (their exits) build on the position it gave them.
func (e *Engine) supersedeInitial(now time.Time, snap Snapshot) {
	in := &e.initial
	if !in.live {
		return
	}
	ref := OrderRef{Level: InitialLevel, Gen: in.gen}
	var cum exchange.Steps
	for _, f := range snap.Fills {
		if f.Ref != ref {
			continue
		}
		cum += f.Qty
		if cum <= in.filled || !in.live {
			continue
		}
		if !f.OtherFee.IsZero() {
			e.NoteUnbookedFee(f.TradeID, f.FeeAsset, f.OtherFee)
		}
		e.repair(now, "stored state is stale: the initial-position order filled after it was saved; booked from the venue's fills", ref)
		if err := e.applyInitial(now, OrderEvent{Ref: ref, Type: OrderFilled, CumQty: cum, Price: f.Price, TradeID: f.TradeID, Fee: f.Fee}); err != nil {
			e.log.Error("grid: the initial-position order's fills cannot be booked", "err", err)
			return
		}
	}
}

// closeBooked is how much of closing order gen's fills the stored state
// booked (see storedCloseBooked).
func (c *closer) closeBooked(gen, stored uint32) exchange.Steps {
	return storedCloseBooked(gen, stored, c.restored)
}

// storedCloseBooked is how much of closing order gen's fills a stored state
// whose closer had reached generation stored, with the closing orders live
// at the save and their fills booked (live), booked: nothing of an order
// sent after the save, what the state says of one live at the save, all
// (math.MaxInt64) of any other.
func storedCloseBooked(gen, stored uint32, live map[uint32]exchange.Steps) exchange.Steps {
	if gen > stored {
		return 0
	}
	if q, ok := live[gen]; ok {
		return q
	}
	return math.MaxInt64
}

// closedSinceSaved reports whether the venue shows a fill of a closing
// order that the stored state did not book.
func (e *Engine) closedSinceSaved(snap Snapshot) bool {
	cum := map[uint32]exchange.Steps{}
	for _, f := range snap.Fills {
		if f.Ref.Level == CloseLevel {
			cum[f.Ref.Gen] += f.Qty
			if cum[f.Ref.Gen] > e.closing.closeBooked(f.Ref.Gen, e.closing.gen) {
				return true
			}
		}
	}
	return false
}

// supersedeClose books the fills of the closing orders a hard stop sent
// that the stored state did not book (those sent after the save, and the
// rest of those live at the save): the position they closed is taken out
// of the slots as the closer's own fills are (see bookClose), after the
// slots' replays, each trade's fee once under its trade ID.
func (e *Engine) supersedeClose(now time.Time, snap Snapshot) {
	c := &e.closing
	stored := c.gen
	net := e.cfg.posMode == exchange.OneWay && e.cfg.mode == Neutral
	crossed := false
	cum := map[uint32]exchange.Steps{}
	for _, f := range snap.Fills {
		if f.Ref.Level != CloseLevel {
			continue
		}
		booked := c.closeBooked(f.Ref.Gen, stored)
		from := max(cum[f.Ref.Gen], booked)
		cum[f.Ref.Gen] += f.Qty
		q := cum[f.Ref.Gen] - from
		if q <= 0 {
			continue
		}
		c.gen = max(c.gen, f.Ref.Gen)
		if net && !crossed && booked == 0 {
			// A net close books the sides' offsetting holdings against
			// each other at its first fill's price.
			crossed = true
			if cross := min(e.books.LongHeld, e.books.ShortHeld); cross > 0 {
				e.bookClose(now, slot.Long, cross, f.Price)
				e.bookClose(now, slot.Short, cross, f.Price)
			}
		}
		fee := exchange.Money(0)
		switch {
		case f.TradeID != "" && e.tradeSeen(f.TradeID):
		case !f.OtherFee.IsZero():
			e.NoteUnbookedFee(f.TradeID, f.FeeAsset, f.OtherFee)
		default:
			fee = f.Fee
			if f.TradeID != "" {
				e.rememberTrade(f.TradeID)
			}
		}
		kind := slot.Long
		if f.Side == exchange.Buy {
			kind = slot.Short
		}
		e.books.Fills++
		e.books.Fees += fee
		e.obs.Fill(FillNote{Time: now, Ref: f.Ref, Side: f.Side, Price: f.Price, Qty: q, Fee: fee})
		e.bookClose(now, kind, q, f.Price)
		e.repair(now, "stored state is stale: a closing order filled after it was saved; booked from the venue's fills", f.Ref)
	}
	c.restored = nil
}

// replayed is the outcome of a slot's replay: what it holds after the
// venue's fills, and what they booked.
type replayed struct {
	held, cost     int64
	realized, fees exchange.Money
	pnl, feesLv    exchange.Money // the level's since its last round trip
	fills, trips   int
	remember       []string    // trade IDs whose fees the replay booked
	others         []VenueFill // fills whose fee is in another asset
	feeless        exchange.Steps
	notes          []FillNote
	roundTrips     []RoundTrip
}

// replay runs a slot's history since the stored state over a copy of its
// books; nothing of the engine changes until commitReplay.
func (e *Engine) replay(now time.Time, i int64, lv *level, gens []*venueGen) (replayed, error) {
	s := lv.s
	r := replayed{held: s.Held, cost: s.Cost, pnl: lv.pnl, feesLv: lv.fees}
	seen := map[string]bool{}
	for _, g := range gens {
		if g.gen < s.Gen || g.gen == s.Gen && !s.Live() {
			continue // booked before the state was saved
		}
		role := slot.RoleExit
		if g.side == e.sideOf(s.Kind, slot.RoleEntry) {
			role = slot.RoleEntry
		}
		ref := OrderRef{Level: i, Gen: g.gen}
		var booked int64 // what the stored state already booked of this order
		if g.gen == s.Gen {
			booked = s.Filled
		}
		limit := int64(math.MaxInt64) // a live order: at most what it shows filled
		if g.live != nil {
			limit = int64(g.live.Filled)
		}
		var cum int64
		for _, f := range g.fills {
			from, to := max(cum, booked), min(cum+int64(f.Qty), limit)
			cum += int64(f.Qty)
			if to <= from {
				continue
			}
			fee := exchange.Money(0)
			if f.TradeID == "" || !seen[f.TradeID] && !e.tradeSeen(f.TradeID) {
				if f.TradeID != "" {
					seen[f.TradeID] = true
					if f.OtherFee.IsZero() {
						r.remember = append(r.remember, f.TradeID)
					}
				}
				fee = f.Fee
				if !f.OtherFee.IsZero() {
					r.others = append(r.others, f)
				}
			}
			if err := r.fill(e, lv, role, f.Price, exchange.Steps(to-from), fee); err != nil {
				return r, fmt.Errorf("order %s: %w", ref, err)
			}
			r.notes = append(r.notes, FillNote{Time: now, Ref: ref, Side: g.side, Price: f.Price, Qty: exchange.Steps(to - from), Fee: fee})
			if role == slot.RoleExit && r.held == 0 {
				r.trips++
				r.roundTrips = append(r.roundTrips, RoundTrip{Time: now, Level: i, Qty: exchange.Steps(to), Realized: r.pnl, Fees: r.feesLv})
				r.pnl, r.feesLv = 0, 0
			}
		}
		if g.live != nil && cum < limit {
			// The venue's trades lag its order: the rest is booked at the
			// order's price, its fee recovered later from the trades.
			if err := r.fill(e, lv, role, g.live.Price, exchange.Steps(limit-max(cum, booked)), 0); err != nil {
				return r, fmt.Errorf("order %s: %w", ref, err)
			}
			r.feeless += exchange.Steps(limit - max(cum, booked))
		}
	}
	return r, nil
}

// fill books one fill of the replay: as package slot books a live one.
func (r *replayed) fill(e *Engine, lv *level, role slot.Role, price exchange.Ticks, q exchange.Steps, fee exchange.Money) error {
	if !e.fitsBooks(price, q) {
		return fmt.Errorf("%s", e.beyondBooks("fill", price, q))
	}
	paid := int64(price) * int64(q)
	r.fills++
	r.fees += fee
	r.feesLv += fee
	if role == slot.RoleEntry {
		if r.held > math.MaxInt64/2-int64(q) || r.cost > math.MaxInt64/2-paid {
			return fmt.Errorf("holding %d costing %d plus a fill of %d: %w", r.held, r.cost, q, exchange.ErrOverflow)
		}
		r.held += int64(q)
		r.cost += paid
		return nil
	}
	if int64(q) > r.held {
		// More exited than the replay knows held (an entry older than the
		// venue's recent fills): the rest was bought at the level.
		extra := int64(q) - r.held
		if r.cost > math.MaxInt64/2-extra*int64(lv.price) {
			return fmt.Errorf("cost %d plus %d at the level: %w", r.cost, extra, exchange.ErrOverflow)
		}
		r.held, r.cost = int64(q), r.cost+extra*int64(lv.price)
	}
	removed, err := exchange.MulDiv(r.cost, int64(q), r.held)
	if err != nil {
		return err
	}
	realized := paid - removed
	if lv.s.Kind == slot.Short {
		realized = removed - paid
	}
	r.realized += exchange.Money(realized)
	r.pnl += exchange.Money(realized)
	r.held -= int64(q)
	r.cost -= removed
	if r.held == 0 {
		r.cost = 0
	}
	return nil
}

// tradeSeen reports whether a trade's fee was booked already.
func (e *Engine) tradeSeen(id string) bool {
	_, ok := e.trades[id]
	return ok
}

// commitReplay books a replay and sets the slot to what it left: holding
// (or free), or with the newest order adopted when it is live.
func (e *Engine) commitReplay(now time.Time, i int64, lv *level, newest *venueGen, r replayed) {
	ev := slot.Event{Type: slot.Reconciled, Gen: newest.gen, Held: r.held, Cost: r.cost}
	if o := newest.live; o != nil {
		ev.Role = slot.RoleExit
		if o.Side == e.sideOf(lv.s.Kind, slot.RoleEntry) {
			ev.Role = slot.RoleEntry
		}
		ev.Qty, ev.Filled, ev.Acked = int64(o.Qty), int64(o.Filled), true
		if !e.fitsBooks(o.Price, o.Qty) || ev.Role == slot.RoleExit && ev.Qty-ev.Filled > r.held {
			// Not adoptable: the slot keeps the replay's holding and the
			// order is canceled as an orphan by reconcileOrder.
			ev.Role, ev.Qty, ev.Filled, ev.Acked, ev.Gen = slot.RoleNone, 0, 0, false, newest.gen-1
		}
	}
	if _, err := e.applySlot(now, i, lv, ev); err != nil {
		e.log.Error("grid: a stale slot's replay cannot be applied; rebuilt without it", "level", i, "err", err)
		e.rebuildUnbooked(now, i, lv, newest)
		return
	}
	if ev.Role != slot.RoleNone {
		lv.req = request{askedAt: now.UnixNano(), sendBy: now.UnixNano(), seenAt: now.UnixNano()}
		e.releaseInitialTarget(i)
	}
	for _, id := range r.remember {
		e.rememberTrade(id)
	}
	for _, f := range r.others {
		e.NoteUnbookedFee(f.TradeID, f.FeeAsset, f.OtherFee)
	}
	if r.feeless > 0 {
		e.noteFeeless(OrderRef{Level: i, Gen: newest.gen}, OrderEvent{}, r.feeless)
	}
	e.books.Realized += r.realized
	e.books.Fees += r.fees
	e.books.Fills += r.fills
	e.books.RoundTrips += r.trips
	lv.pnl, lv.fees = r.pnl, r.feesLv
	for _, n := range r.notes {
		e.obs.Fill(n)
	}
	for _, t := range r.roundTrips {
		e.obs.RoundTrip(t)
	}
}

// rebuildUnbooked is the fallback of a history the books cannot follow:
// the slot restarts from the newest order (adopted by reconcileOrder if
// live), or free, and the position difference is drift.
func (e *Engine) rebuildUnbooked(now time.Time, i int64, lv *level, newest *venueGen) {
	ev := slot.Event{Type: slot.Reconciled, Gen: newest.gen - 1}
	if newest.live == nil {
		ev.Gen = newest.gen
	}
	e.applyQuiet(now, i, lv, ev)
	lv.pnl, lv.fees = 0, 0
}
