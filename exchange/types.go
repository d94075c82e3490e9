package exchange

import (
	"time"

	"github.com/shopspring/decimal"
)

// Side is an order's direction. The zero value is invalid.
type Side uint8

const (
	// Buy is a bid.
	Buy Side = iota + 1
	// Sell is an ask.
	Sell
)

// String returns "BUY" or "SELL".
func (s Side) String() string {
	switch s {
	case Buy:
		return "BUY"
	case Sell:
		return "SELL"
	}
	return "Side(" + itoa(int64(s)) + ")"
}

// Opposite returns Sell for Buy and Buy for Sell.
func (s Side) Opposite() Side {
	if s == Buy {
		return Sell
	}
	return Buy
}

// PositionSide names the position an order opens or closes. In one-way mode
// every order is [PositionBoth]; in hedge mode it is [PositionLong] or
// [PositionShort]. The zero value is PositionBoth.
type PositionSide uint8

const (
	// PositionBoth is the net position of one-way mode.
	PositionBoth PositionSide = iota
	// PositionLong is the long leg of hedge mode.
	PositionLong
	// PositionShort is the short leg of hedge mode.
	PositionShort
)

// String returns "BOTH", "LONG" or "SHORT".
func (p PositionSide) String() string {
	switch p {
	case PositionBoth:
		return "BOTH"
	case PositionLong:
		return "LONG"
	case PositionShort:
		return "SHORT"
	}
	return "PositionSide(" + itoa(int64(p)) + ")"
}

// PositionMode is an account's position mode. The zero value is OneWay.
type PositionMode uint8

const (
	// OneWay nets longs and shorts into one position per symbol.
	OneWay PositionMode = iota
	// Hedge keeps separate long and short positions per symbol.
	Hedge
)

// String returns "ONE_WAY" or "HEDGE".
func (m PositionMode) String() string {
	if m == Hedge {
		return "HEDGE"
	}
	return "ONE_WAY"
}

// MarginMode is a position's margin mode. The zero value is Cross.
type MarginMode uint8

const (
	// Cross margin shares the account's balance across positions.
	Cross MarginMode = iota
	// Isolated margin confines each position's margin to itself.
	Isolated
)

// String returns "CROSSED" or "ISOLATED".
func (m MarginMode) String() string {
	if m == Isolated {
		return "ISOLATED"
	}
	return "CROSSED"
}

// OrderType is an order's type. The zero value is Limit.
type OrderType uint8

const (
	// Limit rests at its price.
	Limit OrderType = iota
	// Market executes at once against the book.
	Market
)

// String returns "LIMIT" or "MARKET".
func (t OrderType) String() string {
	if t == Market {
		return "MARKET"
	}
	return "LIMIT"
}

// TimeInForce says how long an order lives. The zero value is GTC.
type TimeInForce uint8

const (
	// GTC rests until filled or canceled.
	GTC TimeInForce = iota
	// PostOnly (Binance GTX) is rejected rather than executed as taker.
	PostOnly
	// IOC fills what it can at once and expires the rest.
	IOC
)

// String returns "GTC", "GTX" or "IOC".
func (t TimeInForce) String() string {
	switch t {
	case PostOnly:
		return "GTX"
	case IOC:
		return "IOC"
	}
	return "GTC"
}

// OrderStatus is an order's lifecycle status. The zero value is StatusUnknown.
type OrderStatus uint8

const (
	// StatusUnknown means the status has not been learned.
	StatusUnknown OrderStatus = iota
	// StatusNew is accepted and resting, nothing filled.
	StatusNew
	// StatusPartiallyFilled is resting with part filled.
	StatusPartiallyFilled
	// StatusFilled is complete (terminal).
	StatusFilled
	// StatusCanceled was canceled (terminal); FilledQty may be positive.
	StatusCanceled
	// StatusExpired was expired by the venue (terminal), including a
	// post-only order rejected after acceptance.
	StatusExpired
	// StatusRejected was refused by the venue (terminal).
	StatusRejected
)

