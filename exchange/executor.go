package exchange

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// Executor sits between the engine (or a host) and an [IExchange]: it keeps
// every request within the venue's rate limits, retries the ones that failed
// with a [Retryable] error, batches orders when the venue can, bounds each
// request with a deadline, and reports a place or cancel whose outcome is
// unknown as an [*UnknownOutcomeError] — never resending it, since the order
// may exist. Resolving it is the engine's job (a query by client order ID,
// then [Executor.ResendSafe]).
//
// Limits come from the adapter's [RateLimitDeclarer], else
// [DefaultRateLimits]; [WithRateLimits] overrides both. A request passes
// when every window of its budget admits it: places and cancels count one
// unit per order against "order" windows, and every request counts its
// weight against "request" windows, of which queries may use only their
// share ([WithQueryShare]), so that reconciliation never starves orders.
// A venue's rate-limit refusal pauses every request of the executor until
// its RetryAfter.
//
// Several engines (one per symbol) on one account share one Executor,
// because the venue's limits are per account and IP. The zero value is not
// usable: build one with [NewExecutor]. An Executor is safe for concurrent
// use and starts no goroutine; it holds no resource and needs no closing.
type Executor struct {
	ex            IExchange
	batchPlacer   BatchPlacer   // nil: orders are placed one by one
	batchCanceler BatchCanceler // nil: orders are canceled one by one
	placeChunk    int           // orders per batch place
	cancelChunk   int           // orders per batch cancel
	windows       []RateLimit
	weights       [numOps]int
	limits        *limiterSet
	timeout       time.Duration
	retry         RetryPolicy
	clock         ExecutorClock
	rngMu         sync.Mutex
	rng           *rand.Rand
	log           *slog.Logger
	obs           ExecutorObserver
	recvWindow    time.Duration
	stats         execCounters
}

