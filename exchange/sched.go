package exchange

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
)

// jobClass orders the requests of one lane.
type jobClass uint8

const (
	// classUrgent: cancels and queries by client order ID (resolving an
	// unknown outcome). They go before the lane's placements.
	classUrgent jobClass = iota
	// classPlace: placements, single or batch; the lane's bound counts them.
	classPlace
	// classRead: every other request (reconciliation, account, rules, named
	// operations), served in a round of its own.
	classRead
	numClasses
)

// classOf returns the class of op.
func classOf(op execOp) jobClass {
	switch op {
	case opCancel, opBatchCancel, opQuery:
		return classUrgent
	case opPlace, opBatchPlace:
		return classPlace
	}
	return classRead
}

// jobState is where a queued request is.
type jobState uint8

const (
	jobQueued jobState = iota
	jobAdmitted
	jobDropped
)

// job is one request waiting for admission.
type job struct {
	lane     *Lane
	class    jobClass
	wide     bool // d is an all-positions read's (shapeLocked)
	d        demand
	orders   int       // placement orders it carries (the lane's bound counts them)
	sendBy   time.Time // zero: no send deadline
	deadline time.Time // the context's wall-clock deadline; zero: none
	valid    func() bool
	enq      time.Time
	w        ExecutorWaiter
	state    jobState
	err      error
	at       time.Time // when it was admitted
	probes   uint64    // the windows it is the probe of (limiterSet.take)
	keeperAt time.Time // not zero: this job keeps time for the queue and wakes then
	x        *Executor
	buf      [4]int  // room for d.units
	cc       callCtx // the context of its attempt (callContext)
	share    shareKey
	fl       *flight // the coalesced request it sends or joined; nil: its own
}

// ReportUsage passes the usage reports of the job's answer to its
// executor: the job is the UsageReporter of its call's context.
func (j *job) ReportUsage(us ...Usage) { j.x.reportUsage(j.d, us) }

// scheduler admits the requests of every lane through the limiter, fairly
// (see pumpLocked) — one round for orders (a lane's cancels and queries
// before its placements) and one for reads. It starts no goroutine: queued
// requests wait on their callers' goroutines, and one of them (the keeper)
// sleeps until the limiter can admit the next, then admits every request it
// can in fair order and wakes them. Safe for concurrent use.
type scheduler struct {
	mu     sync.Mutex
	lim    *limiterSet
	clk    ExecutorClock
	lanes  []*Lane
	cursor [2]*Lane  // the lane served last, per round: orders, reads
	level  [2]uint64 // per round, how much the least-served waiting lane had been served at the last admission
	keeper *job
	// Scratch of pumpLocked: the lanes in fair order, and the windows held
	// for the first lane's request.
	cands    []*Lane
	reserved []bool
	// Queued shareable reads by key, and how many keys are Positions
	// calls (symbols), for coalescing (coalesce.go).
	shareN  map[shareKey]int
	posKeys int
}

// errors of a request that was dropped before it was sent.
var (
	errInvalidated = errors.New("its validity condition no longer holds")
)

// enqueue queues j on its lane, admits what it can, and waits until j is
// admitted or dropped. It returns how long j waited (zero when admitted at
// once).
func (s *scheduler) enqueue(ctx context.Context, j *job, retry bool) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if dl, ok := ctx.Deadline(); ok {
		j.deadline = dl
	}
	l := j.lane
	s.mu.Lock()
	if err := l.refuseLocked(j, retry); err != nil {
		s.mu.Unlock()
		return 0, err
	}
	now := s.clk.Now()
	j.enq = now
	l.pushLocked(j)
	s.pumpLocked(now)
	if j.state != jobQueued {
		s.mu.Unlock()
		return s.result(j)
	}
	j.w = newExecWaiter(s.clk)
	s.mu.Unlock()
	return s.await(ctx, j)
}

// result is the outcome of a job that left the queue.
func (s *scheduler) result(j *job) (time.Duration, error) {
	if j.state == jobDropped {
		return max(s.clk.Now().Sub(j.enq), 0), j.err
	}
	return max(j.at.Sub(j.enq), 0), nil
}

