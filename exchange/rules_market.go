package exchange

import (
	"fmt"

	"github.com/shopspring/decimal"
)

// validateMaxQty reports negative or crossed maximum and market bounds.
func (r Rules) validateMaxQty() []error {
	var errs []error
	bad := func(field string, v decimal.Decimal, reason string) {
		errs = append(errs, &RuleError{Symbol: r.Symbol, Field: field, Value: v.String(), Reason: reason})
	}
	if r.MaxQty.IsNegative() {
		bad("MaxQty", r.MaxQty, "must not be negative")
	}
	if r.MarketMinQty.IsNegative() {
		bad("MarketMinQty", r.MarketMinQty, "must not be negative")
	}
	if r.MarketMaxQty.IsNegative() {
		bad("MarketMaxQty", r.MarketMaxQty, "must not be negative")
	}
	if r.MaxQty.IsPositive() && r.MaxQty.LessThan(r.MinQty) {
		bad("MaxQty", r.MaxQty, "is below MinQty "+r.MinQty.String())
	}
	if lo, hi := r.MarketQtyBounds(); hi.IsPositive() && hi.LessThan(lo) {
		bad("MarketMaxQty", hi, "is below the market minimum "+lo.String())
	}
	return errs
}

// MarketQtyBounds returns the smallest and largest quantity of a MARKET
// order: MarketMinQty and MarketMaxQty, each falling back to MinQty and
// MaxQty when zero. A zero max means no maximum is known.
func (r Rules) MarketQtyBounds() (minQty, maxQty decimal.Decimal) {
	minQty, maxQty = r.MarketMinQty, r.MarketMaxQty
	if !minQty.IsPositive() {
		minQty = r.MinQty
	}
	if !maxQty.IsPositive() {
		maxQty = r.MaxQty
	}
	return minQty, maxQty
}

// CheckMarketOrder reports whether qty is a valid MARKET order quantity:
// positive, on the step grid, within [Rules.MarketQtyBounds]. Min notional
// is not checked: venues value a market order at the mark price, which
// the rules do not know. The error is a [*RuleError] naming the quantity
// and the bound, and matches [ErrInvalidOrder]; a quantity above the
// market maximum can be sent in parts from [Rules.SplitMarketQty].
func (r Rules) CheckMarketOrder(qty decimal.Decimal) error {
	if !qty.IsPositive() {
		return &RuleError{Symbol: r.Symbol, Field: "quantity", Value: qty.String(), Reason: "must be positive"}
	}
	if _, err := r.QtyToSteps(qty); err != nil {
		return err
	}
	lo, hi := r.MarketQtyBounds()
	if qty.LessThan(lo) {
		return &RuleError{Symbol: r.Symbol, Field: "quantity", Value: qty.String(), Reason: "is below the market minimum " + lo.String()}
	}
	if hi.IsPositive() && qty.GreaterThan(hi) {
		return &RuleError{Symbol: r.Symbol, Field: "quantity", Value: qty.String(), Reason: "is above the market maximum " + hi.String() + " (send it in parts: Rules.SplitMarketQty)"}
	}
	return nil
}

// MaxMarketParts is the most parts [Rules.SplitMarketQty] splits a
// quantity into; a quantity needing more is refused rather than sent as a
// flood of orders.
const MaxMarketParts = 1000

// SplitMarketQty splits qty into the fewest MARKET order quantities that
// each pass [Rules.CheckMarketOrder], as equal as the step size allows
// (larger parts first) and summing exactly to qty: 250 with a market
// maximum of 120 and step 1 is 84, 83, 83. A quantity within the maximum
// (or with no maximum known) is returned whole. qty must be positive, on
// the step grid and at least the market minimum; an error names the
// quantity and the bound otherwise, and matches [ErrInvalidOrder].
//
// A close larger than the venue's market maximum is refused whole (Binance
// -4005 against MARKET_LOT_SIZE); sending these parts one after the other
// closes it.
func (r Rules) SplitMarketQty(qty decimal.Decimal) ([]decimal.Decimal, error) {
	if !qty.IsPositive() {
		return nil, &RuleError{Symbol: r.Symbol, Field: "quantity", Value: qty.String(), Reason: "must be positive"}
	}
	steps, err := r.QtyToSteps(qty)
	if err != nil {
		return nil, err
	}
	lo, hi := r.MarketQtyBounds()
	if qty.LessThan(lo) {
		return nil, &RuleError{Symbol: r.Symbol, Field: "quantity", Value: qty.String(), Reason: "is below the market minimum " + lo.String()}
	}
	if !hi.IsPositive() || !qty.GreaterThan(hi) {
		return []decimal.Decimal{qty}, nil
	}
	maxSteps := hi.Div(r.StepSize).Floor()
	if !maxSteps.IsPositive() {
		return nil, &RuleError{Symbol: r.Symbol, Field: "MarketMaxQty", Value: hi.String(), Reason: "is below one step " + r.StepSize.String()}
	}
	per := maxSteps.IntPart() // ≤ steps, which fits in int64
	n := int64(steps) / per
	if int64(steps)%per != 0 {
		n++
	}
	if n > MaxMarketParts {
		return nil, &RuleError{Symbol: r.Symbol, Field: "quantity", Value: qty.String(),
			Reason: fmt.Sprintf("would need %d market orders of at most %s (more than %d)", n, hi, MaxMarketParts)}
	}
	base, extra := int64(steps)/n, int64(steps)%n
	smallest := r.StepsToQty(Steps(base))
	if smallest.LessThan(lo) {
		return nil, &RuleError{Symbol: r.Symbol, Field: "quantity", Value: qty.String(),
			Reason: fmt.Sprintf("cannot be split into %d market orders of at most %s and at least %s", n, hi, lo)}
	}
	parts := make([]decimal.Decimal, n)
	for i := range parts {
		s := base
		if int64(i) < extra {
			s++
		}
		parts[i] = r.StepsToQty(Steps(s))
	}
	return parts, nil
}
