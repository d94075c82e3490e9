package exchange

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"
)

// ExecutorOption configures an [Executor] in [NewExecutor]. Options are
// validated together after all of them are applied; every bad value is
// reported at once, naming the option and the value. An option is an
// immutable value: it may be reused for several executors.
type ExecutorOption interface {
	apply(*executorConfig)
}

type executorOptionFunc func(*executorConfig)

func (f executorOptionFunc) apply(c *executorConfig) { f(c) }

// executorConfig is what the options set.
type executorConfig struct {
	limits     []RateLimit // nil: the adapter's, or the default
	limitsSet  bool
	windows    []LimitWindow
	windowsSet bool
	timeout    time.Duration
	retry      RetryPolicy
	queryShare int
	clock      ExecutorClock
	rng        *rand.Rand
	rngSet     bool
	log        *slog.Logger
	obs        ExecutorObserver
}

// Defaults of [NewExecutor].
const (
	// DefaultRequestTimeout is the per-request deadline.
	DefaultRequestTimeout = 10 * time.Second
	// DefaultReceiveWindow is the receive window assumed for an adapter that
	// does not implement [ReceiveWindower]: a conservative minute, since a
	// too-short window would let a query's "not found" free a slot while
	// its order is still on its way.
	DefaultReceiveWindow = 60 * time.Second
	// DefaultQueryShare is the percentage of each request-weight window
	// that reads get; orders get the rest (see [WithQueryShare]).
	DefaultQueryShare = 50
)

// RetryPolicy says how an [Executor] retries a request that failed with a
// [Retryable] error. The n-th retry (n = 1, 2, …) waits
// min(MaxBackoff, BaseBackoff·2ⁿ⁻¹) less a uniformly random part of up to
// Jitter of it; a rate-limit refusal waits its RetryAfter instead, when the
// venue gave one. The zero value is not valid; start from
// [DefaultRetryPolicy]. It is a plain value, safe to copy.
type RetryPolicy struct {
	// MaxAttempts is the number of attempts including the first; 1 disables
	// retries.
	MaxAttempts int
	// BaseBackoff is the wait before the first retry.
	BaseBackoff time.Duration
	// MaxBackoff caps every wait.
	MaxBackoff time.Duration
	// Jitter is the largest fraction of a wait, in [0, 1], drawn at random
	// and taken off it, so that callers that failed together do not retry
	// together.
	Jitter float64
}

// DefaultRetryPolicy returns 4 attempts, backoff from 200 ms doubling up to
// 5 s, jitter 20 %.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxAttempts: 4, BaseBackoff: 200 * time.Millisecond, MaxBackoff: 5 * time.Second, Jitter: 0.2}
}

func (p RetryPolicy) problems() []error {
	var errs []error
	if p.MaxAttempts < 1 {
		errs = append(errs, fmt.Errorf("WithRetryPolicy: MaxAttempts %d: must be at least 1", p.MaxAttempts))
	}
	if p.BaseBackoff <= 0 {
		errs = append(errs, fmt.Errorf("WithRetryPolicy: BaseBackoff %s: must be positive", p.BaseBackoff))
	}
	if p.MaxBackoff < p.BaseBackoff {
		errs = append(errs, fmt.Errorf("WithRetryPolicy: MaxBackoff %s: must be at least BaseBackoff %s", p.MaxBackoff, p.BaseBackoff))
	}
	if !(p.Jitter >= 0 && p.Jitter <= 1) { // also refuses NaN
		errs = append(errs, fmt.Errorf("WithRetryPolicy: Jitter %v: must be in [0, 1]", p.Jitter))
	}
	return errs
}

// ExecutorClock is the time source of an [Executor]: when requests are sent
// and how long to wait. Tests inject a fake one so that waits are instant and
// the schedule exact. Context deadlines stay wall-clock times: a wait is
// refused when it is longer than the time left before the deadline.
// Implementations must be safe for concurrent use.
type ExecutorClock interface {
	// Now returns the current time.
	Now() time.Time
	// Sleep waits for d, or until ctx ends, and then returns ctx's error.
	Sleep(ctx context.Context, d time.Duration) error
}

// executorWallClock is the wall clock.
type executorWallClock struct{}

func (executorWallClock) Now() time.Time { return time.Now() }

