package exchange

import (
	"context"
	"time"

	"github.com/shopspring/decimal"
)

// IExchange is what every grid needs from every venue. Adapters implement
// it; the grid's runner and the [Executor] call it. This comment and the
// methods' comments are the contract an adapter honours, whatever its
// venue does natively: the adapter translates. The conformance suite in
// exchange/exchangetest checks what a test can check of it; a new
// adapter's author runs that suite first.
//
// # Calls
//
// Every method is safe for concurrent use. Every call takes a context and
// returns once it ends, with an error wrapping the context's error. After
// Close every method but Close fails with an error matching [ErrClosed].
//
// An adapter never sends a place or a cancel twice on its own, and never
// retries one whose answer was lost: a lost answer is an unknown outcome
// (below), which the engine resolves by querying the client order ID
// before anything else is sent for that order. Reads (Rules, QueryOrder,
// OpenOrders, Fills, Account, Positions) change nothing, so an adapter
// may retry them.
//
// # Errors
//
// Errors match this package's sentinels, directly or through
// [*VenueError]'s Kind, [*RuleError], [*RateLimitError] or
// [*UnknownOutcomeError], so callers branch with errors.Is and errors.As,
// never on a venue's code or text. Which condition maps to which:
//
//   - [ErrInvalidOrder]: the request breaks the symbol's rules or the
//     venue's syntax: a price off the tick or a quantity off the step, a
//     zero or negative price or quantity, a quantity or notional below the
//     minimum, an order type or time in force the venue lacks, a symbol it
//     does not list. Nothing was created. [*RuleError] names the field.
//   - [ErrPostOnlyRejected]: the venue refused, at once, a post-only order
//     that would have taken liquidity. Nothing was created. (Venues that
//     accept the order and then expire it report that on the order
//     stream instead; see PlaceOrder.)
//   - [ErrDuplicateClientOrderID]: a live order has the client order ID.
//     Nothing was created. Venues do not reliably refuse the ID of a
//     closed order, so callers never reuse one.
//   - [ErrInsufficientMargin], [ErrReduceOnlyRejected], [ErrPositionMode],
//     [ErrTooManyOrders], [ErrTradingRestricted]: the venue refused the
//     order for the account's or the symbol's state. Nothing was created.
//   - [ErrOrderNotFound]: CancelOrder of an order that is unknown or
//     already closed (filled, canceled, expired); QueryOrder of a client
//     order ID that was never used or whose order the venue has archived.
//     It is an answer of the venue, never a failure to ask: a timeout, a
//     dropped connection, an unknown symbol or an unreadable answer is
//     never ErrOrderNotFound, because the engine takes a not-found answer
//     as proof that an order does not exist.
//   - [ErrRateLimited] (a [*RateLimitError] carrying the venue's wait),
//     [ErrClockSkew] and [ErrUnavailable]: the venue refused the request
//     before acting on it; the same request may be sent again, after the
//     wait or a clock resync ([Retryable]).
//   - [ErrUnknownOutcome], as an [*UnknownOutcomeError]: a place or cancel
//     that was, or may have been, written to the venue and whose answer
//     was lost (a timeout, a dropped connection, an HTTP 5xx, an answer
//     that cannot be read, a venue code meaning "unknown" such as Binance
//     -1000 or -1007). It may have taken effect. Its SentAt is when the
//     adapter started writing the request, never earlier than the
//     timestamp the venue measures its receive window from, so that
//     SentAt plus the receive window bounds when the request can still
//     execute (see [ReceiveWindower]); zero SentAt lets the executor use
//     the moment it called the adapter. A read whose answer was lost is
//     [ErrUnavailable], not an unknown outcome.
//   - A place or cancel that the adapter knows it never wrote (refused
//     locally, its context ended first, a ban still running) returns the
//     reason, not ErrUnknownOutcome. The [Executor] still treats a context
//     error of a place or cancel as an unknown outcome, the safe side.
//     [ErrNotSent] is the executor's answer for a request it held and
//     never handed to the adapter; adapters do not return it.
//   - [ErrAuth]: the credentials were refused; not retryable.
//   - [ErrClosed]: the adapter has been closed.
//   - [ErrUnsupported]: the venue does not offer the operation (an
//     optional one: a kline interval, or klines at all).
//
// A venue code with no mapping is a [*VenueError] with a nil Kind, which
// the engine treats as a refusal it cannot retry.
//
// # Orders, fills and their quantities
//
// An [Order] and an [OrderUpdate] carry the order's cumulative FilledQty
// (everything filled so far, never decreasing from one update of the order
// to the next) and AvgPrice, the average price of everything filled (zero
// when nothing has, or when the venue does not report it: consumers then
// fall back to the limit price). An update that reports a fill has LastFillQty > 0 and
// LastFillPrice, Fee, FeeAsset, Maker and TradeID describe that one fill;
// the LastFillQty of an order's updates add up to its FilledQty.
//
// Each fill has a TradeID that no other fill of the account in the symbol
// shares: two partial fills of one order have two trade IDs. A
// redelivery of the same fill keeps its trade ID. The order stream and
// Fills report a fill under the same trade ID, with the same quantity,
// price and fee.
//
// Fee is the fee of that one fill (not cumulative), signed: positive when
// paid, negative for a rebate, in FeeAsset; the adapter normalises the
// venue's sign. A venue that charges fees reports every fill's fee and its
// asset; zero means the fill cost nothing. Maker is true for a fill of an
// order that rested on the book. Kind marks the venue's forced fills
// (liquidation, auto-deleveraging).
//
// # The order stream
//
// SubscribeUserData's first event is [EventReady] (Reconnected false),
// sent only once the subscription is in place, so that every order change
// after it is delivered: the engine places nothing before it. Then every
// order change of the account comes as an [EventOrder], and account
// changes as [EventAccount], [EventMarginCall] or [EventConfig]. The
// updates of one order arrive in the order the venue made them: NEW for
// every order it accepted (even one that fills or expires at once), then
// a PARTIALLY_FILLED for each fill that leaves a remainder, then exactly
// one terminal update, last: FILLED (with the last fill), CANCELED,
// EXPIRED (the venue's own decision: an IOC remainder, a post-only order
// that would have crossed, a reduce-only order with nothing to reduce;
// Reason says which) or REJECTED. Consumers tolerate duplicates and
// reorderings (they keep the largest FilledQty), but an adapter does not
// make them.
//
// No event is lost silently. An adapter that cannot deliver one (the
// connection dropped, the venue's session key expired, its own buffer is
// full) sends [EventDisconnected] as soon as it knows and, once every
// later change will be delivered again, EventReady with Reconnected set.
// Events are not replayed: on that EventReady the consumer reconciles
// from QueryOrder, OpenOrders, Fills and Positions. An adapter may instead
// wait for a slow consumer (and if the venue then drops the connection,
// report it as above). Dropping an event without that signal — a channel
// send with a default case, say — leaves the grid with a fill it never
// books.
//
// # Streams
//
// Each Subscribe call is its own subscription with its own channel. The
// adapter keeps it alive across dropped connections (reconnecting with
// backoff) and closes the channel when the subscription's context ends or
// the adapter closes; a channel that closes while its context is live
// means the subscription failed for good. Price streams never block on a
// slow consumer: the newest price wins. Close does not wait for any consumer: it stops every goroutine the
// adapter started, closes their channels and returns once they have ended.
//
// # Receive window
//
// A place that was written may execute until its SentAt plus the venue's
// receive window (Binance: recvWindow), after which the venue refuses it.
// A not-found answer from QueryOrder proves that an order will never exist
// only once that time has passed. An adapter whose venue bounds it says so
// through [ReceiveWindower]; without it callers assume
// [DefaultReceiveWindow] (60 s). An adapter must not write a request
// later than its window allows, nor let a transport resend it after that.
type IExchange interface {
	// Name is the venue's short name, e.g. "binance-usdm" or "sim", for
	// logs and errors. It never changes.
	Name() string

	// Rules returns the symbol's trading rules, valid by [Rules.Validate]
	// and naming the symbol. A symbol the venue does not list is an error
	// matching ErrInvalidOrder; a listed one that does not trade now
	// matches ErrTradingRestricted. Rules may be cached: two calls agree
	// unless the venue changed them.
	Rules(ctx context.Context, symbol string) (Rules, error)

	// PlaceOrder places one order with the request's client order ID (the
	// adapter sends it as the venue's client ID; an empty one lets the
	// venue or the adapter choose). The returned Order echoes the client
	// order ID, symbol, side, price and quantity, has the venue's OrderID
	// and its status after any immediate execution: NEW when it rests,
	// PARTIALLY_FILLED or FILLED when it executed at once, EXPIRED when the
	// venue ended it at once. The order stream reports the same order,
	// NEW first.
	//
	// A post-only order that would cross is refused in one of two ways,
	// and both are the same event to the engine (the entry was rejected,
	// the level is free): synchronously, with an error matching
	// ErrPostOnlyRejected and nothing created (Binance -5022); or accepted
	// and then ended on the order stream as EXPIRED (or CANCELED) with
	// nothing filled (Bitget, OKX). Never a resting order.
	//
	// Failures map as the type's documentation says: ErrInvalidOrder and
	// the other refusals create nothing; a lost answer is an
	// *UnknownOutcomeError with SentAt, resolved by QueryOrder.
	PlaceOrder(ctx context.Context, req OrderRequest) (Order, error)

	// CancelOrder cancels one live order, by OrderID when the request has
	// one, else by ClientOrderID. It returns the order as canceled (status
	// CANCELED, FilledQty what filled before); the order stream reports
	// the same. An order that is unknown or already closed (filled,
	// canceled, expired) is ErrOrderNotFound; a lost answer is an
	// *UnknownOutcomeError.
	CancelOrder(ctx context.Context, req CancelRequest) (Order, error)

	// QueryOrder looks an order up by its client order ID: the latest
	// order with that ID, live or closed, with its cumulative FilledQty
	// and AvgPrice, as long as the venue remembers it. A client order ID
	// never used, or whose order the venue has archived (Binance: canceled
	// or expired orders with no fill, after 3 days), is ErrOrderNotFound,
	// and only that is: see the type's documentation. The engine takes
	// not-found as proof of absence only after the order's SentAt plus
	// the receive window.
	QueryOrder(ctx context.Context, symbol, clientOrderID string) (Order, error)

	// OpenOrders lists every live order of the symbol (NEW or
	// PARTIALLY_FILLED), the grid's and others', with the same fields as
	// QueryOrder.
	OpenOrders(ctx context.Context, symbol string) ([]Order, error)

	// Fills lists the account's executions in the symbol at or after
	// since, oldest first, each once under its trade ID with its signed
	// fee and asset (see the type's documentation), as far back as the
	// venue keeps them; the adapter pages through the venue's per-request
	// limit.
	Fills(ctx context.Context, symbol string, since time.Time) ([]Fill, error)

	// Account returns balances and the account's configuration (position
	// mode, multi-assets mode, whether it can trade).
	Account(ctx context.Context) (Account, error)

	// Positions returns the symbol's positions, one per position side: a
	// PositionBoth entry in one-way mode, a PositionLong and a
	// PositionShort entry in hedge mode. Quantity is signed (negative
	// short); a flat side may be listed with zero or left out.
	Positions(ctx context.Context, symbol string) ([]Position, error)

	// SubscribePrices streams the symbol's price. The newest price wins: a
	// slow consumer skips prices but always gets the latest, and the
	// adapter never blocks on it.
	SubscribePrices(ctx context.Context, symbol string) (<-chan PriceUpdate, error)

	// SubscribeKlines streams the symbol's candles of one interval ("1m",
	// …): the open candle as it changes (Closed false) and each final
	// candle (Closed true). Klines are an optional capability: only a
	// grid run with risk monitors fed candles (grid.WithRiskKlines) needs
	// them. An adapter whose venue offers no candles, or not of this
	// interval, returns an error matching ErrUnsupported (and the
	// conformance suite then skips its kline checks); a runner that needs
	// them fails to start with that error.
	SubscribeKlines(ctx context.Context, symbol, interval string) (<-chan Kline, error)

	// SubscribeUserData streams the account's order and account events:
	// EventReady first, then every change in order, and never a silent
	// loss; see "The order stream" in the type's documentation.
	SubscribeUserData(ctx context.Context) (<-chan UserEvent, error)

	// Close stops everything the adapter started and waits for it; the
	// streams' channels close. It does not wait for consumers. Later
	// calls of the other methods fail with ErrClosed; Close itself may be
	// called again.
	Close() error
}

