package exchange

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// execOp is an operation of the executor, an index into its counters.
type execOp uint8

const (
	opPlace execOp = iota
	opCancel
	opQuery
	opOpenOrders
	opFills
	opAccount
	opPositions
	opRules
	opBatchPlace
	opBatchCancel
	opAllPositions
	numOps
)

// opNamed is a venue's named operation, sent with Do; its name travels
// beside it. It is outside the range of the counters.
const opNamed = numOps

// opByName returns the op of a public name.
func opByName(name string) (execOp, bool) {
	for op := range numOps {
		if op.name() == name {
			return op, true
		}
	}
	return 0, false
}

// name returns the op's public name (OpPlace, …).
func (o execOp) name() string {
	switch o {
	case opPlace:
		return OpPlace
	case opCancel:
		return OpCancel
	case opQuery:
		return OpQuery
	case opOpenOrders:
		return OpOpenOrders
	case opFills:
		return OpFills
	case opAccount:
		return OpAccount
	case opPositions:
		return OpPositions
	case opRules:
		return OpRules
	case opBatchPlace:
		return OpBatchPlace
	case opBatchCancel:
		return OpBatchCancel
	case opAllPositions:
		return OpAllPositions
	}
	return "op(" + itoa(int64(o)) + ")"
}

// mutating reports whether the op changes orders: its outcome may be
// unknown, and it passes the order budget.
func (o execOp) mutating() bool {
	return o == opPlace || o == opCancel || o == opBatchPlace || o == opBatchCancel
}

// errKind classifies an error for [ExecutorStats.Errors].
type errKind uint8

const (
	kindOther errKind = iota
	kindUnknownOutcome
	kindDeadline
	kindCanceled
	kindRateLimited
	kindPostOnly
	kindInsufficientMargin
	kindNotFound
	kindDuplicateID
	kindInvalidOrder
	kindReduceOnly
	kindPositionMode
	kindClockSkew
	kindAuth
	kindTradingRestricted
	kindTooManyOrders
	kindUnavailable
	kindClosed
	kindUnsupported
	kindLaneFull
	kindLaneClosed
	kindNotSent
	numKinds
)

// classifyExecError returns the kind of err: an unknown outcome first, since it may
// wrap any cause.
func classifyExecError(err error) errKind {
	switch {
	case errors.Is(err, ErrUnknownOutcome):
		return kindUnknownOutcome
	case errors.Is(err, ErrLaneFull):
		return kindLaneFull
	case errors.Is(err, ErrLaneClosed):
		return kindLaneClosed
	case errors.Is(err, context.DeadlineExceeded):
		return kindDeadline
	case errors.Is(err, context.Canceled):
		return kindCanceled
	case errors.Is(err, ErrRateLimited):
		return kindRateLimited
	case errors.Is(err, ErrPostOnlyRejected):
		return kindPostOnly
	case errors.Is(err, ErrInsufficientMargin):
		return kindInsufficientMargin
	case errors.Is(err, ErrOrderNotFound):
		return kindNotFound
	case errors.Is(err, ErrDuplicateClientOrderID):
		return kindDuplicateID
	case errors.Is(err, ErrInvalidOrder):
		return kindInvalidOrder
	case errors.Is(err, ErrReduceOnlyRejected):
		return kindReduceOnly
	case errors.Is(err, ErrPositionMode):
		return kindPositionMode
	case errors.Is(err, ErrClockSkew):
		return kindClockSkew
	case errors.Is(err, ErrAuth):
		return kindAuth
	case errors.Is(err, ErrTradingRestricted):
		return kindTradingRestricted
	case errors.Is(err, ErrTooManyOrders):
		return kindTooManyOrders
	case errors.Is(err, ErrUnavailable):
		return kindUnavailable
	case errors.Is(err, ErrClosed):
		return kindClosed
	case errors.Is(err, ErrUnsupported):
		return kindUnsupported
	case errors.Is(err, ErrNotSent):
		return kindNotSent
	}
	return kindOther
}