// String returns the Binance-style status name.
func (s OrderStatus) String() string {
	switch s {
	case StatusNew:
		return "NEW"
	case StatusPartiallyFilled:
		return "PARTIALLY_FILLED"
	case StatusFilled:
		return "FILLED"
	case StatusCanceled:
		return "CANCELED"
	case StatusExpired:
		return "EXPIRED"
	case StatusRejected:
		return "REJECTED"
	}
	return "UNKNOWN"
}

// Terminal reports whether no further update can change the order.
func (s OrderStatus) Terminal() bool {
	return s == StatusFilled || s == StatusCanceled || s == StatusExpired || s == StatusRejected
}

// Live reports whether the order rests on the book.
func (s OrderStatus) Live() bool { return s == StatusNew || s == StatusPartiallyFilled }

// OrderRequest is a new order as the engine or a host asks for it.
type OrderRequest struct {
	Symbol        string
	ClientOrderID string
	Side          Side
	PositionSide  PositionSide
	Type          OrderType
	TimeInForce   TimeInForce
	Price         decimal.Decimal // ignored for Market orders
	Quantity      decimal.Decimal
	ReduceOnly    bool
}

// CancelRequest names the order to cancel: by OrderID when set, else by
// ClientOrderID.
type CancelRequest struct {
	Symbol        string
	OrderID       string
	ClientOrderID string
}

// Order is a venue's view of one order.
type Order struct {
	Symbol        string
	OrderID       string
	ClientOrderID string
	Side          Side
	PositionSide  PositionSide
	Type          OrderType
	TimeInForce   TimeInForce
	Price         decimal.Decimal
	Quantity      decimal.Decimal
	FilledQty     decimal.Decimal // cumulative
	AvgPrice      decimal.Decimal // average fill price; zero when nothing filled
	Status        OrderStatus
	ReduceOnly    bool
	UpdateTime    time.Time
}

// ExecKind says what produced an order update. The zero value is ExecNormal.
type ExecKind uint8

const (
	// ExecNormal is an update of an order someone placed.
	ExecNormal ExecKind = iota
	// ExecLiquidation is a fill of the venue's liquidation order.
	ExecLiquidation
	// ExecADL is an auto-deleveraging fill.
	ExecADL
)

// String returns "NORMAL", "LIQUIDATION" or "ADL".
func (k ExecKind) String() string {
	switch k {
	case ExecLiquidation:
		return "LIQUIDATION"
	case ExecADL:
		return "ADL"
	}
	return "NORMAL"
}

// OrderUpdate is one change of one order on the order stream. When the change
// is a fill, LastFillQty is positive and LastFillPrice, Fee, FeeAsset, Maker
// and TradeID describe that one fill: Fee is its own fee (not cumulative),
// and TradeID names it and no other fill. FilledQty is always the order's
// cumulative filled quantity, so a consumer can discard duplicates and
// reorderings by keeping the largest one seen. The order of updates and
// what each field must hold are part of the [IExchange] contract.
type OrderUpdate struct {
	Symbol        string
	OrderID       string
	ClientOrderID string
	Side          Side
	PositionSide  PositionSide
	Status        OrderStatus
	Price         decimal.Decimal
	Quantity      decimal.Decimal
	FilledQty     decimal.Decimal
	AvgPrice      decimal.Decimal // average price of everything filled; zero when nothing filled or not reported
	LastFillQty   decimal.Decimal
	LastFillPrice decimal.Decimal
	Fee           decimal.Decimal // this fill's fee, signed: positive paid, negative rebate
	FeeAsset      string
	Maker         bool
	TradeID       string // unique per fill; the same as the fill's in Fills
	ReduceOnly    bool
	Kind          ExecKind
	Reason        string // the venue's reason for an expiry or rejection, if any
	Time          time.Time
}

// Fill is one execution of one order, under a TradeID no other fill of the
// account in the symbol shares.
type Fill struct {
	Symbol        string
	OrderID       string
	ClientOrderID string
	TradeID       string
	Side          Side
	PositionSide  PositionSide
	Price         decimal.Decimal
	Quantity      decimal.Decimal
	Fee           decimal.Decimal // signed: positive paid, negative rebate
	FeeAsset      string
	Maker         bool
	RealizedPnL   decimal.Decimal // as the venue books it (average-entry)
	Kind          ExecKind
	Time          time.Time
}

