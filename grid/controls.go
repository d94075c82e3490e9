package grid

import (
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
)

// Trigger is a start trigger (see [WithStartTrigger]). Make one with
// [TriggerAbove], [TriggerBelow] or [TriggerBand]; the zero value is no
// trigger.
type Trigger struct {
	kind   triggerKind
	lo, hi decimal.Decimal
}

type triggerKind uint8

const (
	triggerNone triggerKind = iota
	triggerAbove
	triggerBelow
	triggerBand
)

// TriggerAbove fires at the first price at or above p: the price crossed p
// upwards.
func TriggerAbove(p decimal.Decimal) Trigger { return Trigger{kind: triggerAbove, lo: p} }

// TriggerBelow fires at the first price at or below p: the price crossed p
// downwards.
func TriggerBelow(p decimal.Decimal) Trigger { return Trigger{kind: triggerBelow, hi: p} }

// TriggerBand fires at the first price inside lo..hi (both included).
func TriggerBand(lo, hi decimal.Decimal) Trigger { return Trigger{kind: triggerBand, lo: lo, hi: hi} }

// String describes the trigger, e.g. "price ≥ 105000".
func (t Trigger) String() string {
	switch t.kind {
	case triggerAbove:
		return "price ≥ " + t.lo.String()
	case triggerBelow:
		return "price ≤ " + t.hi.String()
	case triggerBand:
		return "price in " + t.lo.String() + ".." + t.hi.String()
	}
	return "none"
}

// WithStartTrigger keeps the grid idle — no order, no initial position —
// until the price meets the trigger. The levels stay those of
// [WithStartPrice] (set it to the trigger price to centre the grid where it
// fires); the initial position, if any, is bought at the trigger. When the
// trigger fires and pre-start checks are registered ([WithRiskChecks]), the
// engine asks the host to run them again against the account as it is
// then ([IntentCheckStart], answered with [Engine.StartChecked]); a
// failure keeps the grid idle with the reason in [Stats.Waiting], and the
// checks are asked for again a minute later. A trigger the start price
// already meets is refused: it would fire at once.
//
// A fired trigger is part of the stored state ([StoredState.Started]): a
// restart does not wait for it again. Without a store, a restarted engine
// counts its trigger as fired when [Engine.Recover] found anything of the
// grid on the venue (an order, a claimed position), and waits again
// otherwise.
func WithStartTrigger(t Trigger) Option { return optionFunc(func(c *config) { c.trigger = t }) }

// Target is where a take-profit or stop-loss acts (see [WithTakeProfit]).
// Make one with [AtPrice], [AtPnL] or [AtPnLFraction]; the zero value is
// none.
type Target struct {
	kind targetKind
	v    decimal.Decimal
}

type targetKind uint8

const (
	targetNone targetKind = iota
	targetPrice
	targetPnL
	targetFraction
)

// AtPrice acts when the price reaches p: for a long grid a take-profit at
// or above p and a stop-loss at or below it; for a short grid the mirror.
// Neutral grids use [WithStopTop] and [WithStopBottom] instead.
func AtPrice(p decimal.Decimal) Target { return Target{kind: targetPrice, v: p} }

// AtPnL acts when the grid's PnL — realized round trips and closes, minus
// fees and funding, plus the open position at the last price — reaches
// +amount (take-profit) or −amount (stop-loss), in quote currency. The
// amount is positive in both cases: a stop-loss of AtPnL(50) stops at a
// loss of 50.
func AtPnL(amount decimal.Decimal) Target { return Target{kind: targetPnL, v: amount} }

// AtPnLFraction is [AtPnL] with the amount given as a fraction of the
// grid's investment ([Engine.Investment]): 0.1 is 10 %.
func AtPnLFraction(f decimal.Decimal) Target { return Target{kind: targetFraction, v: f} }

// String describes the target, e.g. "PnL 10% of the investment".
func (t Target) String() string {
	switch t.kind {
	case targetPrice:
		return "price " + t.v.String()
	case targetPnL:
		return "PnL " + t.v.String()
	case targetFraction:
		return "PnL " + t.v.Shift(2).String() + "% of the investment"
	}
	return "none"
}

// WithTakeProfit stops the grid for good when the target is reached: every
// order of the grid is canceled by its ID, the grid's own position is
// closed (see [WithStopClose]) and the engine stops with the reason in
// [Stats.Terminal] and the observer ([RiskNote.Terminal]). A restarted
// engine with the stored state stays stopped (see [StoredState.Terminal]).
//
// A restart without a store cannot know the grid stopped: once its orders
// are canceled and its position closed, the venue shows nothing of it, so
// the new engine starts as a fresh grid (a [Runner] without a [Store] logs
// a warning when a stop is configured). Run stops with a store, or keep
// the terminal state in the host and do not restart the grid.
func WithTakeProfit(t Target) Option { return optionFunc(func(c *config) { c.takeProfit = t }) }

// WithStopLoss is [WithTakeProfit] for a loss. A stop-loss is a trading
// decision of the grid: it is separate from risk monitors, which pause
// ([WithRiskMonitors]), and needs no [WithRiskHardStop].
func WithStopLoss(t Target) Option { return optionFunc(func(c *config) { c.stopLoss = t }) }