// String returns the key of the kind in [ExecutorStats.Errors].
func (k errKind) String() string {
	switch k {
	case kindUnknownOutcome:
		return "unknown_outcome"
	case kindDeadline:
		return "deadline"
	case kindCanceled:
		return "canceled"
	case kindRateLimited:
		return "rate_limited"
	case kindPostOnly:
		return "post_only_rejected"
	case kindInsufficientMargin:
		return "insufficient_margin"
	case kindNotFound:
		return "order_not_found"
	case kindDuplicateID:
		return "duplicate_client_order_id"
	case kindInvalidOrder:
		return "invalid_order"
	case kindReduceOnly:
		return "reduce_only_rejected"
	case kindPositionMode:
		return "position_mode"
	case kindClockSkew:
		return "clock_skew"
	case kindAuth:
		return "auth"
	case kindTradingRestricted:
		return "trading_restricted"
	case kindTooManyOrders:
		return "too_many_orders"
	case kindUnavailable:
		return "unavailable"
	case kindClosed:
		return "closed"
	case kindUnsupported:
		return "unsupported"
	case kindLaneFull:
		return "lane_full"
	case kindLaneClosed:
		return "lane_closed"
	case kindNotSent:
		return "not_sent"
	}
	return "other"
}

// ExecutorStats is a snapshot of an [Executor]'s counters since it was
// created, from [Executor.Stats]. The zero value is an empty snapshot. It is
// a value the caller owns: safe to keep and read from any goroutine.
type ExecutorStats struct {
	// Requests counts the requests sent to the venue by op (OpPlace, …,
	// OpBatchPlace): every attempt counts, a batch counts once.
	Requests map[string]uint64
	// Retries counts attempts sent again after a retryable error (a batch's
	// retry counts once).
	Retries uint64
	// RateLimitWaits counts requests the rate limiter held back before
	// sending, and RateLimitWaitTime is the total time they were held.
	RateLimitWaits    uint64
	RateLimitWaitTime time.Duration
	// RateLimited counts the venue's rate-limit refusals ([ErrRateLimited]),
	// each of which paused every request of the executor.
	RateLimited uint64
	// UnknownOutcomes counts places and cancels returned as
	// [*UnknownOutcomeError] (one per order of a batch).
	UnknownOutcomes uint64
	// Batches counts batch requests sent (OpBatchPlace and OpBatchCancel).
	Batches uint64
	// UsageReports counts the venue's usage reports applied ([ReportUsage]).
	UsageReports uint64
	// Coalesced counts calls answered by a read another call sent (see
	// [AllPositionsReader]); Requests counts that read once.
	Coalesced uint64
	// Errors counts the errors returned to callers (one per order of a batch)
	// by kind: "unknown_outcome", "deadline", "canceled", "rate_limited",
	// "post_only_rejected", "insufficient_margin", "order_not_found",
	// "duplicate_client_order_id", "invalid_order", "reduce_only_rejected",
	// "position_mode", "clock_skew", "auth", "trading_restricted",
	// "too_many_orders", "unavailable", "closed", "unsupported",
	// "lane_full", "lane_closed", "not_sent" (dropped unsent for another
	// reason: its send deadline or validity condition), "other".
	// Kinds never seen are absent.
	Errors map[string]uint64
}

// execCounters are the live counters behind [ExecutorStats].
type execCounters struct {
	requests        [numOps]atomic.Uint64
	errors          [numKinds]atomic.Uint64
	retries         atomic.Uint64
	waits           atomic.Uint64
	waitTime        atomic.Int64
	rateLimited     atomic.Uint64
	unknownOutcomes atomic.Uint64
	batches         atomic.Uint64
	usageReports    atomic.Uint64
	coalesced       atomic.Uint64
	namedMu         sync.Mutex
	named           map[string]uint64 // requests of named operations (Do)
}

