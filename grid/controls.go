package grid

import (
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
)

// Terminal kinds: why a grid ended for good (see [Stats.Terminal]).
const (
	TerminalTakeProfit  = "take-profit"
	TerminalStopLoss    = "stop-loss"
	TerminalStopTop     = "stop-top"
	TerminalStopBottom  = "stop-bottom"
	TerminalTimeLimit   = "time-limit"
	triggerRecheckDelay = time.Minute
)

// ctl is the engine's state of its controls, in the symbol's units.
type ctl struct {
	watch bool // some control acts on prices or time: OnPrice takes the slow path

	trigLo, trigHi exchange.Ticks // the trigger fires at a price in trigLo..trigHi
	hasTrigger     bool
	fired          bool   // the trigger fired (or there is none)
	checking       bool   // waiting for StartChecked
	checked        bool   // the checks passed at the trigger
	checkAt        int64  // Unix ns at which the checks are asked for again
	waiting        string // why the grid is idle

	startedAt int64 // Unix ns the grid began trading; 0: not yet

	up, down         exchange.Ticks // stop at price ≥ up / ≤ down (0: none)
	upKind, downKind string
	tp, sl           exchange.Money // PnL targets (sl as a positive loss)
	hasTP, hasSL     bool

	terminal      string // kind; "" while running
	terminalWhy   string
	terminalAt    int64
	terminalClose bool

	investment exchange.Money
}

