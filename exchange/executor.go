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
// Limits come from [WithLimits] or [WithRateLimits], else the adapter's
// [LimitDeclarer] or [RateLimitDeclarer], else [DefaultRateLimits]. A
// request is sent when every window it counts in admits it (see
// [LimitWindow]); a window that orders and reads both count in is split
// between them ([WithQueryShare]), so that neither starves the other. The venue's own counts, reported by the adapter
// ([ReportUsage]), hold requests back before the venue would refuse them
// (a window they held full reopens with one request, whose answer tells
// how much of the new window is left), and a venue's rate-limit refusal
// pauses every request until its RetryAfter.
//
// Several engines (one per symbol) on one account share one Executor,
// because the venue's limits are per account and IP; each takes a [Lane]
// ([Executor.Lane]), and when the limits are the bottleneck the lanes are
// served in turn. Identical reads waiting at the same time share one
// request (below). A request that cannot be sent (its lane full or closed,
// its send deadline or validity condition passed, its context ended) fails
// with an error matching [ErrNotSent]. The executor's own methods use a
// lane of its own, without bound.
//
// Coalesced reads. The rule: a call may be answered by a read that starts
// after it asked. When the executor admits a read of an operation it
// coalesces, every other call of that operation (and symbol) still queued,
// in any lane — each asked before this request is sent — joins it and gets
// the same answer or the same error. A call never joins a request already admitted or in flight:
// the venue may have looked before the call was made. So a joined answer
// is never older than the call, exactly as if the call's own request had
// been sent at that moment; a caller that reasons from "the venue looked
// after I asked" (an order-absence proof) keeps its guarantee.
//
// Coalesced: Account; Positions of one symbol (and, through an
// [AllPositionsReader], Positions of several symbols, each caller getting
// its symbol's rows — none when the symbol is absent — whenever the one
// read costs no more in any window than the per-symbol reads it replaces;
// a lone Positions call is sent as itself); OpenOrders of one
// symbol (the same rule makes it safe: the list was taken after the call);
// Rules of one symbol. Not coalesced: Fills (each caller has its own since,
// and the venue pages), queries by client order ID (urgent, and no two
// grids share an ID), named operations (Do), and any call carrying a send
// deadline ([WithSendWithin]) or a validity condition ([WithValidUntil]),
// whose not-sent guarantees are per request.
//
// A coalesced read is charged once to the windows; every lane it serves
// counts it as served in the fair order and in [LaneStats].Admitted, and
// the joined ones also in [LaneStats].Joined. Each joined caller gets its
// own copy of a list. A retryable error is shared like any answer, and
// each caller then retries by its own policy; when the sending caller's
// context ends before it has an answer, the joined calls go back to their
// queues and are sent (or joined) again.
//
// The zero value is not usable: build one with [NewExecutor]. An Executor
// is safe for concurrent use and starts no goroutine: a queued request
// waits on its caller's goroutine. It holds no resource and needs no
// closing; lanes are closed one by one.
type Executor struct {
	ex            IExchange
	batchPlacer   BatchPlacer        // nil: orders are placed one by one
	batchCanceler BatchCanceler      // nil: orders are canceled one by one
	allPos        AllPositionsReader // nil: Positions calls are coalesced per symbol only
	placeChunk    int                // orders per batch place
	cancelChunk   int                // orders per batch cancel
	legacy        []RateLimit        // the windows as declared in the legacy form; nil when declared as LimitWindows
	limits        *limiterSet
	sched         *scheduler
	def           *Lane // the lane of the executor's own methods
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
	windows, other, werrs := e.declaredWindows(&cfg)
	errs = append(errs, werrs...)

	if bp, ok := ex.(BatchPlacer); ok {
		if n := bp.MaxBatch(); n < 1 {
			errs = append(errs, fmt.Errorf("%s: BatchPlacer.MaxBatch() = %d: must be at least 1", ex.Name(), n))
		} else {
			e.batchPlacer, e.placeChunk = bp, n
		}
	}
	if ap, ok := ex.(AllPositionsReader); ok {
		e.allPos = ap
	}
	if bc, ok := ex.(BatchCanceler); ok {
		if n := bc.MaxBatch(); n < 1 {
			errs = append(errs, fmt.Errorf("%s: BatchCanceler.MaxBatch() = %d: must be at least 1", ex.Name(), n))
		} else {
			e.batchCanceler, e.cancelChunk = bc, n
		}
	}
	// A batch takes no more than half of any window it counts in (the
	// burst of its bucket; see bucketFor), so that batching never shrinks
	// the sustained rate.
	for _, w := range windows {
		if c, ok := w.cost(OpBatchPlace); ok && c.PerOrder > 0 {
			e.placeChunk = min(e.placeChunk, max(((w.Max+1)/2-c.Units)/c.PerOrder, 1))
		}
		if c, ok := w.cost(OpBatchCancel); ok && c.PerOrder > 0 {
			e.cancelChunk = min(e.cancelChunk, max(((w.Max+1)/2-c.Units)/c.PerOrder, 1))
		}
	}
	var p limiterParams
	p.queryShare = cfg.queryShare
	for op := range numOps {
		switch op {
		case opPlace, opCancel:
			p.maxOrders[op] = 1
		case opBatchPlace:
			p.maxOrders[op] = max(e.placeChunk, 1)
		case opBatchCancel:
			p.maxOrders[op] = max(e.cancelChunk, 1)
		}
	}
	errs = append(errs, e.unsendable(windows, p)...)

	if len(errs) > 0 {
		return nil, fmt.Errorf("exchange: NewExecutor: %w", errors.Join(errs...))
	}

	e.limits = newLimiterSet(windows, other, p)
	e.sched = &scheduler{lim: e.limits, clk: e.clock}
	e.def = &Lane{x: e}
	e.sched.lanes = []*Lane{e.def}
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

// declaredWindows picks the windows the executor enforces: [WithLimits],
// else [WithRateLimits], else the adapter's [LimitDeclarer], else its
// [RateLimitDeclarer], else [DefaultRateLimits]. other gives, per window,
// the weight of a named operation in a legacy request window (nil: none).
func (e *Executor) declaredWindows(cfg *executorConfig) (windows []LimitWindow, other []func(string) int, errs []error) {
	ex := e.ex
	var legacy []RateLimit
	weight := defaultWeight
	rd, declares := ex.(RateLimitDeclarer)
	ld, declaresWindows := ex.(LimitDeclarer)
	switch {
	case cfg.windowsSet:
		windows = cloneWindows(cfg.windows)
	case cfg.limitsSet:
		legacy = cfg.limits
	case declaresWindows && len(ld.LimitWindows()) > 0:
		windows = cloneWindows(ld.LimitWindows())
		if err := validateLimitWindows(ex.Name()+": LimitDeclarer.LimitWindows()", windows); err != nil {
			errs = append(errs, err)
		}
	case declares:
		legacy = append([]RateLimit(nil), rd.RateLimits()...)
		if err := validateRateLimits(ex.Name()+": RateLimitDeclarer.RateLimits()", legacy); err != nil {
			errs = append(errs, err)
		}
	}
	if windows != nil {
		return windows, nil, errs
	}
	if len(legacy) == 0 {
		legacy = DefaultRateLimits()
	}
	if declares {
		weight = func(op string) int { return max(rd.Weight(op), 0) }
		for op := range numOps {
			if w := rd.Weight(op.name()); w < 0 {
				errs = append(errs, fmt.Errorf("%s: RateLimitDeclarer.Weight(%q) = %d: must not be negative", ex.Name(), op.name(), w))
			}
		}
	}
	e.legacy = legacy
	windows = windowsFromRateLimits(legacy, weight)
	other = make([]func(string) int, len(windows))
	for i, l := range legacy {
		if l.Scope == ScopeRequest {
			other[i] = weight
		}
	}
	return windows, other, errs
}

// unsendable reports every operation one request of which takes more than
// a whole window: it could never be sent.
func (e *Executor) unsendable(windows []LimitWindow, p limiterParams) []error {
	var errs []error
	for i, w := range windows {
		if w.Max <= 0 {
			continue // already reported
		}
		for op := range numOps {
			c, ok := w.cost(op.name())
			if !ok {
				continue
			}
			n := c.Units + c.PerOrder*min(p.maxOrders[op], 1)
			if n <= w.Max {
				continue
			}
			if e.legacy != nil {
				errs = append(errs, fmt.Errorf("%s: weight %d of %q exceeds request window %d (limit %d per %s): it could never be sent",
					e.ex.Name(), n, op.name(), i, w.Max, w.Interval))
			} else {
				errs = append(errs, fmt.Errorf("%s: one %q request takes %d of window %q (max %d per %s): it could never be sent",
					e.ex.Name(), op.name(), n, w.Name, w.Max, w.Interval))
			}
		}
	}
	return errs
}

// cloneWindows deep-copies ws.
func cloneWindows(ws []LimitWindow) []LimitWindow {
	out := make([]LimitWindow, len(ws))
	for i, w := range ws {
		out[i] = w
		out[i].Costs = append([]OpCost(nil), w.Costs...)
	}
	return out
}

// RateLimits returns the windows the executor enforces in the legacy form:
// as declared when they were declared so, else described by
// [Executor.LimitWindows] ("order" for a window only orders count in,
// "request" for the others).
func (e *Executor) RateLimits() []RateLimit {
	if e.legacy != nil {
		return append([]RateLimit(nil), e.legacy...)
	}
	return rateLimitsFromWindows(e.LimitWindows())
}

// LimitWindows returns the windows the executor enforces; legacy
// declarations converted (an "order" window becomes one counting every
// place and cancel per order, a "request" window one counting every
// request's weight).
func (e *Executor) LimitWindows() []LimitWindow {
	ws := make([]LimitWindow, len(e.limits.wins))
	for i, w := range e.limits.wins {
		ws[i] = w.def
	}
	return cloneWindows(ws)
}

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

// callSpec describes one call for limiting, counting and reporting.
type callSpec struct {
	op       execOp
	named    string // the operation's name when op is opNamed
	lane     string // the lane's name
	symbol   string
	clientID string
	orders   int  // orders carried: 1 for a place or cancel, n for a batch of n
	own      bool // sent with Do: its fn is the caller's, never shared
}

// opName is the public name of the call's operation.
func (cs callSpec) opName() string {
	if cs.op == opNamed {
		return cs.named
	}
	return cs.op.name()
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

// sendByKey carries a call's send deadline once fixed (see anchorSendBy).
type sendByKey struct{}

// anchorSendBy fixes a call's send budget to a deadline, so that every
// request the call makes (each chunk of a batch, a lone order left over)
// counts it from the moment the call entered the executor, not from its
// own turn.
func (e *Executor) anchorSendBy(ctx context.Context) context.Context {
	if by := e.sendBy(ctx); !by.IsZero() {
		return context.WithValue(ctx, sendByKey{}, by)
	}
	return ctx
}

// sendBy is the latest time, on the executor's clock, at which a call that
// starts now may still be sent; zero without a send budget.
func (e *Executor) sendBy(ctx context.Context) time.Time {
	if by, ok := ctx.Value(sendByKey{}).(time.Time); ok {
		return by
	}
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
	return fmt.Errorf("%w: %s %s: %w", ErrNotSent, cs.opName(), cs.clientID, err)
}

// errSendDeadlinePassed: a request's send budget ran out before it could be sent.
var errSendDeadlinePassed = errors.New("its send deadline passed")

// validUntilKey carries a request's validity condition (see WithValidUntil).
type validUntilKey struct{}

// WithValidUntil returns a context under which the executor sends a request
// only while valid() holds: it asks just before the request would be
// admitted and again just before writing it, and drops a request for which
// it is false with an error matching [ErrNotSent] (a queued one without
// spending its rate-limit units). The engine attaches one to each placement
// — "the price is still in the slot's window" — so a placement that went
// stale while queued is never sent, and its slot returns to free. valid is
// called on the executor's goroutines, possibly under its lock: it must be
// quick, safe for concurrent use, and must not call the executor. It
// combines with [WithSendWithin], which bounds the time.
func WithValidUntil(ctx context.Context, valid func() bool) context.Context {
	return context.WithValue(ctx, validUntilKey{}, valid)
}

// validFrom returns ctx's validity condition, or nil.
func validFrom(ctx context.Context) func() bool {
	v, _ := ctx.Value(validUntilKey{}).(func() bool)
	return v
}

// sendable checks, just before writing, that a request's send budget
// (sendBy, zero for none) has not run out and its validity condition (nil
// for none) still holds.
func (e *Executor) sendable(l *Lane, cs callSpec, sendBy time.Time, valid func() bool) error {
	if !sendBy.IsZero() && e.clock.Now().After(sendBy) {
		l.count(dropExpired)
		return notSent(cs, errSendDeadlinePassed)
	}
	if valid != nil && !valid() {
		l.count(dropInvalid)
		return notSent(cs, errInvalidated)
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
	op := cs.opName()
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
//
// shared is true for an error a call shared with the call that sent the
// request (a coalesced read): that call has already paused the executor
// for a rate-limit refusal.
func (e *Executor) retryDelay(ctx context.Context, cs callSpec, attempt int, err error, shared bool) (time.Duration, bool) {
	again := Retryable(err) && attempt < e.retry.MaxAttempts
	if errors.Is(err, ErrRateLimited) {
		var pause time.Duration
		if !shared {
			pause = e.venueLimited(ctx, cs, attempt, err)
		}
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
		slog.String("op", cs.opName()), slog.String("symbol", cs.symbol), slog.Int("attempt", attempt),
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
		slog.String("op", cs.opName()), slog.Duration("pause", pause), slog.Any("err", err))
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
	return fmt.Errorf("exchange: %s %s: gave up after %d attempts: %w", cs.opName(), cs.symbol, attempt, err)
}

// execAbandon is the error of a call whose context ended while it waited to
// retry: it matches both the last attempt's error and the context's.
func execAbandon(cs callSpec, attempt int, err, ctxErr error, wait time.Duration) error {
	return fmt.Errorf("exchange: %s %s: retry in %s abandoned: %w; attempt %d failed: %w", cs.opName(), cs.symbol, wait, ctxErr, attempt, err)
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
		Kind: kind, Op: cs.opName(), Lane: cs.lane, Symbol: cs.symbol, ClientOrderID: cs.clientID,
		Attempt: attempt, Wait: wait, Err: err, Time: e.clock.Now(),
	})
}
