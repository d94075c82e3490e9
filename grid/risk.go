package grid

import (
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/pricefeed"
	"github.com/gridmesh/gridmesh/risk"
	"github.com/gridmesh/gridmesh/slot"
)

// WithRiskMonitors registers runtime monitors (see package risk). The
// engine holds them in a [risk.Guard]: while any is triggered, entries
// stop (and, with [WithPauseCancelsEntries], live entries are canceled);
// exits keep working. Entries resume when every monitor has cleared and
// the cool-down has passed. Feed the monitors with [Engine.ObserveRisk]:
// the runner and the backtest do.
func WithRiskMonitors(cooldown time.Duration, monitors ...risk.Monitor) Option {
	return optionFunc(func(c *config) { c.riskCooldown, c.monitors = cooldown, append(c.monitors, monitors...) })
}

// WithPauseCancelsEntries says whether a risk pause cancels the live
// entries too (default false: they stay, but no new ones are placed).
func WithPauseCancelsEntries(on bool) Option {
	return optionFunc(func(c *config) { c.pauseCancels = on })
}

// WithRiskHardStop turns a risk trigger from a pause into a hard stop (see
// [Engine.HardStop]): every order of the grid is canceled by its ID, and
// with closePosition the grid's own position is closed at market. The grid
// does not resume; it must be rebuilt.
func WithRiskHardStop(closePosition bool) Option {
	return optionFunc(func(c *config) { c.hardStop, c.hardStopClose = true, closePosition })
}

// WithRiskChecks registers pre-start checks (see package risk) and the
// parts of the plan the engine cannot know: leverage, margin mode, fee
// rates and maintenance rate (the engine fills in the levels, quantities,
// side, bounds and initial position). [Engine.CheckStart] runs them; the
// runner refuses to start when they fail.
func WithRiskChecks(base risk.Plan, checks ...risk.Check) Option {
	return optionFunc(func(c *config) { c.planBase, c.checks = base, append(c.checks, checks...) })
}

// ObserveRisk feeds one observation to the risk monitors and the trend
// filter ([WithTrendFilter]) and applies what it changes: a pause (entries
// stop, or one side's entries for the trend filter) or a resume. Every
// monitor's trigger and clear, and every change of the trend, is logged
// and reported to the observer.
func (e *Engine) ObserveRisk(o risk.Observation) []Intent {
	e.observeGuard(o)
	e.observeTrend(o) // appends to e.out
	return e.out
}

// observeGuard is the guard's part of ObserveRisk; it starts e.out.
func (e *Engine) observeGuard(o risk.Observation) []Intent {
	e.out = e.out[:0]
	if e.guard == nil {
		return e.out
	}
	var pause, resume bool
	var reason string
	for _, t := range e.guard.Observe(o) {
		if t.Guard {
			pause, resume, reason = t.Triggered, !t.Triggered, t.Reason
			continue
		}
		e.log.Warn("grid: risk monitor", "monitor", t.Monitor, "triggered", t.Triggered, "reason", t.Reason)
		e.obs.Risk(RiskNote{Time: t.Time, Paused: e.guard.Paused(), Monitor: t.Monitor, Triggered: t.Triggered, Reason: t.Reason})
	}
	switch {
	case pause && e.cfg.hardStop:
		return e.HardStop(o.Time, "risk: "+reason, e.cfg.hardStopClose)
	case pause && !e.PausedBy(PauseRisk):
		return e.PauseFor(o.Time, PauseRisk, reason, e.cfg.pauseCancels)
	case resume && e.PausedBy(PauseRisk):
		return e.ResumeFor(o.Time, PauseRisk)
	}
	return e.out
}

// RiskPaused reports whether the risk guard holds entries.
func (e *Engine) RiskPaused() bool { return e.guard != nil && e.guard.Paused() }

