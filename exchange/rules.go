package exchange

import (
	"errors"
	"fmt"
	"math"

	"github.com/shopspring/decimal"
)

// Ticks is a price counted in a symbol's tick size: price = Ticks × TickSize.
// It is the one integer money type of the public API: the engine's hot input
// takes prices as Ticks so that a price tick costs no big-number arithmetic.
// Convert with [Rules.PriceToTicks] and [Rules.TicksToPrice].
type Ticks int64

// Steps is a quantity counted in a symbol's step size: quantity = Steps × StepSize.
type Steps int64

// Money is an amount of quote currency counted in units of
// TickSize × StepSize, the notional of one tick times one step. A price in
// Ticks times a quantity in Steps is therefore exact Money, with no rounding.
// Convert with [Rules.MoneyToDecimal] and [Rules.DecimalToMoney].
type Money int64

// Notional returns price × quantity as Money. It is exact as long as the
// product fits in 63 bits (about 9.2e18 units): callers use it on orders
// already bounded by [MaxNotional] (the engine checks every level's, the
// simulator every order's) and multiples of them; for a price or quantity
// from outside, use [CheckedNotional].
func Notional(price Ticks, qty Steps) Money { return Money(int64(price) * int64(qty)) }

// Rate is a fraction counted in parts per hundred million (1e-8), used for
// fee rates, maintenance margin rates and funding rates: 0.02 % is
// Rate(20_000). A negative fee rate is a rebate.
type Rate int64

// RateScale is the denominator of [Rate]: Rate(RateScale) is 100 %.
const RateScale = 100_000_000

// RateFromDecimal converts a decimal fraction (0.0002 for 0.02 %) to a Rate,
// refusing values that need more than eight decimals or overflow.
func RateFromDecimal(d decimal.Decimal) (Rate, error) {
	scaled := d.Shift(8)
	if !scaled.Equal(scaled.Truncate(0)) {
		return 0, fmt.Errorf("rate %s has more than 8 decimals", d)
	}
	if scaled.Abs().GreaterThan(decimal.NewFromInt(math.MaxInt32)) {
		return 0, fmt.Errorf("rate %s is out of range", d)
	}
	return Rate(scaled.IntPart()), nil
}

// Decimal returns the rate as a decimal fraction.
func (r Rate) Decimal() decimal.Decimal { return decimal.New(int64(r), -8) }

// String formats the rate as a percentage, e.g. "0.02%".
func (r Rate) String() string { return r.Decimal().Shift(2).String() + "%" }

// Apply returns m × r rounded half away from zero to the nearest Money unit,
// the one rounding rule of fees and funding in gridmesh. The product is
// computed in 128 bits ([MulDivRound]) so it is exact for any int64 m and
// Rate r; a result beyond the int64 range (a rate above 100 % of an
// amount near the limit) saturates.
func (r Rate) Apply(m Money) Money {
	if q, ok := mulDiv(int64(m), int64(r), RateScale, true); ok {
		return Money(q)
	}
	if (m < 0) != (r < 0) {
		return math.MinInt64
	}
	return math.MaxInt64
}

// Rules are a symbol's trading rules: the price grid (TickSize), the
// quantity grid (StepSize) and the smallest order the venue accepts
// (MinQty, MinNotional). They are the one place rounding happens.
//
// The zero value is not valid: build Rules with the fields set and call
// [Rules.Validate] (adapters do this when they load the venue's rules).
// Rules are plain values, safe to copy and to use from several goroutines.
type Rules struct {
	// Symbol is the venue's symbol, e.g. "BTCUSDT".
	Symbol string
	// TickSize is the price increment; every order price is a multiple of it.
	TickSize decimal.Decimal
	// StepSize is the quantity increment; every order quantity is a multiple of it.
	StepSize decimal.Decimal
	// MinQty is the smallest order quantity the venue accepts (may be zero).
	MinQty decimal.Decimal
	// MinNotional is the smallest price × quantity the venue accepts (may be zero).
	MinNotional decimal.Decimal
	// MaxQty is the largest quantity of a limit order; zero means the venue
	// states none (Binance LOT_SIZE maxQty).
	MaxQty decimal.Decimal
	// MarketMinQty and MarketMaxQty bound the quantity of a MARKET order
	// (Binance MARKET_LOT_SIZE, Bitget maxMarketOrderQty, Gate
	// market_order_size_max); zero means the venue states none, and then
	// MinQty and MaxQty apply. The market maximum is usually far below the
	// limit maximum: a larger close is split, see [Rules.SplitMarketQty].
	MarketMinQty decimal.Decimal
	MarketMaxQty decimal.Decimal
}