// countRequest counts one request sent.
func (c *execCounters) countRequest(cs callSpec) {
	if cs.op != opNamed {
		c.requests[cs.op].Add(1)
		return
	}
	c.namedMu.Lock()
	if c.named == nil {
		c.named = map[string]uint64{}
	}
	c.named[cs.named]++
	c.namedMu.Unlock()
}

func (c *execCounters) snapshot() ExecutorStats {
	s := ExecutorStats{
		Requests:          make(map[string]uint64),
		Errors:            make(map[string]uint64),
		Retries:           c.retries.Load(),
		RateLimitWaits:    c.waits.Load(),
		RateLimitWaitTime: time.Duration(c.waitTime.Load()),
		RateLimited:       c.rateLimited.Load(),
		UnknownOutcomes:   c.unknownOutcomes.Load(),
		Batches:           c.batches.Load(),
		UsageReports:      c.usageReports.Load(),
		Coalesced:         c.coalesced.Load(),
	}
	c.namedMu.Lock()
	for k, n := range c.named {
		s.Requests[k] += n
	}
	c.namedMu.Unlock()
	for i := range c.requests {
		if n := c.requests[i].Load(); n > 0 {
			s.Requests[execOp(i).name()] = n
		}
	}
	for i := range c.errors {
		if n := c.errors[i].Load(); n > 0 {
			s.Errors[errKind(i).String()] = n
		}
	}
	return s
}

// ExecutorEventKind says what an [ExecutorEvent] reports. The zero value is
// invalid.
type ExecutorEventKind uint8

const (
	// ExecutorEventRetry: an attempt failed with a retryable error and will
	// be sent again after Wait.
	ExecutorEventRetry ExecutorEventKind = iota + 1
	// ExecutorEventRateLimitWait: the rate limiter held a request back for
	// Wait before sending it.
	ExecutorEventRateLimitWait
	// ExecutorEventPause: the venue refused a request for rate (Err); every
	// request of the executor waits Wait.
	ExecutorEventPause
	// ExecutorEventUnknownOutcome: a place or cancel may or may not have
	// taken effect; Err is the [*UnknownOutcomeError] returned to the caller.
	ExecutorEventUnknownOutcome
)

// String returns "RETRY", "RATE_LIMIT_WAIT", "PAUSE" or "UNKNOWN_OUTCOME".
func (k ExecutorEventKind) String() string {
	switch k {
	case ExecutorEventRetry:
		return "RETRY"
	case ExecutorEventRateLimitWait:
		return "RATE_LIMIT_WAIT"
	case ExecutorEventPause:
		return "PAUSE"
	case ExecutorEventUnknownOutcome:
		return "UNKNOWN_OUTCOME"
	}
	return "ExecutorEventKind(" + itoa(int64(k)) + ")"
}

// ExecutorEvent is one thing an [Executor] reports to its
// [ExecutorObserver]. Symbol and ClientOrderID are set when the request names
// them (for a batch, those of its first order). The zero value reports
// nothing; an event is a plain value, safe to keep and share.
type ExecutorEvent struct {
	Kind          ExecutorEventKind
	Op            string // OpPlace, …
	Lane          string // the lane's name; "" for the executor's own methods
	Symbol        string
	ClientOrderID string
	Attempt       int           // the attempt concerned, from 1
	Wait          time.Duration // see Kind
	Err           error         // see Kind; nil for a rate-limit wait
	Time          time.Time     // the executor's clock
}

// ExecutorObserver receives an [Executor]'s retries, rate-limit waits and
// pauses, and unknown outcomes, as they happen, for metrics. It is called
// synchronously on the goroutine of the call concerned, so it must be quick,
// must not call the executor, and must be safe for concurrent use.
type ExecutorObserver interface {
	ObserveExecutor(ExecutorEvent)
}

// ExecutorObserverFunc adapts a function to [ExecutorObserver].
type ExecutorObserverFunc func(ExecutorEvent)

// ObserveExecutor calls f(ev).
func (f ExecutorObserverFunc) ObserveExecutor(ev ExecutorEvent) { f(ev) }
