package exchange

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Errors of lanes. Both match [ErrNotSent]: the request never reached the
// venue.
var (
	// ErrLaneFull: the lane already holds its bound of queued placements
	// ([WithLaneQueue]); the placement was refused at once. The caller backs
	// off and tries later.
	ErrLaneFull = fmt.Errorf("lane full: %w", ErrNotSent)
	// ErrLaneClosed: the lane was closed ([Lane.Close]), or drained
	// ([Lane.Drain]) for a placement, before the request was sent.
	ErrLaneClosed = fmt.Errorf("lane closed: %w", ErrNotSent)
)

// DefaultLaneQueue is the bound of a lane's queued placement orders unless
// [WithLaneQueue] says otherwise.
const DefaultLaneQueue = 64

// LaneOption configures a [Lane] in [Executor.Lane].
type LaneOption interface {
	applyLane(*laneConfig)
}

type laneOptionFunc func(*laneConfig)

func (f laneOptionFunc) applyLane(c *laneConfig) { f(c) }

type laneConfig struct {
	queue int
}

// WithLaneQueue bounds the placement orders (a batch of n counts n) that may
// wait in the lane at once (default [DefaultLaneQueue]); a placement that
// would pass it is refused at once with [ErrLaneFull] (a batch larger than
// n is accepted when the lane holds no other placement). Cancels and queries
// are never refused for room: the lane's open orders bound them. n must be
// at least 1.
func WithLaneQueue(n int) LaneOption {
	return laneOptionFunc(func(c *laneConfig) { c.queue = n })
}

// Lane is one client's handle on a shared [Executor] — one grid's, when
// grids on many symbols share an account's limits. It has the executor's
// request methods. When the limits are the bottleneck, the executor serves
// its lanes fairly: the lane served least so far (orders placed, other
// requests sent) goes next, lanes served alike take turns, a new lane's
// first request goes first, a lane back from idle gets no credit for the
// idle time, and a request waiting for room (a batch) holds the windows it
// needs rather than being passed by a stream of smaller ones. Within a
// lane, cancels and queries by client order ID go before placements. Reads
// (open orders, fills, positions, account, rules) are served the same way
// in a round of their own, so each lane gets an equal part of the reads'
// share ([Executor.MinReconcileInterval]). Identical reads of several
// lanes waiting at once share one request, charged once; each lane it
// serves counts it as served (see coalesced reads in [Executor]).
//
// A lane holds at most its bound of queued placements ([WithLaneQueue]);
// [Lane.Drain] and [Lane.Close] stop it without touching other lanes. The
// zero value is not usable: get one from [Executor.Lane]. Safe for
// concurrent use.
type Lane struct {
	x       *Executor
	name    string
	bound   int // queued placement orders allowed; 0: unbounded (the executor's own lane)
	q       [numClasses][]*job
	placeQ  int // placement orders queued
	queued  int // requests queued
	active  int // requests in the executor: queued, or being sent or retried
	closed  bool
	noPlace bool // drained: placements refused
	idle    []ExecutorWaiter
	served  [2]uint64 // orders and requests admitted, per round (orders, reads), for the fair order
	seen    [2]bool   // served at least once, per round
	st      laneCounters
}

// laneCounters are a lane's statistics, guarded by the scheduler's lock.
type laneCounters struct {
	highWater      int
	highWaterPlace int
	admitted       uint64
	placed         uint64 // placement requests admitted
	joined         uint64 // reads answered by another call's request (coalesced)
	waits          uint64
	waitTime       time.Duration
	maxWait        time.Duration
	full           uint64
	dropped        [5]uint64 // by dropReason
}

