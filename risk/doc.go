// Package risk holds gridmesh's pre-start safety checks and runtime
// monitors. The grid engine calls both; a host adds its own beside the
// built-ins. A host loop that drives them by hand looks like this:
//
//	// Before the first order: judge the plan against the account.
//	in := risk.CheckInput{Plan: plan, Account: acct, Positions: positions, Rules: rules}
//	if err := risk.RunChecks(in, risk.DefaultChecks()...); err != nil {
//		var ce *risk.CheckError
//		if errors.As(err, &ce) {
//			log.Printf("%s: %s (short by %s)", ce.Check, ce.Reason, ce.Short)
//		}
//		return err // every failure is in err, joined
//	}
//
//	// While running: feed every observation, in time order, to a Guard.
//	band, _ := risk.NewPriceBand(risk.DefaultPriceBandConfig(plan.Symbol))
//	stale, _ := risk.NewStaleFeed(risk.DefaultStaleFeedConfig(plan.Symbol))
//	guard := risk.NewGuard(5*time.Minute, band, stale)
//	for o := range observations { // prices, klines, fills, account, mark, timer ticks
//		for _, t := range guard.Observe(o) {
//			logger.Info("risk", "monitor", t.Monitor, "triggered", t.Triggered, "reason", t.Reason)
//		}
//		if guard.Paused() {
//			// place no entry; exits keep working
//		}
//	}
//
// # Checks
//
// A [Check] judges a [Plan] — the grid's levels, quantities, direction,
// leverage, margin and position mode, fees and initial position, filled in
// by the grid so that risk never imports grid — against the account, its
// positions and the symbol's rules, and says what is short and by how much
// in a [*CheckError]. The built-ins: [AccountConfigCheck] (position mode,
// margin mode, multi-assets, leverage as planned), [LeverageCheck] (≤ 10),
// [RulesCheck] (every order valid), [ProfitCheck] (every round trip
// profitable after fees), [PositionCapacityCheck] (the seed's position
// safety check), [MarginCheck] (worst case × 1.2 covered) and
// [LiquidationCheck] (worst-case liquidation beyond the range).
// [DefaultChecks] returns them all. Checks are pure: no I/O, no clock.
//
// # Monitors
//
// A [Monitor] is a pure state machine fed [Observation]s in time order; it
// reads no clock (time arrives with each observation, and [KindTimer]
// observations carry time alone) and starts no goroutine. The built-ins:
// [VolumeSpike] (a basket's collective volume spike against the grid's
// side), [PriceBand] (a circuit breaker on moves over X % in Y minutes),
// [Exposure] (position or notional cap), [Drawdown] (equity below its
// peak: the account's, or the grid's own books, see [DrawdownSource]),
// [StaleFeed] (no price, nor [KindAlive] sign of life from the price
// source, for N seconds) and [LiquidationDistance] (price near a
// position's liquidation price). Each triggers and clears at
// different levels, so a value hovering at the limit cannot make it flap.
//
// A [Guard] aggregates monitors for the engine: paused while any is
// triggered, resumed once all have cleared and a cool-down has passed, and
// every change reported as a [Transition] to be logged and observed.
//
// This package imports only the exchange contract of gridmesh.
package risk
