package grid

import (
	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
)

// Books are the engine's integer books, in the symbol's units: money in
// ticks × steps ([exchange.Money]), quantities in steps. [Engine.Stats]
// gives the same in decimals.
type Books struct {
	RoundTrips int
	Realized   exchange.Money // gross realized PnL of exits (per slot, against its own entry)
	Fees       exchange.Money // every fee the grid's orders paid (signed)
	Position   exchange.Steps // signed: Σ long held − Σ short held
	LongHeld   exchange.Steps
	LongCost   exchange.Money
	ShortHeld  exchange.Steps
	ShortCost  exchange.Money
	// Funding is the funding the host booked (signed: positive paid), see
	// [Engine.BookFunding].
	Funding    exchange.Money
	OpenOrders int // orders sent and not ended
	Placed     int
	Canceled   int
	Rejected   int
	NotSent    int // placements the host dropped before sending them (OrderNotSent)
	Fills      int
	Stale      int // updates ignored as stale or duplicate
	Illegal    int // updates that contradicted the engine's view
	// CancelsDeferred counts the times the cancel budget held a window
	// cancel back (an order held back on several sweeps counts each time).
	CancelsDeferred int
	// ClosedElsewhereLong and ClosedElsewhereShort are what the slots held
	// that a hard stop found closed by something else (see Stats).
	ClosedElsewhereLong, ClosedElsewhereShort exchange.Steps
}

// Unrealized is the open position's PnL at mark.
func (b Books) Unrealized(mark exchange.Ticks) exchange.Money {
	return exchange.Notional(mark, b.LongHeld) - b.LongCost + b.ShortCost - exchange.Notional(mark, b.ShortHeld)
}

// Books returns the engine's integer books.
func (e *Engine) Books() Books { return e.books }

// Position returns the grid's signed position in steps (Books().Position).
func (e *Engine) Position() exchange.Steps { return e.books.Position }

// Price returns the last price the engine saw, in ticks.
func (e *Engine) Price() exchange.Ticks { return e.price }

// Stats is a snapshot of the engine's books in decimals.
type Stats struct {
	RoundTrips  int
	Realized    decimal.Decimal // gross realized PnL of exits
	Fees        decimal.Decimal // every fee paid (signed; rebates negative)
	NetRealized decimal.Decimal // Realized − Fees
	Unrealized  decimal.Decimal // the open position at the last price
	Position    decimal.Decimal // signed base quantity
	OpenOrders  int
	Layers      int // slots holding or entering
	Placed      int
	Canceled    int
	Rejected    int
	NotSent     int // placements dropped unsent (see OrderNotSent)
	Fills       int
	Stale       int
	Illegal     int
	// CancelsDeferred counts the times the cancel budget held a window
	// cancel back (an order held back on several sweeps counts each time).
	CancelsDeferred int
	Paused          bool
	Halted          bool
	Reason          string // why paused (every owner's reason, "; "-separated) or halted
	// Pauses lists who holds entries and why, one "owner: reason" each
	// (see [Engine.PauseFor]).
	Pauses []string
	// Refusal is the last refusal the venue repeated on one slot (which
	// backed off its side), that proved a misconfiguration, or a hard
	// stop's reduce-only close refused although the venue shows the
	// position; "" if none.
	Refusal string
	// UnbookedFees are fees paid in another asset than the quote, by
	// asset: not in Fees or NetRealized (see [Engine.NoteUnbookedFee]).
	UnbookedFees map[string]decimal.Decimal
	// Funding is the funding booked with [Engine.BookFunding] (signed:
	// positive paid); it is not in NetRealized.
	Funding decimal.Decimal
	// PnL is NetRealized − Funding + Unrealized: what take-profit and
	// stop-loss by PnL compare.
	PnL decimal.Decimal
	// CloseDustLong and CloseDustShort are what a hard stop's close gave
	// up on each side (base quantities; a one-way neutral grid's net on
	// its side): a remainder below the venue's minimum order (quantity,
	// or notional where a reduce-only close is not exempt), which no
	// order can close and which the grid does not retry; zero otherwise.
	// Close it by hand.
	CloseDustLong, CloseDustShort decimal.Decimal
	// ClosedElsewhereLong and ClosedElsewhereShort are what the slots held
	// on each side (base quantities) that a hard stop found already closed
	// on the venue — by a liquidation, a manual close or a fill the grid
	// missed — when the venue refused its reduce-only close and its
	// position was read: taken out of the books at no PnL (the PnL of that
	// close is the venue's; Realized does not include it), zero otherwise.
	ClosedElsewhereLong, ClosedElsewhereShort decimal.Decimal
	// Terminal is why the grid ended for good (a TerminalXxx kind, e.g.
	// "stop-loss"), "" while it runs; Reason then says more.
	Terminal string
	// Waiting says why a grid with a start trigger is still idle; "" once
	// it started.
	Waiting string
	// Amount is the fixed amount in force (grown by WithCompounding); zero
	// with fixed-quantity sizing.
	Amount decimal.Decimal
	// MinNotional and MaxNotional are the smallest and largest entry
	// notional (level price × quantity, after rounding to the step) over
	// the levels made so far; [Engine.Plan] lists every level's.
	MinNotional, MaxNotional decimal.Decimal
	// LadderEnd is where a trailing geometric grid stops making levels (see
	// [Engine.LadderEnd]): no level's price is below it. It is
	// TickSize / interval, shown to one decimal finer than the tick; zero
	// for bounded and arithmetic grids. LadderEndLevel is the lowest level
	// index the grid makes (negative: below the start), 0 with LadderEnd.
	LadderEnd      decimal.Decimal
	LadderEndLevel int64
	// Trend is the trend filter's judgement, "up", "down" or "none" (""
	// without [WithTrendFilter]), and TrendGap its gap (fast − slow) /
	// slow as a fraction.
	Trend    string
	TrendGap decimal.Decimal
	// BuysPaused and SellsPaused say whether the entries of that side
	// (buys: long slots', sells: short slots') are held: by a pause of
	// every entry, a one-sided pause (the trend filter's), or a halt.
	BuysPaused, SellsPaused bool
	// PostOnlyRejects counts the post-only entries the venue rejected, at
	// once or later (ended unasked with nothing filled); Repriced the
	// entries placed at a re-priced price after one ([WithRepricing]);
	// MakerFallbacks the entries sent as plain limits ([WithMakerFallback]).
	PostOnlyRejects, Repriced, MakerFallbacks int
}

