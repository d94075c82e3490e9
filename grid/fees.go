package grid

import (
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
)

// Fees are booked per trade, idempotently: an update that carries its
// trade ID ([OrderEvent.TradeID]) books that trade's fee once, whether its
// quantity is new or was already learned (a reordered or duplicated
// update, a fill learned first from a query). A fill learned without its
// fee (a query, a reconciliation) is noted as fee-less, and its fee is
// booked when the host recovers it from the venue's trades ([OrderFee]).
// A fee in another asset than the quote (BNB, BGB) cannot be booked in
// quote money: it is kept per asset and shown in Stats.UnbookedFees.

// maxTrades bounds the trade IDs the engine remembers.
const maxTrades = 1 << 14

// tradeFee returns the fee an update books: its fee, unless its trade was
// booked already (then zero). It marks the trade booked.
func (e *Engine) tradeFee(ev OrderEvent) exchange.Money {
	if ev.TradeID == "" {
		return ev.Fee
	}
	if _, seen := e.trades[ev.TradeID]; seen {
		return 0
	}
	e.rememberTrade(ev.TradeID)
	return ev.Fee
}

func (e *Engine) rememberTrade(id string) {
	if e.trades == nil {
		e.trades = make(map[string]struct{}, 256)
	}
	if len(e.tradeRing) >= maxTrades {
		delete(e.trades, e.tradeRing[0])
		e.tradeRing = e.tradeRing[1:]
	}
	e.trades[id] = struct{}{}
	e.tradeRing = append(e.tradeRing, id)
}

// noteFeeless records quantity of order ref booked without its fee.
func (e *Engine) noteFeeless(ref OrderRef, ev OrderEvent, qty exchange.Steps) {
	if ev.TradeID != "" || ev.Fee != 0 || qty <= 0 {
		return
	}
	if e.feeless == nil {
		e.feeless = make(map[OrderRef]exchange.Steps)
	}
	e.feeless[ref] += qty
}

// applyFee books a fee recovered from the venue's trades (OrderFee): once
// per trade, and only for quantity booked without its fee.
func (e *Engine) applyFee(now time.Time, ev OrderEvent) {
	q := e.feeless[ev.Ref]
	if _, seen := e.trades[ev.TradeID]; seen || ev.TradeID == "" || q <= 0 {
		e.books.Stale++
		return
	}
	e.rememberTrade(ev.TradeID)
	if left := q - ev.CumQty; left > 0 {
		e.feeless[ev.Ref] = left
	} else {
		delete(e.feeless, ev.Ref)
	}
	e.books.Fees += ev.Fee
	if i := ev.Ref.Level; i >= e.minL && i <= e.maxL && e.has(i) {
		if lv := e.lv(i); lv.s.Kind != 0 && lv.s.Gen == ev.Ref.Gen {
			lv.fees += ev.Fee
		}
	}
	e.log.Info("grid: fee recovered from the venue's trades", "ref", ev.Ref.String(), "trade", ev.TradeID, "fee", e.rules.MoneyToDecimal(ev.Fee).String())
}

// FeesMissing reports whether fills were booked without their fees, which
// the host should recover from the venue's trades ([OrderFee]).
func (e *Engine) FeesMissing() bool { return len(e.feeless) > 0 }

// NoteUnbookedFee records a fee the grid paid in another asset than the
// quote (BNB, BGB): it cannot be booked in quote money, and is kept per
// asset for Stats.UnbookedFees. A trade ID already noted is not counted
// again.
func (e *Engine) NoteUnbookedFee(tradeID, asset string, amount decimal.Decimal) {
	if tradeID != "" {
		if _, seen := e.trades[tradeID]; seen {
			return
		}
		e.rememberTrade(tradeID)
	}
	if e.unbooked == nil {
		e.unbooked = make(map[string]decimal.Decimal)
	}
	e.unbooked[asset] = e.unbooked[asset].Add(amount)
}

// unbookedFees copies the fees kept per asset.
func (e *Engine) unbookedFees() map[string]decimal.Decimal {
	if len(e.unbooked) == 0 {
		return nil
	}
	out := make(map[string]decimal.Decimal, len(e.unbooked))
	for a, v := range e.unbooked {
		out[a] = v
	}
	return out
}

// storedTrades is how many trade IDs a stored state keeps.
const storedTrades = 1024

// recentTrades returns the latest n trade IDs whose fees were booked.
func (e *Engine) recentTrades(n int) []string {
	if len(e.tradeRing) == 0 {
		return nil
	}
	return append([]string(nil), e.tradeRing[max(0, len(e.tradeRing)-n):]...)
}