func (executorWallClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// WithRateLimits replaces the windows the executor enforces (the adapter's
// declaration, or [DefaultRateLimits]) with limits. Weights still come from
// the adapter's [RateLimitDeclarer] when it has one. At least one window is
// required.
func WithRateLimits(limits ...RateLimit) ExecutorOption {
	cp := append([]RateLimit(nil), limits...)
	return executorOptionFunc(func(c *executorConfig) { c.limits, c.limitsSet = cp, true })
}

// WithLimits replaces the windows the executor enforces (the adapter's
// declaration, [WithRateLimits], or [DefaultRateLimits]) with windows, in
// the full form of [LimitWindow]. At least one window is required.
func WithLimits(windows ...LimitWindow) ExecutorOption {
	cp := cloneWindows(windows)
	return executorOptionFunc(func(c *executorConfig) { c.windows, c.windowsSet = cp, true })
}

// WithRequestTimeout sets the deadline of each request sent to the venue
// (default [DefaultRequestTimeout]). A place or cancel that runs out of it
// has an unknown outcome. It must be positive.
func WithRequestTimeout(d time.Duration) ExecutorOption {
	return executorOptionFunc(func(c *executorConfig) { c.timeout = d })
}

// WithRetryPolicy sets how retryable errors are retried (default
// [DefaultRetryPolicy]).
func WithRetryPolicy(p RetryPolicy) ExecutorOption {
	return executorOptionFunc(func(c *executorConfig) { c.retry = p })
}

// WithQueryShare sets the percentage, 1 to 100, of each window that both
// orders and reads count in (a request-weight window) that reads —
// everything but place, cancel and their batches — get (default
// [DefaultQueryShare]); orders get the rest. Each side may use only its
// part, so reconciliation never starves order placement and orders never
// starve reconciliation ([Executor.MinReconcileInterval] budgets the
// reads' part). 100 lets both use the whole window, first come first
// served.
func WithQueryShare(percent int) ExecutorOption {
	return executorOptionFunc(func(c *executorConfig) { c.queryShare = percent })
}

// WithExecutorClock sets the executor's clock (default: the wall clock).
func WithExecutorClock(clk ExecutorClock) ExecutorOption {
	return executorOptionFunc(func(c *executorConfig) { c.clock = clk })
}

// WithExecutorRand sets the random source of the retry jitter (default: a
// PCG seeded from the executor's clock at construction). The executor
// serialises its use of r; r must not be used elsewhere.
func WithExecutorRand(r *rand.Rand) ExecutorOption {
	return executorOptionFunc(func(c *executorConfig) { c.rng, c.rngSet = r, true })
}

// WithExecutorLogger sets the logger for retries and rate-limit pauses; nil
// (the default) discards.
func WithExecutorLogger(l *slog.Logger) ExecutorOption {
	return executorOptionFunc(func(c *executorConfig) { c.log = l })
}

// WithExecutorObserver sets an observer called for every retry, rate-limit
// wait, rate-limit pause and unknown outcome; nil (the default) is none.
func WithExecutorObserver(o ExecutorObserver) ExecutorOption {
	return executorOptionFunc(func(c *executorConfig) { c.obs = o })
}

// validate reports every bad option value at once.
func (c *executorConfig) validate() []error {
	var errs []error
	if c.limitsSet {
		if len(c.limits) == 0 {
			errs = append(errs, fmt.Errorf("WithRateLimits: no window given"))
		}
		if err := validateRateLimits("WithRateLimits: limits", c.limits); err != nil {
			errs = append(errs, err)
		}
	}
	if c.windowsSet {
		if len(c.windows) == 0 {
			errs = append(errs, fmt.Errorf("WithLimits: no window given"))
		}
		if err := validateLimitWindows("WithLimits: windows", c.windows); err != nil {
			errs = append(errs, err)
		}
	}
	if c.timeout <= 0 {
		errs = append(errs, fmt.Errorf("WithRequestTimeout: %s: must be positive", c.timeout))
	}
	errs = append(errs, c.retry.problems()...)
	if c.queryShare < 1 || c.queryShare > 100 {
		errs = append(errs, fmt.Errorf("WithQueryShare: %d: must be from 1 to 100", c.queryShare))
	}
	if c.clock == nil {
		errs = append(errs, fmt.Errorf("WithExecutorClock: nil clock"))
	}
	if c.rngSet && c.rng == nil {
		errs = append(errs, fmt.Errorf("WithExecutorRand: nil *rand.Rand"))
	}
	return errs
}
