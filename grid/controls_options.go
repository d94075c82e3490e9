package grid

import (
	"time"

	"github.com/shopspring/decimal"
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
