package exchange

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// AllPositionsReader is an optional capability of an adapter: one request
// that returns the positions of every symbol of the account (Binance: GET
// /fapi/v3/positionRisk without a symbol). A symbol absent from the answer
// has no position. With it, an [Executor] serves two or more Positions
// calls for different symbols that wait at the same time with one
// AllPositions read (see coalesced reads in [Executor]), charged as
// [OpAllPositions].
type AllPositionsReader interface {
	AllPositions(ctx context.Context) ([]Position, error)
}

// shareKey identifies reads that may share one request: the operation and
// its symbol. ok is false for a read that never joins another.
type shareKey struct {
	symbol string
	op     execOp
	ok     bool
}

// shareKeyOf returns the key of a call under the rule above.
func shareKeyOf(cs callSpec, sendBy bool, valid bool) shareKey {
	if sendBy || valid || cs.own {
		return shareKey{}
	}
	switch cs.op {
	case opAccount:
		return shareKey{op: opAccount, ok: true}
	case opPositions, opOpenOrders, opRules:
		return shareKey{op: cs.op, symbol: cs.symbol, ok: true}
	}
	return shareKey{}
}

// flight is one admitted read and the calls that joined it. Its fields
// after leader and wide are guarded by the scheduler's lock.
type flight struct {
	leader  *job
	wide    bool // the leader sends AllPositions; each caller takes its symbol's rows
	members []*job
	done    bool
	gone    bool // the leader got no answer of theirs: members queue again
	v       any  // the answer, which nobody changes: members take copies
	err     error
}

// errLeaderGone: the request a call joined was not sent or not answered
// for reasons of its sender's own (its context ended); the call queues
// again.
var errLeaderGone = errors.New("the coalesced request's sender went away")

// shareAddLocked counts a queued shareable job (d +1 on entry, -1 on exit).
func (s *scheduler) shareAddLocked(j *job, d int) {
	if !j.share.ok {
		return
	}
	if s.shareN == nil {
		s.shareN = map[shareKey]int{}
	}
	n := s.shareN[j.share] + d
	if n <= 0 {
		delete(s.shareN, j.share)
		if j.share.op == opPositions {
			s.posKeys--
		}
		return
	}
	if n == 1 && d > 0 && j.share.op == opPositions {
		s.posKeys++
	}
	s.shareN[j.share] = n
}

// shapeLocked fixes the demand of a queued read before the limiter sees
// it: an all-positions read when two or more symbols' Positions calls wait,
// the adapter can read them all at once, and the one read costs no more in
// any window than the per-symbol reads it replaces; else the job's own.
func (s *scheduler) shapeLocked(j *job) {
	if !j.share.ok || j.share.op != opPositions || j.x.allPos == nil {
		return
	}
	wide := s.posKeys >= 2
	if wide {
		for _, w := range s.lim.wins {
			if w.unitsOf(opAllPositions, "", 0) > w.unitsOf(opPositions, "", 0)*s.posKeys {
				wide = false
				break
			}
		}
	}
	if wide == j.wide {
		return
	}
	j.wide = wide
	op := opPositions
	if wide {
		op = opAllPositions
	}
	j.d = s.lim.demandInto(j.buf[:], op, "", 0)
}

// joinLocked makes j, just admitted at its time j.at, the sender of a
// flight when other calls wait to share it, and takes them out of their
// queues as served.
func (s *scheduler) joinLocked(j *job) {
	if !j.share.ok || (!j.wide && s.shareN[j.share] == 0) {
		return
	}
	fl := &flight{leader: j, wide: j.wide}
	for _, l := range s.lanes {
		for _, k := range l.q[classRead] {
			if k.share.ok && k.share.op == j.share.op && (fl.wide || k.share.symbol == j.share.symbol) {
				fl.members = append(fl.members, k)
			}
		}
	}
	if len(fl.members) == 0 && !fl.wide {
		return
	}
	j.fl = fl
	for _, k := range fl.members {
		l := k.lane
		l.removeLocked(k)
		k.state, k.at, k.fl = jobAdmitted, j.at, fl
		l.st.admitted++
		l.st.joined++
		if wait := j.at.Sub(k.enq); wait > 0 {
			l.st.waits++
			l.st.waitTime += wait
			l.st.maxWait = max(l.st.maxWait, wait)
		}
		l.served[1]++
		l.seen[1] = true
		if s.keeper == k {
			s.keeper = nil
		}
		if k.w != nil {
			k.w.Wake()
		}
	}
}

