package grid

import (
	"strings"
	"time"

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
)

// pauseEntry is one owner's pause.
type pauseEntry struct {
	owner, reason string
	cancel        bool // live entries are canceled too
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
	found := false
	for i := range e.pauses {
		if e.pauses[i].owner == owner {
			e.pauses[i] = pauseEntry{owner: owner, reason: reason, cancel: cancelEntries}
			found = true
		}
	}
	if !found {
		e.pauses = append(e.pauses, pauseEntry{owner: owner, reason: reason, cancel: cancelEntries})
	}
	wasCancel := e.pauseCancels
	e.syncPause()
	e.log.Warn("grid: entries paused", "owner", owner, "reason", reason, "cancelEntries", cancelEntries)
	e.obs.Risk(RiskNote{Time: now, Paused: true, Reason: owner + ": " + reason})
	if e.pauseCancels && (!wasCancel || !found) {
		e.cancelWhere(now, slot.RoleEntry)
	}
	return e.out
}

// ResumeFor lifts owner's pause. Entries are placed again once no owner
// holds them.
func (e *Engine) ResumeFor(now time.Time, owner string) []Intent {
	e.out = e.out[:0]
	k := -1
	for i := range e.pauses {
		if e.pauses[i].owner == owner {
			k = i
		}
	}
	if k < 0 {
		return e.out
	}
	e.pauses = append(e.pauses[:k], e.pauses[k+1:]...)
	e.syncPause()
	e.log.Info("grid: pause lifted", "owner", owner, "stillPaused", e.paused)
	if e.paused {
		return e.out
	}
	e.obs.Risk(RiskNote{Time: now, Reason: "resumed"})
	e.tendAll(now)
	return e.out
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

// syncPause recomputes the flags the hot path reads.
func (e *Engine) syncPause() {
	e.paused, e.pauseCancels = len(e.pauses) > 0, false
	for _, p := range e.pauses {
		e.pauseCancels = e.pauseCancels || p.cancel
	}
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
		out[i] = p.owner + ": " + p.reason
	}
	return out
}
