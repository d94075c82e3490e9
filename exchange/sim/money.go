package sim

import (
	"math"
	"math/bits"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
)

// fine is an exact amount of quote currency: m + f/RateScale Money units,
// with 0 ≤ f < RateScale. A fee or a funding payment (a Money amount times
// a Rate) is exact in it, so totals of fees and funding are booked at a
// precision finer than any venue's (Binance books commission and funding
// to 1e-8 of the quote asset; one fine unit of BTCUSDT is 1e-12 USDT).
type fine struct {
	m exchange.Money
	f int64
}

func (a *fine) add(b fine) {
	a.m += b.m
	a.f += b.f
	if a.f >= exchange.RateScale {
		a.f -= exchange.RateScale
		a.m++
	}
}

func (a fine) neg() fine {
	if a.f == 0 {
		return fine{m: -a.m}
	}
	return fine{m: -a.m - 1, f: exchange.RateScale - a.f}
}

// round returns a to the nearest Money unit, halves rounded up.
func (a fine) round() exchange.Money {
	if 2*a.f >= exchange.RateScale {
		return a.m + 1
	}
	return a.m
}

// decimal converts a to quote currency, one Money unit being unit.
func (a fine) decimal(unit decimal.Decimal) decimal.Decimal {
	return decimal.NewFromInt(int64(a.m)).Add(decimal.New(a.f, -8)).Mul(unit)
}

// rateOf returns m × r exactly (saturating far beyond any real notional).
func rateOf(m exchange.Money, r exchange.Rate) fine {
	hi, lo := bits.Mul64(uabs(int64(m)), uabs(int64(r)))
	if hi >= exchange.RateScale {
		if (m < 0) != (r < 0) {
			return fine{m: math.MinInt64 / 2}
		}
		return fine{m: math.MaxInt64 / 2}
	}
	q, rem := bits.Div64(hi, lo, exchange.RateScale)
	v := fine{m: exchange.Money(min(q, math.MaxInt64/2)), f: int64(rem)}
	if (m < 0) != (r < 0) {
		return v.neg()
	}
	return v
}

// fineFromDecimal converts an amount counted in Money units (any decimal)
// to fine, rounded half away from zero to a fine unit.
func fineFromDecimal(v decimal.Decimal) fine {
	m := v.Floor()
	f := v.Sub(m).Shift(8).Round(0).IntPart()
	out := fine{m: exchange.Money(m.IntPart()), f: f}
	if out.f >= exchange.RateScale {
		out.f -= exchange.RateScale
		out.m++
	}
	return out
}

// charge adds an exact amount to an exact total and returns the amount to
// book in whole Money: the change of the rounded total. Booked amounts
// therefore sum to the rounded exact total, never drifting from it by more
// than half a Money unit however many are booked.
func charge(total *fine, amount fine) exchange.Money {
	before := total.round()
	total.add(amount)
	return total.round() - before
}

// ExactFees returns the total of every fee at full precision, in quote
// currency: Σ notional × rate of every execution, not rounded per fill.
// The fees of events (Event.Fee) are whole Money units whose sum is this
// total rounded to the Money unit.
func (c *Core) ExactFees() decimal.Decimal { return c.fees.decimal(c.unit) }

// ExactFunding returns the total funding paid (positive) or received at
// full precision, in quote currency.
func (c *Core) ExactFunding() decimal.Decimal { return c.funding.decimal(c.unit) }

// ExactWallet returns the wallet at full precision, in quote currency:
// [Core.Wallet] corrected by what rounding fees and funding to whole Money
// units left out (less than one Money unit).
func (c *Core) ExactWallet() decimal.Decimal {
	r := c.residual()
	return decimal.NewFromInt(int64(c.wallet)).Mul(c.unit).Add(r.decimal(c.unit))
}

// ExactEquity returns ExactWallet plus the unrealized PnL at mark, in quote
// currency.
func (c *Core) ExactEquity(mark exchange.Ticks) decimal.Decimal {
	return c.ExactWallet().Add(decimal.NewFromInt(int64(c.Equity(mark) - c.wallet)).Mul(c.unit))
}

// ExactWalletUnits returns ExactWallet in Money units, without a decimal:
// whole + frac/exchange.RateScale units, 0 ≤ frac < RateScale. It is for
// callers that sample the exact wallet often (a backtest, every candle)
// and convert to decimals once, at the end; ExactEquity(mark) is this plus
// Equity(mark) − Wallet().
func (c *Core) ExactWalletUnits() (whole exchange.Money, frac int64) {
	r := c.residual()
	return c.wallet + r.m, r.f
}

// ExactFundingUnits returns ExactFunding in Money units, without a
// decimal: whole + frac/exchange.RateScale units, 0 ≤ frac < RateScale.
func (c *Core) ExactFundingUnits() (whole exchange.Money, frac int64) {
	return c.funding.m, c.funding.f
}

// residual is the exact wallet minus the Money wallet: booked fees and
// funding minus their exact totals, plus the liquidation adjustment.
func (c *Core) residual() fine {
	r := fine{m: c.stats.FeesPaid + c.stats.Funding}
	r.add(c.fees.neg())
	r.add(c.funding.neg())
	r.add(c.adjust)
	return r
}

// slippage returns how far a taker order at reference price p fills
// beyond it: SlippageTicks + ⌈p × SlippageRate⌉ ticks.
func (c *Core) slippage(p exchange.Ticks) exchange.Ticks {
	s := c.cfg.SlippageTicks
	if c.cfg.SlippageRate > 0 && p > 0 {
		v := rateOf(exchange.Money(p), c.cfg.SlippageRate)
		t := exchange.Ticks(v.m)
		if v.f > 0 {
			t++
		}
		s += t
	}
	return s
}

// takerPrice is where a crossing order of side with limit (0 for a market
// order) fills: the current price moved against it by the slippage, never
// beyond its limit and never below one tick.
func (c *Core) takerPrice(side exchange.Side, limit exchange.Ticks, market bool) exchange.Ticks {
	s := c.slippage(c.price)
	if side == exchange.Buy {
		p := c.price + s
		if !market && p > limit {
			p = limit
		}
		return max(p, c.price)
	}
	p := max(c.price-s, 1)
	if !market && p < limit {
		p = limit
	}
	return min(p, c.price)
}
