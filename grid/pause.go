package grid

import (
	"strings"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/slot"
)

// Pause owners: each party that can hold entries owns its pause and clears
// only its own, so that one party's resume never lifts another's pause.
const (
	// PauseHost is the owner of [Engine.Pause] and [Engine.Resume]: the host program.
	PauseHost = "host"
	// PauseRisk is the risk guard's pause (WithRiskMonitors).
	PauseRisk = "risk"
	// PauseVenue is the runner's pause while the venue reports the symbol
	// not trading.
	PauseVenue = "venue"
	// PauseStop is the runner's pause while it stops.
	PauseStop = "stop"
	// PauseTrend is the trend filter's one-sided pause (WithTrendFilter):
	// buy entries in a down-trend, sell entries in an up-trend.
	PauseTrend = "trend"
)

// pauseEntry is one owner's pause.
type pauseEntry struct {
	owner, reason string
	side          exchange.Side // 0: every entry; Buy or Sell: the entries of that side only
	cancel        bool          // live entries (of side) are canceled too
}

// Pause stops new entries on behalf of the host ([PauseHost]); see
// [Engine.PauseFor].
func (e *Engine) Pause(now time.Time, reason string, cancelEntries bool) []Intent {
	return e.PauseFor(now, PauseHost, reason, cancelEntries)
}

// Resume lifts the host's pause ([PauseHost]); see [Engine.ResumeFor].
func (e *Engine) Resume(now time.Time) []Intent { return e.ResumeFor(now, PauseHost) }

// PauseFor stops new entries on behalf of owner (a risk monitor triggered,
// the venue stopped the symbol, the host asked). With cancelEntries the
// live entries are canceled too. Exits keep working so positions can still
// close. Pauses of different owners add up: entries resume only when every
// owner has resumed. Pausing again as the same owner replaces its reason.
func (e *Engine) PauseFor(now time.Time, owner, reason string, cancelEntries bool) []Intent {
	e.out = e.out[:0]
	e.pause(now, pauseEntry{owner: owner, reason: reason, cancel: cancelEntries})
	return e.out
}

// PauseSide stops new entries of one side only on behalf of owner: the
// entries that buy (long slots' entries) for [exchange.Buy], those that
// sell (short slots') for [exchange.Sell]; the other side's entries and
// every exit keep working. With cancelEntries the live entries of that
// side are canceled too. It is [Engine.PauseFor] for one side, and adds up
// with every other pause the same way; pausing again as the same owner
// replaces its pause (and side), and [Engine.ResumeFor] lifts it. The
// trend filter ([WithTrendFilter]) pauses this way, as [PauseTrend].
func (e *Engine) PauseSide(now time.Time, owner string, side exchange.Side, reason string, cancelEntries bool) []Intent {
	e.out = e.out[:0]
	if side != exchange.Buy && side != exchange.Sell {
		e.log.Error("grid: PauseSide needs Buy or Sell", "owner", owner, "side", side.String())
		return e.out
	}
	e.pause(now, pauseEntry{owner: owner, reason: reason, side: side, cancel: cancelEntries})
	return e.out
}

// pause adds or replaces p's owner's pause, appending to e.out.
func (e *Engine) pause(now time.Time, p pauseEntry) {
	found, relaxed := false, false
	for i := range e.pauses {
		if e.pauses[i].owner == p.owner {
			// One side's pause becomes the other's, or a pause of every
			// entry narrows to one side: some entries may place again.
			relaxed = relaxed || (e.pauses[i].side != p.side && p.side != 0)
			e.pauses[i] = p
			found = true
		}
	}
	if !found {
		e.pauses = append(e.pauses, p)
	}
	wasCancel, wasSideCancel := e.pauseCancels, e.sideCancel
	e.syncPause()
	e.log.Warn("grid: entries paused", "owner", p.owner, "side", sideName(p.side), "reason", p.reason, "cancelEntries", p.cancel)
	e.obs.Risk(RiskNote{Time: now, Paused: true, Reason: p.owner + ": " + p.reason + sideNote(p.side)})
	switch {
	case e.pauseCancels && (!wasCancel || !found):
		e.cancelWhere(now, slot.RoleEntry)
	case p.side != 0 && e.sideCancel[p.side] && (!wasSideCancel[p.side] || !found || relaxed):
		e.cancelEntriesOf(now, p.side)
	}
	if relaxed && !e.paused && !e.halted {
		e.tendAll(now) // the side no longer paused places its entries again
	}
}

