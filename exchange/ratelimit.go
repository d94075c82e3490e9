package exchange

import (
	"errors"
	"fmt"
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
	// OpAllPositions is one read of every symbol's positions
	// ([AllPositionsReader]), which the executor sends in place of several
	// waiting Positions calls. A window that lists OpPositions but not
	// OpAllPositions charges it what a positions read costs there; the
	// legacy form weighs it at least as much as OpPositions.
	OpAllPositions = "allPositions"
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
	case OpFills, OpAccount, OpPositions, OpAllPositions, OpBatchPlace, OpBatchCancel:
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