// RuleError reports an order or a rule value that breaks a symbol's rules.
// It names the field and the offending value.
type RuleError struct {
	Symbol string
	Field  string // "TickSize", "price", "quantity", "notional", …
	Value  string
	Reason string
}

// Error names the symbol, the field, the value and what is wrong with it.
func (e *RuleError) Error() string {
	return fmt.Sprintf("%s: %s %s %s", e.Symbol, e.Field, e.Value, e.Reason)
}

// Is makes every RuleError match [ErrInvalidOrder].
func (e *RuleError) Is(target error) bool { return target == ErrInvalidOrder }

// Validate reports every problem with the rules at once.
func (r Rules) Validate() error {
	var errs []error
	bad := func(field string, v decimal.Decimal, reason string) {
		errs = append(errs, &RuleError{Symbol: r.Symbol, Field: field, Value: v.String(), Reason: reason})
	}
	if r.Symbol == "" {
		errs = append(errs, errors.New("rules: Symbol is empty"))
	}
	if !r.TickSize.IsPositive() {
		bad("TickSize", r.TickSize, "must be positive")
	}
	if !r.StepSize.IsPositive() {
		bad("StepSize", r.StepSize, "must be positive")
	}
	if r.MinQty.IsNegative() {
		bad("MinQty", r.MinQty, "must not be negative")
	}
	if r.MinNotional.IsNegative() {
		bad("MinNotional", r.MinNotional, "must not be negative")
	}
	// The minimums are counted in Steps and Money (MinQtySteps,
	// MinNotionalMoney): one that does not fit would wrap.
	limit := decimal.NewFromInt(math.MaxInt64 / 4)
	if !r.MinQty.IsZero() && r.StepSize.IsPositive() && r.MinQty.Div(r.StepSize).Ceil().GreaterThan(limit) {
		bad("MinQty", r.MinQty, "is beyond what int64 counts in steps of "+r.StepSize.String())
	}
	if u := r.MoneyUnit(); !r.MinNotional.IsZero() && u.IsPositive() && r.MinNotional.Div(u).Ceil().GreaterThan(limit) {
		bad("MinNotional", r.MinNotional, "is beyond what int64 counts in money units of TickSize × StepSize = "+u.String())
	}
	errs = append(errs, r.validateMaxQty()...)
	return errors.Join(errs...)
}

// RoundPrice rounds a price to the nearest tick (half away from zero).
func (r Rules) RoundPrice(p decimal.Decimal) decimal.Decimal {
	return p.Div(r.TickSize).Round(0).Mul(r.TickSize)
}

// FloorQty rounds a quantity down to the step size.
func (r Rules) FloorQty(q decimal.Decimal) decimal.Decimal {
	return q.Div(r.StepSize).Floor().Mul(r.StepSize)
}

// PriceToTicks converts a price that lies on the tick grid to Ticks. A price
// off the grid is an error naming the price; use [Rules.RoundPrice] first to
// accept any price.
func (r Rules) PriceToTicks(p decimal.Decimal) (Ticks, error) {
	n, err := r.exactUnits(p, r.TickSize, "price")
	return Ticks(n), err
}

// QtyToSteps converts a quantity that lies on the step grid to Steps.
func (r Rules) QtyToSteps(q decimal.Decimal) (Steps, error) {
	n, err := r.exactUnits(q, r.StepSize, "quantity")
	return Steps(n), err
}

func (r Rules) exactUnits(v, unit decimal.Decimal, field string) (int64, error) {
	if !unit.IsPositive() {
		return 0, &RuleError{Symbol: r.Symbol, Field: field, Value: v.String(), Reason: "cannot be converted: rules have no positive increment"}
	}
	q := v.Div(unit)
	if !q.Equal(q.Truncate(0)) {
		return 0, &RuleError{Symbol: r.Symbol, Field: field, Value: v.String(), Reason: "is not a multiple of " + unit.String()}
	}
	if !q.IsInteger() || q.Abs().GreaterThan(decimal.NewFromInt(math.MaxInt64/4)) {
		return 0, &RuleError{Symbol: r.Symbol, Field: field, Value: v.String(), Reason: "is out of range"}
	}
	return q.IntPart(), nil
}

// TicksToPrice converts Ticks back to a decimal price.
func (r Rules) TicksToPrice(t Ticks) decimal.Decimal {
	return decimal.NewFromInt(int64(t)).Mul(r.TickSize)
}