// ResumeFor lifts owner's pause. Entries are placed again once no owner
// holds them.
func (e *Engine) ResumeFor(now time.Time, owner string) []Intent {
	e.out = e.out[:0]
	e.resume(now, owner)
	return e.out
}

// resume is ResumeFor appending to e.out.
func (e *Engine) resume(now time.Time, owner string) {
	k := -1
	for i := range e.pauses {
		if e.pauses[i].owner == owner {
			k = i
		}
	}
	if k < 0 {
		return
	}
	e.pauses = append(e.pauses[:k], e.pauses[k+1:]...)
	e.syncPause()
	e.log.Info("grid: pause lifted", "owner", owner, "stillPaused", e.paused)
	if e.paused {
		return
	}
	e.obs.Risk(RiskNote{Time: now, Reason: "resumed"})
	e.tendAll(now)
}

// PausedBy reports whether owner holds entries.
func (e *Engine) PausedBy(owner string) bool {
	for _, p := range e.pauses {
		if p.owner == owner {
			return true
		}
	}
	return false
}

// syncPause recomputes the flags the hot path reads: paused and
// pauseCancels for the pauses of every entry, sideHeld and sideCancel for
// the one-sided ones.
func (e *Engine) syncPause() {
	e.paused, e.pauseCancels = false, false
	e.sideHeld, e.sideCancel = [3]bool{}, [3]bool{}
	for _, p := range e.pauses {
		if p.side == 0 {
			e.paused = true
			e.pauseCancels = e.pauseCancels || p.cancel
			continue
		}
		e.sideHeld[p.side] = true
		e.sideCancel[p.side] = e.sideCancel[p.side] || p.cancel
	}
}

// entriesAllowedFor reports whether a slot of kind may place its entry:
// no pause of every entry, none of its entry side, no halt.
func (e *Engine) entriesAllowedFor(kind slot.Kind) bool {
	return !e.paused && !e.halted && !e.sideHeld[e.sideOf(kind, slot.RoleEntry)]
}

// entryCancelled reports whether a pause must cancel the live entry of a
// slot of kind.
func (e *Engine) entryCancelled(kind slot.Kind) bool {
	return (e.paused && e.pauseCancels) || e.sideCancel[e.sideOf(kind, slot.RoleEntry)]
}

// cancelEntriesOf cancels the live entries of side (see cancelWhere).
func (e *Engine) cancelEntriesOf(now time.Time, side exchange.Side) {
	if !e.ready {
		return
	}
	for j := range e.levels {
		lv := &e.levels[j]
		if lv.s.State == slot.EntryOpen && !lv.s.Unknown && e.sideOf(lv.s.Kind, slot.RoleEntry) == side {
			e.cancel(now, e.base+int64(j), lv)
		}
	}
}

// cancelHeldSides cancels, on the timer, the live entries a one-sided
// pause must cancel that could not be canceled when it came.
func (e *Engine) cancelHeldSides(now time.Time) {
	for _, side := range [2]exchange.Side{exchange.Buy, exchange.Sell} {
		if e.sideCancel[side] && !(e.paused && e.pauseCancels) {
			e.cancelEntriesOf(now, side)
		}
	}
}

// EntriesPaused reports whether the entries of side (Buy: long slots',
// Sell: short slots') are held by any pause, of every entry or of that
// side only, or by a halt.
func (e *Engine) EntriesPaused(side exchange.Side) bool {
	return e.paused || e.halted || (side <= exchange.Sell && e.sideHeld[side])
}

func sideName(s exchange.Side) string {
	if s == 0 {
		return "both"
	}
	return s.String()
}

// sideNote is what a one-sided pause adds to its reason.
func sideNote(s exchange.Side) string {
	switch s {
	case exchange.Buy:
		return " (buy entries)"
	case exchange.Sell:
		return " (sell entries)"
	}
	return ""
}

// pauseReasons joins every owner's reason.
func (e *Engine) pauseReasons() string {
	return strings.Join(e.pauseList(), "; ")
}

// pauseList lists the pauses as "owner: reason".
func (e *Engine) pauseList() []string {
	if len(e.pauses) == 0 {
		return nil
	}
	out := make([]string, len(e.pauses))
	for i, p := range e.pauses {
		out[i] = p.owner + ": " + p.reason + sideNote(p.side)
	}
	return out
}
