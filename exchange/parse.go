package exchange

import (
	"fmt"
	"math"

	"github.com/shopspring/decimal"
)

// GridParser parses decimal text (a venue's price string, a CSV field)
// straight into a count of one increment — [Ticks] for prices, [Steps] for
// quantities — with no decimal or allocation in between. Values off the
// grid are rounded to the nearest increment, half away from zero.
//
// Build one with [Rules.TickParser] or [Rules.StepParser]. The zero value
// is not usable. A GridParser is immutable and safe for concurrent use.
type GridParser struct {
	field string          // "price" or "quantity", for errors
	unit  decimal.Decimal // the increment, for the slow path
	coef  int64           // increment = coef × 10^-scale
	scale int             // decimal places of the increment
}

// TickParser returns a parser of prices into Ticks.
func (r Rules) TickParser() (GridParser, error) { return newGridParser("price", r.TickSize) }

// StepParser returns a parser of quantities into Steps.
func (r Rules) StepParser() (GridParser, error) { return newGridParser("quantity", r.StepSize) }

func newGridParser(field string, unit decimal.Decimal) (GridParser, error) {
	if !unit.IsPositive() {
		return GridParser{}, fmt.Errorf("%s increment %s must be positive", field, unit)
	}
	scale := 0
	if e := unit.Exponent(); e < 0 {
		scale = int(-e)
	}
	c := unit.Shift(int32(scale))
	if !c.IsInteger() || scale > 18 || c.GreaterThan(decimal.NewFromInt(math.MaxInt32)) {
		return GridParser{}, fmt.Errorf("%s increment %s is out of range", field, unit)
	}
	return GridParser{field: field, unit: unit, coef: c.IntPart(), scale: scale}, nil
}

// ParseError reports text that is not a valid decimal number.
type ParseError struct {
	Field string
	Text  string
	Err   string
}

// Error names the field and quotes the text.
func (e *ParseError) Error() string {
	return fmt.Sprintf("parse %s %q: %s", e.Field, e.Text, e.Err)
}

var pow10 = [...]int64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}

// Parse converts decimal text such as "95505.4" or "-0.001" to a count of
// increments. Exponent notation ("1e-05") is accepted through a slower path.
func (p GridParser) Parse(b []byte) (int64, error) {
	if p.coef == 0 {
		return 0, &ParseError{Field: "value", Text: string(b), Err: "parser is not initialised"}
	}
	i, neg := 0, false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		i = 1
	}
	var v int64  // value scaled by 10^p.scale
	var rest int // first dropped fraction digit, for rounding
	frac, digits := -1, 0
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
			if frac >= 0 {
				frac++
				if frac > p.scale {
					if frac == p.scale+1 {
						rest = int(c - '0')
					}
					continue
				}
			}
			if v > (math.MaxInt64-9)/10 {
				return 0, &ParseError{Field: p.field, Text: string(b), Err: "out of range"}
			}
			v = v*10 + int64(c-'0')
		case c == '.' && frac < 0:
			frac = 0
		case c == 'e' || c == 'E':
			return p.parseSlow(b)
		default:
			return 0, &ParseError{Field: p.field, Text: string(b), Err: "not a decimal number"}
		}
	}
	if digits == 0 {
		return 0, &ParseError{Field: p.field, Text: string(b), Err: "not a decimal number"}
	}
	if frac < 0 {
		frac = 0
	}
	for ; frac < p.scale; frac++ {
		if v > math.MaxInt64/10 {
			return 0, &ParseError{Field: p.field, Text: string(b), Err: "out of range"}
		}
		v *= 10
	}
	if rest >= 5 {
		v++
	}
	n := v / p.coef
	if r := v % p.coef; r*2 >= p.coef {
		n++
	}
	if neg {
		n = -n
	}
	return n, nil
}

func (p GridParser) parseSlow(b []byte) (int64, error) {
	d, err := decimal.NewFromString(string(b))
	if err != nil {
		return 0, &ParseError{Field: p.field, Text: string(b), Err: "not a decimal number"}
	}
	q := d.Div(p.unit).Round(0)
	if q.Abs().GreaterThan(decimal.NewFromInt(math.MaxInt64 / 4)) {
		return 0, &ParseError{Field: p.field, Text: string(b), Err: "out of range"}
	}
	return q.IntPart(), nil
}

// ParseString is [GridParser.Parse] for a string.
func (p GridParser) ParseString(s string) (int64, error) { return p.Parse([]byte(s)) }

// FromDecimal converts a decimal to a count of increments, rounded to the
// nearest increment, half away from zero. A decimal whose coefficient has
// at most 18 digits (every real price and quantity) is converted in int64
// arithmetic, with no allocation; others through decimal division. A
// count beyond ±[math.MaxInt64]/4 is out of range.
func (p GridParser) FromDecimal(d decimal.Decimal) (int64, error) {
	if p.coef == 0 {
		return 0, &ParseError{Field: "value", Text: d.String(), Err: "parser is not initialised"}
	}
	if d.NumDigits() <= 18 {
		if n, ok := p.fromParts(d.CoefficientInt64(), int(d.Exponent())); ok {
			return n, nil
		}
	}
	q := d.DivRound(p.unit, 0)
	if q.Abs().GreaterThan(maxCount) {
		return 0, &ParseError{Field: p.field, Text: d.String(), Err: "out of range"}
	}
	return q.IntPart(), nil
}

var maxCount = decimal.NewFromInt(math.MaxInt64 / 4)

// fromParts converts c × 10^exp (|c| < 10^18) to increments in int64
// arithmetic: c × 10^(exp+scale) / coef, rounded half away from zero. ok
// is false when an intermediate value would not fit.
func (p GridParser) fromParts(c int64, exp int) (int64, bool) {
	neg := c < 0
	if neg {
		c = -c
	}
	num, den := c, p.coef
	switch k := exp + p.scale; {
	case k > 0:
		if k > 18 || c > math.MaxInt64/pow10[k] {
			return 0, false
		}
		num = c * pow10[k]
	case k < 0:
		if -k > 18 || p.coef > math.MaxInt64/pow10[-k] {
			return 0, false
		}
		den = p.coef * pow10[-k]
	}
	n := num / den
	if r := num % den; r >= den-r {
		n++
	}
	if n > math.MaxInt64/4 {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}
