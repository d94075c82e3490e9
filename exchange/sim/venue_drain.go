package sim

import (
	"slices"
	"strconv"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
)

// drain turns the core's events into order states, fills and user events.
// Called with v.mu held.
func (v *Venue) drain(now time.Time) {
	account := ""
	evs := v.core.Events()
	liquidation := slices.ContainsFunc(evs, func(e Event) bool { return e.Kind == EventLiquidation })
	for _, e := range evs {
		switch e.Kind {
		case EventFill, EventLiquidation:
			vo := v.orders[e.OrderID]
			if vo == nil { // a liquidation order
				vo = v.liquidationOrder(e)
			}
			v.applyFill(vo, e)
			if account == "" {
				account = "ORDER"
			}
			if e.Kind == EventLiquidation {
				account = "LIQUIDATION"
				v.log.Warn("sim: liquidation", "side", e.Side, "positionSide", e.PositionSide, "price", v.rules.TicksToPrice(e.Price), "qty", v.rules.StepsToQty(e.Qty))
			}
		case EventCanceled, EventExpired:
			vo := v.orders[e.OrderID]
			if vo == nil {
				continue
			}
			vo.ord.Status = exchange.StatusCanceled
			if e.Kind == EventExpired || vo.ioc {
				vo.ord.Status = exchange.StatusExpired
			}
			if liquidation && e.Kind == EventCanceled {
				vo.reason = "LIQUIDATION"
			}
			vo.ord.UpdateTime = e.Time
			v.sendOrder(vo, e.Time, nil)
			v.closeOrder(e.OrderID)
		case EventFunding:
			account = "FUNDING_FEE"
		}
	}
	if account != "" {
		v.sendUser(exchange.UserEvent{Kind: exchange.EventAccount, Time: now, Reason: account,
			Balances: v.accountLocked().Balances, Positions: v.positionsLocked()})
	}
}

func (v *Venue) liquidationOrder(e Event) *venueOrder {
	id := strconv.FormatUint(e.OrderID, 10)
	vo := &venueOrder{ord: exchange.Order{
		Symbol: v.rules.Symbol, OrderID: id, ClientOrderID: "autoclose-" + id, Side: e.Side, PositionSide: e.PositionSide,
		Type: exchange.Market, Price: decimal.Zero, Quantity: v.rules.StepsToQty(e.OrderQty),
		FilledQty: decimal.Zero, AvgPrice: decimal.Zero, Status: exchange.StatusNew, ReduceOnly: true, UpdateTime: e.Time,
	}, reason: "LIQUIDATION"}
	v.orders[e.OrderID] = vo
	v.byClient[vo.ord.ClientOrderID] = vo
	return vo
}

func (v *Venue) applyFill(vo *venueOrder, e Event) {
	r := v.rules
	v.tradeSeq++
	kind := exchange.ExecNormal
	if e.Kind == EventLiquidation {
		kind = exchange.ExecLiquidation
	}
	vo.filled = e.CumQty
	vo.notional += exchange.Notional(e.Price, e.Qty)
	vo.ord.FilledQty = r.StepsToQty(e.CumQty)
	vo.ord.AvgPrice = r.MoneyToDecimal(vo.notional).Div(vo.ord.FilledQty)
	vo.ord.Status = exchange.StatusPartiallyFilled
	if e.CumQty == e.OrderQty {
		vo.ord.Status = exchange.StatusFilled
	}
	vo.ord.UpdateTime = e.Time
	f := exchange.Fill{
		Symbol: r.Symbol, OrderID: vo.ord.OrderID, ClientOrderID: vo.ord.ClientOrderID,
		TradeID: strconv.FormatUint(v.tradeSeq, 10), Side: e.Side, PositionSide: e.PositionSide,
		Price: r.TicksToPrice(e.Price), Quantity: r.StepsToQty(e.Qty), Fee: r.MoneyToDecimal(e.Fee), FeeAsset: v.asset,
		Maker: e.Maker, RealizedPnL: r.MoneyToDecimal(e.RealizedPnL), Kind: kind, Time: e.Time,
	}
	if len(v.fills) >= v.maxFills {
		n := copy(v.fills, v.fills[len(v.fills)-v.maxFills+1:])
		v.fills = v.fills[:n]
	}
	v.fills = append(v.fills, f)
	v.sendOrder(vo, e.Time, &f)
	if vo.ord.Status == exchange.StatusFilled {
		v.closeOrder(e.OrderID)
	}
}

// closeOrder remembers a closed order and forgets the oldest beyond ClosedOrders.
func (v *Venue) closeOrder(id uint64) {
	v.closedIDs = append(v.closedIDs, id)
	for len(v.closedIDs) > v.maxClosed {
		old := v.closedIDs[0]
		v.closedIDs = v.closedIDs[1:]
		if vo := v.orders[old]; vo != nil {
			if v.byClient[vo.ord.ClientOrderID] == vo {
				delete(v.byClient, vo.ord.ClientOrderID)
			}
			delete(v.orders, old)
		}
	}
}

// sendOrder publishes the order's current state (with the fill, if any).
func (v *Venue) sendOrder(vo *venueOrder, now time.Time, f *exchange.Fill) {
	o := vo.ord
	u := exchange.OrderUpdate{
		Symbol: o.Symbol, OrderID: o.OrderID, ClientOrderID: o.ClientOrderID, Side: o.Side, PositionSide: o.PositionSide,
		Status: o.Status, Price: o.Price, Quantity: o.Quantity, FilledQty: o.FilledQty, AvgPrice: o.AvgPrice,
		LastFillQty: decimal.Zero, LastFillPrice: decimal.Zero, Fee: decimal.Zero,
		ReduceOnly: o.ReduceOnly, Reason: vo.reason, Time: now,
	}
	if f != nil {
		u.LastFillQty, u.LastFillPrice, u.Fee, u.FeeAsset = f.Quantity, f.Price, f.Fee, f.FeeAsset
		u.Maker, u.TradeID, u.Kind = f.Maker, f.TradeID, f.Kind
	}
	if o.Status == exchange.StatusExpired && u.Reason == "" {
		u.Reason = "EXPIRED"
		if vo.ioc {
			u.Reason = "IOC"
		} else if o.ReduceOnly || closingSide(o.Side, o.PositionSide) {
			u.Reason = "REDUCE_ONLY"
		}
	}
	v.sendUser(exchange.UserEvent{Kind: exchange.EventOrder, Time: now, Order: u})
}

func closingSide(side exchange.Side, ps exchange.PositionSide) bool {
	return (ps == exchange.PositionLong && side == exchange.Sell) || (ps == exchange.PositionShort && side == exchange.Buy)
}

// sendUser passes a user event through the fault injector to every subscriber.
func (v *Venue) sendUser(e exchange.UserEvent) {
	if v.faults != nil {
		v.faults.stream(v, e)
		return
	}
	v.fanOut(e)
}

func (v *Venue) fanOut(e exchange.UserEvent) {
	for s := range v.userSubs {
		s.push(e)
	}
}
