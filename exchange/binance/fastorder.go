package binance

import (
	"math"
	"math/bits"
	"strconv"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/shopspring/decimal"
)

// An order's way from a decided request to its signed bytes runs on
// int64s: the symbol's rules are kept in ticks and steps (fastRules), a
// request that passes them in int64 arithmetic skips the decimal checks,
// and its quantity and price are formatted straight into the request. A
// request the int64 path cannot settle — it breaks a rule, or a number
// does not fit — goes through checkRules, which names the problem; both
// paths accept the same orders (TestFastRulesAgree).

// parts64 returns d as coef × 10^exp when the coefficient fits in 18
// digits.
func parts64(d decimal.Decimal) (coef int64, exp int32, ok bool) {
	if d.NumDigits() > 18 {
		return 0, 0, false
	}
	return d.CoefficientInt64(), d.Exponent(), true
}

// unitsOf returns v / unit when v = coef × 10^exp is an exact multiple of
// unit = uc × 10^ue (uc > 0) and the arithmetic fits in int64.
func unitsOf(coef int64, exp int32, uc int64, ue int32) (int64, bool) {
	e := min(exp, ue)
	v, ok1 := scaleUp(coef, exp-e)
	u, ok2 := scaleUp(uc, ue-e)
	if !ok1 || !ok2 || u <= 0 || v%u != 0 {
		return 0, false
	}
	return v / u, true
}

// scaleUp returns c × 10^k (0 ≤ k) when it fits.
func scaleUp(c int64, k int32) (int64, bool) {
	if k < 0 || k > 18 {
		return 0, k == 0
	}
	p := pow10[k]
	if c > math.MaxInt64/p || c < math.MinInt64/p {
		return 0, false
	}
	return c * p, true
}

// fastRules are a symbol's rules in ticks and steps, for the int64 path.
// The zero value (ok false) sends every request through checkRules.
type fastRules struct {
	ok                 bool
	tickC, stepC       int64
	tickE, stepE       int32
	pricePlaces        int32 // decimals of the tick, trimmed
	qtyPlaces          int32 // decimals of the step, trimmed
	minSteps, maxSteps int64 // LOT_SIZE; maxSteps 0: none
	mktMinSteps        int64 // MARKET_LOT_SIZE (or LOT_SIZE); 0: none
	mktMaxSteps        int64 // 0: none
	marketOK           bool  // market orders may take the int64 path (no market step of its own)
	minTicks, maxTicks int64 // PRICE_FILTER; maxTicks 0: none
	minNotional        uint64
}

// newFastRules converts a symbol's rules; ok is false when a value does
// not fit in int64.
func newFastRules(si symbolInfo) fastRules {
	r := si.rules
	var f fastRules
	var ok1, ok2 bool
	f.tickC, f.tickE, ok1 = parts64(r.TickSize)
	f.stepC, f.stepE, ok2 = parts64(r.StepSize)
	if !ok1 || !ok2 || f.tickC <= 0 || f.stepC <= 0 {
		return fastRules{}
	}
	f.pricePlaces, f.qtyPlaces = places(r.TickSize), places(r.StepSize)
	limit := decimal.NewFromInt(math.MaxInt64 / 4)
	fits := true
	count := func(v, unit decimal.Decimal, up bool) int64 {
		if !v.IsPositive() {
			return 0
		}
		q := v.Div(unit)
		if up {
			q = q.Ceil()
		} else {
			q = q.Floor()
		}
		if q.GreaterThan(limit) {
			fits = false
			return 0
		}
		return q.IntPart()
	}
	f.minSteps = count(r.MinQty, r.StepSize, true)
	f.maxSteps = count(r.MaxQty, r.StepSize, false)
	lo, hi := r.MarketQtyBounds()
	f.mktMinSteps = count(lo, r.StepSize, true)
	f.mktMaxSteps = count(hi, r.StepSize, false)
	f.minTicks = count(si.minPrice, r.TickSize, true)
	f.maxTicks = count(si.maxPrice, r.TickSize, false)
	f.minNotional = uint64(count(r.MinNotional, r.MoneyUnit(), true))
	if r.MaxQty.IsPositive() && f.maxSteps == 0 || hi.IsPositive() && f.mktMaxSteps == 0 || si.maxPrice.IsPositive() && f.maxTicks == 0 {
		fits = false // a maximum below one unit: let checkRules say so
	}
	f.marketOK = !si.marketStep.IsPositive() || si.marketStep.Equal(r.StepSize)
	f.ok = fits
	return f
}

// fixedNum is a positive decimal to be sent fixed-point with places
// decimals: coef × 10^exp when fast, else dec.
type fixedNum struct {
	coef   int64
	exp    int32
	places int32
	fast   bool
	dec    decimal.Decimal
}

