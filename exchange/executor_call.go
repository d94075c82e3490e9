package exchange

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// runCall sends fn within the limits through lane l, retrying retryable
// errors.
func runCall[T any](ctx context.Context, l *Lane, cs callSpec, fn func(context.Context) (T, error)) (T, error) {
	var zero T
	e := l.x
	if err := l.enter(cs.op); err != nil {
		return zero, e.fail(fmt.Errorf("exchange: %s %s: %w", cs.opName(), cs.clientID, err))
	}
	defer l.leave()
	sendBy := e.sendBy(ctx)
	valid := validFrom(ctx)
	for attempt := 1; ; attempt++ {
		j, err := e.admit(ctx, l, cs, attempt, sendBy, valid)
		if err != nil {
			return zero, e.fail(notSent(cs, err))
		}
		shared := false
		var v T
		if j.member() {
			// Another call sends the request this one joined.
			var res any
			res, err = e.sched.awaitFlight(ctx, j)
			switch {
			case errors.Is(err, errLeaderGone):
				attempt--
				continue
			case err == nil:
				e.stats.coalesced.Add(1)
				return joined[T](res), nil
			case ctx.Err() != nil && errors.Is(err, ctx.Err()):
				return zero, e.fail(fmt.Errorf("exchange: %s %s: waiting for a shared read: %w", cs.opName(), cs.symbol, err))
			}
			e.stats.coalesced.Add(1)
			shared = true
		} else {
			if err := e.sendable(l, cs, sendBy, valid); err != nil {
				e.sched.release(j)
				e.sched.finish(j, nil, nil, true)
				return zero, e.fail(err)
			}
			sentAt := e.clock.Now()
			tctx, cancel := context.WithTimeout(ctx, e.timeout)
			var all any
			v, all, err = sendShared(j.callContext(tctx), e, j, cs.symbol, fn)
			cancel()
			e.sched.release(j)
			if j.wide {
				e.stats.countRequest(callSpec{op: opAllPositions})
			} else {
				e.stats.countRequest(cs)
			}
			// An error of the caller's own ending is not an answer the
			// calls that joined it may share: they queue again.
			e.sched.finish(j, all, err, err != nil && ctx.Err() != nil)
			if err == nil {
				return v, nil
			}
			if cs.op.mutating() && outcomeUnknown(err) {
				return zero, e.unknown(cs, attempt, sentAt, err)
			}
		}
		wait, again := e.retryDelay(ctx, cs, attempt, err, shared)
		if !again {
			return zero, e.fail(execGiveUp(cs, attempt, err))
		}
		if serr := execSleep(ctx, e.clock, wait); serr != nil {
			return zero, e.fail(notSent(cs, execAbandon(cs, attempt, err, serr, wait)))
		}
	}
}

// admit waits for the rate limiter and reports the wait. A request with a
// send deadline (sendBy, zero for none) is refused at once when the limiter
// would admit it only after that.
//
// An admitted request counts as on its way until the caller releases its
// job's demand ([limiterSet.release]) once it is answered or given up.
func (e *Executor) admit(ctx context.Context, l *Lane, cs callSpec, attempt int, sendBy time.Time, valid func() bool) (*job, error) {
	j := &job{x: e, lane: l, class: classOf(cs.op), sendBy: sendBy, valid: valid}
	j.d = e.limits.demandInto(j.buf[:], cs.op, cs.named, cs.orders)
	j.share = shareKeyOf(cs, !sendBy.IsZero(), valid != nil)
	if j.class == classPlace {
		j.orders = max(cs.orders, 1)
	}
	waited, err := e.sched.enqueue(ctx, j, attempt > 1)
	if waited > 0 {
		e.stats.waits.Add(1)
		e.stats.waitTime.Add(int64(waited))
		e.observe(ExecutorEventRateLimitWait, cs, attempt, waited, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("exchange: %s %s: %w", cs.opName(), cs.symbol, err)
	}
	return j, nil
}

// callCtx is the context an attempt passes to the adapter: the call's
// context with the executor's timeout, and the attempt's job as its
// [UsageReporter] (what [WithUsageReporter] would add). It lives in the
// job, so it costs the request no allocation of its own.
type callCtx struct {
	context.Context
	j *job
}

// Value answers the usage reporter's key with the job and any other key
// from the call's context.
func (c *callCtx) Value(key any) any {
	if _, ok := key.(usageKey); ok {
		return c.j
	}
	return c.Context.Value(key)
}

// callContext returns j's attempt context over ctx.
func (j *job) callContext(ctx context.Context) context.Context {
	j.cc = callCtx{Context: ctx, j: j}
	return &j.cc
}
