package exchange

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limWindow is one compiled window: its token bucket, the bucket of its
// read share (for a window orders and reads both count in), the cost of
// each operation, and the venue's last reported usage.
type limWindow struct {
	def   LimitWindow
	cost  [numOps]OpCost
	named map[string]OpCost // costs of named operations (Do)
	other func(string) int  // legacy request windows: the weight of an unlisted named op
	// bucket enforces the window. In a window that orders and reads both
	// count in, read and write (when not nil) split it: reads (every
	// request but place and cancel) may use their share and orders the
	// rest, so that neither can starve the other.
	bucket *rate.Limiter
	read   *rate.Limiter
	write  *rate.Limiter
	// The venue's own count ([Usage]): until resetAt, the window holds
	// used units — the venue's figure raised by every request admitted
	// since — and admits no more than Max in all.
	used    int
	resetAt time.Time
	// inflight is the units of requests admitted and not yet answered: the
	// venue may not have counted them in a report.
	inflight int
	// full: a request waited for resetAt because the venue's count left it
	// no room. Such a window opens again with one request, its probe, and
	// admits the next only once the probe is answered (probing, probe out):
	// the answer carries the venue's count of the new window, which another
	// program may have used up as it opened. Released all at once, the
	// waiting requests would race for that room at the venue, the losers
	// refused with a 429 that pauses the executor until the next reset —
	// the same ones, perhaps, window after window.
	full    bool
	probing bool
	probe   bool
}

// probePoll is how often a request waiting for a probe's answer looks again
// (the answer wakes it at once; this bounds the wait should it not).
const probePoll = 50 * time.Millisecond

// probeWindows is how many windows a job's probe mask can name; a window
// beyond them never probes.
const probeWindows = 64

// demand is what one request takes: units[i] from window i; read requests
// also take them from the windows' read shares.
type demand struct {
	units []int
	read  bool
}

// limiterSet is every window of one executor: a request is admitted when all
// the windows it counts in admit it at the same instant, and it takes its
// units from all of them at that instant, so each bucket sees the request
// when the venue does. Time is always an argument; the set reads no clock.
// Safe for concurrent use.
type limiterSet struct {
	mu          sync.Mutex
	wins        []*limWindow
	byName      map[string]*limWindow
	pausedUntil time.Time // no request is admitted before this (venue rate-limit refusal)
	last        time.Time // latest time seen: buckets are only ever advanced
	unknown     uint64    // usage reports naming no window
}

// limiterParams are what the buckets need beyond the windows.
type limiterParams struct {
	maxOrders  [numOps]int // orders one request of op carries at most
	queryShare int         // percent of each shared window that reads may use
}

// unitsOf returns what one request of op (or the named op) carrying orders
// takes from w.
func (w *limWindow) unitsOf(op execOp, named string, orders int) int {
	if op == opNamed {
		if c, ok := w.named[named]; ok {
			return c.Units + c.PerOrder*orders
		}
		if w.other != nil {
			return w.other(named)
		}
		return 0
	}
	c := w.cost[op]
	return c.Units + c.PerOrder*orders
}

