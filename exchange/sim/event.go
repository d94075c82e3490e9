package sim

import (
	"strconv"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
)

// OrderSpec is a new order for [Core.Place], in integer ticks and steps.
// The zero value is not a valid order (it has no side and no quantity).
// It is a plain value, safe to copy.
type OrderSpec struct {
	// Tag is an opaque caller reference, echoed in every event of the order.
	Tag uint64
	// Side is Buy or Sell.
	Side exchange.Side
	// PositionSide is PositionBoth in one-way mode; PositionLong or
	// PositionShort in hedge mode (a mismatch fails with exchange.ErrPositionMode).
	PositionSide exchange.PositionSide
	// Market makes a market order: it fills at once at the current price as
	// taker. Price is ignored.
	Market bool
	// Price is the limit price in ticks (positive).
	Price exchange.Ticks
	// Qty is the order quantity in steps (positive).
	Qty exchange.Steps
	// PostOnly rejects a limit that would cross at placement with
	// exchange.ErrPostOnlyRejected; nothing is created.
	PostOnly bool
	// ReduceOnly fills only up to the one-way position it reduces; the rest
	// expires. Placing it when there is nothing to reduce fails with
	// exchange.ErrReduceOnlyRejected. Not allowed in hedge mode
	// (exchange.ErrPositionMode), where closing orders (sell LONG, buy SHORT)
	// behave as reduce-only by themselves.
	ReduceOnly bool
}

// EventKind says what an [Event] reports. The zero value is invalid: every
// event the core emits has one of the named kinds.
type EventKind uint8

const (
	// EventFill is one execution of an order (maker or taker).
	EventFill EventKind = iota + 1
	// EventCanceled is an order removed by [Core.Cancel] or by a liquidation.
	EventCanceled
	// EventExpired is the unfilled rest of an order removed by the venue: a
	// reduce-only (or hedge-mode closing) order with nothing left to reduce.
	EventExpired
	// EventLiquidation is the forced close of one position side.
	EventLiquidation
	// EventFunding is a funding payment on one position side.
	EventFunding
)

// String returns "FILL", "CANCELED", "EXPIRED", "LIQUIDATION" or "FUNDING".
func (k EventKind) String() string {
	switch k {
	case EventFill:
		return "FILL"
	case EventCanceled:
		return "CANCELED"
	case EventExpired:
		return "EXPIRED"
	case EventLiquidation:
		return "LIQUIDATION"
	case EventFunding:
		return "FUNDING"
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// Event is one outcome of the core, drained with [Core.Events]. Which fields
// are set depends on Kind:
//
//   - EventFill, EventLiquidation: Price and Qty are this execution, CumQty
//     the order's cumulative filled quantity after it, Fee and RealizedPnL
//     what it booked. A liquidation is a taker order of the venue with its
//     own OrderID and Tag 0.
//   - EventCanceled, EventExpired: Price is the order's limit price and Qty
//     the unfilled quantity removed from the book (OrderQty − CumQty).
//   - EventFunding: OrderID and Tag are 0, Price is the mark price, Qty the
//     position's signed quantity and Funding the payment.
//
// The zero value is not an event the core emits. Events are plain values.
type Event struct {
	Kind         EventKind
	Time         time.Time
	OrderID      uint64 // the sim's order id (0 for funding)
	Tag          uint64
	Side         exchange.Side
	PositionSide exchange.PositionSide
	Price        exchange.Ticks // fill price
	Qty          exchange.Steps // this fill's quantity
	CumQty       exchange.Steps // order's cumulative filled quantity after this event
	OrderQty     exchange.Steps
	Fee          exchange.Money // signed, positive paid
	Maker        bool
	RealizedPnL  exchange.Money // venue-style average-entry PnL booked by this fill (gross of fee)
	Funding      exchange.Money // EventFunding: signed, positive = paid by the account
	Margin       exchange.Money // EventLiquidation: the position side's margin when liquidated (what isolated margin loses)
}

// OrderView is a snapshot of one live order of the core. The zero value
// means no order. It is a plain value, safe to copy.
type OrderView struct {
	ID           uint64
	Tag          uint64
	Side         exchange.Side
	PositionSide exchange.PositionSide
	Price        exchange.Ticks
	Qty          exchange.Steps
	Filled       exchange.Steps
	Status       exchange.OrderStatus // StatusNew or StatusPartiallyFilled: only live orders are viewed
	PostOnly     bool
	ReduceOnly   bool
}

// CoreStats are running totals of a [Core]. The zero value is an empty
// tally. It is a plain value.
type CoreStats struct {
	Orders       int64          // orders accepted (including immediate fills and liquidation orders)
	Canceled     int64          // EventCanceled emitted
	Expired      int64          // EventExpired emitted
	Fills        int64          // executions, liquidation closes included
	MakerFills   int64          // executions of resting orders
	TakerFills   int64          // market, crossing and liquidation executions
	Volume       exchange.Money // Σ price × quantity of every execution
	TakerVolume  exchange.Money // the part of Volume executed as taker (liquidations included)
	FeesPaid     exchange.Money // Σ fees, signed (rebates negative)
	Funding      exchange.Money // Σ funding, signed (positive paid)
	RealizedPnL  exchange.Money // Σ realized PnL of every execution, gross of fees
	Liquidations int64          // liquidation events (one per trigger, whatever the number of sides closed)
	// Insurance is what liquidations moved to the insurance fund (signed:
	// positive when the close left margin above the bankruptcy price, which
	// the fund keeps; negative when the fund covered a close below it).
	Insurance exchange.Money
	// Slippage is Σ |fill price − current price| × quantity of taker fills:
	// what slippage cost.
	Slippage exchange.Money
}