// Lane returns a new lane of the executor named name (unique among its
// open lanes), for one client — one grid. Close it when the client stops.
func (e *Executor) Lane(name string, opts ...LaneOption) (*Lane, error) {
	cfg := laneConfig{queue: DefaultLaneQueue}
	var errs []error
	for i, o := range opts {
		if o == nil {
			errs = append(errs, fmt.Errorf("option %d is nil", i))
			continue
		}
		o.applyLane(&cfg)
	}
	if name == "" {
		errs = append(errs, errors.New("name: empty"))
	}
	if cfg.queue < 1 {
		errs = append(errs, fmt.Errorf("WithLaneQueue: %d: must be at least 1", cfg.queue))
	}
	s := e.sched
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.lanes {
		if l.name == name && name != "" {
			errs = append(errs, fmt.Errorf("name %q: a lane of that name is open", name))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("exchange: Executor.Lane: %w", errors.Join(errs...))
	}
	l := &Lane{x: e, name: name, bound: cfg.queue}
	s.lanes = append(s.lanes, l)
	return l, nil
}

// Name returns the lane's name.
func (l *Lane) Name() string { return l.name }

// head returns the next request of the lane in round f (0: orders, 1:
// reads), or nil.
func (l *Lane) head(f int) *job {
	if f == 1 {
		if q := l.q[classRead]; len(q) > 0 {
			return q[0]
		}
		return nil
	}
	if q := l.q[classUrgent]; len(q) > 0 {
		return q[0]
	}
	if q := l.q[classPlace]; len(q) > 0 {
		return q[0]
	}
	return nil
}

// refuseLocked says why j may not join the lane, or nil. A retry is never
// refused for room: it was accepted once.
func (l *Lane) refuseLocked(j *job, retry bool) error {
	switch {
	case l.closed, l.noPlace && j.class == classPlace:
		l.st.dropped[dropClosed]++
		return ErrLaneClosed
	case j.class == classPlace && !retry && l.bound > 0 && l.placeQ > 0 && l.placeQ+j.orders > l.bound:
		l.st.full++
		return fmt.Errorf("%w: %d placement orders waiting, bound %d", ErrLaneFull, l.placeQ, l.bound)
	}
	return nil
}

func (l *Lane) pushLocked(j *job) {
	f := 0
	if j.class == classRead {
		f = 1
	}
	if l.head(f) == nil {
		l.x.sched.levelLocked(l, f)
	}
	l.q[j.class] = append(l.q[j.class], j)
	l.x.sched.shareAddLocked(j, 1)
	l.queued++
	if j.class == classPlace {
		l.placeQ += j.orders
	}
	l.st.highWater = max(l.st.highWater, l.queued)
	l.st.highWaterPlace = max(l.st.highWaterPlace, l.placeQ)
}

func (l *Lane) removeLocked(j *job) {
	q := l.q[j.class]
	for i, x := range q {
		if x == j {
			copy(q[i:], q[i+1:])
			q[len(q)-1] = nil
			l.q[j.class] = q[:len(q)-1]
			l.x.sched.shareAddLocked(j, -1)
			l.queued--
			if j.class == classPlace {
				l.placeQ -= j.orders
			}
			return
		}
	}
}

// firstPlacement reports whether no placement of the lane has been admitted.
func (l *Lane) firstPlacement() bool {
	s := l.x.sched
	s.mu.Lock()
	defer s.mu.Unlock()
	return l.st.placed == 0
}

// enter counts a call entering the lane; it fails on a closed lane.
func (l *Lane) enter(op execOp) error {
	s := l.x.sched
	s.mu.Lock()
	defer s.mu.Unlock()
	if l.closed || (l.noPlace && classOf(op) == classPlace) {
		l.st.dropped[dropClosed]++
		return ErrLaneClosed
	}
	l.active++
	return nil
}

// leave counts a call leaving the lane and wakes drainers when it is idle.
func (l *Lane) leave() {
	s := l.x.sched
	s.mu.Lock()
	l.active--
	if l.active == 0 {
		for _, w := range l.idle {
			w.Wake()
		}
	}
	s.mu.Unlock()
}

// dropClassesLocked fails the queued requests of the given classes with
// ErrLaneClosed.
func (l *Lane) dropClassesLocked(classes ...jobClass) {
	s := l.x.sched
	for _, c := range classes {
		for len(l.q[c]) > 0 {
			s.dropLocked(l.q[c][0], ErrLaneClosed, dropClosed)
		}
	}
}

// Drain stops the lane's placements: queued ones fail with [ErrLaneClosed]
// (they were never sent, so their slots are free) and new ones are refused,
// while cancels, queries and reads still run — a stopping grid cancels its
// orders through its lane after draining it. Drain then waits until no
// request of the lane is queued or on its way, or ctx ends. Other lanes
// keep running. Safe to call more than once.
func (l *Lane) Drain(ctx context.Context) error {
	s := l.x.sched
	s.mu.Lock()
	l.noPlace = true
	l.dropClassesLocked(classPlace)
	s.pumpLocked(s.clk.Now())
	if l.active == 0 {
		s.mu.Unlock()
		return nil
	}
	w := newExecWaiter(s.clk)
	l.idle = append(l.idle, w)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		for i, x := range l.idle {
			if x == w {
				l.idle = append(l.idle[:i], l.idle[i+1:]...)
				break
			}
		}
		s.mu.Unlock()
	}()
	for {
		if _, err := w.Wait(ctx, -1); err != nil {
			return fmt.Errorf("exchange: lane %q: drain: %w", l.name, err)
		}
		s.mu.Lock()
		idle := l.active == 0
		s.mu.Unlock()
		if idle {
			return nil
		}
	}
}

