// Package slot is the state machine of one grid level.
//
// A slot owns at most one order at a time. A Long slot buys at its level
// (the entry) and sells the bought quantity one level up (the exit); a
// Short slot sells at its level and buys back one level down. Every change
// arrives as an [Event]; [Slot.Apply] looks the (state, event) pair up in one
// transition table, which gives for every pair either a transition, an
// explicit "ignore" (a duplicate or stale update) or an error (an update
// that cannot happen if our view is right: the engine then reconciles with
// the exchange).
//
//	state         position  order
//	Free          none(*)   none                    idle
//	EntryPending  any       entry sent, not acked   blocks a second entry
//	EntryOpen     any       entry live              may be partly filled
//	Holding       > 0       none                    exit not yet placed
//	ExitPending   > 0       exit sent, not acked
//	ExitOpen      > 0       exit live               exit qty ≤ held
//	Canceling     any       cancel sent
//
//	(*) a Free slot may keep dust: a held remainder below the venue's minimum
//	    order, added to its next exit.
//
// Quantities are integer steps and prices integer ticks; money is their
// product (ticks × steps), so the cost basis is exact. Order events carry
// the order's generation: an event of an older generation is stale and
// ignored. Fill, Canceled and Expired events carry the order's cumulative
// filled quantity, which makes duplicated and reordered updates harmless:
// only growth of the cumulative quantity is booked.
//
// The package is pure: no I/O, no clock, no locks, no goroutines. Of
// gridmesh it imports only exchange, for the one exact 128-bit
// multiply-divide of money (exchange.MulDiv) that the engine and the
// simulator share. A Slot is not safe for concurrent use;
// the engine's single owner goroutine applies its events.
package slot
