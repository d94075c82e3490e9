package grid

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/slot"
)

// OrderRef identifies one order of the grid: the slot's level index and the
// order's generation within that slot. Together with the grid ID it is the
// client order ID (see [ClientOrderID]), so the exchange's view can always
// be mapped back to a slot.
type OrderRef struct {
	Level int64
	Gen   uint32
}

// InitialLevel is the Level of the market order that buys (or sells) a
// bounded grid's initial position; it belongs to no single slot.
const InitialLevel int64 = -1 << 31

// CloseLevel is the Level of the market orders of a hard stop that close
// the grid's own position (see [Engine.HardStop]). InitialLevel and
// CloseLevel are reserved: a grid's levels stay within ±2^30.
const CloseLevel int64 = -1<<31 + 1

// Tag packs the reference into a uint64 (level in the high 32 bits, two's
// complement; generation in the low 32 bits), for venues such as the
// simulator that carry an opaque integer per order.
func (r OrderRef) Tag() uint64 { return uint64(uint32(int32(r.Level)))<<32 | uint64(r.Gen) }

// RefFromTag is the inverse of [OrderRef.Tag].
func RefFromTag(tag uint64) OrderRef {
	return OrderRef{Level: int64(int32(uint32(tag >> 32))), Gen: uint32(tag)}
}

// String formats the reference as "level/gen".
func (r OrderRef) String() string {
	switch r.Level {
	case InitialLevel:
		return "initial/" + strconv.FormatUint(uint64(r.Gen), 10)
	case CloseLevel:
		return "close/" + strconv.FormatUint(uint64(r.Gen), 10)
	}
	return strconv.FormatInt(r.Level, 10) + "/" + strconv.FormatUint(uint64(r.Gen), 10)
}

// IntentKind says what an [Intent] asks for. The zero value is invalid.
type IntentKind uint8

const (
	// IntentPlace asks to place a new order.
	IntentPlace IntentKind = iota + 1
	// IntentCancel asks to cancel the order Ref by its ID.
	IntentCancel
	// IntentQuery asks to look the order Ref up by its client order ID and
	// report the answer as events (see [Engine.Apply]); the host sets the
	// answer's [OrderEvent.AskedAt] to when it sent the query.
	IntentQuery
	// IntentReserve asks the host to store durably (fsynced) that every
	// generation up to Ref.Gen is reserved — [Engine.State] already says so
	// — and then to call [Engine.Reserved]. Only an engine with
	// reservations on ([Engine.UseReservations]) asks; until the host
	// confirms, slots that need a generation past the last confirmed block
	// wait, so no restart, whatever its store, reuses a client order ID.
	IntentReserve
	// IntentCheckStart asks the host to run the pre-start checks again
	// ([Engine.CheckStart], against the account and positions read now)
	// and to answer with [Engine.StartChecked]: a start trigger fired
	// ([WithStartTrigger]) and the grid waits for the answer to start.
	IntentCheckStart
	// IntentReconcile asks the host to read the venue's view of the grid
	// now — its live orders and the position, as for a periodic
	// reconciliation, with [Snapshot.At] set to when the read started —
	// and to answer with [Engine.Reconcile]. A hard stop asks when the
	// venue refuses its reduce-only close ([exchange.ErrReduceOnlyRejected]):
	// the grid's position and the venue's disagree, and the close is not
	// sent again until the venue's position is known (see [Engine.HardStop]).
	// The engine asks again every ack timeout until it is answered.
	IntentReconcile
)

// String names the kind.
func (k IntentKind) String() string {
	switch k {
	case IntentPlace:
		return "place"
	case IntentCancel:
		return "cancel"
	case IntentQuery:
		return "query"
	case IntentReserve:
		return "reserve"
	case IntentCheckStart:
		return "check-start"
	case IntentReconcile:
		return "reconcile"
	}
	return fmt.Sprintf("IntentKind(%d)", uint8(k))
}

// Intent is one action the engine asks its host to carry out. Like the
// engine's hot input, an intent counts price and quantity in integer ticks
// and steps, so a backtest runs without decimals; [Intent.OrderRequest]
// gives the decimal form for a venue.
type Intent struct {
	Kind         IntentKind
	Ref          OrderRef
	Role         slot.Role
	Side         exchange.Side
	PositionSide exchange.PositionSide
	Market       bool           // a market order (the initial position only)
	Price        exchange.Ticks // limit price; zero for market orders
	Qty          exchange.Steps
	PostOnly     bool
	ReduceOnly   bool
	// SendBy (IntentPlace) is the latest time, on the engine's clock, at
	// which the host may start writing the order to the venue. A placement
	// still queued then (in the host, or in an [exchange.Executor]: see
	// [exchange.WithSendWithin]) must be dropped and answered with
	// [OrderNotSent]: the engine may give up on it after that and use the
	// slot again.
	SendBy time.Time
}

// String formats the intent for logs and test transcripts, e.g.
// "place 12/3 entry BUY 0.005@95000.0 post-only".
func (in Intent) String() string {
	switch in.Kind {
	case IntentCancel, IntentQuery:
		return in.Kind.String() + " " + in.Ref.String()
	case IntentReserve:
		return "reserve " + strconv.FormatUint(uint64(in.Ref.Gen), 10)
	case IntentCheckStart:
		return "check-start"
	case IntentReconcile:
		return "reconcile"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "place %s %s %s %d", in.Ref, in.Role, in.Side, in.Qty)
	if in.Market {
		b.WriteString(" market")
	} else {
		fmt.Fprintf(&b, "@%d", in.Price)
	}
	if in.PostOnly {
		b.WriteString(" post-only")
	}
	if in.ReduceOnly {
		b.WriteString(" reduce-only")
	}
	if in.PositionSide != exchange.PositionBoth {
		b.WriteString(" " + in.PositionSide.String())
	}
	return b.String()
}

// OrderRequest converts a place intent to a venue request.
func (in Intent) OrderRequest(rules exchange.Rules, gridID string) exchange.OrderRequest {
	req := exchange.OrderRequest{
		Symbol:        rules.Symbol,
		ClientOrderID: ClientOrderID(gridID, in.Ref),
		Side:          in.Side,
		PositionSide:  in.PositionSide,
		Quantity:      rules.StepsToQty(in.Qty),
		ReduceOnly:    in.ReduceOnly,
	}
	if in.Market {
		req.Type = exchange.Market
	} else {
		req.Price = rules.TicksToPrice(in.Price)
		if in.PostOnly {
			req.TimeInForce = exchange.PostOnly
		}
	}
	return req
}
