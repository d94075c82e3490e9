package slot

import (
	"errors"
	"fmt"

	"github.com/gridmesh/gridmesh/exchange"
)

type ruleKind uint8

const (
	ruleIllegal ruleKind = iota // the zero value: a missing entry is an error, never a silent no-op
	ruleIgnore
	ruleApply
)

type rule struct {
	kind ruleKind
	fn   func(*Slot, Event) (Effect, error)
}

var (
	ignore  = rule{kind: ruleIgnore}
	illegal = rule{kind: ruleIllegal}
)

func do(fn func(*Slot, Event) (Effect, error)) rule { return rule{kind: ruleApply, fn: fn} }

// table is the whole state machine: one entry for every (state, event) pair.
// Events of an older generation never reach it (Apply ignores them first).
var table = [numStates][numEvents]rule{
	Free: {
		Submit: do(submitEntry), Ack: ignore, Reject: ignore, Fill: do(fillAfterEnd),
		CancelSent: illegal, Canceled: ignore, Expired: ignore, OutcomeUnknown: ignore,
		Reconciled: do(reconcile), Dust: illegal,
	},
	EntryPending: {
		Submit: illegal, Ack: do(ack), Reject: do(reject), Fill: do(fill),
		CancelSent: do(cancelSent), Canceled: do(ended), Expired: do(ended), OutcomeUnknown: do(unknown),
		Reconciled: do(reconcile), Dust: illegal,
	},
	EntryOpen: {
		Submit: illegal, Ack: do(ackOpen), Reject: do(ended), Fill: do(fill),
		CancelSent: do(cancelSent), Canceled: do(ended), Expired: do(ended), OutcomeUnknown: do(unknown),
		Reconciled: do(reconcile), Dust: illegal,
	},
	Holding: {
		Submit: do(submitExit), Ack: ignore, Reject: ignore, Fill: do(fillAfterEnd),
		CancelSent: illegal, Canceled: ignore, Expired: ignore, OutcomeUnknown: ignore,
		Reconciled: do(reconcile), Dust: do(parkDust),
	},
	ExitPending: {
		Submit: illegal, Ack: do(ack), Reject: do(reject), Fill: do(fill),
		CancelSent: do(cancelSent), Canceled: do(ended), Expired: do(ended), OutcomeUnknown: do(unknown),
		Reconciled: do(reconcile), Dust: illegal,
	},
	ExitOpen: {
		Submit: illegal, Ack: do(ackOpen), Reject: do(ended), Fill: do(fill),
		CancelSent: do(cancelSent), Canceled: do(ended), Expired: do(ended), OutcomeUnknown: do(unknown),
		Reconciled: do(reconcile), Dust: illegal,
	},
	Canceling: {
		Submit: illegal, Ack: do(clearUnknown), Reject: do(ended), Fill: do(fill),
		CancelSent: ignore, Canceled: do(ended), Expired: do(ended), OutcomeUnknown: do(unknown),
		Reconciled: do(reconcile), Dust: illegal,
	},
}

var (
	errGen      = errors.New("a new order needs a newer generation")
	errQty      = errors.New("order quantity must be positive")
	errRole     = errors.New("wrong role for this state")
	errOverfill = errors.New("fill exceeds the order quantity")
)

func submitEntry(s *Slot, e Event) (Effect, error) {
	if e.Role != RoleEntry {
		return Effect{}, errRole
	}
	return Effect{}, submit(s, e, EntryPending)
}

func submitExit(s *Slot, e Event) (Effect, error) {
	if e.Role != RoleExit {
		return Effect{}, errRole
	}
	if e.Qty > s.Held {
		return Effect{}, fmt.Errorf("exit quantity %d exceeds held %d", e.Qty, s.Held)
	}
	return Effect{}, submit(s, e, ExitPending)
}

func submit(s *Slot, e Event, next State) error {
	if e.Gen <= s.Gen {
		return errGen
	}
	if e.Qty <= 0 {
		return errQty
	}
	s.State, s.Role, s.Gen, s.OrderQty, s.Filled, s.Unknown = next, e.Role, e.Gen, e.Qty, 0, false
	return nil
}

func ack(s *Slot, _ Event) (Effect, error) {
	s.Unknown = false
	if s.State == EntryPending {
		s.State = EntryOpen
	} else {
		s.State = ExitOpen
	}
	return Effect{}, nil
}

// ackOpen is an ack (or a query's "live") of an order already open: it
// settles an unknown outcome (the order vanished from a snapshot, or a
// request about it timed out), and is a duplicate otherwise.
func ackOpen(s *Slot, _ Event) (Effect, error) {
	if !s.Unknown {
		return Effect{Ignored: true}, nil
	}
	s.Unknown = false
	return Effect{}, nil
}

func clearUnknown(s *Slot, _ Event) (Effect, error) {
	s.Unknown = false
	return Effect{}, nil
}

func unknown(s *Slot, _ Event) (Effect, error) {
	s.Unknown = true
	return Effect{Query: true}, nil
}

func cancelSent(s *Slot, _ Event) (Effect, error) {
	s.State = Canceling
	return Effect{}, nil
}

// reject: nothing was created, so nothing was filled.
func reject(s *Slot, e Event) (Effect, error) {
	if s.Filled > 0 {
		return ended(s, Event{Type: Canceled, Gen: e.Gen, Qty: s.Filled})
	}
	s.finish()
	return Effect{}, nil
}