// StepsToQty converts Steps back to a decimal quantity.
func (r Rules) StepsToQty(s Steps) decimal.Decimal {
	return decimal.NewFromInt(int64(s)).Mul(r.StepSize)
}

// MoneyUnit is the quote-currency value of one [Money] unit: TickSize × StepSize.
func (r Rules) MoneyUnit() decimal.Decimal { return r.TickSize.Mul(r.StepSize) }

// MoneyToDecimal converts Money to a quote-currency decimal.
func (r Rules) MoneyToDecimal(m Money) decimal.Decimal {
	return decimal.NewFromInt(int64(m)).Mul(r.MoneyUnit())
}

// DecimalToMoney converts a quote-currency amount to Money, rounding toward
// zero to a whole unit (a unit is TickSize × StepSize, far below a cent).
func (r Rules) DecimalToMoney(d decimal.Decimal) (Money, error) {
	u := r.MoneyUnit()
	if !u.IsPositive() {
		return 0, &RuleError{Symbol: r.Symbol, Field: "amount", Value: d.String(), Reason: "cannot be converted: rules have no positive increment"}
	}
	q := d.Div(u).Truncate(0)
	if q.Abs().GreaterThan(decimal.NewFromInt(math.MaxInt64 / 4)) {
		return 0, &RuleError{Symbol: r.Symbol, Field: "amount", Value: d.String(), Reason: "is out of range"}
	}
	return Money(q.IntPart()), nil
}

// MinQtySteps is MinQty in Steps, rounded up.
func (r Rules) MinQtySteps() Steps {
	if !r.StepSize.IsPositive() {
		return 0
	}
	return Steps(r.MinQty.Div(r.StepSize).Ceil().IntPart())
}

// MinNotionalMoney is MinNotional in Money, rounded up.
func (r Rules) MinNotionalMoney() Money {
	u := r.MoneyUnit()
	if !u.IsPositive() {
		return 0
	}
	return Money(r.MinNotional.Div(u).Ceil().IntPart())
}

// CheckOrder reports whether price and quantity are a valid limit order
// under the rules: on the grids, positive, at least MinQty and MinNotional,
// at most MaxQty when set. MARKET orders have their own bounds: see
// [Rules.CheckMarketOrder]. The error
// is a [*RuleError] naming the field and value, and matches [ErrInvalidOrder].
func (r Rules) CheckOrder(price, qty decimal.Decimal) error {
	if !price.IsPositive() {
		return &RuleError{Symbol: r.Symbol, Field: "price", Value: price.String(), Reason: "must be positive"}
	}
	if !qty.IsPositive() {
		return &RuleError{Symbol: r.Symbol, Field: "quantity", Value: qty.String(), Reason: "must be positive"}
	}
	if _, err := r.PriceToTicks(price); err != nil {
		return err
	}
	if _, err := r.QtyToSteps(qty); err != nil {
		return err
	}
	if qty.LessThan(r.MinQty) {
		return &RuleError{Symbol: r.Symbol, Field: "quantity", Value: qty.String(), Reason: "is below MinQty " + r.MinQty.String()}
	}
	if r.MaxQty.IsPositive() && qty.GreaterThan(r.MaxQty) {
		return &RuleError{Symbol: r.Symbol, Field: "quantity", Value: qty.String(), Reason: "is above MaxQty " + r.MaxQty.String()}
	}
	if n := price.Mul(qty); n.LessThan(r.MinNotional) {
		return &RuleError{Symbol: r.Symbol, Field: "notional", Value: n.String(), Reason: "is below MinNotional " + r.MinNotional.String()}
	}
	return nil
}

// CheckTicks is [Rules.CheckOrder] for a price and quantity already counted
// in ticks and steps; it does no decimal arithmetic.
func (r Rules) CheckTicks(price Ticks, qty Steps) error {
	if price <= 0 {
		return &RuleError{Symbol: r.Symbol, Field: "price", Value: r.TicksToPrice(price).String(), Reason: "must be positive"}
	}
	if qty <= 0 || qty < r.MinQtySteps() {
		return &RuleError{Symbol: r.Symbol, Field: "quantity", Value: r.StepsToQty(qty).String(), Reason: "is below MinQty " + r.MinQty.String()}
	}
	// A notional beyond int64 is far above any minimum (Validate keeps
	// MinNotional within int64 Money).
	if n, err := CheckedNotional(price, qty); err == nil && n < r.MinNotionalMoney() {
		return &RuleError{Symbol: r.Symbol, Field: "notional", Value: r.MoneyToDecimal(n).String(), Reason: "is below MinNotional " + r.MinNotional.String()}
	}
	return nil
}