// Plan describes the grid for the pre-start checks: base (leverage, margin
// mode, fees, maintenance rate, as given to WithRiskChecks) completed with
// the engine's levels, quantities, side, bounds and initial position. A
// trailing grid lists the LayerCap levels nearest the start on each side it
// enters from.
func (e *Engine) Plan() risk.Plan {
	p := e.cfg.planBase
	r := e.rules
	p.Symbol, p.Rules, p.PositionMode = r.Symbol, r, e.cfg.posMode
	p.StartPrice = r.TicksToPrice(e.start)
	p.Direction = e.cfg.mode.Direction()
	if e.cfg.trailing {
		p.Trailing, p.LayerCap = true, e.cfg.layerCap
		p.Lower, p.Upper = decimal.Zero, decimal.Zero
	} else {
		p.Lower, p.Upper = r.TicksToPrice(e.lad.prices[0]), r.TicksToPrice(e.lad.prices[len(e.lad.prices)-1])
	}
	initial := e.cfg.initialPosition() && !e.recovered
	add := func(i int64) {
		lv := e.lv(i)
		if lv.s.Kind == 0 || lv.bad != "" {
			return
		}
		side := e.sideOf(lv.s.Kind, slot.RoleEntry)
		isInitial := initial && ((lv.s.Kind == slot.Long && lv.price >= e.start) || (lv.s.Kind == slot.Short && lv.price <= e.start))
		p.Levels = append(p.Levels, risk.PlanLevel{
			Price: r.TicksToPrice(lv.price), Qty: r.StepsToQty(lv.qty), EntrySide: side,
			ExitPrice: r.TicksToPrice(lv.exit), Initial: isInitial,
			Notional: r.MoneyToDecimal(exchange.Notional(lv.price, lv.qty)),
		})
	}
	lo, hi := e.minL, e.maxL
	if e.cfg.trailing {
		n := int64(e.cfg.layerCap)
		lo, hi = max(e.minL, -n-1), n+1
	}
	e.ensure(lo, hi)
	for i := lo; i <= hi; i++ {
		add(i)
	}
	return p
}

// ErrChecksFailed is matched by the error of [Engine.CheckStart] when a
// pre-start check fails.
var ErrChecksFailed = errors.New("grid: pre-start checks failed")

// CheckStart runs the pre-start checks registered with WithRiskChecks
// against the account, its positions and the grid's [Engine.Plan]. Every
// failure is reported at once, each saying what is short and by how much.
func (e *Engine) CheckStart(account exchange.Account, positions []exchange.Position) error {
	if len(e.cfg.checks) == 0 {
		return nil
	}
	err := risk.RunChecks(risk.CheckInput{Plan: e.Plan(), Account: account, Positions: positions, Rules: e.rules}, e.cfg.checks...)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrChecksFailed, err)
	}
	return nil
}

// HasRiskChecks reports whether pre-start checks are registered.
func (e *Engine) HasRiskChecks() bool { return len(e.cfg.checks) > 0 }

// HasRiskMonitors reports whether runtime monitors or a trend filter
// ([WithTrendFilter]) are registered: whether the host must feed
// [Engine.ObserveRisk].
func (e *Engine) HasRiskMonitors() bool { return e.guard != nil || e.trend != nil }

// PositionMode returns the position mode the grid was built for
// ([WithPositionMode]); a host refuses to start it on a venue in the other.
func (e *Engine) PositionMode() exchange.PositionMode { return e.cfg.posMode }

// RiskBooks returns the grid's own books at mark for the risk monitors (a
// [risk.KindBooks] observation; [risk.DrawdownGrid] reads it): the gross
// realized PnL of its round trips, the unrealized PnL of what it holds at
// mark, the fees its orders paid, and funding — which the venue charges to
// the account, not to an order, so the host counts it (the backtest from
// the simulator, a runner its booked funding, see [FundingHistory]) and passes it
// here, signed as paid. Net() is then the grid's equity change, the figure
// DESIGN §3 invariant 5 compares with the venue's.
func (e *Engine) RiskBooks(mark exchange.Ticks, funding exchange.Money) risk.Books {
	r, b := e.rules, e.books
	return risk.Books{
		Realized: r.MoneyToDecimal(b.Realized), Unrealized: r.MoneyToDecimal(b.Unrealized(mark)),
		Fees: r.MoneyToDecimal(b.Fees), Funding: r.MoneyToDecimal(funding),
	}
}

// TimerObservation is what a host sends the risk monitors on its timer, at
// now (its clock): the price source's liveness l (from
// [pricefeed.Monitor.Liveness]) as a [risk.KindAlive] observation of
// rules' symbol, so that the stale-feed monitor tells a quiet but live
// feed from a dead one; or, while nothing has been heard yet (l.Messages
// is 0), a plain [risk.KindTimer] observation. Either one also advances
// every monitor's clock and the guard's cool-down.
func TimerObservation(now time.Time, rules exchange.Rules, l pricefeed.Liveness) risk.Observation {
	if l.Messages == 0 {
		return risk.Observation{Time: now, Kind: risk.KindTimer}
	}
	return risk.Observation{Time: now, Kind: risk.KindAlive, Symbol: rules.Symbol, Price: rules.TicksToPrice(l.Price.Ticks), Heard: l.Price.Time}
}