// newLimiterSet builds the buckets of windows, which must be valid.
func newLimiterSet(windows []LimitWindow, other []func(string) int, p limiterParams) *limiterSet {
	s := &limiterSet{byName: make(map[string]*limWindow, len(windows))}
	for i, def := range windows {
		w := &limWindow{def: def, named: map[string]OpCost{}}
		if other != nil {
			w.other = other[i]
		}
		allListed := false
		for _, c := range def.Costs {
			if op, ok := opByName(c.Op); ok {
				w.cost[op] = c
				allListed = allListed || op == opAllPositions
			} else {
				w.named[c.Op] = c
			}
		}
		if !allListed {
			// Undeclared: one all-positions read costs what one positions
			// read does (see OpAllPositions).
			w.cost[opAllPositions] = OpCost{Op: OpAllPositions, Units: w.cost[opPositions].Units, PerOrder: w.cost[opPositions].PerOrder}
		}
		maxUnit, maxRead, orders, reads := 1, 0, false, false
		for op := range numOps {
			u := w.unitsOf(op, "", p.maxOrders[op])
			maxUnit = max(maxUnit, u)
			if u > 0 && op.mutating() {
				orders = true
			}
			if u > 0 && !op.mutating() {
				reads = true
				maxRead = max(maxRead, u)
			}
		}
		// Named operations (Do) are reads, but do not make a window one
		// that reads share: a venue may list order operations the executor
		// does not send itself (Binance's and Gate's "amend").
		for _, c := range w.named {
			u := c.Units + c.PerOrder
			maxUnit = max(maxUnit, u)
			maxRead = max(maxRead, u)
		}
		r, b := bucketFor(def.Max, def.Interval, maxUnit)
		w.bucket = rate.NewLimiter(r, b)
		if orders && reads && p.queryShare < 100 {
			share := max(def.Max*p.queryShare/100, maxRead, 1)
			r, b := bucketFor(share, def.Interval, max(maxRead, 1))
			w.read = rate.NewLimiter(r, b)
			maxWrite := 1
			for op := range numOps {
				if op.mutating() {
					maxWrite = max(maxWrite, w.unitsOf(op, "", p.maxOrders[op]))
				}
			}
			rest := max(def.Max-def.Max*p.queryShare/100, maxWrite)
			r, b = bucketFor(rest, def.Interval, maxWrite)
			w.write = rate.NewLimiter(r, b)
		}
		s.wins = append(s.wins, w)
		s.byName[def.Name] = w
	}
	return s
}

// share returns the part of w that d's kind of request uses, or nil.
func (w *limWindow) share(d demand) *rate.Limiter {
	if d.read {
		return w.read
	}
	return w.write
}

// demandFor returns what a request of op carrying orders takes.
func (s *limiterSet) demandFor(op execOp, named string, orders int) demand {
	return s.demandInto(nil, op, named, orders)
}

// demandInto is demandFor with the units in buf when it has room.
func (s *limiterSet) demandInto(buf []int, op execOp, named string, orders int) demand {
	units := buf[:0]
	if cap(units) < len(s.wins) {
		units = make([]int, 0, len(s.wins))
	}
	for _, w := range s.wins {
		units = append(units, w.unitsOf(op, named, orders))
	}
	return demand{units: units, read: !op.mutating()}
}

// earliestAdmit returns the first time at or after t at which l holds n units.
func earliestAdmit(l *rate.Limiter, t time.Time, n int) time.Time {
	need := float64(n) - l.TokensAt(t)
	if need <= 0 {
		return t
	}
	ns := math.Ceil(need / float64(l.Limit()) * float64(time.Second))
	if ns >= math.MaxInt64/2 {
		return t.Add(math.MaxInt64 / 2)
	}
	return t.Add(time.Duration(ns))
}

// take admits a request at now if every window it counts in allows it, and
// then takes its units. Otherwise it takes nothing and returns the earliest
// time worth trying again. at is the time of admission: now, or the latest
// time the set has seen if the clock stepped back.
//
// probes has bit i set when the request is window i's probe (see
// limWindow.full): release it with them.
func (s *limiterSet) take(now time.Time, d demand) (at time.Time, probes uint64, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := now
	if t.Before(s.last) {
		t = s.last
	}
	s.last = t
	s.openLocked(t)
	wake := s.earliestLocked(t, d)
	if wake.After(t) {
		for i, w := range s.wins {
			if n := d.units[i]; n > 0 && t.Before(w.resetAt) && w.used+n > w.def.Max {
				w.full = true
			}
		}
		return wake, 0, false
	}
	for i, w := range s.wins {
		n := d.units[i]
		if n <= 0 {
			continue
		}
		w.bucket.AllowN(t, n)
		if share := w.share(d); share != nil {
			share.AllowN(t, n)
		}
		if t.Before(w.resetAt) {
			w.used += n
		}
		w.inflight += n
		if w.probing && i < probeWindows {
			w.probe = true
			probes |= 1 << i
		}
	}
	return t, probes, true
}

// openLocked starts the probe of every window that ran full and has reset
// by t.
func (s *limiterSet) openLocked(t time.Time) {
	for _, w := range s.wins {
		if w.full && !t.Before(w.resetAt) {
			w.full, w.probing, w.probe = false, true, false
		}
	}
}