// NewExecutor returns an executor for ex. It reads ex's declared rate limits,
// weights, batch sizes and receive window once, here, and reports every
// problem with them or with opts at once.
func NewExecutor(ex IExchange, opts ...ExecutorOption) (*Executor, error) {
	if ex == nil {
		return nil, errors.New("exchange: NewExecutor: nil IExchange")
	}
	cfg := executorConfig{
		timeout:    DefaultRequestTimeout,
		retry:      DefaultRetryPolicy(),
		queryShare: DefaultQueryShare,
		clock:      executorWallClock{},
	}
	var errs []error
	for i, o := range opts {
		if o == nil {
			errs = append(errs, fmt.Errorf("option %d is nil", i))
			continue
		}
		o.apply(&cfg)
	}
	errs = append(errs, cfg.validate()...)

	e := &Executor{ex: ex, timeout: cfg.timeout, retry: cfg.retry, clock: cfg.clock, obs: cfg.obs}
	decl, declares := ex.(RateLimitDeclarer)
	e.windows = cfg.limits
	if !cfg.limitsSet {
		if declares {
			e.windows = append([]RateLimit(nil), decl.RateLimits()...)
			if err := validateRateLimits(ex.Name()+": RateLimitDeclarer.RateLimits()", e.windows); err != nil {
				errs = append(errs, err)
			}
		}
		if len(e.windows) == 0 {
			e.windows = DefaultRateLimits()
		}
	}

	for op := range numOps {
		name := op.name()
		w := defaultWeight(name)
		if declares {
			w = decl.Weight(name)
		}
		if w < 0 {
			errs = append(errs, fmt.Errorf("%s: RateLimitDeclarer.Weight(%q) = %d: must not be negative", ex.Name(), name, w))
			w = 0
		}
		e.weights[op] = w
	}

	if bp, ok := ex.(BatchPlacer); ok {
		if n := bp.MaxBatch(); n < 1 {
			errs = append(errs, fmt.Errorf("%s: BatchPlacer.MaxBatch() = %d: must be at least 1", ex.Name(), n))
		} else {
			e.batchPlacer, e.placeChunk = bp, n
		}
	}
	if bc, ok := ex.(BatchCanceler); ok {
		if n := bc.MaxBatch(); n < 1 {
			errs = append(errs, fmt.Errorf("%s: BatchCanceler.MaxBatch() = %d: must be at least 1", ex.Name(), n))
		} else {
			e.batchCanceler, e.cancelChunk = bc, n
		}
	}
	// A batch holds no more orders than the burst of the smallest order
	// window (half of it; see bucketFor), so that batching never shrinks
	// the sustained rate; no request may weigh more than a request window.
	p := limiterParams{queryShare: cfg.queryShare}
	for i, w := range e.windows {
		switch w.Scope {
		case ScopeOrder:
			if w.Limit >= 1 {
				e.placeChunk = min(e.placeChunk, (w.Limit+1)/2)
				e.cancelChunk = min(e.cancelChunk, (w.Limit+1)/2)
			}
		case ScopeRequest:
			for op := range numOps {
				if e.weights[op] > w.Limit {
					errs = append(errs, fmt.Errorf("%s: weight %d of %q exceeds request window %d (limit %d per %s): it could never be sent",
						ex.Name(), e.weights[op], op.name(), i, w.Limit, w.Interval))
				}
			}
		}
	}
	p.maxOrders = max(e.placeChunk, e.cancelChunk, 1)
	for op := range numOps {
		p.maxWeight = max(p.maxWeight, e.weights[op])
		if !op.mutating() {
			p.maxQueryWeight = max(p.maxQueryWeight, e.weights[op])
		}
	}

	if len(errs) > 0 {
		return nil, fmt.Errorf("exchange: NewExecutor: %w", errors.Join(errs...))
	}

	e.limits = newLimiterSet(e.windows, p)
	e.log = cfg.log
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	e.rng = cfg.rng
	if e.rng == nil {
		e.rng = rand.New(rand.NewPCG(uint64(e.clock.Now().UnixNano()), 0x9e3779b97f4a7c15))
	}
	e.recvWindow = DefaultReceiveWindow
	if rw, ok := ex.(ReceiveWindower); ok {
		if d := rw.ReceiveWindow(); d > 0 {
			e.recvWindow = d
		}
	}
	return e, nil
}

// RateLimits returns the windows the executor enforces.
func (e *Executor) RateLimits() []RateLimit { return append([]RateLimit(nil), e.windows...) }

// ReceiveWindow is how long after sending a request the venue may still
// execute it: the adapter's [ReceiveWindower], else [DefaultReceiveWindow].
func (e *Executor) ReceiveWindow() time.Duration { return e.recvWindow }

// ResendSafe reports whether a request sent at sentAt whose outcome was
// unknown can no longer reach the venue at now: now ≥ sentAt + the receive
// window. Only then does a query that found no order prove that resending it
// cannot create a second one.
func (e *Executor) ResendSafe(sentAt, now time.Time) bool {
	return !now.Before(sentAt.Add(e.recvWindow))
}

// Stats returns a snapshot of the executor's counters.
func (e *Executor) Stats() ExecutorStats { return e.stats.snapshot() }

// Place places one order. A place whose outcome is unknown (the venue said
// so, or the deadline passed after the request may have been sent) returns
// an [*UnknownOutcomeError] and is never resent.
func (e *Executor) Place(ctx context.Context, req OrderRequest) (Order, error) {
	return runCall(ctx, e, callSpec{op: opPlace, symbol: req.Symbol, clientID: req.ClientOrderID, orders: 1},
		func(c context.Context) (Order, error) { return e.ex.PlaceOrder(c, req) })
}

// Cancel cancels one order; an unknown outcome is reported as by [Executor.Place].
func (e *Executor) Cancel(ctx context.Context, req CancelRequest) (Order, error) {
	return runCall(ctx, e, callSpec{op: opCancel, symbol: req.Symbol, clientID: req.ClientOrderID, orders: 1},
		func(c context.Context) (Order, error) { return e.ex.CancelOrder(c, req) })
}

