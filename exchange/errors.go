package exchange

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors callers branch on with errors.Is. Adapters wrap them (or
// return the typed errors below, which match them) so that a venue's code or
// message never has to be compared by string.
var (
	// ErrPostOnlyRejected: a post-only order would have executed as taker and
	// was rejected (Binance -5022). Nothing was created.
	ErrPostOnlyRejected = errors.New("post-only order would take liquidity")
	// ErrInsufficientMargin: not enough balance or margin for the order.
	ErrInsufficientMargin = errors.New("insufficient margin")
	// ErrRateLimited: the venue refused the request for rate; see [*RateLimitError].
	ErrRateLimited = errors.New("rate limited")
	// ErrOrderNotFound: no such order (never created, or archived).
	ErrOrderNotFound = errors.New("order not found")
	// ErrDuplicateClientOrderID: an order with that client order ID is live.
	ErrDuplicateClientOrderID = errors.New("duplicate client order id")
	// ErrUnknownOutcome: the request may or may not have taken effect
	// (timeout, 5xx, connection lost after sending); see [*UnknownOutcomeError].
	ErrUnknownOutcome = errors.New("request outcome unknown")
	// ErrNotSent: the executor never sent the request, so it took no
	// effect: its context ended, its send deadline ([WithSendWithin])
	// passed or its validity condition ([WithValidUntil]) failed, while it
	// waited for the rate limits or for a retry; or its lane was full
	// ([ErrLaneFull]) or closed ([ErrLaneClosed]). Unlike
	// [ErrUnknownOutcome] it proves that no order was created.
	ErrNotSent = errors.New("request not sent")
	// ErrInvalidOrder: price, quantity or notional break the symbol's rules.
	ErrInvalidOrder = errors.New("invalid order")
	// ErrReduceOnlyRejected: a reduce-only order conflicts with the position.
	ErrReduceOnlyRejected = errors.New("reduce-only order rejected")
	// ErrPositionMode: the order's position side does not match the account's
	// position mode (Binance -4061, -1106 for reduceOnly in hedge mode).
	ErrPositionMode = errors.New("position side does not match the account's position mode")
	// ErrClockSkew: the request's timestamp was outside the venue's window
	// (Binance -1021); resynchronise the clock and retry.
	ErrClockSkew = errors.New("request timestamp outside the receive window")
	// ErrAuth: the credentials were refused. Not retryable.
	ErrAuth = errors.New("authentication failed")
	// ErrTradingRestricted: the account or symbol only accepts reduce-only
	// orders, or trading is off (quantitative rules, risk control).
	ErrTradingRestricted = errors.New("trading restricted")
	// ErrTooManyOrders: the venue's open-order cap is reached.
	ErrTooManyOrders = errors.New("too many open orders")
	// ErrUnavailable: the venue is temporarily unable to serve; retryable.
	ErrUnavailable = errors.New("venue unavailable")
	// ErrClosed: the adapter has been closed.
	ErrClosed = errors.New("exchange closed")
	// ErrUnsupported: the venue does not offer the operation.
	ErrUnsupported = errors.New("operation not supported")
	// ErrSettingLocked: an account or symbol setting (position mode, margin
	// mode, leverage) cannot change now because orders or a position are
	// open (Binance -4047/-4048 margin type, -4067/-4068 position side,
	// -4161 lower leverage in isolated mode). Nothing changed; cancel the
	// orders or close the position first, or keep the setting. Not
	// retryable as it is.
	ErrSettingLocked = errors.New("setting cannot change while orders or a position are open")
)

// RateLimitError is a rate-limit refusal with the wait the venue asked for.
// It matches [ErrRateLimited].
type RateLimitError struct {
	RetryAfter time.Duration // zero when the venue gave no hint
	Banned     bool          // an IP ban (Binance HTTP 418) rather than a throttle
	Err        error         // the underlying venue error, if any
}

// Error describes the refusal and the wait.
func (e *RateLimitError) Error() string {
	s := "rate limited"
	if e.Banned {
		s = "rate limited: banned"
	}
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(", retry after %s", e.RetryAfter)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is matches ErrRateLimited.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

// Unwrap returns the venue error.
func (e *RateLimitError) Unwrap() error { return e.Err }

// UnknownOutcomeError is a request that may or may not have reached the
// venue. SentAt is when it was sent: the request cannot arrive after SentAt
// plus the venue's receive window, which is when a not-found query proves it
// never will. It matches [ErrUnknownOutcome].
type UnknownOutcomeError struct {
	Op     string // "place", "cancel", …
	SentAt time.Time
	Err    error
}

// Error names the operation, its send time and the cause.
func (e *UnknownOutcomeError) Error() string {
	return fmt.Sprintf("%s: outcome unknown (sent %s): %v", e.Op, e.SentAt.UTC().Format(time.RFC3339Nano), e.Err)
}

// Is matches ErrUnknownOutcome.
func (e *UnknownOutcomeError) Is(target error) bool { return target == ErrUnknownOutcome }

// Unwrap returns the cause.
func (e *UnknownOutcomeError) Unwrap() error { return e.Err }

// VenueError is an error answer from a venue with its own code and message.
// Kind is the sentinel it maps to (nil when the code has no mapping), so
// errors.Is(err, ErrPostOnlyRejected) works on it.
type VenueError struct {
	Venue      string
	Code       int
	Msg        string
	HTTPStatus int
	Kind       error
}

// Error gives the venue, its code, the HTTP status if any and the message.
func (e *VenueError) Error() string {
	if e.HTTPStatus != 0 {
		return fmt.Sprintf("%s: code %d (HTTP %d): %s", e.Venue, e.Code, e.HTTPStatus, e.Msg)
	}
	return fmt.Sprintf("%s: code %d: %s", e.Venue, e.Code, e.Msg)
}

// Unwrap returns Kind.
func (e *VenueError) Unwrap() error { return e.Kind }

// Retryable reports whether a request that failed with err may be sent again
// as it was: rate limits (after their wait), clock skew (after a resync) and
// temporary unavailability. Unknown outcomes are not retryable: they must be
// resolved by a query first.
func Retryable(err error) bool {
	if err == nil || errors.Is(err, ErrUnknownOutcome) {
		return false
	}
	return errors.Is(err, ErrRateLimited) || errors.Is(err, ErrClockSkew) || errors.Is(err, ErrUnavailable)
}