// WithStopTop stops a neutral grid for good, as [WithTakeProfit] does,
// when the price reaches p or above.
func WithStopTop(p decimal.Decimal) Option { return optionFunc(func(c *config) { c.stopTop = p }) }

// WithStopBottom stops a neutral grid for good, as [WithTakeProfit] does,
// when the price reaches p or below.
func WithStopBottom(p decimal.Decimal) Option {
	return optionFunc(func(c *config) { c.stopBottom = p })
}

// WithTimeLimit stops the grid for good d after it started trading (its
// trigger fired, or its first start): every order is canceled by its ID
// and, with closePosition, the grid's own position is closed (see
// [WithStopClose]). The start time is stored ([StoredState.Started]), so a
// restart does not extend the limit. The engine acts on the time of the
// prices and timer calls it is given.
func WithTimeLimit(d time.Duration, closePosition bool) Option {
	return optionFunc(func(c *config) { c.timeLimit, c.timeLimitClose, c.timeLimitSet = d, closePosition, true })
}

// Default close of the grid controls: a limit 0.1 % through the last price
// first, a market order for what it has not filled after 30 s.
var defaultCloseOffset = decimal.New(1, -3)

const defaultCloseTimeout = 30 * time.Second

// WithStopClose says how the grid's position is closed when it stops: a
// limit order offset through the last price (a sell at price × (1 −
// offset), a buy at price × (1 + offset), rounded to the tick toward the
// price) bounds the slippage; what it has not filled after timeout is
// canceled by its ID and closed at market. Timeout 0 closes at market at
// once. The default for take-profit, stop-loss, stop top/bottom and the
// time limit is offset 0.001 (0.1 %) and 30 s; a risk hard stop
// ([WithRiskHardStop], [Engine.HardStop]) closes at market at once unless
// this option is given. Either way the close is reduce-only in one-way
// mode (one plain net order for a neutral grid) and by position side in
// hedge mode, and never touches the baseline.
func WithStopClose(offset decimal.Decimal, timeout time.Duration) Option {
	return optionFunc(func(c *config) { c.closeOffset, c.closeTimeout, c.closeSet = offset, timeout, true })
}

// validateControls checks the controls' options and their combinations.
func (c *config) validateControls() {
	if c.trigger.kind != triggerNone {
		c.validateTrigger()
	}
	isNeutral := c.mode == Neutral
	for _, x := range []struct {
		name string
		t    Target
	}{{"WithTakeProfit", c.takeProfit}, {"WithStopLoss", c.stopLoss}} {
		switch x.t.kind {
		case targetNone:
		case targetPrice:
			if isNeutral {
				c.fail(x.name, x.t.String(), "a neutral grid stops by price with WithStopTop and WithStopBottom")
			} else if !x.t.v.IsPositive() {
				c.fail(x.name, x.t.String(), "the price must be positive")
			}
		case targetPnL:
			if !x.t.v.IsPositive() {
				c.fail(x.name, x.t.String(), "the amount must be positive (a stop-loss's amount is the loss)")
			}
		case targetFraction:
			if !x.t.v.IsPositive() || x.t.v.GreaterThan(decimal.NewFromInt(100)) {
				c.fail(x.name, x.t.String(), "the fraction must be above 0 and at most 100 (0.1 is 10 percent)")
			}
		}
	}
	start := c.start
	tp, sl := c.takeProfit, c.stopLoss
	if !isNeutral && start.IsPositive() {
		up := c.mode == Long // a long grid's take-profit is above the start, its stop-loss below
		if tp.kind == targetPrice && tp.v.IsPositive() && (up && !tp.v.GreaterThan(start) || !up && !tp.v.LessThan(start)) {
			c.fail("WithTakeProfit", tp.String(), "a %s grid's take-profit price must be %s the start price %s: it would fire at once", c.mode, aboveBelow(up), start)
		}
		if sl.kind == targetPrice && sl.v.IsPositive() && (up && !sl.v.LessThan(start) || !up && !sl.v.GreaterThan(start)) {
			c.fail("WithStopLoss", sl.String(), "a %s grid's stop-loss price must be %s the start price %s: it would fire at once", c.mode, aboveBelow(!up), start)
		}
	}
	if tp.kind == targetPrice && sl.kind == targetPrice && !isNeutral {
		if c.mode == Long && !tp.v.GreaterThan(sl.v) {
			c.fail("WithTakeProfit", tp.String(), "a long grid's take-profit must be above its stop-loss %s", sl.v)
		}
		if c.mode == Short && !tp.v.LessThan(sl.v) {
			c.fail("WithTakeProfit", tp.String(), "a short grid's take-profit must be below its stop-loss %s", sl.v)
		}
	}
	top, bottom := c.stopTop, c.stopBottom
	if (!top.IsZero() || !bottom.IsZero()) && !isNeutral {
		c.fail("WithStopTop", top.String()+"/"+bottom.String(), "stop top and bottom are for neutral grids; a %s grid uses WithTakeProfit(AtPrice) and WithStopLoss(AtPrice)", c.mode)
	}
	if isNeutral {
		if !top.IsZero() && (!top.IsPositive() || (start.IsPositive() && !top.GreaterThan(start))) {
			c.fail("WithStopTop", top.String(), "must be above the start price %s", start)
		}
		if !bottom.IsZero() && (!bottom.IsPositive() || (start.IsPositive() && !bottom.LessThan(start))) {
			c.fail("WithStopBottom", bottom.String(), "must be positive and below the start price %s", start)
		}
	}
	if c.timeLimitSet && c.timeLimit <= 0 {
		c.fail("WithTimeLimit", c.timeLimit.String(), "must be positive")
	}
	if c.closeSet && (c.closeOffset.IsNegative() || c.closeOffset.GreaterThanOrEqual(decimal.New(1, -1)) || c.closeTimeout < 0) {
		c.fail("WithStopClose", c.closeOffset.String()+", "+c.closeTimeout.String(), "offset must be at least 0 and below 0.1 (10 percent), timeout not negative")
	}
	if c.compound && c.amount.IsZero() {
		c.fail("WithCompounding", "true", "compounding grows the fixed amount: it goes with WithAmount")
	}
	if c.rounding > RoundUp {
		c.fail("WithAmountRounding", c.rounding.String(), "want RoundDown, RoundNearest or RoundUp")
	}
	if c.roundingSet && c.amount.IsZero() {
		c.fail("WithAmountRounding", c.rounding.String(), "rounding applies to fixed-amount sizing (WithAmount)")
	}
}

