// Package exchange is gridmesh's contract with trading venues.
//
// It holds the venue-neutral types every adapter speaks (orders, fills,
// accounts, positions, klines, stream events), the [IExchange] interface
// every adapter implements, the small optional capability interfaces found
// by type assertion (batch placement, amend, dead-man switch, …), the typed
// errors callers branch on with [errors.Is] and [errors.As], and [Rules]:
// the one place that knows a symbol's tick size, step size, minimum quantity
// and minimum notional, and converts between public decimals and the integer
// ticks, steps and money units the engine and the simulator compute with.
//
// Money crosses every public API here as [decimal.Decimal]. Inside the hot
// paths a price is a [Ticks] count (price / TickSize), a quantity a [Steps]
// count (quantity / StepSize) and an amount of quote currency a [Money]
// count of TickSize×StepSize units, so that price × quantity is exact
// integer arithmetic. The one exact multiply-divide of that money
// ([MulDiv], [MulDivRound]: a 128-bit product) lives here for the slot, the
// engine and the simulator alike, with [CheckedNotional] for products of
// outside values and [MaxNotional], the largest order they book; a result
// that cannot fit int64 is an error matching [ErrOverflow], never a wrapped
// value.
//
// Between the engine and a venue sits the [Executor]: rate limits, retries,
// batches, unknown outcomes. A host running grids on many symbols of one
// account shares one executor and gives each grid a [Lane]:
//
//	x, err := exchange.NewExecutor(adapter)      // the adapter declares its limits
//	lane, err := x.Lane("BTCUSDT-grid")          // one per grid, bounded
//	every := x.MinReconcileInterval(exchange.OpOpenOrders, exchange.OpPositions, exchange.OpFills)
//	o, err := lane.Place(exchange.WithValidUntil(ctx, stillInWindow), req)
//	// errors.Is(err, exchange.ErrNotSent): never sent (lane full, stale, …): the slot is free
//	lane.Drain(ctx)                              // stop: no more placements …
//	lane.CancelBatch(ctx, live)                  // … cancel what is live …
//	lane.Close()                                 // … and leave the other grids running
//
// An adapter author declares the venue's limits as [LimitWindow]s (its
// [LimitDeclarer]; the type's documentation works through Binance's,
// Bitget's and Gate's), and reports the venue's own counts from each
// response with [ReportUsage], so the executor slows down before the
// venue refuses.
//
// This package imports nothing else of gridmesh.
package exchange
