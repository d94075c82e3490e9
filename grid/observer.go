package grid

import (
	"time"

	"github.com/gridmesh/gridmesh/exchange"
)

// RoundTrip is one completed entry and exit of one slot.
type RoundTrip struct {
	Time     time.Time
	Level    int64
	Qty      exchange.Steps
	Realized exchange.Money // gross profit of the exited quantity
	Fees     exchange.Money // entry and exit fees of the trip (signed)
}

// Net is the trip's profit after fees.
func (r RoundTrip) Net() exchange.Money { return r.Realized - r.Fees }

// FillNote is one booked fill of one of the grid's orders.
type FillNote struct {
	Time  time.Time
	Ref   OrderRef
	Side  exchange.Side
	Price exchange.Ticks
	Qty   exchange.Steps
	Fee   exchange.Money
}

// RiskNote is a change of the engine's risk state.
type RiskNote struct {
	Time      time.Time
	Paused    bool   // entries stopped
	Halted    bool   // everything stopped
	Monitor   string // the monitor that changed, if any
	Triggered bool   // with Monitor: it triggered (false: it cleared)
	Reason    string
	// Terminal (with Halted) is the grid control that ended the grid for
	// good: a TerminalXxx kind such as "take-profit"; "" otherwise.
	Terminal string
}

// Observer receives what the engine books, synchronously on the engine's
// owner goroutine: implementations must be quick and must not call back
// into the engine. Embed [NopObserver] to implement only some methods.
type Observer interface {
	Fill(FillNote)
	RoundTrip(RoundTrip)
	Risk(RiskNote)
	// Repair reports a correction of the engine's view: an illegal
	// transition answered by reconciliation, a stale update, an order of
	// ours adopted or canceled as an orphan.
	Repair(what string, ref OrderRef)
}

// NopObserver ignores everything; embed it to implement part of Observer.
type NopObserver struct{}

// Fill does nothing.
func (NopObserver) Fill(FillNote) {}

// RoundTrip does nothing.
func (NopObserver) RoundTrip(RoundTrip) {}

// Risk does nothing.
func (NopObserver) Risk(RiskNote) {}

// Repair does nothing.
func (NopObserver) Repair(string, OrderRef) {}
