package grid

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/slot"
)

// restoreFunding rebuilds the funding book of a restart from the stored
// state's funding mark: the settlements booked through its Through, the
// remainder of the booked total, and the grid's position over time — the
// mark's positions up to the save, then the stored position moved by each
// fill the venue reports after the save, at the fill's time. When those
// fills may be incomplete, the position from the save on is unknown, and
// the settlements that fell then are not booked (each with a warning).
func (r *Runner) restoreFunding(st StoredState, snap Snapshot, fillsFrom time.Time) {
	b, m := &r.fund, st.FundingMark
	b.last = time.Unix(0, m.Through)
	b.exact, b.booked = m.Remainder, 0
	b.samples = b.samples[:0]
	for _, p := range m.Positions {
		b.sample(time.Unix(0, p.At), p.Position, p.Unknown)
	}
	// The last entry is the save: the position was known until then.
	last := m.Positions[len(m.Positions)-1]
	saved := posSample{t: time.Unix(0, last.At), pos: last.Position, unknown: last.Unknown}
	gap := r.eng.fillsAfterSave(st, snap)
	why := gap.why
	switch {
	case saved.unknown || saved.pos != st.position():
		why = fmt.Sprintf("the funding mark's last position %d is not the stored position %d", saved.pos, st.position())
	case fillsFrom.After(saved.t):
		why = fmt.Sprintf("the venue's fills were read from %s, after the save at %s", fillsFrom.UTC().Format(time.RFC3339), saved.t.UTC().Format(time.RFC3339))
	}
	if why != "" {
		b.sample(saved.t.Add(time.Nanosecond), 0, true)
		r.log.Warn("grid: the grid's position while no runner ran is unknown: funding settled from the save to this start is not booked",
			"grid", r.gridID, "saved", saved.t, "why", why)
		return
	}
	pos := saved.pos
	for _, f := range gap.fills {
		if f.Side == exchange.Buy {
			pos += f.Qty
		} else {
			pos -= f.Qty
		}
		at := f.Time
		if at.Before(saved.t) {
			at = saved.t // the clocks differ: a fill after the save is after it
		}
		b.sample(at, pos, false)
	}
}

// position is the stored slots' signed position (steps): what the grid
// held at the save.
func (st StoredState) position() exchange.Steps {
	var pos exchange.Steps
	for _, ss := range st.Slots {
		if ss.Kind == slot.Short.String() {
			pos -= ss.Held
		} else {
			pos += ss.Held
		}
	}
	return pos
}

// fundingGap is what the venue's fills say of the grid's position after a
// save: the part of each fill the stored state had not booked, oldest
// first, each with its time; why says why they may be incomplete ("" when
// they are not).
type fundingGap struct {
	fills []VenueFill
	why   string
}

// fillsAfterSave finds, among the venue's recent fills, what happened
// after st was saved, by the rule supersede books them by: of each order,
// what the state had not booked — all of an order newer than the state's
// (of its slot, the initial-position order or the closing orders), the
// rest of one live at the save beyond what the state says it filled,
// nothing of an older one. An order's fills after the save are its last
// ones: as much as the venue shows it filled (its live order, or its
// trades) beyond what the state booked. The fills are incomplete when a
// trade after the save has no time, when the venue's trades lag a live
// order, or when they are fewer than the state booked (older ones are
// past the venue's history).
func (e *Engine) fillsAfterSave(st StoredState, snap Snapshot) fundingGap {
	slots := make(map[int64]StoredSlot, len(st.Slots))
	for _, ss := range st.Slots {
		slots[ss.Level] = ss
	}
	closing := make(map[uint32]exchange.Steps, len(st.Closing))
	for _, leg := range st.Closing {
		closing[leg.Gen] = leg.Filled
	}
	const all = exchange.Steps(math.MaxInt64) // booked in full
	booked := func(ref OrderRef) exchange.Steps {
		switch {
		case ref.Level == InitialLevel:
			in := st.Initial
			switch {
			case ref.Gen > in.Gen:
				return 0
			case ref.Gen == in.Gen && in.Live:
				return in.Filled
			}
			return all
		case ref.Level == CloseLevel:
			return storedCloseBooked(ref.Gen, st.CloseGen, closing)
		}
		ss, ok := slots[ref.Level]
		switch {
		case !ok || ref.Gen > ss.Gen:
			return 0
		case ref.Gen == ss.Gen && ss.Role != slot.RoleNone.String():
			return ss.Filled
		}
		return all
	}
	ours := func(l int64) bool { return l == InitialLevel || l == CloseLevel || l >= e.minL && l <= e.maxL }
	byRef := map[OrderRef][]VenueFill{}
	var refs []OrderRef
	for _, f := range snap.Fills {
		if !ours(f.Ref.Level) || f.Qty <= 0 {
			continue
		}
		if _, ok := byRef[f.Ref]; !ok {
			refs = append(refs, f.Ref)
		}
		byRef[f.Ref] = append(byRef[f.Ref], f)
	}
	live := make(map[OrderRef]exchange.Steps, len(snap.Orders))
	for _, o := range snap.Orders {
		if ours(o.Ref.Level) {
			live[o.Ref] = o.Filled
			if _, ok := byRef[o.Ref]; !ok && o.Filled > 0 {
				refs = append(refs, o.Ref)
			}
		}
	}
	var gap fundingGap
	for _, ref := range refs {
		fills, done := byRef[ref], booked(ref)
		if done == all {
			continue
		}
		var traded exchange.Steps
		for _, f := range fills {
			traded += f.Qty
		}
		filled, isLive := live[ref]
		switch {
		case isLive && filled <= done:
			continue // nothing after the save
		case isLive && traded < filled:
			return fundingGap{why: fmt.Sprintf("the venue's trades of order %s (%d) fall short of its fills (%d)", ref, traded, filled)}
		case !isLive && traded < done:
			return fundingGap{why: fmt.Sprintf("the venue's trades of order %s (%d) are fewer than the stored state booked (%d): older ones are past its history", ref, traded, done)}
		case !isLive:
			filled = traded
		}
		// The last filled − done of the order's trades came after the save.
		rest := filled - done
		for k := len(fills) - 1; k >= 0 && rest > 0; k-- {
			f := fills[k]
			f.Qty = min(f.Qty, rest)
			rest -= f.Qty
			if f.Time.IsZero() {
				return fundingGap{why: fmt.Sprintf("the venue's trade %q of order %s has no time", f.TradeID, ref)}
			}
			gap.fills = append(gap.fills, f)
		}
	}
	slices.SortStableFunc(gap.fills, func(a, b VenueFill) int { return a.Time.Compare(b.Time) })
	return gap
}