// Close stops the lane: every queued request fails with [ErrLaneClosed]
// and later calls are refused with it; requests already being sent finish.
// Other lanes keep running. Close is idempotent and always returns nil.
func (l *Lane) Close() error {
	s := l.x.sched
	s.mu.Lock()
	defer s.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	l.dropClassesLocked(classUrgent, classPlace, classRead)
	s.removeLaneLocked(l)
	s.pumpLocked(s.clk.Now())
	return nil
}

// LaneStats is a snapshot of a lane's queue and counters, from [Lane.Stats]
// or [Executor.LaneStats]. It is a plain value.
type LaneStats struct {
	Name string
	// Queued is the number of requests waiting now, QueuedOrders the
	// placement orders among them; HighWater and HighWaterOrders are the
	// largest they have been.
	Queued, QueuedOrders       int
	HighWater, HighWaterOrders int
	// Admitted counts requests the limiter let through, a read that joined
	// another call's request (a coalesced read) included. Joined counts
	// those coalesced reads: answered by a request another call sent, and
	// charged to the windows once, for the call that sent it. Waits counts
	// the admitted requests that had to queue, WaitTime their total wait
	// and MaxWait the longest.
	Admitted uint64
	Joined   uint64
	Waits    uint64
	WaitTime time.Duration
	MaxWait  time.Duration
	// Full counts placements refused because the lane was full
	// ([ErrLaneFull]).
	Full uint64
	// Requests dropped unsent, by reason: Expired (send deadline,
	// [WithSendWithin]), Invalid ([WithValidUntil]), Closed (lane drained
	// or closed), Abandoned (context ended while queued), Deadline (the
	// wait would pass the context's deadline).
	Expired, Invalid, Closed, Abandoned, Deadline uint64
	// Closing is true once the lane is drained or closed.
	Closing bool
}

// Stats returns a snapshot of the lane's queue and counters.
func (l *Lane) Stats() LaneStats {
	s := l.x.sched
	s.mu.Lock()
	defer s.mu.Unlock()
	return l.statsLocked()
}

func (l *Lane) statsLocked() LaneStats {
	c := l.st
	return LaneStats{
		Name: l.name, Queued: l.queued, QueuedOrders: l.placeQ,
		HighWater: c.highWater, HighWaterOrders: c.highWaterPlace,
		Admitted: c.admitted, Joined: c.joined, Waits: c.waits, WaitTime: c.waitTime, MaxWait: c.maxWait,
		Full: c.full, Expired: c.dropped[dropExpired], Invalid: c.dropped[dropInvalid],
		Closed: c.dropped[dropClosed], Abandoned: c.dropped[dropAbandoned], Deadline: c.dropped[dropDeadline],
		Closing: l.closed || l.noPlace,
	}
}

// LaneStats returns a snapshot of every open lane, the executor's own lane
// (named "", used by the executor's methods) first.
func (e *Executor) LaneStats() []LaneStats {
	s := e.sched
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]LaneStats, 0, len(s.lanes))
	for _, l := range s.lanes {
		out = append(out, l.statsLocked())
	}
	return out
}

// MinReconcileInterval returns the shortest interval at which every open
// lane can run one round of the given read operations (say OpOpenOrders,
// OpPositions, OpFills) at the limiter's sustained rate, within the reads'
// share of every window they count in ([WithQueryShare]): a host sets each
// grid's reconciliation interval to at least this, and the round robin of
// reads then gives every lane its turn within it. Open lanes are counted
// when it is called (the executor's own lane only when no other is open).
func (e *Executor) MinReconcileInterval(ops ...string) time.Duration {
	s := e.sched
	s.mu.Lock()
	lanes := len(s.lanes) - 1
	s.mu.Unlock()
	lanes = max(lanes, 1)
	var worst time.Duration
	for i, w := range e.limits.wins {
		units := 0
		for _, op := range ops {
			o, ok := opByName(op)
			if !ok {
				o = opNamed
			}
			units += w.unitsOf(o, op, 0)
		}
		if units == 0 {
			continue
		}
		r := e.limits.readRate(i)
		if r <= 0 {
			continue
		}
		d := time.Duration(float64(units*lanes) / r * float64(time.Second))
		worst = max(worst, d)
	}
	return worst
}
