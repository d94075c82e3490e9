package grid

import (
	"time"
)

// Generations. Every order of a slot carries a generation, one more than
// the slot's last, and the generation is part of the client order ID; a
// restarted engine must never send an ID the last run used (the venue may
// still answer for the old order, or fill both). Without reservations the
// engine starts a storeless restart's generations at a floor taken from
// the clock (see raiseGenerations). With reservations on — a host with a
// durable [Store]: [Runner] does it — generations are reserved in blocks:
// the engine asks for a block ([IntentReserve]) before it runs out, the
// host stores the block durably and confirms ([Engine.Reserved]), and no
// generation past the last confirmed block is used. A restart from any
// stored state starts past every block that state reserved, so it reuses
// no client order ID even if the state was saved long before the crash.

// DefaultGenerationBlock is how many generations one reservation covers.
const DefaultGenerationBlock = 1024

// UseReservations turns generation reservations on; call it once, after
// [Engine.RestoreState] (if any) and [Engine.Recover], before the first
// [Engine.OnStreamReady]. It returns
// the reservation the host must store durably and confirm with
// [Engine.Reserved] before the engine can place anything: the intent's
// Ref.Gen is the block's last generation, and [Engine.State] already
// carries it (as StoredState.GenReserved).
func (e *Engine) UseReservations() Intent {
	if !e.reserving {
		e.reserving = true
		e.genLimit = e.genFloor // nothing usable until the first block is confirmed
	}
	e.genAsked = max(e.genAsked, e.genLimit+DefaultGenerationBlock)
	return Intent{Kind: IntentReserve, Ref: OrderRef{Gen: e.genAsked}}
}

// Reserved confirms that the host stored a reservation of every generation
// up to upTo durably. Slots that waited for a generation are tended at once.
func (e *Engine) Reserved(now time.Time, upTo uint32) []Intent {
	e.out = e.out[:0]
	if !e.reserving || upTo <= e.genLimit {
		return e.out
	}
	stalled := e.genStalled
	e.genLimit, e.genStalled = upTo, false
	e.genAsked = max(e.genAsked, upTo)
	if stalled && e.started && e.ready {
		e.tendAll(now)
		e.maybeClose(now)
	}
	return e.out
}

// GenerationsReserved returns the last generation confirmed by
// [Engine.Reserved] (0 with reservations off or none confirmed).
func (e *Engine) GenerationsReserved() uint32 { return e.genLimit }

// nextGen returns the generation of a slot's (or the initial or closing
// orders') next order after cur: past cur and past the floor of this run.
// With reservations on it refuses (false) a generation beyond the last
// confirmed block, and asks for the next block a quarter block ahead.
func (e *Engine) nextGen(cur uint32) (uint32, bool) {
	g := max(cur, e.genFloor) + 1
	if !e.reserving {
		return g, true
	}
	if g+DefaultGenerationBlock/4 > e.genLimit {
		e.askReserve()
	}
	if g > e.genLimit {
		e.genStalled = true
		return 0, false
	}
	return g, true
}

// askReserve asks the host for the block after the last confirmed one
// (a generation past the floor is at most one past the confirmed block).
func (e *Engine) askReserve() {
	want := e.genLimit + DefaultGenerationBlock
	if want <= e.genAsked {
		return // asked already
	}
	e.genAsked = want
	e.out = append(e.out, Intent{Kind: IntentReserve, Ref: OrderRef{Gen: want}})
}

// reserveTimer asks again for a block the host has not confirmed (its
// store failed, or it dropped the intent).
func (e *Engine) reserveTimer() {
	if e.reserving && e.genAsked > e.genLimit {
		e.out = append(e.out, Intent{Kind: IntentReserve, Ref: OrderRef{Gen: e.genAsked}})
	}
}

// reservedFloor is the generation a stored state proves may have been
// used: everything it reserved, and every generation it names.
func (st StoredState) reservedFloor() uint32 {
	f := max(st.GenReserved, st.Initial.Gen, st.CloseGen)
	for _, ss := range st.Slots {
		f = max(f, ss.Gen)
	}
	return f
}
