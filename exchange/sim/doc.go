// Package sim is gridmesh's deterministic simulated venue: a synchronous
// integer [Core] that backtests call directly, and a [Venue] that wraps it
// as an [exchange.IExchange] for paper trading and tests.
//
// A backtest drives the core tick by tick and reacts to its events:
//
//	core, err := sim.NewCore(sim.DefaultCoreConfig(rules))
//	if err != nil {
//		return err
//	}
//	for _, t := range ticks { // t.Time, t.Price (exchange.Ticks)
//		core.Tick(t.Time, t.Price)
//		for _, ev := range core.Events() {
//			// ev.Kind: EventFill, EventCanceled, EventExpired, EventLiquidation, EventFunding.
//			// Placing or canceling here is allowed: the slice stays valid
//			// until the next call to Events.
//			id, err := core.Place(t.Time, sim.OrderSpec{Tag: ev.Tag, Side: exchange.Sell, Price: ev.Price + 10, Qty: ev.Qty})
//			_, _ = id, err
//		}
//	}
//
// No context, channel, goroutine, lock or decimal is involved on that path:
// a Tick that reaches no resting order is two comparisons and allocates
// nothing.
//
// # Units
//
// Prices are [exchange.Ticks], quantities [exchange.Steps] and amounts of
// quote currency [exchange.Money] (one tick × one step), so price ×
// quantity is exact int64 arithmetic. Fees and funding are exact: the core
// keeps their totals to 1e-8 of a Money unit (a notional times a Rate
// never needs more), finer than the 1e-8 of the quote asset venues book
// commission in. Events and the wallet carry them in whole Money units, each
// the change of the rounded exact total, so the booked amounts never drift
// from the exact total by more than half a unit; [Core.ExactFees],
// [Core.ExactFunding] and [Core.ExactWallet] give the exact figures.
//
// # Matching
//
// The market trades along a continuous path from one Tick's price to the
// next. A resting buy at price b fills at b, as maker, when the path
// reaches b (a price ≤ b; with CoreConfig.TradeThrough, a price < b); a
// sell mirrors it. Orders fill in path order: on a fall the highest buy
// first, on a rise the lowest sell first, equal prices in placement order.
// With CoreConfig.PartialFill > 0 a touching tick fills at most that many
// steps of each order and the rest keeps resting; an order left resting
// where the price already is fills again at the start of the next tick.
//
// A market order, or a limit that crosses at placement (a buy at or above
// the current price, a sell at or below it), fills at once and completely
// as taker at the current price, which is never worse than its limit; a
// crossing PostOnly limit is rejected with [exchange.ErrPostOnlyRejected].
// Before the first Tick there is no price, so Place fails with [ErrNoPrice].
//
// # Positions and realized PnL
//
// In one-way mode every fill nets into PositionBoth; a fill that flips the
// position realizes the closed part and opens the rest at the fill price.
// In hedge mode a buy opens and a sell closes PositionLong, a sell opens
// and a buy closes PositionShort; closing orders never open a position:
// like reduce-only orders in one-way mode they fill only up to the position
// and the rest expires.
//
// Each position keeps its signed quantity and signed entry cost (Σ price ×
// signed quantity of its open part). A fill that reduces a position by q
// of |qty| removes cost × q / |qty| from the cost basis, the quotient
// truncated toward zero; the remainder stays in the basis. The fill
// realizes (exit notional − removed cost), gross of fees. When the position
// returns to zero the whole cost has been removed, so the realized PnL of
// every fill sums exactly to the cash flows of the round trip. The wallet is
// initial balance + realized PnL − fees − funding, and for any mark
//
//	Equity(mark) = InitialBalance − Σ signed fill notional − Σ fees − Σ funding + Σ qty × mark.
//
// # Liquidation and margin
//
// After every Tick, if a position is open and the account is below its
// maintenance margin at the tick price — compared exactly, with no
// rounding: in cross margin (the default) equity × 10⁸ < the maintenance
// margin of Σ|qty × price|; in isolated margin, for a position side, its
// margin plus its unrealized PnL against its own maintenance margin — the
// core cancels every open order (EventCanceled each, in id order) and
// closes at the tick price as taker every position side (cross), or each
// side below its margin (isolated), with an EventLiquidation each (fee
// and realized PnL, on an order of its own). The venue takes the position
// over at its bankruptcy price: the insurance fund keeps what the close
// left above it and covers what it left below (CoreStats.Insurance). So in
// cross margin the wallet ends at zero, never below, and in isolated
// margin it ends lower by exactly the closed sides' margin (⌈opened
// notional / Leverage⌉, see [Core.PositionMargin]).
//
// The maintenance margin is MaintenanceRate × notional, or, with
// CoreConfig.Brackets, the venue's notional tiers: notional × the tier's
// rate − the tier's amount. Cross margin brackets the gross notional of
// both hedge-mode sides together; isolated margin each side alone.
//
// Taker orders (market orders, limits crossing at placement) fill at the
// current price moved against them by CoreConfig.SlippageTicks +
// ⌈price × SlippageRate⌉, never beyond a limit's price.
//
// With CoreConfig.CheckMargin a new order that can open a position needs
// ⌈notional / Leverage⌉ of initial margin out of Available: equity at the
// current price − ⌈Σ|position notional| / Leverage⌉ − ⌈Σ open-order
// notional / Leverage⌉. Reduce-only and hedge-mode closing orders need none.
//
// # Venue
//
// [Venue] adds the [exchange.IExchange] surface around one core guarded by a
// mutex: decimal conversion through [exchange.Rules], client order IDs,
// order history, fills, account and positions, price and user-data streams,
// batch and cancel-all capabilities, and seeded fault injection.
package sim