// initControls converts the controls to the symbol's units (New).
func (e *Engine) initControls() error {
	c := &e.cfg
	k := &e.ctl
	k.fired = true
	ticks := func(name string, p decimal.Decimal) (exchange.Ticks, error) {
		t, err := e.rules.PriceToTicks(e.rules.RoundPrice(p))
		if err != nil {
			return 0, &OptionError{Option: name, Value: p.String(), Reason: err.Error()}
		}
		return t, nil
	}
	var err error
	switch c.trigger.kind {
	case triggerAbove:
		k.trigLo, err = ticks("WithStartTrigger", c.trigger.lo)
		k.trigHi = exchange.Ticks(1<<62 - 1)
	case triggerBelow:
		k.trigLo = 1
		k.trigHi, err = ticks("WithStartTrigger", c.trigger.hi)
	case triggerBand:
		if k.trigLo, err = ticks("WithStartTrigger", c.trigger.lo); err == nil {
			k.trigHi, err = ticks("WithStartTrigger", c.trigger.hi)
		}
	}
	if err != nil {
		return err
	}
	if c.trigger.kind != triggerNone {
		k.hasTrigger, k.fired, k.watch = true, false, true
		k.waiting = "waiting for the start trigger: " + c.trigger.String()
	}
	setUp := func(name, kind string, p decimal.Decimal) error {
		t, err := ticks(name, p)
		k.up, k.upKind = t, kind
		return err
	}
	setDown := func(name, kind string, p decimal.Decimal) error {
		t, err := ticks(name, p)
		k.down, k.downKind = t, kind
		return err
	}
	var errs []error
	note := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if c.takeProfit.kind == targetPrice {
		if c.mode == Long {
			note(setUp("WithTakeProfit", TerminalTakeProfit, c.takeProfit.v))
		} else {
			note(setDown("WithTakeProfit", TerminalTakeProfit, c.takeProfit.v))
		}
	}
	if c.stopLoss.kind == targetPrice {
		if c.mode == Long {
			note(setDown("WithStopLoss", TerminalStopLoss, c.stopLoss.v))
		} else {
			note(setUp("WithStopLoss", TerminalStopLoss, c.stopLoss.v))
		}
	}
	if c.stopTop.IsPositive() {
		note(setUp("WithStopTop", TerminalStopTop, c.stopTop))
	}
	if c.stopBottom.IsPositive() {
		note(setDown("WithStopBottom", TerminalStopBottom, c.stopBottom))
	}
	k.investment = e.investment()
	money := func(name string, t Target) (exchange.Money, error) {
		v := t.v
		if t.kind == targetFraction {
			v = e.rules.MoneyToDecimal(k.investment).Mul(t.v)
		}
		m, err := e.rules.DecimalToMoney(v.Div(e.rules.MoneyUnit()).Ceil().Mul(e.rules.MoneyUnit()))
		if err != nil || m <= 0 {
			return 0, &OptionError{Option: name, Value: t.String(), Reason: fmt.Sprintf("is %s in quote currency: below the money unit %s or too large", v, e.rules.MoneyUnit())}
		}
		return m, nil
	}
	if t := c.takeProfit; t.kind == targetPnL || t.kind == targetFraction {
		m, err := money("WithTakeProfit", t)
		note(err)
		k.tp, k.hasTP = m, err == nil
	}
	if t := c.stopLoss; t.kind == targetPnL || t.kind == targetFraction {
		m, err := money("WithStopLoss", t)
		note(err)
		k.sl, k.hasSL = m, err == nil
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	k.watch = k.watch || k.up > 0 || k.down > 0 || k.hasTP || k.hasSL || c.timeLimitSet
	return nil
}

// investment is the grid's investment, the base of AtPnLFraction and of
// compounding: the entry notional of every level of a bounded grid
// (price × quantity, summed over the slots, as if every level held), or
// of the layer cap's worth of levels nearest the start for a trailing
// grid (the most it can hold).
func (e *Engine) investment() exchange.Money {
	var sum exchange.Money
	lo, hi := e.minL, e.maxL
	if e.cfg.trailing {
		n := int64(e.cfg.layerCap)
		lo, hi = max(e.minL, -n), min(e.maxL, n)
	}
	e.ensure(lo, hi)
	var long, short []exchange.Money
	for i := lo; i <= hi; i++ {
		lv := e.lv(i)
		if lv.s.Kind == 0 || lv.bad != "" {
			continue
		}
		n := exchange.Notional(lv.price, lv.qty)
		if !e.cfg.trailing {
			sum += n
			continue
		}
		if lv.price < e.start || (lv.price == e.start && e.cfg.mode == Long) {
			long = append(long, n)
		} else {
			short = append(short, n)
		}
	}
	if e.cfg.trailing {
		// nearest the start first: long levels are listed low to high
		for j := len(long) - 1; j >= 0 && j >= len(long)-e.cfg.layerCap; j-- {
			sum += long[j]
		}
		for j := 0; j < len(short) && j < e.cfg.layerCap; j++ {
			sum += short[j]
		}
	}
	return sum
}

// Investment is the grid's investment in quote currency: the notional of
// every level's entry of a bounded grid, or of the layer cap's levels
// nearest the start of a trailing grid. [AtPnLFraction] and compounding
// ([WithCompounding]) are fractions of it.
func (e *Engine) Investment() decimal.Decimal { return e.rules.MoneyToDecimal(e.ctl.investment) }

// pnlAt is the grid's PnL at price p: realized round trips and closes, minus
// fees and funding booked ([Engine.BookFunding]), plus the open position at
// p — what take-profit and stop-loss by PnL compare.
func (e *Engine) pnlAt(p exchange.Ticks) exchange.Money {
	b := &e.books
	return b.Realized - b.Fees - b.Funding + b.Unrealized(p)
}

// BookFunding books a funding payment of the grid's position (signed:
// positive paid, negative received), in the symbol's money units. The
// engine's PnL (take-profit and stop-loss by PnL, [Stats.Funding]) is net
// of what is booked here; a host that does not book funding leaves the
// PnL gross of funding. The backtest books every settlement it charges; a
// [Runner] books the settlements of a venue with a [FundingHistory] (see
// there); over a venue without one, live PnL controls are gross of funding
// unless the host books it.
func (e *Engine) BookFunding(amount exchange.Money) { e.books.Funding += amount }

// watched is OnPrice when a control watches the prices or the time. The
// stops look at the new price before the windows move, so a stop never
// places what it cancels at once.
func (e *Engine) watched(now time.Time, p exchange.Ticks) []Intent {
	e.out = e.out[:0]
	if p <= 0 {
		return e.out
	}
	if e.started {
		e.price, e.havePrice = p, true
		e.control(now)
	}
	if !e.started || p < e.bandLo || p > e.bandHi {
		e.move(now, p)
	}
	if !e.started {
		e.control(now)
	}
	return e.out
}

// control acts on the price and time: the start checks' retry, the stops,
// the time limit and the close's timeout. It appends to e.out.
func (e *Engine) control(now time.Time) {
	k := &e.ctl
	t := now.UnixNano()
	if !e.started {
		if k.fired && !k.checked && !k.checking && k.checkAt > 0 && t >= k.checkAt && e.ready && e.havePrice {
			e.askChecks(now)
		}
		return
	}
	if e.closing.wanted {
		e.closeTick(now)
	}
	if e.halted || !e.havePrice {
		return
	}
	p := e.price
	switch {
	case k.down > 0 && p <= k.down:
		e.stopFor(now, k.downKind, fmt.Sprintf("%s: price %s at or below %s", k.downKind, e.rules.TicksToPrice(p), e.rules.TicksToPrice(k.down)), true)
		return
	case k.up > 0 && p >= k.up:
		e.stopFor(now, k.upKind, fmt.Sprintf("%s: price %s at or above %s", k.upKind, e.rules.TicksToPrice(p), e.rules.TicksToPrice(k.up)), true)
		return
	}
	if k.hasTP || k.hasSL {
		pnl := e.pnlAt(p)
		switch {
		case k.hasSL && pnl <= -k.sl:
			e.stopFor(now, TerminalStopLoss, fmt.Sprintf("stop-loss: PnL %s at or below −%s (%s)", e.rules.MoneyToDecimal(pnl), e.rules.MoneyToDecimal(k.sl), e.cfg.stopLoss), true)
			return
		case k.hasTP && pnl >= k.tp:
			e.stopFor(now, TerminalTakeProfit, fmt.Sprintf("take-profit: PnL %s at or above %s (%s)", e.rules.MoneyToDecimal(pnl), e.rules.MoneyToDecimal(k.tp), e.cfg.takeProfit), true)
			return
		}
	}
	if e.cfg.timeLimitSet && k.startedAt > 0 && t >= k.startedAt+int64(e.cfg.timeLimit) {
		e.stopFor(now, TerminalTimeLimit, fmt.Sprintf("time limit: %s since the start at %s", e.cfg.timeLimit, time.Unix(0, k.startedAt).UTC().Format(time.RFC3339)), e.cfg.timeLimitClose)
	}
}

// stopFor ends the grid for good: it halts (every order canceled by its
// ID) and, with closePosition, closes the grid's own position, limit
// first (see WithStopClose). It appends to e.out.
func (e *Engine) stopFor(now time.Time, kind, reason string, closePosition bool) {
	k := &e.ctl
	k.terminal, k.terminalWhy, k.terminalAt, k.terminalClose = kind, reason, now.UnixNano(), closePosition
	e.obs.Risk(RiskNote{Time: now, Halted: true, Reason: reason, Terminal: kind})
	e.halt(now, reason, false)
	if closePosition {
		e.closing.limitFirst = !e.cfg.closeSet || e.cfg.closeTimeout > 0
		e.closing.wanted = true
		e.maybeClose(now)
	}
}

// HasStops reports whether a control can end the grid for good
// (take-profit, stop-loss, stop top or bottom, time limit).
func (e *Engine) HasStops() bool {
	k := &e.ctl
	return k.up > 0 || k.down > 0 || k.hasTP || k.hasSL || e.cfg.timeLimitSet
}

// Terminal reports why the grid ended for good (a TerminalXxx kind and the
// reason), or "" while it runs. A terminal grid places nothing again; a
// restart with the stored state stays stopped.
func (e *Engine) Terminal() (kind, reason string) { return e.ctl.terminal, e.ctl.terminalWhy }

// Done reports whether a terminal grid has finished: nothing of the grid
// is live on the venue and, if it was to close its position, the position
// is closed.
func (e *Engine) Done() bool {
	if e.ctl.terminal == "" || e.books.OpenOrders > 0 {
		return false
	}
	return !e.closing.wanted || (e.books.LongHeld == 0 && e.books.ShortHeld == 0)
}

// triggerMet reports whether the trigger fires at the current price.
func (e *Engine) triggerMet() bool {
	k := &e.ctl
	return e.havePrice && e.price >= k.trigLo && e.price <= k.trigHi
}

// askChecks asks the host to run the pre-start checks (the trigger fired).
func (e *Engine) askChecks(now time.Time) {
	k := &e.ctl
	k.checking = true
	k.waiting = "the start trigger fired: running the pre-start checks"
	e.out = append(e.out, Intent{Kind: IntentCheckStart})
	e.log.Info("grid: start trigger fired; pre-start checks asked for", "price", e.rules.TicksToPrice(e.price).String())
}

// StartChecked answers an [IntentCheckStart]: err is what
// [Engine.CheckStart] returned against the account and positions read
// after the intent. Nil starts the grid; an error keeps it idle with the
// reason (in [Stats.Waiting]) and asks for the checks again a minute later.
func (e *Engine) StartChecked(now time.Time, err error) []Intent {
	e.out = e.out[:0]
	k := &e.ctl
	if !k.checking || e.started {
		return e.out
	}
	k.checking = false
	if err != nil {
		k.checkAt = now.UnixNano() + int64(triggerRecheckDelay)
		k.waiting = "the start trigger fired but the pre-start checks failed (asked again in a minute): " + err.Error()
		e.log.Warn("grid: pre-start checks failed at the trigger; the grid stays idle", "err", err)
		e.obs.Risk(RiskNote{Time: now, Paused: true, Reason: k.waiting})
		return e.out
	}
	k.checked = true
	if e.ready && e.havePrice {
		e.begin(now)
	}
	return e.out
}

// gate decides, at begin, whether the grid may start now: its trigger has
// fired (or it has none), and the checks asked for at the trigger passed.
func (e *Engine) gate(now time.Time) bool {
	k := &e.ctl
	if !k.fired {
		if e.recovered {
			k.fired = true // the venue holds the grid's orders or position: it had started
			k.checked = true
		} else if !e.triggerMet() {
			return false
		} else {
			k.fired = true
			e.log.Info("grid: start trigger fired", "trigger", e.cfg.trigger.String(), "price", e.rules.TicksToPrice(e.price).String())
			if len(e.cfg.checks) == 0 {
				k.checked = true
			}
		}
	}
	if k.hasTrigger && !k.checked {
		if !k.checking && (k.checkAt == 0 || now.UnixNano() >= k.checkAt) {
			e.askChecks(now)
		}
		return false
	}
	k.waiting = ""
	if k.startedAt == 0 {
		k.startedAt = now.UnixNano()
	}
	return true
}