// await waits on j's waiter until j leaves the queue.
func (s *scheduler) await(ctx context.Context, j *job) (time.Duration, error) {
	for {
		s.mu.Lock()
		if j.state != jobQueued {
			s.mu.Unlock()
			return s.result(j)
		}
		now := s.clk.Now()
		d := time.Duration(-1)
		if !j.keeperAt.IsZero() {
			d = max(j.keeperAt.Sub(now), 0)
		}
		if !j.sendBy.IsZero() {
			// Wake just after the send deadline to give the request up.
			if ds := max(j.sendBy.Sub(now)+1, 0); d < 0 || ds < d {
				d = ds
			}
		}
		s.mu.Unlock()
		woken, err := j.w.Wait(ctx, d)
		if err != nil {
			s.mu.Lock()
			if j.state == jobQueued {
				s.dropLocked(j, err, dropAbandoned)
				s.pumpLocked(s.clk.Now())
			}
			s.mu.Unlock()
			if j.state == jobAdmitted {
				// Admitted as the context ended: it is not sent either,
				// and calls that joined it queue again.
				if !j.member() {
					s.release(j)
					s.finish(j, nil, nil, true)
				}
				return max(j.at.Sub(j.enq), 0), err
			}
			return s.result(j)
		}
		if !woken {
			s.mu.Lock()
			now := s.clk.Now()
			s.pumpLocked(now)
			if j.state == jobQueued && !j.sendBy.IsZero() && now.After(j.sendBy) {
				s.dropLocked(j, errSendDeadlinePassed, dropExpired)
				s.pumpLocked(now)
			}
			s.mu.Unlock()
		}
	}
}

// release marks admitted job j as answered, or never sent: its units are no
// longer on their way. When j was a window's probe, the requests waiting
// for its answer are admitted now.
func (s *scheduler) release(j *job) {
	if s.lim.release(j.d, j.probes) {
		s.mu.Lock()
		s.pumpLocked(s.clk.Now())
		s.mu.Unlock()
	}
}

// dropReason says why a queued request left without being sent.
type dropReason uint8

const (
	dropExpired   dropReason = iota // its send deadline passed
	dropInvalid                     // its validity condition failed
	dropClosed                      // its lane was closed or drained
	dropAbandoned                   // its context ended
	dropDeadline                    // the wait would pass its context's deadline
)

// dropLocked takes j out of the queue with err.
func (s *scheduler) dropLocked(j *job, err error, why dropReason) {
	j.lane.removeLocked(j)
	j.state, j.err = jobDropped, err
	j.lane.st.dropped[why]++
	if s.keeper == j {
		s.keeper = nil
	}
	if j.w != nil {
		j.w.Wake()
	}
}

// admitLocked takes j out of the queue, admitted at at.
func (s *scheduler) admitLocked(j *job, at time.Time) {
	l := j.lane
	l.removeLocked(j)
	j.state, j.at = jobAdmitted, at
	l.st.admitted++
	if j.class == classPlace {
		l.st.placed++
	}
	if wait := at.Sub(j.enq); wait > 0 {
		l.st.waits++
		l.st.waitTime += wait
		l.st.maxWait = max(l.st.maxWait, wait)
	}
	if s.keeper == j {
		s.keeper = nil
	}
	if j.w != nil {
		j.w.Wake()
	}
}