// BatchResult is the outcome of one order of a batch: Order when Err is nil.
type BatchResult struct {
	Order Order
	Err   error
}

// BatchPlacer is an optional capability: placing several orders in one
// request. Results are in request order. MaxBatch is the largest batch the
// venue takes (Binance: 5).
type BatchPlacer interface {
	PlaceOrders(ctx context.Context, reqs []OrderRequest) ([]BatchResult, error)
	MaxBatch() int
}

// BatchCanceler is an optional capability: canceling several orders in one request.
type BatchCanceler interface {
	CancelOrders(ctx context.Context, reqs []CancelRequest) ([]BatchResult, error)
	MaxBatch() int
}

// AmendRequest changes the price and quantity of a live limit order.
type AmendRequest struct {
	Symbol        string
	OrderID       string
	ClientOrderID string
	Side          Side
	Price         decimal.Decimal
	Quantity      decimal.Decimal
}

// Amender is an optional capability: changing a live order in place.
type Amender interface {
	AmendOrder(ctx context.Context, req AmendRequest) (Order, error)
}

// MarkPriceStreamer is an optional capability: mark price and funding.
type MarkPriceStreamer interface {
	SubscribeMarkPrice(ctx context.Context, symbol string) (<-chan MarkPriceUpdate, error)
}

