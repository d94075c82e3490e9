package slot

import (
	"errors"
	"fmt"
)

// Kind is the direction of a slot. The zero value is invalid.
type Kind uint8

const (
	// Long buys at its level and sells one level up.
	Long Kind = iota + 1
	// Short sells at its level and buys back one level down.
	Short
)

// String returns "long" or "short".
func (k Kind) String() string {
	switch k {
	case Long:
		return "long"
	case Short:
		return "short"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Role says which of a slot's two orders an order is. The zero value,
// RoleNone, means no order.
type Role uint8

const (
	// RoleNone is no order.
	RoleNone Role = iota
	// RoleEntry is the order that opens the slot's position.
	RoleEntry
	// RoleExit is the order that closes it.
	RoleExit
)

// String returns "none", "entry" or "exit".
func (r Role) String() string {
	switch r {
	case RoleNone:
		return "none"
	case RoleEntry:
		return "entry"
	case RoleExit:
		return "exit"
	}
	return fmt.Sprintf("Role(%d)", uint8(r))
}

// State is a slot's state. The zero value is Free.
type State uint8

// The states, as in the package documentation.
const (
	Free State = iota
	EntryPending
	EntryOpen
	Holding
	ExitPending
	ExitOpen
	Canceling
	numStates
)

var stateNames = [numStates]string{"Free", "EntryPending", "EntryOpen", "Holding", "ExitPending", "ExitOpen", "Canceling"}

// String returns the state's name.
func (s State) String() string {
	if s < numStates {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// States lists every state, for exhaustive tests.
func States() []State {
	out := make([]State, numStates)
	for i := range out {
		out[i] = State(i)
	}
	return out
}

// EventType is what happened. The zero value is Submit.
type EventType uint8

// The events.
const (
	// Submit: the engine sent a new order (Role, Gen, Qty).
	Submit EventType = iota
	// Ack: the venue accepted the order of generation Gen.
	Ack
	// Reject: the venue refused the order (post-only cross, margin,
	// precision, …); nothing was created. A refusal reported later as an
	// update of an accepted order is an Expired event.
	Reject
	// Fill: the order filled; Qty is its cumulative filled quantity and
	// Price the price of the newly filled part.
	Fill
	// CancelSent: the engine asked to cancel the current order.
	CancelSent
	// Canceled: the order is canceled; Qty is its final cumulative filled
	// quantity (a fill not yet booked is booked at Price).
	Canceled
	// Expired: the venue ended the order (a post-only order rejected after
	// acceptance, a reduce-only knock-out, …); as Canceled.
	Expired
	// OutcomeUnknown: a request about the current order (place or cancel)
	// may or may not have taken effect; the engine must query.
	OutcomeUnknown
	// Reconciled: the exchange's view replaces ours (Held, Cost and the live
	// order, if any, in Role, Gen, Qty, Filled and Acked).
	Reconciled
	// Dust: a Holding slot's quantity is below the venue's minimum order;
	// the slot becomes Free and keeps it, to add to its next exit.
	Dust
	numEvents
)

var eventNames = [numEvents]string{"Submit", "Ack", "Reject", "Fill", "CancelSent", "Canceled", "Expired", "OutcomeUnknown", "Reconciled", "Dust"}

// String returns the event's name.
func (e EventType) String() string {
	if e < numEvents {
		return eventNames[e]
	}
	return fmt.Sprintf("EventType(%d)", uint8(e))
}

// EventTypes lists every event type, for exhaustive tests.
func EventTypes() []EventType {
	out := make([]EventType, numEvents)
	for i := range out {
		out[i] = EventType(i)
	}
	return out
}

// Event is one input to a slot. Which fields count depends on Type (see
// the EventType constants).
type Event struct {
	Type  EventType
	Role  Role   // Submit, Reconciled
	Gen   uint32 // the order's generation
	Qty   int64  // Submit: order quantity; Fill/Canceled/Expired: cumulative filled; Reconciled: order quantity
	Price int64  // Fill/Canceled/Expired: price of the newly filled part, in ticks
	// Reconciled only:
	Held   int64
	Cost   int64
	Filled int64
	Acked  bool
}

// Slot is one grid level's state. The zero value is a Free slot of no
// kind; set Kind before use. A Slot is a small value (under 64 bytes) and
// not safe for concurrent use.
type Slot struct {
	Kind     Kind
	State    State
	Role     Role   // role of the current order; RoleNone in Free and Holding
	Unknown  bool   // the current request's outcome is unknown: a query is due
	Gen      uint32 // generation of the current or last order
	OrderQty int64  // current order's quantity
	Filled   int64  // current order's cumulative filled quantity
	Held     int64  // quantity held, dust included (≥ 0)
	Cost     int64  // money (ticks × steps) paid (Long) or received (Short) for Held
}

// Effect is what an event did, for the engine's books.
type Effect struct {
	Ignored   bool  // a stale or duplicate update: nothing changed
	Entered   int64 // quantity added to the position by entry fills
	Exited    int64 // quantity closed by exit fills
	Price     int64 // price of the entered or exited quantity
	Realized  int64 // gross profit of the exited quantity (money), before fees
	RoundTrip bool  // an exit completed and the slot is Free again
	Query     bool  // the engine must query the order's outcome
}

// ErrIllegal is matched by every error of an event that cannot happen in
// the slot's state.
var ErrIllegal = errors.New("illegal slot transition")

// TransitionError is an event that cannot happen in the slot's state (or
// breaks an invariant). The engine answers it by reconciling.
type TransitionError struct {
	State  State
	Event  EventType
	Reason string
	// Err is the cause when there is one to branch on: a fill whose money
	// does not fit int64 wraps exchange.ErrOverflow.
	Err error
}

// Error names the event, the state and why it cannot happen there.
func (e *TransitionError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("slot: %s in state %s", e.Event, e.State)
	}
	return fmt.Sprintf("slot: %s in state %s: %s", e.Event, e.State, e.Reason)
}

// Is makes every TransitionError match ErrIllegal.
func (e *TransitionError) Is(target error) bool { return target == ErrIllegal }

// Unwrap returns the cause, if any.
func (e *TransitionError) Unwrap() error { return e.Err }

// Apply applies one event. On error the slot is unchanged.
func (s *Slot) Apply(e Event) (Effect, error) {
	if e.Type >= numEvents {
		return Effect{}, &TransitionError{State: s.State, Event: e.Type, Reason: "unknown event"}
	}
	if s.State >= numStates {
		return Effect{}, &TransitionError{State: s.State, Event: e.Type, Reason: "unknown state"}
	}
	if orderEvent(e.Type) {
		if e.Gen < s.Gen {
			return Effect{Ignored: true}, nil // stale: an older order, already accounted
		}
		if e.Gen > s.Gen {
			return Effect{}, &TransitionError{State: s.State, Event: e.Type, Reason: fmt.Sprintf("generation %d is newer than the slot's %d", e.Gen, s.Gen)}
		}
	}
	r := table[s.State][e.Type]
	switch r.kind {
	case ruleIgnore:
		return Effect{Ignored: true}, nil
	case ruleApply:
		// Every rule checks before it changes anything, so an error leaves
		// the slot as it was (the table test holds every rule to that).
		eff, err := r.fn(s, e)
		if err != nil {
			return Effect{}, &TransitionError{State: s.State, Event: e.Type, Reason: err.Error(), Err: err}
		}
		return eff, nil
	}
	return Effect{}, &TransitionError{State: s.State, Event: e.Type}
}

// orderEvent reports whether the event is about an existing order and so
// carries its generation.
func orderEvent(t EventType) bool {
	switch t {
	case Ack, Reject, Fill, CancelSent, Canceled, Expired, OutcomeUnknown:
		return true
	}
	return false
}

// Live reports whether the slot has an order sent and not yet ended.
func (s *Slot) Live() bool { return s.Role != RoleNone }

// Remaining is the current order's unfilled quantity.
func (s *Slot) Remaining() int64 {
	if s.Role == RoleNone {
		return 0
	}
	return s.OrderQty - s.Filled
}

// Check verifies the slot's invariants — at most one live or pending
// order per slot, and an exit never larger than what the slot holds, held
// never negative — in detail: held ≥ 0, at most one order and a role that
// fits the state, filled ≤ ordered, an exit never larger than held, and no
// cost without a position.
func (s *Slot) Check() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("slot invariant: %s (%+v)", fmt.Sprintf(format, a...), *s)
	}
	if s.Held < 0 {
		return bad("held %d < 0", s.Held)
	}
	if s.Held == 0 && s.Cost != 0 {
		return bad("cost %d with nothing held", s.Cost)
	}
	if s.Filled < 0 || s.Filled > s.OrderQty && s.Role != RoleNone {
		return bad("filled %d outside [0, %d]", s.Filled, s.OrderQty)
	}
	switch s.State {
	case Free, Holding:
		if s.Role != RoleNone {
			return bad("%s with an order (%s)", s.State, s.Role)
		}
		if s.State == Holding && s.Held == 0 {
			return bad("Holding nothing")
		}
	case EntryPending, EntryOpen:
		if s.Role != RoleEntry {
			return bad("%s with role %s", s.State, s.Role)
		}
	case ExitPending, ExitOpen:
		if s.Role != RoleExit {
			return bad("%s with role %s", s.State, s.Role)
		}
	case Canceling:
		if s.Role == RoleNone {
			return bad("Canceling without an order")
		}
	}
	if s.Role == RoleExit && s.OrderQty-s.Filled > s.Held {
		return bad("exit remaining %d exceeds held %d", s.OrderQty-s.Filled, s.Held)
	}
	if s.Unknown && s.Role == RoleNone {
		return bad("outcome unknown without an order")
	}
	return nil
}
