package examplevenue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
)

// errorKinds maps the venue's error codes onto the exchange package's
// sentinels: the engine and the executor branch on those (errors.Is),
// never on a venue's code or text. This table is the heart of an adapter's
// error handling; a code missing from it stays a plain *exchange.VenueError
// with no Kind, which the engine treats as a refusal it cannot retry.
var errorKinds = map[int]error{
	CodeBadRequest:     exchange.ErrInvalidOrder,
	CodeBadSymbol:      exchange.ErrInvalidOrder,
	CodeBadPrice:       exchange.ErrInvalidOrder,
	CodeBadSize:        exchange.ErrInvalidOrder,
	CodeDuplicateID:    exchange.ErrDuplicateClientOrderID,
	CodeNoMarket:       exchange.ErrUnavailable, // retryable: the market opens
	CodeInsufficient:   exchange.ErrInsufficientMargin,
	CodeReduceOnly:     exchange.ErrReduceOnlyRejected,
	CodeTooManyOrders:  exchange.ErrTooManyOrders,
	CodeOrderNotFound:  exchange.ErrOrderNotFound,
	CodeOrderClosed:    exchange.ErrOrderNotFound, // the contract: unknown "or already closed"
	CodeServiceStopped: exchange.ErrUnavailable,
	// CodeRateLimited is mapped in venueError: it carries a wait.
}

// venueError turns an error of the venue into the contract's: an
// *exchange.RateLimitError with the venue's wait for CodeRateLimited, else
// an *exchange.VenueError whose Kind is the code's sentinel. Both keep the
// venue's code for logs and for callers that want it (errors.As).
func venueError(err error) error {
	var api *APIError
	if !errors.As(err, &api) {
		return fmt.Errorf("examplevenue: %w", err)
	}
	ve := &exchange.VenueError{Venue: VenueName, Code: api.Code, Msg: api.Msg, Kind: errorKinds[api.Code]}
	if api.Code == CodeRateLimited {
		return &exchange.RateLimitError{RetryAfter: time.Duration(api.RetryAfterMs) * time.Millisecond, Err: ve}
	}
	return ve
}

// orderError is venueError for a request that changes something (a place
// or a cancel). When the request's context ended while it was on its way,
// the adapter cannot know whether the venue executed it: that is an
// *exchange.UnknownOutcomeError, which the engine resolves by querying the
// order — it never simply sends the request again.
func orderError(op string, sent time.Time, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &exchange.UnknownOutcomeError{Op: op, SentAt: sent, Err: err}
	}
	return fmt.Errorf("%s: %w", op, venueError(err))
}

// queryError is venueError for a request that changes nothing: a context
// that ended is just that, since asking again is harmless.
func queryError(op string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("examplevenue: %s: %w", op, err)
	}
	return fmt.Errorf("%s: %w", op, venueError(err))
}
