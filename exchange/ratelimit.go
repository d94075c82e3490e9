package exchange

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Scopes of a [RateLimit] window.
const (
	// ScopeOrder windows count order placements and cancels, one unit per
	// order (a batch of n orders counts n).
	ScopeOrder = "order"
	// ScopeRequest windows count every request's weight, as the venue's
	// [RateLimitDeclarer.Weight] gives it.
	ScopeRequest = "request"
)

// Operation names: the op argument of [RateLimitDeclarer.Weight], the keys of
// [ExecutorStats.Requests] and the Op of an [ExecutorEvent].
const (
	OpPlace       = "place"
	OpCancel      = "cancel"
	OpQuery       = "query"
	OpOpenOrders  = "openOrders"
	OpFills       = "fills"
	OpAccount     = "account"
	OpPositions   = "positions"
	OpRules       = "rules"
	OpBatchPlace  = "batchPlace"
	OpBatchCancel = "batchCancel"
)

// ErrWaitExceedsDeadline: the rate limiter (or a retry's wait) would hold a
// request past its context's deadline, so it was not sent. Errors with it
// also match [context.DeadlineExceeded].
var ErrWaitExceedsDeadline = errors.New("rate-limit wait would exceed the context deadline")

// DefaultRateLimits returns the windows an [Executor] enforces for an adapter
// that does not implement [RateLimitDeclarer] (or declares no window): 10
// orders per second and 1,200 request weight per minute.
//
// They are deliberately conservative, because exceeding a venue's limit
// costs far more than waiting: Bitget allows about 10 orders per second per
// symbol, the strictest of the venues we target; Binance USDⓈ-M allows 300
// orders per 10 s and 2,400 request weight per minute, but the weight is per
// IP and the IP may be shared with other programs, so half of it is claimed
// here; and Binance bans an IP that keeps sending after a 429, for 2 minutes
// up to 3 days. A venue that allows more (the seed system's 25 orders per
// second with a burst of 30, say) declares it through [RateLimitDeclarer].
func DefaultRateLimits() []RateLimit {
	return []RateLimit{
		{Scope: ScopeOrder, Interval: time.Second, Limit: 10},
		{Scope: ScopeRequest, Interval: time.Minute, Limit: 1200},
	}
}

// defaultWeight is the request weight of op for an adapter that declares
// none: the weights of the Binance endpoints, rounded up.
func defaultWeight(op string) int {
	switch op {
	case OpFills, OpAccount, OpPositions, OpBatchPlace, OpBatchCancel:
		return 5
	}
	return 1
}

// validateRateLimits reports every malformed window of limits at once; src
// names where they came from.
func validateRateLimits(src string, limits []RateLimit) error {
	var errs []error
	for i, w := range limits {
		if w.Scope != ScopeOrder && w.Scope != ScopeRequest {
			errs = append(errs, fmt.Errorf("%s[%d].Scope %q: must be %q or %q", src, i, w.Scope, ScopeOrder, ScopeRequest))
		}
		if w.Interval <= 0 {
			errs = append(errs, fmt.Errorf("%s[%d].Interval %s: must be positive", src, i, w.Interval))
		}
		if w.Limit <= 0 {
			errs = append(errs, fmt.Errorf("%s[%d].Limit %d: must be positive", src, i, w.Limit))
		}
	}
	return errors.Join(errs...)
}

// bucketFor returns the token bucket that enforces a window of at most limit
// units per interval, where one request may take up to maxUnit units.
//
// A token bucket with burst b refilling at r per second lets through, in a
// half-open span of length T, fewer than b + r·T units (the tokens it starts
// with plus those it gains before the span ends). The obvious choice, burst
// N at N/T, therefore admits up to 2N−1 units in one window — a full burst
// at its start and a refill during it — and a venue counting N per window
// would refuse the excess. Here b + r·T = N + 1 − refillSlack, so any
// half-open window of length T sees at most N units, and so does every
// fixed window the venue may count in; the slack absorbs the floating-point
// error of the bucket's arithmetic. The burst is half the window (at least
// maxUnit), the sustained rate the other half.
func bucketFor(limit int, interval time.Duration, maxUnit int) (rate.Limit, int) {
	burst := (limit + 1) / 2
	if burst < maxUnit {
		burst = maxUnit
	}
	refill := float64(limit+1-burst) - refillSlack
	return rate.Limit(refill / interval.Seconds()), burst
}

// refillSlack is the part of a token per window that a bucket gives up so
// that rounding can never admit a unit early.
const refillSlack = 1e-3

// execBudget says which limiters a request passes.
type execBudget uint8