// appendTo appends the number as Decimal.StringFixed(places) would write
// it.
func (n fixedNum) appendTo(b []byte) []byte {
	if !n.fast {
		return append(b, n.dec.StringFixed(n.places)...)
	}
	c := n.coef
	switch k := n.exp + n.places; {
	case k > 0:
		c *= pow10[k] // fits: checked by check
	case k < 0:
		c /= pow10[-k] // exact: the value lies on the increment's grid
	}
	var digits [24]byte
	s := strconv.AppendInt(digits[:0], c, 10)
	if n.places == 0 {
		return append(b, s...)
	}
	p := int(n.places)
	if len(s) <= p {
		b = append(b, '0', '.')
		for i := len(s); i < p; i++ {
			b = append(b, '0')
		}
		return append(b, s...)
	}
	b = append(b, s[:len(s)-p]...)
	b = append(b, '.')
	return append(b, s[len(s)-p:]...)
}

// fixedOf prepares v for sending with places decimals: fast when its
// normalised coefficient fits.
func fixedOf(v decimal.Decimal, places int32) fixedNum {
	n := fixedNum{places: places, dec: v}
	c, e, ok := parts64(v)
	if !ok || e+places > 18 || -(e+places) > 18 {
		return n
	}
	if k := e + places; k > 0 {
		if _, ok := scaleUp(c, k); !ok {
			return n
		}
	} else if k < 0 && c%pow10[-k] != 0 {
		return n // more decimals than places: StringFixed rounds
	}
	n.coef, n.exp, n.fast = c, e, true
	return n
}

// check reports whether the int64 path can vouch for req under the
// rules: true means checkRules would accept it too.
func (f *fastRules) check(req exchange.OrderRequest) bool {
	if !f.ok {
		return false
	}
	qc, qe, ok := parts64(req.Quantity)
	if !ok {
		return false
	}
	// exchange.Rules counts at most MaxInt64/4 ticks or steps.
	steps, ok := unitsOf(qc, qe, f.stepC, f.stepE)
	if !ok || steps <= 0 || steps > math.MaxInt64/4 {
		return false
	}
	if req.Type == exchange.Market {
		return f.marketOK && steps >= f.mktMinSteps && (f.mktMaxSteps == 0 || steps <= f.mktMaxSteps)
	}
	if steps < f.minSteps || (f.maxSteps != 0 && steps > f.maxSteps) {
		return false
	}
	pc, pe, ok := parts64(req.Price)
	if !ok {
		return false
	}
	ticks, ok := unitsOf(pc, pe, f.tickC, f.tickE)
	if !ok || ticks <= 0 || ticks > math.MaxInt64/4 || ticks < f.minTicks || (f.maxTicks != 0 && ticks > f.maxTicks) {
		return false
	}
	if !req.ReduceOnly {
		hi, lo := bits.Mul64(uint64(ticks), uint64(steps))
		if hi == 0 && lo < f.minNotional {
			return false
		}
	}
	return true
}

// orderField is one parameter of an order: a string, or a number to be
// written fixed-point.
type orderField struct {
	k     string
	v     string
	num   fixedNum
	isNum bool
}

// orderFields are an order's parameters in the order they are sent; the
// zero value is empty.
type orderFields struct {
	n int
	f [9]orderField
}

func (o *orderFields) set(k, v string) { o.f[o.n] = orderField{k: k, v: v}; o.n++ }

func (o *orderFields) setNum(k string, n fixedNum) {
	o.f[o.n] = orderField{k: k, num: n, isNum: true}
	o.n++
}

// appendQuery appends the fields as a percent-encoded query.
func (o *orderFields) appendQuery(p *params) {
	for i := 0; i < o.n; i++ {
		f := &o.f[i]
		if f.isNum {
			p.sep()
			p.b = append(p.b, f.k...)
			p.b = append(p.b, '=')
			p.b = f.num.appendTo(p.b) // digits and '.': nothing to escape
			continue
		}
		p.add(f.k, f.v)
	}
}

// appendJSON appends the fields as one compact batch element with string
// values.
func (o *orderFields) appendJSON(b []byte) []byte {
	b = append(b, '{')
	for i := 0; i < o.n; i++ {
		f := &o.f[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, f.k)
		b = append(b, ':')
		if f.isNum {
			b = append(b, '"')
			b = f.num.appendTo(b)
			b = append(b, '"')
			continue
		}
		b = strconv.AppendQuote(b, f.v)
	}
	return append(b, '}')
}

// appendQueryEscape appends s escaped as url.QueryEscape does.
func appendQueryEscape(b []byte, s string) []byte {
	const hexDigits = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
			b = append(b, c)
		case c == ' ':
			b = append(b, '+')
		default:
			b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
		}
	}
	return b
}

// validClientID reports whether id matches clientIDPattern,
// ^[\.A-Z\:/a-z0-9_-]{1,36}$, without the regexp.
func validClientID(id string) bool {
	if len(id) < 1 || len(id) > 36 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == ':', c == '/', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}