// Balance is one asset of an account.
type Balance struct {
	Asset            string
	WalletBalance    decimal.Decimal
	AvailableBalance decimal.Decimal
	UnrealizedPnL    decimal.Decimal
}

// Account is an account's balances and configuration.
type Account struct {
	Balances         []Balance
	TotalWallet      decimal.Decimal // in the account's valuation asset
	TotalMargin      decimal.Decimal // wallet + unrealized PnL
	AvailableBalance decimal.Decimal
	MaintMargin      decimal.Decimal
	PositionMode     PositionMode
	MultiAssets      bool
	CanTrade         bool
}

// Position is one position of one symbol. Quantity is signed: positive
// long, negative short. In hedge mode a symbol has a PositionLong and a
// PositionShort entry.
type Position struct {
	Symbol           string
	PositionSide     PositionSide
	Quantity         decimal.Decimal
	EntryPrice       decimal.Decimal
	MarkPrice        decimal.Decimal
	UnrealizedPnL    decimal.Decimal
	LiquidationPrice decimal.Decimal
	Leverage         int
	MarginMode       MarginMode
}

// Kline is one candle.
type Kline struct {
	Symbol    string
	Interval  string // "1m", "5m", …
	OpenTime  time.Time
	CloseTime time.Time
	Open      decimal.Decimal
	High      decimal.Decimal
	Low       decimal.Decimal
	Close     decimal.Decimal
	Volume    decimal.Decimal // base asset
	Closed    bool            // the candle is final
}

// PriceUpdate is one price observation of one symbol: a trade, a best
// bid/ask midpoint or a mark price, as the stream's doc says.
type PriceUpdate struct {
	Symbol string
	Price  decimal.Decimal
	Bid    decimal.Decimal // zero when the source has no book
	Ask    decimal.Decimal // zero when the source has no book
	Time   time.Time
}

// MarkPriceUpdate is a mark price and funding observation.
type MarkPriceUpdate struct {
	Symbol          string
	MarkPrice       decimal.Decimal
	IndexPrice      decimal.Decimal
	FundingRate     decimal.Decimal
	NextFundingTime time.Time
	Time            time.Time
}

// UserEventKind says what a [UserEvent] carries. The zero value is invalid.
type UserEventKind uint8

const (
	// EventReady: the user-data stream is (re)connected and every later
	// order change will be delivered. Reconnected tells a first connection
	// from a reconnection, after which the consumer must reconcile.
	EventReady UserEventKind = iota + 1
	// EventDisconnected: the stream dropped; updates may be missed until the
	// next EventReady.
	EventDisconnected
	// EventOrder: Order holds an order update.
	EventOrder
	// EventAccount: Balances and Positions hold an account update.
	EventAccount
	// EventMarginCall: the venue warned of a margin call; Positions holds the
	// positions at risk.
	EventMarginCall
	// EventConfig: the account's configuration changed (leverage, position
	// mode, multi-assets); Reason says what.
	EventConfig
)

// String names the kind.
func (k UserEventKind) String() string {
	switch k {
	case EventReady:
		return "READY"
	case EventDisconnected:
		return "DISCONNECTED"
	case EventOrder:
		return "ORDER"
	case EventAccount:
		return "ACCOUNT"
	case EventMarginCall:
		return "MARGIN_CALL"
	case EventConfig:
		return "CONFIG"
	}
	return "UserEventKind(" + itoa(int64(k)) + ")"
}

// UserEvent is one message of the user-data (order) stream.
type UserEvent struct {
	Kind        UserEventKind
	Time        time.Time
	Reconnected bool // with EventReady
	Order       OrderUpdate
	Balances    []Balance
	Positions   []Position
	Reason      string
}

func itoa(v int64) string {
	if v == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	neg := v < 0
	if neg {
		v = -v
	}
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
