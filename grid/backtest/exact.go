package backtest

import (
	"math"
	"math/bits"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
)

// exact is an exact amount of quote currency in Money units: m +
// f/exchange.RateScale, with 0 ≤ f < RateScale — the simulator's precision
// for fees, funding and the wallet ([sim.Core.ExactWalletUnits]). The run
// tracks equity in it, so every equity figure of a Result (the samples, the
// buckets, the drawdown, FinalEquity) is the same exact amount, not the
// booked one rounded to the Money unit.
type exact struct {
	m exchange.Money
	f int64
}

// plus returns a + v Money units.
func (a exact) plus(v exchange.Money) exact { return exact{a.m + v, a.f} }

// less reports whether a < b.
func (a exact) less(b exact) bool { return a.m < b.m || (a.m == b.m && a.f < b.f) }

// sub returns a − b.
func (a exact) sub(b exact) exact {
	d := exact{a.m - b.m, a.f - b.f}
	if d.f < 0 {
		d.f += exchange.RateScale
		d.m--
	}
	return d
}

// fine returns a in units of 1/RateScale Money, and whether that fits an
// int64.
func (a exact) fine() (int64, bool) {
	hi, lo := bits.Mul64(uabs(int64(a.m)), exchange.RateScale)
	if hi != 0 || lo >= 1<<62 {
		return 0, false
	}
	v := int64(lo)
	if a.m < 0 {
		v = -v
	}
	return v + a.f, true
}

// exactRate returns n × r / RateScale Money units exactly: a fee or a
// funding payment of notional n at rate r, as the simulator books it in
// its exact totals.
func exactRate(n exchange.Money, r exchange.Rate) exact {
	hi, lo := bits.Mul64(uabs(int64(n)), uabs(int64(r)))
	if hi >= exchange.RateScale { // beyond any real notional: saturate as the simulator does
		if (n < 0) != (r < 0) {
			return exact{m: math.MinInt64 / 2}
		}
		return exact{m: math.MaxInt64 / 2}
	}
	q, rem := bits.Div64(hi, lo, exchange.RateScale)
	v := exact{exchange.Money(min(q, math.MaxInt64/2)), int64(rem)}
	if (n < 0) != (r < 0) {
		return exact{}.sub(v)
	}
	return v
}

func uabs(v int64) uint64 {
	if v < 0 {
		return uint64(-v)
	}
	return uint64(v)
}

// ofExact is a as a decimal in quote currency: with one allocation when it
// fits (every real amount), else by decimal arithmetic.
func (c conv) ofExact(a exact) decimal.Decimal {
	if a.f == 0 {
		return c.of(int64(a.m))
	}
	if v, ok := a.fine(); ok && c.mant != 0 {
		hi, lo := bits.Mul64(uabs(v), uint64(c.mant))
		if hi == 0 && lo < 1<<63 {
			w := int64(lo)
			if v < 0 {
				w = -w
			}
			return decimal.New(w, c.exp-8)
		}
	}
	return decimal.NewFromInt(int64(a.m)).Add(decimal.New(a.f, -8)).Mul(c.unit)
}

// pctExact is part / whole in percent, rounded half up to two decimals
// (zero when whole is not positive); part ≥ 0.
func pctExact(part, whole exact) decimal.Decimal {
	if !(exact{}).less(whole) {
		return decimal.Zero
	}
	p, ok1 := part.fine()
	w, ok2 := whole.fine()
	if ok1 && ok2 && p >= 0 {
		// ⌊(p × 10⁴ × 2 + w) / (2w)⌋ in 128 bits
		hi, lo := bits.Mul64(uint64(p), 20_000)
		lo, carry := bits.Add64(lo, uint64(w), 0)
		hi += carry
		if hi < 2*uint64(w) {
			q, _ := bits.Div64(hi, lo, 2*uint64(w))
			if q < 1<<63 {
				return decimal.New(int64(q), -2)
			}
		}
	}
	one := conv{unit: decimal.New(1, 0), zero: decimal.Zero}
	return one.ofExact(part).Mul(decimal.NewFromInt(100)).Div(one.ofExact(whole)).Round(2)
}