// Stats returns a snapshot of the books in decimals.
func (e *Engine) Stats() Stats {
	b, r := e.books, e.rules
	nLo, nHi := e.notionalRange()
	dustLong, dustShort := e.dustNow()
	reason := e.pauseReasons()
	if e.halted {
		reason = e.haltReason
	}
	var end decimal.Decimal
	var endLevel int64
	if l := e.lad; l != nil && !l.bounded && l.geometric {
		end, endLevel = l.endPrice(), l.low
	}
	st := Stats{
		RoundTrips: b.RoundTrips, Realized: r.MoneyToDecimal(b.Realized), Fees: r.MoneyToDecimal(b.Fees),
		NetRealized: r.MoneyToDecimal(b.Realized - b.Fees), Unrealized: r.MoneyToDecimal(b.Unrealized(e.price)),
		Position: r.StepsToQty(b.Position), OpenOrders: b.OpenOrders, Layers: e.layers,
		Placed: b.Placed, Canceled: b.Canceled, Rejected: b.Rejected, NotSent: b.NotSent, Fills: b.Fills, Stale: b.Stale, Illegal: b.Illegal,
		CancelsDeferred: b.CancelsDeferred,
		Paused:          e.paused, Halted: e.halted, Reason: reason, Pauses: e.pauseList(), Refusal: e.refusal, UnbookedFees: e.unbookedFees(),
		Funding: r.MoneyToDecimal(b.Funding), PnL: r.MoneyToDecimal(e.pnlAt(e.price)),
		CloseDustLong: r.StepsToQty(dustLong), CloseDustShort: r.StepsToQty(dustShort),
		ClosedElsewhereLong: r.StepsToQty(b.ClosedElsewhereLong), ClosedElsewhereShort: r.StepsToQty(b.ClosedElsewhereShort), Terminal: e.ctl.terminal, Waiting: e.ctl.waiting, Amount: r.MoneyToDecimal(e.amountNow()),
		MinNotional: r.MoneyToDecimal(nLo), MaxNotional: r.MoneyToDecimal(nHi),
		LadderEnd: end, LadderEndLevel: endLevel,
	}
	e.trendStats(&st)
	return st
}
