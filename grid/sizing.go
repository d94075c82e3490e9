package grid

import (
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
)

// Rounding is how fixed-amount sizing turns amount / price into a whole
// number of steps (see [WithAmountRounding]). The zero value is RoundDown.
type Rounding uint8

const (
	// RoundDown floors the quantity: an order's notional is never above
	// the amount (the default).
	RoundDown Rounding = iota
	// RoundNearest takes the nearest step (half a step rounds up): an
	// order's notional is within half a step's worth of the amount, either
	// side.
	RoundNearest
	// RoundUp ceils the quantity: an order's notional is never below the
	// amount.
	RoundUp
)

// String returns "down", "nearest" or "up".
func (r Rounding) String() string {
	switch r {
	case RoundDown:
		return "down"
	case RoundNearest:
		return "nearest"
	case RoundUp:
		return "up"
	}
	return fmt.Sprintf("Rounding(%d)", uint8(r))
}

// WithAmountRounding sets how fixed-amount sizing ([WithAmount]) rounds a
// level's quantity, amount / price, to the step size.
//
// The default is RoundDown, so the amount is a ceiling: no order carries
// more notional (and margin) than the host stated, and the pre-start
// margin checks, which budget from the plan, are never exceeded by
// rounding. Its cost shows when the amount is small against one step's
// notional: 200 USDT at a BTC price of 105,000 with a 0.001 step is
// 0.0019 BTC, floored to 0.001 (105 USDT, about half the amount). Choose
// RoundNearest to keep every order within half a step of the amount (the
// same example gives 0.002, 210 USDT), or RoundUp to make the amount a
// floor (never below it, at most one step above). [Engine.Plan] and
// [Stats] report each level's actual notional whatever the mode.
func WithAmountRounding(r Rounding) Option {
	return optionFunc(func(c *config) { c.rounding, c.roundingSet = r, true })
}

// WithCompounding grows the fixed amount ([WithAmount]) with the grid's
// realized profit: each new entry is sized for amount × (1 + net realized
// / investment), where net realized is realized PnL minus fees and funding
// booked, and the investment is [Engine.Investment]. It never shrinks
// below the amount (a loss does not make levels smaller than the ones New
// checked against the symbol's rules), and a level whose grown quantity
// would break the engine's limits keeps its last quantity. [Stats.Amount]
// reports the amount in force.
func WithCompounding(on bool) Option { return optionFunc(func(c *config) { c.compound = on }) }

// qtyFor is fixed-amount sizing at price p: amount / p rounded to a step
// by the rounding mode. Both are positive and within the books' limits,
// so the sums do not overflow.
func qtyFor(amount exchange.Money, p exchange.Ticks, r Rounding) exchange.Steps {
	a, px := int64(amount), int64(p)
	switch r {
	case RoundNearest:
		q, rem := a/px, a%px
		if 2*rem >= px {
			q++
		}
		return exchange.Steps(q)
	case RoundUp:
		q := a / px
		if a%px != 0 {
			q++
		}
		return exchange.Steps(q)
	}
	return exchange.Steps(a / px)
}

// amountNow is the fixed amount in force: the configured one, grown by
// compounding.
func (e *Engine) amountNow() exchange.Money {
	if !e.cfg.compound || e.ctl.investment <= 0 {
		return e.amount
	}
	net := e.books.Realized - e.books.Fees - e.books.Funding
	if net <= 0 {
		return e.amount
	}
	grown, err := exchange.MulDiv(int64(e.amount), int64(e.ctl.investment+net), int64(e.ctl.investment))
	if err != nil {
		return e.amount
	}
	return exchange.Money(grown)
}

// resize gives a free level the quantity of the amount in force before its
// entry is placed (compounding). A quantity the symbol's rules or the
// books refuse keeps the level's last one.
func (e *Engine) resize(lv *level) {
	if !e.cfg.compound || e.amount == 0 {
		return
	}
	q := qtyFor(e.amountNow(), lv.price, e.cfg.rounding)
	if q <= lv.qty || !e.fitsBooks(lv.price, q) || !e.fitsBooks(lv.exit, q) {
		return
	}
	lv.qty = q
}

// notionalRange is the smallest and largest entry notional over the
// levels made so far (0, 0 without any).
func (e *Engine) notionalRange() (lo, hi exchange.Money) {
	for j := range e.levels {
		lv := &e.levels[j]
		if lv.s.Kind == 0 || lv.bad != "" {
			continue
		}
		n := exchange.Notional(lv.price, lv.qty)
		if lo == 0 || n < lo {
			lo = n
		}
		hi = max(hi, n)
	}
	return lo, hi
}

// checkQuantity refuses a fixed quantity that is not a whole number of
// steps: flooring it silently would trade less than asked.
func checkQuantity(rules exchange.Rules, q decimal.Decimal) (exchange.Steps, error) {
	fl := rules.FloorQty(q)
	if !fl.Equal(q) {
		up := fl.Add(rules.StepSize)
		return 0, &OptionError{Option: "WithQuantity", Value: q.String(),
			Reason: fmt.Sprintf("is not a multiple of the step size %s: use %s or %s", rules.StepSize, fl, up)}
	}
	s, err := rules.QtyToSteps(fl)
	if err != nil || s <= 0 {
		return 0, &OptionError{Option: "WithQuantity", Value: q.String(), Reason: "is below the step size " + rules.StepSize.String()}
	}
	return s, nil
}