func aboveBelow(up bool) string {
	if up {
		return "above"
	}
	return "below"
}

// validateTrigger refuses a trigger that is malformed, that the start
// price already meets (it would fire at once), or that fires where the
// grid would stop at once or never trade.
func (c *config) validateTrigger() {
	t, start := c.trigger, c.start
	name := "WithStartTrigger"
	switch t.kind {
	case triggerAbove:
		if !t.lo.IsPositive() {
			c.fail(name, t.String(), "the price must be positive")
			return
		}
	case triggerBelow:
		if !t.hi.IsPositive() {
			c.fail(name, t.String(), "the price must be positive")
			return
		}
	case triggerBand:
		if !t.lo.IsPositive() || !t.hi.GreaterThan(t.lo) {
			c.fail(name, t.String(), "the band needs 0 < lo < hi")
			return
		}
	default:
		c.fail(name, "?", "make a trigger with TriggerAbove, TriggerBelow or TriggerBand")
		return
	}
	if !start.IsPositive() {
		return
	}
	if t.meets(start) {
		c.fail(name, t.String(), "the start price %s already meets it: it would fire at once (drop the trigger, or set WithStartPrice to the current price)", start)
	}
	// The prices at which the trigger can fire: lo..hi.
	lo, hi := t.lo, t.hi
	switch t.kind {
	case triggerAbove:
		hi = decimal.Zero // unbounded above
	case triggerBelow:
		lo = decimal.Zero
	}
	unboundedHi := t.kind == triggerAbove
	if c.bounded && c.mode == Neutral && c.lower.IsPositive() && ((!unboundedHi && hi.LessThan(c.lower)) || lo.GreaterThan(c.upper)) {
		c.fail(name, t.String(), "it fires only outside the neutral grid's range %s..%s, where the grid cannot start", c.lower, c.upper)
	}
	var upName, downName string
	var up, down decimal.Decimal
	switch c.mode {
	case Long:
		upName, up, downName, down = "take-profit", priceOf(c.takeProfit), "stop-loss", priceOf(c.stopLoss)
	case Short:
		upName, up, downName, down = "stop-loss", priceOf(c.stopLoss), "take-profit", priceOf(c.takeProfit)
	default:
		upName, up, downName, down = "stop top", c.stopTop, "stop bottom", c.stopBottom
	}
	// An up-stop S acts at price ≥ S: a trigger whose every firing price
	// is ≥ S would stop the grid the moment it starts; the mirror below.
	if up.IsPositive() && t.kind != triggerBelow && !lo.LessThan(up) {
		c.fail(name, t.String(), "it fires only at or above the %s %s: the grid would stop the moment it starts", upName, up)
	}
	if down.IsPositive() && t.kind != triggerAbove && !hi.GreaterThan(down) {
		c.fail(name, t.String(), "it fires only at or below the %s %s: the grid would stop the moment it starts", downName, down)
	}
}

func priceOf(t Target) decimal.Decimal {
	if t.kind == targetPrice {
		return t.v
	}
	return decimal.Zero
}

// meets reports whether price p fires the trigger.
func (t Trigger) meets(p decimal.Decimal) bool {
	switch t.kind {
	case triggerAbove:
		return p.GreaterThanOrEqual(t.lo)
	case triggerBelow:
		return p.LessThanOrEqual(t.hi)
	case triggerBand:
		return p.GreaterThanOrEqual(t.lo) && p.LessThanOrEqual(t.hi)
	}
	return true
}

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
// PnL gross of funding. The backtest books every settlement it charges; the
// [Runner] does not yet read the venue's funding payments, so live PnL
// controls are gross of funding unless the host books it.
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
