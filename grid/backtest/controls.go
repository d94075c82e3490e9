package backtest

import (
	"time"

	"github.com/gridmesh/gridmesh/exchange"
)

// checkStart answers the engine's IntentCheckStart (its start trigger
// fired): the pre-start checks run against the simulated account and
// positions as they are at that tick.
func (r *run) checkStart(now time.Time) error {
	rules := r.cfg.Rules
	m := rules.MoneyToDecimal
	price := r.core.Price()
	acct := exchange.Account{
		TotalWallet: m(r.core.Wallet()), TotalMargin: m(r.core.Equity(price)), AvailableBalance: m(r.core.Available()),
		PositionMode: r.cfg.Sim.PositionMode, CanTrade: true,
	}
	var pos []exchange.Position
	sides := []exchange.PositionSide{exchange.PositionBoth}
	if r.cfg.Sim.PositionMode == exchange.Hedge {
		sides = []exchange.PositionSide{exchange.PositionLong, exchange.PositionShort}
	}
	for _, ps := range sides {
		q, _ := r.core.Position(ps)
		pos = append(pos, exchange.Position{Symbol: rules.Symbol, PositionSide: ps, Quantity: rules.StepsToQty(q),
			MarkPrice: rules.TicksToPrice(price), Leverage: int(r.cfg.Sim.Leverage), MarginMode: r.cfg.Sim.MarginMode})
	}
	err := r.eng.CheckStart(acct, pos)
	r.queue = append(r.queue, r.eng.StartChecked(now, err)...)
	return nil
}

// bookFunding books in the engine the funding the venue just charged (the
// engine's PnL, which take-profit and stop-loss by PnL compare, is net of
// funding).
func (r *run) bookFunding(before exchange.Money) {
	if d := r.core.Stats().Funding - before; d != 0 {
		r.eng.BookFunding(d)
	}
}

// ended reports whether a grid control ended the grid for good and
// everything it had to do is done (orders gone, position closed if asked):
// the run stops at that candle.
func (r *run) ended(now time.Time) bool {
	if kind, reason := r.eng.Terminal(); kind != "" && r.eng.Done() {
		r.stopped, r.stoppedAt = reason, now
		return true
	}
	return false
}