const (
	// budgetOrder: place and cancel. Order windows count the orders, request
	// windows the weight.
	budgetOrder execBudget = iota + 1
	// budgetQuery: every other call. Request windows count the weight, and so
	// does the query share of each request window, which keeps queries from
	// taking the orders' part of the shared weight.
	budgetQuery
)

// limiterSet is every window of one executor: a request is admitted when all
// the windows of its budget admit it at the same instant, and it takes its
// units from all of them at that instant, so each bucket sees the request
// when the venue does. Admission is not first-come first-served: a waiter
// tries again at the earliest time it could pass, and the first to try
// wins. Time is always an argument; the set reads no clock. Safe for
// concurrent use.
type limiterSet struct {
	mu          sync.Mutex
	order       []*rate.Limiter // order windows
	request     []*rate.Limiter // request windows, shared by orders and queries
	query       []*rate.Limiter // the query share of each request window
	pausedUntil time.Time       // no request is admitted before this (venue rate-limit refusal)
	last        time.Time       // latest time seen: buckets are only ever advanced
}

// limiterParams are the largest units one request takes, per kind of window.
type limiterParams struct {
	maxOrders      int // orders of one request (the batch size)
	maxWeight      int // weight of any request
	maxQueryWeight int // weight of any query
	queryShare     int // percent of each request window that queries may use
}

// newLimiterSet builds the buckets of windows, which must be valid.
func newLimiterSet(windows []RateLimit, p limiterParams) *limiterSet {
	s := &limiterSet{}
	for _, w := range windows {
		switch w.Scope {
		case ScopeOrder:
			r, b := bucketFor(w.Limit, w.Interval, p.maxOrders)
			s.order = append(s.order, rate.NewLimiter(r, b))
		case ScopeRequest:
			r, b := bucketFor(w.Limit, w.Interval, p.maxWeight)
			s.request = append(s.request, rate.NewLimiter(r, b))
			if p.queryShare < 100 {
				share := w.Limit * p.queryShare / 100
				share = max(share, p.maxQueryWeight, 1)
				r, b := bucketFor(share, w.Interval, p.maxQueryWeight)
				s.query = append(s.query, rate.NewLimiter(r, b))
			}
		}
	}
	return s
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

// forEach calls f for every limiter of budget b with the units it takes.
func (s *limiterSet) forEach(b execBudget, orders, weight int, f func(l *rate.Limiter, n int)) {
	if b == budgetOrder && orders > 0 {
		for _, l := range s.order {
			f(l, orders)
		}
	}
	if weight > 0 {
		for _, l := range s.request {
			f(l, weight)
		}
		if b == budgetQuery {
			for _, l := range s.query {
				f(l, weight)
			}
		}
	}
}

// take admits a request at now if every window of its budget allows it, and
// then takes its units. Otherwise it takes nothing and returns the earliest
// time worth trying again. at is the time of admission: now, or the latest
// time the set has seen if the clock stepped back.
func (s *limiterSet) take(now time.Time, b execBudget, orders, weight int) (at time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := now
	if t.Before(s.last) {
		t = s.last
	}
	s.last = t
	wake := t
	if s.pausedUntil.After(wake) {
		wake = s.pausedUntil
	}
	s.forEach(b, orders, weight, func(l *rate.Limiter, n int) {
		if e := earliestAdmit(l, t, n); e.After(wake) {
			wake = e
		}
	})
	if wake.After(t) {
		return wake, false
	}
	s.forEach(b, orders, weight, func(l *rate.Limiter, n int) { l.AllowN(t, n) })
	return t, true
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

// wait blocks, sleeping on clk, until the request is admitted, and returns
// how long it waited by clk. It fails without waiting when the wait would
// pass ctx's deadline, and when ctx ends while it waits.
func (s *limiterSet) wait(ctx context.Context, clk ExecutorClock, b execBudget, orders, weight int, sendBy time.Time) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	start := clk.Now()
	for slept := false; ; slept = true {
		now := clk.Now()
		at, ok := s.take(now, b, orders, weight)
		if ok {
			if !slept {
				return 0, nil // admitted at once: no wait to count
			}
			return max(at.Sub(start), 0), nil
		}
		d := at.Sub(now)
		if !sendBy.IsZero() && at.After(sendBy) {
			return max(now.Sub(start), 0), fmt.Errorf("%w: the rate limits admit it only in %s", errSendDeadlinePassed, d)
		}
		if dl, has := ctx.Deadline(); has && d > time.Until(dl) {
			return max(now.Sub(start), 0), fmt.Errorf("%w (%s more): %w", ErrWaitExceedsDeadline, d, context.DeadlineExceeded)
		}
		if err := clk.Sleep(ctx, d); err != nil {
			return max(clk.Now().Sub(start), 0), fmt.Errorf("waiting %s for the rate limiter: %w", d, err)
		}
	}
}