// member reports whether j joined another call's request.
func (j *job) member() bool { return j.fl != nil && j.fl.leader != j }

// finish ends j's flight, when j leads one: with the answer v (or err)
// for every member, or — gone — sending them back to their queues. v must
// be a value the leader's caller never sees (a copy, or the all-positions
// answer): members take their own copies of it.
func (s *scheduler) finish(j *job, v any, err error, gone bool) {
	fl := j.fl
	if fl == nil || fl.leader != j {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if fl.done {
		return
	}
	fl.done, fl.gone, fl.v, fl.err = true, gone, v, err
	for _, m := range fl.members {
		if m.w != nil {
			m.w.Wake()
		}
	}
}

// shareValue is one caller's copy of a shared answer: its symbol's rows of
// an all-positions read, else a copy of the list (or of the account's
// balances) so that callers never share memory.
func shareValue(fl *flight, v any, symbol string) any {
	switch x := v.(type) {
	case []Position:
		if fl.wide {
			return positionsOf(x, symbol)
		}
		return slices.Clone(x)
	case []Order:
		return slices.Clone(x)
	case Account:
		x.Balances = slices.Clone(x.Balances)
		return x
	}
	return v
}

// positionsOf returns the rows of symbol in all, in a new slice (empty, not
// nil, when the symbol has no position).
func positionsOf(all []Position, symbol string) []Position {
	out := make([]Position, 0, 2)
	for _, p := range all {
		if p.Symbol == symbol {
			out = append(out, p)
		}
	}
	return out
}

// awaitFlight waits until the request j joined is answered, and returns
// the answer (as a value of the call's type), the shared error, or
// errLeaderGone; or ctx's error when the caller gives up first.
func (s *scheduler) awaitFlight(ctx context.Context, j *job) (any, error) {
	fl := j.fl
	for {
		s.mu.Lock()
		if fl.done {
			s.mu.Unlock()
			switch {
			case fl.gone:
				return nil, errLeaderGone
			case fl.err != nil:
				return nil, fl.err
			}
			return shareValue(fl, fl.v, j.share.symbol), nil
		}
		if j.w == nil {
			j.w = newExecWaiter(s.clk)
		}
		w := j.w
		s.mu.Unlock()
		if _, err := w.Wait(ctx, -1); err != nil {
			return nil, err
		}
	}
}

// sendShared sends the request of leader j: AllPositions for a wide
// flight (the caller's own rows returned, as T), else fn. v is the caller's
// answer and shared what the flight hands its members (nil without a
// flight): a copy of v, or the all-positions answer.
func sendShared[T any](ctx context.Context, e *Executor, j *job, symbol string, fn func(context.Context) (T, error)) (v T, shared any, err error) {
	if j.fl == nil {
		v, err = fn(ctx)
		return v, nil, err
	}
	if !j.fl.wide {
		v, err = fn(ctx)
		if err != nil {
			return v, nil, err
		}
		return v, shareValue(j.fl, v, symbol), nil
	}
	all, err := e.allPos.AllPositions(ctx)
	if err != nil {
		return v, nil, err
	}
	own, ok := any(positionsOf(all, symbol)).(T)
	if !ok {
		return v, nil, fmt.Errorf("exchange: all positions answered a call of another type: %w", ErrUnsupported)
	}
	return own, all, nil
}

// joined returns the answer a member got, as the call's type.
func joined[T any](v any) T {
	t, _ := v.(T)
	return t
}
