package examplevenue

import (
	"errors"
	"fmt"
)

// Instrument is a symbol's trading rules as the venue publishes them. Like
// every message type of the venue below, it is a plain value, safe to copy,
// whose zero value is empty (and, as a request, refused).
type Instrument struct {
	Symbol      string
	TickSz      string // price increment, e.g. "0.1"
	LotSz       string // size increment, e.g. "0.001"
	MinSz       string // smallest order size
	MinNotional string // smallest price × size
}

// PlaceRequest is the venue's "new order" request (a plain value).
type PlaceRequest struct {
	Symbol     string
	ClientID   string // optional; 1 to 36 of [A-Za-z0-9_-]
	Side       string // "buy" or "sell"
	Type       string // "limit", "market", "post_only" or "ioc"
	Px         string // limit price; empty for market orders
	Sz         string // size in the base asset
	ReduceOnly bool
}

// Order states and cancel sources of the venue.
const (
	StateLive            = "live"
	StatePartiallyFilled = "partially_filled"
	StateFilled          = "filled"
	StateCanceled        = "canceled"

	SourceUser       = "user"        // canceled on request
	SourcePostOnly   = "post_only"   // a post-only order would have taken liquidity
	SourceIOC        = "ioc"         // the unfilled rest of an IOC order
	SourceReduceOnly = "reduce_only" // a reduce-only order found nothing to reduce
)

// NativeOrder is an order as the venue reports it (a plain value).
type NativeOrder struct {
	ID           uint64
	Symbol       string
	ClientID     string
	Side         string
	Type         string
	Px           string
	Sz           string
	FilledSz     string
	AvgPx        string // "" until something filled
	State        string
	CancelSource string // with StateCanceled
	ReduceOnly   bool
	UpdatedMs    int64
}

// NativeTrade is one execution as the venue reports it (a plain value).
type NativeTrade struct {
	TradeID   uint64
	OrderID   uint64
	Symbol    string
	ClientID  string
	Side      string
	Px        string
	Sz        string
	Fee       string // negative: charged; positive: a rebate
	FeeCcy    string
	Liquidity string // "maker" or "taker"
	PnL       string // realized by this trade
	Ms        int64
}

// NativeTicker is a last-price update (a plain value).
type NativeTicker struct {
	Symbol string
	Last   string
	Ms     int64
}

// NativeBalance is the account's margin balance (a plain value).
type NativeBalance struct {
	Ccy       string
	Wallet    string // deposits + realized PnL − fees
	Upl       string // unrealized PnL
	Available string // free for new orders
}

// NativePosition is the account's net position in one symbol (a plain value).
type NativePosition struct {
	Symbol string
	Pos    string // signed: positive long, negative short
	AvgPx  string // "" when flat
	MarkPx string
	Upl    string
	Lever  int
}

// Push channels a [Conn] subscribes to.
const (
	ChannelOrders = "orders" // every order change of the account, with the trade that caused it
	ChannelTicker = "ticker" // every price of one symbol
)

// Message is one push of a [Conn] (a plain value; Trade is shared, not
// to be changed).
type Message struct {
	Channel string
	Order   NativeOrder  // ChannelOrders: the order after the change
	Trade   *NativeTrade // ChannelOrders: the trade that changed it, if any
	Ticker  NativeTicker // ChannelTicker
}

// The venue's error codes.
const (
	CodeBadRequest     = 40000 // a malformed parameter
	CodeBadSymbol      = 40001 // no such instrument
	CodeBadPrice       = 40002 // price not positive or not a multiple of the tick
	CodeBadSize        = 40003 // size not a multiple of the lot, or below the minimum size or notional
	CodeDuplicateID    = 40004 // a live order has this client ID
	CodeNoMarket       = 40005 // the instrument has no price yet
	CodeInsufficient   = 41000 // not enough available balance
	CodeReduceOnly     = 41001 // a reduce-only order would not reduce the position
	CodeTooManyOrders  = 41002 // the open-order cap is reached
	CodeOrderNotFound  = 42000 // no such order
	CodeOrderClosed    = 42001 // the order is filled or canceled
	CodeRateLimited    = 42900 // too many order requests; see RetryAfterMs
	CodeServiceStopped = 50300 // the venue is shut down
)

// APIError is an error answer of the venue: its code, its message and,
// for CodeRateLimited, how long to wait. The adapter maps it (errors.go).
type APIError struct {
	Code         int
	Msg          string
	RetryAfterMs int64 // with CodeRateLimited
}

// Error formats the code and the message.
func (e *APIError) Error() string { return fmt.Sprintf("examplevenue: code %d: %s", e.Code, e.Msg) }

func apiErr(code int, format string, a ...any) *APIError {
	return &APIError{Code: code, Msg: fmt.Sprintf(format, a...)}
}

// ErrConnClosed is returned by [Conn.Read] once the connection is closed.
var ErrConnClosed = errors.New("examplevenue: connection closed")