// book adds the growth of the cumulative filled quantity to the position.
// Money is exact: products are checked, and an exit removes the exited
// share of the cost as cost × exited / held through a 128-bit product
// (exchange.MulDiv), which cannot overflow however large the position. A
// fill whose money does not fit in int64 at all is an error and changes
// nothing.
func book(s *Slot, cum, price int64) (Effect, error) {
	delta := cum - s.Filled
	if delta <= 0 {
		return Effect{}, nil
	}
	if cum > s.OrderQty {
		return Effect{}, errOverfill
	}
	paid, err := exchange.CheckedNotional(exchange.Ticks(price), exchange.Steps(delta))
	if err != nil {
		return Effect{}, fmt.Errorf("fill of %d at %d: %w", delta, price, err)
	}
	var eff Effect
	eff.Price = price
	if s.Role == RoleEntry {
		cost, ok := add(s.Cost, int64(paid))
		if !ok {
			return Effect{}, fmt.Errorf("cost %d plus fill of %d at %d: %w", s.Cost, delta, price, exchange.ErrOverflow)
		}
		s.Held += delta
		s.Cost = cost
		eff.Entered = delta
	} else {
		if delta > s.Held {
			return Effect{}, fmt.Errorf("exit fill %d exceeds held %d", delta, s.Held)
		}
		// truncated toward zero; the remainder stays in the basis. Cannot
		// fail: delta ≤ Held, so |removed| ≤ |Cost|.
		removed, err := exchange.MulDiv(s.Cost, delta, s.Held)
		if err != nil {
			return Effect{}, fmt.Errorf("cost %d × %d / %d: %w", s.Cost, delta, s.Held, err)
		}
		realized, ok := sub(int64(paid), removed)
		if s.Kind == Short {
			realized, ok = sub(removed, int64(paid))
		}
		if !ok {
			return Effect{}, fmt.Errorf("exit of %d at %d against cost %d: %w", delta, price, removed, exchange.ErrOverflow)
		}
		eff.Realized = realized
		s.Held -= delta
		s.Cost -= removed
		eff.Exited = delta
	}
	s.Filled = cum
	return eff, nil
}

// add returns a + b and whether it fits in an int64.
func add(a, b int64) (int64, bool) {
	c := a + b
	return c, (c > a) == (b > 0)
}

// sub returns a − b and whether it fits in an int64.
func sub(a, b int64) (int64, bool) {
	c := a - b
	return c, (c < a) == (b > 0)
}

func fill(s *Slot, e Event) (Effect, error) {
	if e.Qty <= s.Filled {
		return Effect{Ignored: true}, nil // duplicate or reordered: already booked
	}
	eff, err := book(s, e.Qty, e.Price)
	if err != nil {
		return Effect{}, err
	}
	if s.Filled == s.OrderQty {
		eff.RoundTrip = s.finish()
	} else if s.State == EntryPending {
		s.State = EntryOpen // a fill proves acceptance
	} else if s.State == ExitPending {
		s.State = ExitOpen
	}
	if s.State != Canceling {
		s.Unknown = false
	}
	return eff, nil
}

// fillAfterEnd: a fill of an order that already ended. Only a duplicate is
// possible; anything new means our view is wrong.
func fillAfterEnd(s *Slot, e Event) (Effect, error) {
	if e.Qty <= s.Filled {
		return Effect{Ignored: true}, nil
	}
	return Effect{}, fmt.Errorf("fill to %d after the order ended at %d", e.Qty, s.Filled)
}

// ended: the order was canceled, expired or rejected after acceptance; Qty
// is its final cumulative filled quantity.
func ended(s *Slot, e Event) (Effect, error) {
	eff, err := book(s, e.Qty, e.Price)
	if err != nil {
		return Effect{}, err
	}
	eff.RoundTrip = s.finish()
	return eff, nil
}

// finish clears the current order and settles the state from the position.
// It reports whether an exit completed a round trip.
func (s *Slot) finish() bool {
	exitDone := s.Role == RoleExit && s.Held == 0
	s.Role, s.Unknown, s.OrderQty = RoleNone, false, 0
	// Filled is kept: it recognises late duplicates of the ended order.
	if s.Held > 0 {
		s.State = Holding
	} else {
		s.State = Free
		s.Cost = 0
	}
	return exitDone
}

func parkDust(s *Slot, _ Event) (Effect, error) {
	s.State = Free
	return Effect{}, nil
}

func reconcile(s *Slot, e Event) (Effect, error) {
	if e.Held < 0 || (e.Held == 0 && e.Cost != 0) {
		return Effect{}, fmt.Errorf("reconciled position held %d cost %d is inconsistent", e.Held, e.Cost)
	}
	next := Slot{Kind: s.Kind, Held: e.Held, Cost: e.Cost, Gen: max(s.Gen, e.Gen)}
	switch e.Role {
	case RoleNone:
		next.State = Free
		if e.Held > 0 {
			next.State = Holding
		}
	case RoleEntry, RoleExit:
		if e.Qty <= 0 || e.Filled < 0 || e.Filled >= e.Qty {
			return Effect{}, fmt.Errorf("reconciled live order qty %d filled %d is inconsistent", e.Qty, e.Filled)
		}
		if e.Role == RoleExit && e.Qty-e.Filled > e.Held {
			return Effect{}, fmt.Errorf("reconciled exit remaining %d exceeds held %d", e.Qty-e.Filled, e.Held)
		}
		next.Role, next.Gen, next.OrderQty, next.Filled = e.Role, e.Gen, e.Qty, e.Filled
		switch {
		case e.Role == RoleEntry && e.Acked:
			next.State = EntryOpen
		case e.Role == RoleEntry:
			next.State = EntryPending
		case e.Acked:
			next.State = ExitOpen
		default:
			next.State = ExitPending
		}
	default:
		return Effect{}, errRole
	}
	*s = next
	return Effect{}, nil
}
