// Package grid is the grid engine: one slot per price level, a pure state
// machine that turns prices and order updates into intents.
//
// A host that does not use [Runner] owns the loop itself, as etcd's raft
// users do. Events and the time go in, and intents come out to be carried
// out in order; their outcomes come back as events:
//
//	eng, err := grid.New(rules,
//		grid.WithStartPrice(start),
//		grid.WithBounds(lower, upper, 50), // or WithTrailing(interval, layerCap)
//		grid.WithAmount(amount),           // quote notional per order
//	)
//	...
//	for {
//		var in []grid.Intent
//		select {
//		case p := <-prices: // integer ticks: the hot path does no decimal maths
//			in = eng.OnPrice(now(), p)
//		case u := <-orderUpdates: // Accepted, Filled (cumulative), Canceled, …
//			in, err = eng.Apply(now(), u)
//		case <-streamReady: // nothing is placed before the order stream is live
//			in = eng.OnStreamReady(now())
//		case <-ticker.C: // queries of unknown outcomes, stuck requests, retries
//			in = eng.OnTimer(now())
//		}
//		for _, it := range in { // valid until the next call: copy to keep
//			switch it.Kind {
//			case grid.IntentPlace: // it.OrderRequest(rules, eng.GridID())
//			case grid.IntentCancel: // by grid.ClientOrderID(eng.GridID(), it.Ref)
//			case grid.IntentQuery: // answer with OrderAccepted/Filled/Canceled or OrderNotFound
//			case grid.IntentReconcile: // read orders and position now: answer with eng.Reconcile
//			}
//		}
//	}
//
// [Runner] is that loop for an [exchange.IExchange], with an
// [exchange.Executor] for rate limits, retries and batches (each runner
// has its own lane on it, so grids sharing one executor take fair turns
// and stop alone: see [WithExecutor]), reconciliation every 30 s and after
// reconnects, restart recovery, risk monitors and a clean stop. grid/backtest runs the same engine against the simulator
// with direct calls.
//
// The engine reads no clock, starts no goroutine and does no I/O: only
// runner.go does, in this package. Levels, sizing, windows, the initial
// position, reconciliation and restart rules are documented on the
// options and on [Engine.Reconcile] and [Engine.Recover]; the slot state
// machine is in package slot. grid/CONTROLS.md lists every option with
// its default and an example, and compares the controls with the
// exchanges' own grid bots.
package grid
