package risk

import "time"

// GuardName is the Monitor field of the guard's own transitions (pause and resume).
const GuardName = "guard"

// Transition is one change an observation caused: a monitor triggered or
// cleared (Guard false, Monitor its name), or the guard itself paused or
// resumed the grid's entries (Guard true, Monitor [GuardName]). Triggered
// is true for a trigger or a pause, false for a clear or a resume. Reason
// is the monitor's reason, or for the guard a summary. It is a plain value.
type Transition struct {
	Time      time.Time
	Monitor   string
	Triggered bool
	Reason    string
	Guard     bool
}

// Guard aggregates monitors for the grid engine: it feeds every
// observation to every monitor, reports each change as a [Transition], and
// holds the grid's pause state. The guard is paused while any monitor is
// triggered; once all have cleared it resumes at the first observation
// (a [KindTimer] one will do) at least the cool-down after the last clear,
// so a monitor that flickers cannot make the grid flap.
//
// The zero value has no monitors and never pauses. A Guard is not safe for
// concurrent use: the engine's single owner calls it, as it calls the
// monitors it holds.
type Guard struct {
	cooldown  time.Duration
	monitors  []Monitor
	status    []Status
	triggered int
	paused    bool
	lastClear time.Time
}

// NewGuard returns a guard over the monitors (nil ones are skipped) with
// the given cool-down; a negative cool-down is taken as zero.
func NewGuard(cooldown time.Duration, monitors ...Monitor) *Guard {
	if cooldown < 0 {
		cooldown = 0
	}
	g := &Guard{cooldown: cooldown}
	for _, m := range monitors {
		if m != nil {
			g.monitors = append(g.monitors, m)
		}
	}
	g.status = make([]Status, len(g.monitors))
	return g
}

// Cooldown returns the guard's cool-down.
func (g *Guard) Cooldown() time.Duration { return g.cooldown }

// Observe feeds o to every monitor in the order they were given and
// returns the transitions it caused, monitors' first (in that order), then
// the guard's pause or resume if any; nil when nothing changed.
func (g *Guard) Observe(o Observation) []Transition {
	var out []Transition
	for i, m := range g.monitors {
		st := m.Observe(o)
		prev := g.status[i]
		g.status[i] = st
		if st.Triggered == prev.Triggered {
			continue
		}
		if st.Triggered {
			g.triggered++
		} else {
			g.triggered--
			g.lastClear = o.Time
		}
		out = append(out, Transition{Time: o.Time, Monitor: m.Name(), Triggered: st.Triggered, Reason: st.Reason})
	}
	switch {
	case !g.paused && g.triggered > 0:
		g.paused = true
		out = append(out, Transition{Time: o.Time, Monitor: GuardName, Triggered: true, Guard: true,
			Reason: "entries paused: " + joinReasons(g.Reasons())})
	case g.paused && g.triggered == 0 && !o.Time.Before(g.lastClear.Add(g.cooldown)):
		g.paused = false
		out = append(out, Transition{Time: o.Time, Monitor: GuardName, Triggered: false, Guard: true,
			Reason: "entries resumed: every monitor clear since " + fmtTime(g.lastClear) + ", cool-down " + g.cooldown.String() + " over"})
	}
	return out
}

// Paused reports whether the grid's entries are paused.
func (g *Guard) Paused() bool { return g.paused }

// Reasons returns "name: reason" for every triggered monitor, in the order
// the monitors were given; nil when none is triggered.
func (g *Guard) Reasons() []string {
	var out []string
	for i, m := range g.monitors {
		if g.status[i].Triggered {
			out = append(out, m.Name()+": "+g.status[i].Reason)
		}
	}
	return out
}

func joinReasons(r []string) string {
	s := ""
	for i, x := range r {
		if i > 0 {
			s += "; "
		}
		s += x
	}
	return s
}