// Query looks an order up by its client order ID ([IExchange.QueryOrder]).
func (e *Executor) Query(ctx context.Context, symbol, clientOrderID string) (Order, error) {
	return runCall(ctx, e, callSpec{op: opQuery, symbol: symbol, clientID: clientOrderID},
		func(c context.Context) (Order, error) { return e.ex.QueryOrder(c, symbol, clientOrderID) })
}

// OpenOrders lists the symbol's live orders ([IExchange.OpenOrders]).
func (e *Executor) OpenOrders(ctx context.Context, symbol string) ([]Order, error) {
	return runCall(ctx, e, callSpec{op: opOpenOrders, symbol: symbol},
		func(c context.Context) ([]Order, error) { return e.ex.OpenOrders(c, symbol) })
}

// Fills lists the symbol's executions at or after since ([IExchange.Fills]).
func (e *Executor) Fills(ctx context.Context, symbol string, since time.Time) ([]Fill, error) {
	return runCall(ctx, e, callSpec{op: opFills, symbol: symbol},
		func(c context.Context) ([]Fill, error) { return e.ex.Fills(c, symbol, since) })
}

// Positions returns the symbol's positions ([IExchange.Positions]).
func (e *Executor) Positions(ctx context.Context, symbol string) ([]Position, error) {
	return runCall(ctx, e, callSpec{op: opPositions, symbol: symbol},
		func(c context.Context) ([]Position, error) { return e.ex.Positions(c, symbol) })
}

// Account returns balances and account configuration ([IExchange.Account]).
func (e *Executor) Account(ctx context.Context) (Account, error) {
	return runCall(ctx, e, callSpec{op: opAccount},
		func(c context.Context) (Account, error) { return e.ex.Account(c) })
}

// Rules returns the symbol's trading rules ([IExchange.Rules]).
func (e *Executor) Rules(ctx context.Context, symbol string) (Rules, error) {
	return runCall(ctx, e, callSpec{op: opRules, symbol: symbol},
		func(c context.Context) (Rules, error) { return e.ex.Rules(c, symbol) })
}

// callSpec describes one call for limiting, counting and reporting.
type callSpec struct {
	op       execOp
	symbol   string
	clientID string
	orders   int // order-window units: 1 for a place or cancel, n for a batch of n
}

func (cs callSpec) execBudget() execBudget {
	if cs.op.mutating() {
		return budgetOrder
	}
	return budgetQuery
}

// sendWithinKey carries a request's send budget (see WithSendWithin).
type sendWithinKey struct{}

// WithSendWithin returns a context under which the executor sends a request
// only if it can start writing it within d of the call: a request still
// waiting for the rate limits, a venue's pause or a retry when d has passed
// is dropped and fails with an error matching [ErrNotSent], so the caller
// knows for certain that it never reached the venue. The engine uses it so
// that an order it asked for long ago (and may have given up on) cannot
// reach the venue late: an order whose outcome is unknown is only declared
// absent once it can no longer arrive, which needs a latest send time. d is measured on the
// executor's clock from the moment the call enters the executor; d ≤ 0
// means the request is not sent at all.
func WithSendWithin(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, sendWithinKey{}, d)
}

// sendBy is the latest time, on the executor's clock, at which a call that
// starts now may still be sent; zero without a send budget.
func (e *Executor) sendBy(ctx context.Context) time.Time {
	d, ok := ctx.Value(sendWithinKey{}).(time.Duration)
	if !ok {
		return time.Time{}
	}
	return e.clock.Now().Add(d)
}

// notSent marks an error that stopped a request before it was sent.
func notSent(cs callSpec, err error) error {
	if errors.Is(err, ErrNotSent) {
		return err
	}
	return fmt.Errorf("%w: %s %s: %w", ErrNotSent, cs.op.name(), cs.clientID, err)
}

// errSendDeadlinePassed: a request's send budget ran out before it could be sent.
var errSendDeadlinePassed = errors.New("its send deadline passed")