// release marks a request admitted with d and probes (what take returned)
// as answered, or never sent. It reports whether that ended a probe: the
// requests waiting for it may go.
func (s *limiterSet) release(d demand, probes uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, w := range s.wins {
		w.inflight -= d.units[i]
		if probes&(1<<i) != 0 && w.probing {
			// Its answer carried the window's count if the venue reports
			// one; if not, the bucket alone admits from now on.
			w.probing, w.probe = false, false
		}
	}
	return probes != 0
}

// earliest returns the earliest time at or after now at which d could be
// admitted, taking nothing.
func (s *limiterSet) earliest(now time.Time, d demand) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := now
	if t.Before(s.last) {
		t = s.last
	}
	s.openLocked(t)
	return s.earliestLocked(t, d)
}

func (s *limiterSet) earliestLocked(t time.Time, d demand) time.Time {
	wake := t
	if s.pausedUntil.After(wake) {
		wake = s.pausedUntil
	}
	for i, w := range s.wins {
		n := d.units[i]
		if n <= 0 {
			continue
		}
		if e := earliestAdmit(w.bucket, t, n); e.After(wake) {
			wake = e
		}
		if share := w.share(d); share != nil {
			if e := earliestAdmit(share, t, n); e.After(wake) {
				wake = e
			}
		}
		if t.Before(w.resetAt) && w.used+n > w.def.Max && w.resetAt.After(wake) {
			wake = w.resetAt
		}
		if w.probing && w.probe && t.Add(probePoll).After(wake) {
			wake = t.Add(probePoll)
		}
	}
	return wake
}

// pause holds every request back until until (a venue's rate-limit refusal:
// limits are per account and IP, so every caller must wait).
func (s *limiterSet) pause(until time.Time) {
	s.mu.Lock()
	if until.After(s.pausedUntil) {
		s.pausedUntil = until
	}
	s.mu.Unlock()
}

// maxReportedUsage caps a venue's reported count: far above any real
// window's limit, far below where adding a window's in-flight units or a
// request's cost could overflow an int.
const maxReportedUsage = math.MaxInt32

// report applies a venue's usage report received at now; it returns false
// when the report names no window or one that has ended.
//
// The venue's figure may miss requests still on their way: the units of
// every request admitted and not yet answered, but the one reporting
// (self, whose answer carries the report; zero for none), are added to it.
func (s *limiterSet) report(now time.Time, u Usage, self demand) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.byName[u.Window]
	if !ok || u.Used < 0 {
		s.unknown++
		return false
	}
	// A figure beyond any real window (a broken header) is read as the
	// largest count a window can hold, so the sums below cannot wrap.
	used := min(u.Used, maxReportedUsage) + w.inflight
	for i, x := range s.wins {
		if x == w && i < len(self.units) {
			used -= self.units[i]
		}
	}
	at := u.At
	if at.IsZero() {
		at = now
	}
	reset := u.Reset
	if reset.IsZero() {
		// The venue's window may have started just before it counted: it
		// lasts at most one Interval from then.
		reset = at.Add(w.def.Interval)
	}
	if !reset.After(at) || !reset.After(now) {
		return false // the window it describes is over
	}
	if !at.Before(w.resetAt) {
		// A count of the new window: no probe needs to learn it.
		w.used, w.resetAt, w.full = used, reset, false
		return true
	}
	w.used = max(w.used, used)
	if reset.After(w.resetAt) {
		w.resetAt = reset
	}
	return true
}

// readRate returns the sustained rate, in units per second, at which reads
// may use window i.
func (s *limiterSet) readRate(i int) float64 {
	w := s.wins[i]
	if w.read != nil {
		return float64(w.read.Limit())
	}
	return float64(w.bucket.Limit())
}

// short marks in out (one entry per window) the windows that cannot admit d
// at now: those a request waiting for room holds.
func (s *limiterSet) short(now time.Time, d demand, out []bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := now
	if t.Before(s.last) {
		t = s.last
	}
	s.openLocked(t)
	for i, w := range s.wins {
		n := d.units[i]
		if n <= 0 {
			continue
		}
		if earliestAdmit(w.bucket, t, n).After(t) ||
			(w.share(d) != nil && earliestAdmit(w.share(d), t, n).After(t)) ||
			(t.Before(w.resetAt) && w.used+n > w.def.Max) ||
			(w.probing && w.probe) {
			out[i] = true
		}
	}
}