// AllCanceler is an optional capability offered to hosts: cancel every open
// order of a symbol, the grid's or not. The engine never calls it.
type AllCanceler interface {
	CancelAllOrders(ctx context.Context, symbol string) error
}

// DeadManSwitch is an optional capability offered to hosts: the venue
// cancels every open order of the symbol unless the switch is re-armed
// within after (Binance countdownCancelAll). after == 0 disarms it. The
// engine never calls it: it touches orders that are not the grid's.
type DeadManSwitch interface {
	ArmCancelAll(ctx context.Context, symbol string, after time.Duration) error
}

// RateLimit is one window a venue enforces: at most Limit units of weight
// per Interval. Scope tells which requests count: "order" windows count
// order placements and cancels, "request" windows count every request's
// weight (per IP on Binance).
type RateLimit struct {
	Scope    string // "order" or "request"
	Interval time.Duration
	Limit    int
}

// RateLimitDeclarer is an optional capability: the venue's limits and the
// weight of each operation, for the executor's limiter. Adapters that do
// not declare get a conservative generic default.
type RateLimitDeclarer interface {
	RateLimits() []RateLimit
	// Weight is the request weight of an operation ("place", "cancel",
	// "query", "openOrders", "batchPlace", …) counted against "request" windows.
	Weight(op string) int
}

// ReceiveWindower is an optional capability: how long after sending a
// request the venue may still execute it (Binance recvWindow), measured
// from the request's SentAt. A query that finds no order is proof it never
// will only once this has passed since the send. Callers take the
// adapter's window over any default of their own; adapters that do not
// say are assumed to need [DefaultReceiveWindow] (60 s), so a venue that
// refuses stale requests sooner should declare its window.
type ReceiveWindower interface {
	ReceiveWindow() time.Duration
}