// pumpLocked admits every queued request the limiter admits at now, lane
// by lane in fair order, drops those that can no longer be sent in time,
// and makes sure one queued request keeps time for the rest.
//
// Fair order, in each of the two rounds (orders, reads): the lane served
// least so far goes first — counting the orders it placed and the other
// requests it sent — and lanes served alike take turns from the one after
// the last served. A lane that falls idle and comes back starts level with
// the least-served waiting lane, with no credit for its idle time; a new
// lane's first request goes first. When
// the first lane's next request does not fit yet (a batch waiting for room
// on a window), it holds the windows it is short of: a smaller request of
// another lane may go only through windows it does not need, so no request
// waits behind a stream of smaller ones.
func (s *scheduler) pumpLocked(now time.Time) {
	var next *job
	var nextAt time.Time
	if len(s.reserved) != len(s.lim.wins) {
		s.reserved = make([]bool, len(s.lim.wins))
	}
	for {
		progressed := false
		next, nextAt = nil, time.Time{}
		for f := range 2 {
			s.order(f)
			clear(s.reserved)
			for k, l := range s.cands {
				j := l.head(f)
				if f == 1 {
					s.shapeLocked(j)
				}
				if j.valid != nil && !j.valid() {
					s.dropLocked(j, errInvalidated, dropInvalid)
					progressed = true
					break
				}
				if s.usesReserved(j) {
					continue // it waits for the lane that holds its windows
				}
				at, probes, ok := s.lim.take(now, j.d)
				if ok {
					j.probes = probes
					s.admitLocked(j, at)
					if f == 1 {
						s.joinLocked(j)
					}
					s.level[f] = s.cands[0].served[f] // the least served of the waiting lanes
					l.served[f] += uint64(max(j.orders, 1))
					l.seen[f] = true
					s.cursor[f] = l
					progressed = true
					break
				}
				if !j.sendBy.IsZero() && at.After(j.sendBy) {
					s.dropLocked(j, fmt.Errorf("%w: the rate limits admit it only in %s", errSendDeadlinePassed, at.Sub(now)), dropExpired)
					progressed = true
					break
				}
				if !j.deadline.IsZero() && at.Sub(now) > time.Until(j.deadline) {
					s.dropLocked(j, fmt.Errorf("%w (%s more): %w", ErrWaitExceedsDeadline, at.Sub(now), context.DeadlineExceeded), dropDeadline)
					progressed = true
					break
				}
				if k == 0 {
					s.lim.short(now, j.d, s.reserved)
				}
				if next == nil || at.Before(nextAt) {
					next, nextAt = j, at
				}
			}
		}
		if !progressed {
			break
		}
	}
	clear(s.cands)
	s.cands = s.cands[:0]
	if next == nil {
		s.keeper = nil
		return
	}
	if s.keeper != nil && s.keeper.state == jobQueued {
		if !s.keeper.keeperAt.Equal(nextAt) {
			s.keeper.keeperAt = nextAt
			if s.keeper.w != nil {
				s.keeper.w.Wake()
			}
		}
		return
	}
	next.keeperAt = nextAt
	s.keeper = next
	if next.w != nil {
		next.w.Wake()
	}
	// Otherwise next is the caller's own job, not yet waiting: it keeps
	// time once it waits.
}

// order fills s.cands with the lanes that have a request waiting in round
// f, in fair order: least served first, then from the lane after the last
// one served.
func (s *scheduler) order(f int) {
	s.cands = s.cands[:0]
	n := len(s.lanes)
	start := 0
	for i, l := range s.lanes {
		if l == s.cursor[f] {
			start = i + 1
		}
	}
	for i := range n {
		if l := s.lanes[(start+i)%n]; l.head(f) != nil {
			s.cands = append(s.cands, l)
		}
	}
	if len(s.cands) > 1 {
		sort.SliceStable(s.cands, func(a, b int) bool { return s.cands[a].served[f] < s.cands[b].served[f] })
	}
}

// usesReserved reports whether j counts in a window that the first lane's
// waiting request holds.
func (s *scheduler) usesReserved(j *job) bool {
	for w, u := range j.d.units {
		if u > 0 && s.reserved[w] {
			return true
		}
	}
	return false
}

// levelLocked brings a lane whose round f was idle up to the level of the
// least-served lane waiting at the last admission, so that it gets no
// credit for its idle time; a lane never served in f goes one below it, so
// its first request goes first.
func (s *scheduler) levelLocked(l *Lane, f int) {
	lv := s.level[f]
	if !l.seen[f] && lv > 0 {
		lv--
	}
	l.served[f] = max(l.served[f], lv)
}

// removeLaneLocked takes l out of the rounds.
func (s *scheduler) removeLaneLocked(l *Lane) {
	for i, x := range s.lanes {
		if x == l {
			s.lanes = append(s.lanes[:i], s.lanes[i+1:]...)
			break
		}
	}
	for f := range s.cursor {
		if s.cursor[f] == l {
			s.cursor[f] = nil
		}
	}
}
