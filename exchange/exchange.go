package exchange

import (
	"context"
	"time"

	"github.com/shopspring/decimal"
)

// IExchange is what every grid needs from every venue. Adapters implement
// it; the grid's runner and executor call it. Every call takes a context
// and returns when it ends. Methods are safe for concurrent use.
//
// Errors match the sentinels of this package ([ErrPostOnlyRejected],
// [ErrOrderNotFound], [ErrUnknownOutcome], …) so callers branch with
// errors.Is and errors.As, never on text.
//
// Streams deliver on a channel that the adapter closes when the stream's
// context ends or the adapter is closed; the adapter never blocks forever
// on a slow consumer of a price stream (it drops older prices), but it does
// not drop user-data events. Close stops every goroutine the adapter
// started and returns only when they have ended.
//
// New adapters: run the conformance suite in exchange/exchangetest first.
type IExchange interface {
	// Name is the venue's short name, e.g. "binance-usdm" or "sim".
	Name() string
	// Rules returns the symbol's trading rules.
	Rules(ctx context.Context, symbol string) (Rules, error)
	// PlaceOrder places one order. A post-only order that would cross fails
	// with ErrPostOnlyRejected, or is accepted and later expires on the
	// order stream (venues differ; both are the same to the engine).
	PlaceOrder(ctx context.Context, req OrderRequest) (Order, error)
	// CancelOrder cancels one order by its ID (or client order ID). It
	// returns ErrOrderNotFound when the order is unknown or already closed.
	CancelOrder(ctx context.Context, req CancelRequest) (Order, error)
	// QueryOrder looks an order up by its client order ID, including closed
	// orders the venue still remembers; ErrOrderNotFound otherwise.
	QueryOrder(ctx context.Context, symbol, clientOrderID string) (Order, error)
	// OpenOrders lists the symbol's live orders.
	OpenOrders(ctx context.Context, symbol string) ([]Order, error)
	// Fills lists the symbol's executions at or after since, oldest first.
	Fills(ctx context.Context, symbol string, since time.Time) ([]Fill, error)
	// Account returns balances and account configuration.
	Account(ctx context.Context) (Account, error)
	// Positions returns the symbol's positions (one per position side).
	Positions(ctx context.Context, symbol string) ([]Position, error)
	// SubscribePrices streams the symbol's price.
	SubscribePrices(ctx context.Context, symbol string) (<-chan PriceUpdate, error)
	// SubscribeKlines streams the symbol's candles of one interval ("1m", …).
	SubscribeKlines(ctx context.Context, symbol, interval string) (<-chan Kline, error)
	// SubscribeUserData streams order and account events. The first event of
	// a working stream, and the first after each reconnection, is EventReady.
	SubscribeUserData(ctx context.Context) (<-chan UserEvent, error)
	// Close stops everything the adapter started and waits for it.
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
// request the venue may still execute it (Binance recvWindow). A query that
// finds no order is proof it never will only once this has passed since the
// send. Adapters that do not say are assumed to need 10 s.
type ReceiveWindower interface {
	ReceiveWindow() time.Duration
}
