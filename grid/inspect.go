package grid

import (
	"errors"
	"fmt"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/slot"
)

// SlotView is one slot as the engine holds it, for inspection and tests.
type SlotView struct {
	Level int64
	Price exchange.Ticks
	Exit  exchange.Ticks
	Qty   exchange.Steps // entry quantity
	Slot  slot.Slot
}

// Slots calls fn for every slot the engine has made, in level order.
func (e *Engine) Slots(fn func(SlotView)) {
	for j := range e.levels {
		lv := &e.levels[j]
		if lv.s.Kind != 0 {
			fn(SlotView{Level: e.base + int64(j), Price: lv.price, Exit: lv.exit, Qty: lv.qty, Slot: lv.s})
		}
	}
}

// CheckInvariants verifies the engine's invariants: every slot's own (one
// order at most, exit ≤ held, held ≥ 0, see [slot.Slot.Check]) and that
// the aggregate books (position, held, cost, open orders, layers) equal
// the sum over the slots.
func (e *Engine) CheckInvariants() error {
	var errs []error
	var lh, sh exchange.Steps
	var lc, sc exchange.Money
	open, layers := 0, 0
	for j := range e.levels {
		lv := &e.levels[j]
		s := &lv.s
		if s.Kind == 0 {
			continue
		}
		if err := s.Check(); err != nil {
			errs = append(errs, fmt.Errorf("level %d: %w", e.base+int64(j), err))
		}
		if s.Kind == slot.Long {
			lh, lc = lh+exchange.Steps(s.Held), lc+exchange.Money(s.Cost)
		} else {
			sh, sc = sh+exchange.Steps(s.Held), sc+exchange.Money(s.Cost)
		}
		if s.Live() {
			open++
		}
		if s.State != slot.Free {
			layers++
		}
	}
	if e.initial.live {
		open++
	}
	open += e.closing.liveOrders()
	b := e.books
	if lh != b.LongHeld || sh != b.ShortHeld || lc != b.LongCost || sc != b.ShortCost || b.Position != lh-sh {
		errs = append(errs, fmt.Errorf("books: held %d/%d cost %d/%d position %d; slots sum to held %d/%d cost %d/%d",
			b.LongHeld, b.ShortHeld, b.LongCost, b.ShortCost, b.Position, lh, sh, lc, sc))
	}
	if open != b.OpenOrders {
		errs = append(errs, fmt.Errorf("books: %d open orders, slots have %d", b.OpenOrders, open))
	}
	if layers != e.layers {
		errs = append(errs, fmt.Errorf("books: %d layers, slots have %d", e.layers, layers))
	}
	if e.cfg.trailing && e.layers > e.cfg.layerCap {
		errs = append(errs, fmt.Errorf("layer cap %d exceeded: %d", e.cfg.layerCap, e.layers))
	}
	return errors.Join(errs...)
}

// liveEntries lists the entries that may be live on the venue: every entry
// sent and not yet ended (pending, open, being canceled, or of unknown
// outcome), and the initial-position order.
func (e *Engine) liveEntries() []OrderRef {
	var refs []OrderRef
	for j := range e.levels {
		s := &e.levels[j].s
		if s.Live() && s.Role == slot.RoleEntry {
			refs = append(refs, OrderRef{Level: e.base + int64(j), Gen: s.Gen})
		}
	}
	if e.initial.live {
		refs = append(refs, OrderRef{Level: InitialLevel, Gen: e.initial.gen})
	}
	return refs
}