// sendable checks, just before writing, that a request's send budget
// (sendBy, zero for none) has not run out.
func (e *Executor) sendable(cs callSpec, sendBy time.Time) error {
	if !sendBy.IsZero() && e.clock.Now().After(sendBy) {
		return notSent(cs, errSendDeadlinePassed)
	}
	return nil
}

// runCall sends fn within the limits, retrying retryable errors.
func runCall[T any](ctx context.Context, e *Executor, cs callSpec, fn func(context.Context) (T, error)) (T, error) {
	var zero T
	sendBy := e.sendBy(ctx)
	for attempt := 1; ; attempt++ {
		if err := e.admit(ctx, cs, attempt, sendBy); err != nil {
			return zero, e.fail(notSent(cs, err))
		}
		if err := e.sendable(cs, sendBy); err != nil {
			return zero, e.fail(err)
		}
		sentAt := e.clock.Now()
		cctx, cancel := context.WithTimeout(ctx, e.timeout)
		v, err := fn(cctx)
		cancel()
		e.stats.requests[cs.op].Add(1)
		if err == nil {
			return v, nil
		}
		if cs.op.mutating() && outcomeUnknown(err) {
			return zero, e.unknown(cs, attempt, sentAt, err)
		}
		wait, again := e.retryDelay(ctx, cs, attempt, err)
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
func (e *Executor) admit(ctx context.Context, cs callSpec, attempt int, sendBy time.Time) error {
	waited, err := e.limits.wait(ctx, e.clock, cs.execBudget(), cs.orders, e.weights[cs.op], sendBy)
	if waited > 0 {
		e.stats.waits.Add(1)
		e.stats.waitTime.Add(int64(waited))
		e.observe(ExecutorEventRateLimitWait, cs, attempt, waited, nil)
	}
	if err != nil {
		return fmt.Errorf("exchange: %s %s: %w", cs.op.name(), cs.symbol, err)
	}
	return nil
}

// outcomeUnknown reports whether a place or cancel that failed with err may
// have taken effect: the venue said so, or the request's context ended while
// it may have been on its way.
func outcomeUnknown(err error) bool {
	return errors.Is(err, ErrUnknownOutcome) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// unknown builds, counts and reports the error of a place or cancel whose
// outcome is unknown. The adapter's SentAt wins when it gave one: it knows
// best when the request left.
func (e *Executor) unknown(cs callSpec, attempt int, sentAt time.Time, err error) *UnknownOutcomeError {
	op := cs.op.name()
	u := &UnknownOutcomeError{Op: op, SentAt: sentAt, Err: err}
	if got, ok := err.(*UnknownOutcomeError); ok {
		cp := *got
		if cp.SentAt.IsZero() {
			cp.SentAt = sentAt
		}
		if cp.Op == "" {
			cp.Op = op
		}
		u = &cp
	} else if errors.As(err, &got) && !got.SentAt.IsZero() {
		u.SentAt = got.SentAt
	}
	e.stats.unknownOutcomes.Add(1)
	e.stats.errors[kindUnknownOutcome].Add(1)
	e.observe(ExecutorEventUnknownOutcome, cs, attempt, 0, u)
	e.log.LogAttrs(context.Background(), slog.LevelDebug, "exchange: outcome unknown",
		slog.String("op", op), slog.String("symbol", cs.symbol), slog.String("clientOrderID", cs.clientID),
		slog.Time("sentAt", u.SentAt), slog.Any("err", err))
	return u
}

// retryDelay decides whether a request that failed with err on attempt is
// sent again, and after how long. A rate-limit refusal pauses every request
// of the executor for the venue's RetryAfter (or the backoff, without one);
// the retry then waits in the limiter, not here.
func (e *Executor) retryDelay(ctx context.Context, cs callSpec, attempt int, err error) (time.Duration, bool) {
	again := Retryable(err) && attempt < e.retry.MaxAttempts
	if errors.Is(err, ErrRateLimited) {
		pause := e.venueLimited(ctx, cs, attempt, err)
		if !again || exceedsDeadline(ctx, pause) {
			return 0, false
		}
		e.stats.retries.Add(1)
		e.observe(ExecutorEventRetry, cs, attempt, pause, err)
		return 0, true
	}
	if !again {
		return 0, false
	}
	wait := e.backoff(attempt)
	if exceedsDeadline(ctx, wait) {
		return 0, false
	}
	e.stats.retries.Add(1)
	e.observe(ExecutorEventRetry, cs, attempt, wait, err)
	e.log.LogAttrs(ctx, slog.LevelDebug, "exchange: retrying",
		slog.String("op", cs.op.name()), slog.String("symbol", cs.symbol), slog.Int("attempt", attempt),
		slog.Duration("wait", wait), slog.Any("err", err))
	return wait, true
}

// venueLimited handles a venue's rate-limit refusal: it pauses every request
// of the executor for the venue's RetryAfter, or the backoff without one,
// and returns the pause.
func (e *Executor) venueLimited(ctx context.Context, cs callSpec, attempt int, err error) time.Duration {
	pause := e.backoff(attempt)
	var rl *RateLimitError
	if errors.As(err, &rl) && rl.RetryAfter > 0 {
		pause = rl.RetryAfter
	}
	e.stats.rateLimited.Add(1)
	e.limits.pause(e.clock.Now().Add(pause))
	e.observe(ExecutorEventPause, cs, attempt, pause, err)
	e.log.LogAttrs(ctx, slog.LevelWarn, "exchange: venue rate limit: pausing every request",
		slog.String("op", cs.op.name()), slog.Duration("pause", pause), slog.Any("err", err))
	return pause
}

// exceedsDeadline reports whether waiting d would pass ctx's deadline.
func exceedsDeadline(ctx context.Context, d time.Duration) bool {
	dl, ok := ctx.Deadline()
	return ok && d > time.Until(dl)
}

// backoff returns the wait before retry number attempt (from 1):
// min(MaxBackoff, BaseBackoff·2^(attempt−1)) less a random part of up to
// Jitter of it.
func (e *Executor) backoff(attempt int) time.Duration {
	d := e.retry.BaseBackoff
	for i := 1; i < attempt && d < e.retry.MaxBackoff; i++ {
		if d > e.retry.MaxBackoff/2 {
			d = e.retry.MaxBackoff
			break
		}
		d *= 2
	}
	d = min(d, e.retry.MaxBackoff)
	if span := int64(float64(d) * e.retry.Jitter); span > 0 {
		e.rngMu.Lock()
		d -= time.Duration(e.rng.Int64N(span + 1))
		e.rngMu.Unlock()
	}
	return d
}

// execGiveUp is the error of a call that will not be retried.
func execGiveUp(cs callSpec, attempt int, err error) error {
	if attempt == 1 {
		return err
	}
	return fmt.Errorf("exchange: %s %s: gave up after %d attempts: %w", cs.op.name(), cs.symbol, attempt, err)
}

// execAbandon is the error of a call whose context ended while it waited to
// retry: it matches both the last attempt's error and the context's.
func execAbandon(cs callSpec, attempt int, err, ctxErr error, wait time.Duration) error {
	return fmt.Errorf("exchange: %s %s: retry in %s abandoned: %w; attempt %d failed: %w", cs.op.name(), cs.symbol, wait, ctxErr, attempt, err)
}

// fail counts err by kind and returns it.
func (e *Executor) fail(err error) error {
	e.stats.errors[classifyExecError(err)].Add(1)
	return err
}

func (e *Executor) observe(kind ExecutorEventKind, cs callSpec, attempt int, wait time.Duration, err error) {
	if e.obs == nil {
		return
	}
	e.obs.ObserveExecutor(ExecutorEvent{
		Kind: kind, Op: cs.op.name(), Symbol: cs.symbol, ClientOrderID: cs.clientID,
		Attempt: attempt, Wait: wait, Err: err, Time: e.clock.Now(),
	})
}
