package main

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/grid/backtest"
	"github.com/gridmesh/gridmesh/pricefeed"
)

// sizingTolerance is how far an order's notional may fall from -amount
// (flooring the quantity to the step) before the command warns.
var sizingTolerance = decimal.RequireFromString("0.10")

// warnings says, before the run, what in the input is likely a mistake:
// none of these stops the run.
func (f flags) warnings(s setup, candles []pricefeed.Candle, warn func(string)) {
	rules := s.cfg.Rules
	if s.taker.IsNegative() {
		warn(fmt.Sprintf("-taker-fee %s is negative: no venue pays takers a rebate", s.taker))
	}
	lo, hi := candles[0].Low, candles[0].High
	for i := range candles {
		lo, hi = min(lo, candles[i].Low), max(hi, candles[i].High)
	}
	minP, maxP := rules.TicksToPrice(lo), rules.TicksToPrice(hi)
	badPrints(candles, rules, s.spike, warn)
	levels, exact := f.levelPrices(s, minP, maxP)
	if f.trailing == "" && (s.upper.LessThan(minP) || s.lower.GreaterThan(maxP)) {
		warn(fmt.Sprintf("the price (%s … %s) never enters the grid's range -lower %s … -upper %s: no level can fill", minP, maxP, s.lower, s.upper))
	}
	coarseTick(rules, levels, exact, warn)
	f.sizing(rules, s.amount, levels, warn)
	if s.funding == "none" && f.funding != "none" {
		warn("no funding is charged: a perpetual's funding is part of its PnL; give -funding FILE (Binance's settlements) or -funding-rate RATE")
	}
}

// badPrints warns of candles whose high or low is more than spike times
// (or less than 1/spike of) both neighbours' closes: a bad print in the data.
func badPrints(candles []pricefeed.Candle, rules exchange.Rules, spike decimal.Decimal, warn func(string)) {
	k := spike.InexactFloat64()
	if k <= 1 {
		return
	}
	var found []string
	n := 0
	for i := 1; i+1 < len(candles); i++ {
		a, b := float64(candles[i-1].Close), float64(candles[i+1].Close)
		c := &candles[i]
		var p exchange.Ticks
		switch {
		case float64(c.High) > k*max(a, b):
			p = c.High
		case float64(c.Low)*k < min(a, b):
			p = c.Low
		default:
			continue
		}
		n++
		if len(found) < 3 {
			found = append(found, fmt.Sprintf("%s UTC at %s (neighbours closed at %s and %s)", stamp(time.UnixMilli(c.OpenTime)),
				rules.TicksToPrice(p), rules.TicksToPrice(candles[i-1].Close), rules.TicksToPrice(candles[i+1].Close)))
		}
	}
	if n > 0 {
		more := ""
		if n > len(found) {
			more = fmt.Sprintf(" and %d more", n-len(found))
		}
		warn(fmt.Sprintf("%d candle(s) more than %s× their neighbours, likely bad prints: %s%s", n, spike, strings.Join(found, "; "), more))
	}
}

// levelPrices returns the grid's level prices rounded to the tick, and
// unrounded: a bounded grid's every level, a trailing grid's levels across
// the data's range from its lowest price (at most 5,000).
func (f flags) levelPrices(s setup, minP, maxP decimal.Decimal) (rounded, exact []decimal.Decimal) {
	rules := s.cfg.Rules
	add := func(p decimal.Decimal) {
		exact = append(exact, p)
		rounded = append(rounded, rules.RoundPrice(p))
	}
	if f.trailing == "" {
		if f.intervals < 1 || f.intervals > 100_000 || !s.lower.IsPositive() || !s.upper.GreaterThan(s.lower) {
			return nil, nil // the grid reports these itself
		}
		n := decimal.NewFromInt(int64(f.intervals))
		ratio := math.Pow(s.upper.Div(s.lower).InexactFloat64(), 1/float64(f.intervals))
		for k := 0; k <= f.intervals; k++ {
			if f.geometric {
				add(s.lower.Mul(decimal.NewFromFloat(math.Pow(ratio, float64(k)))))
			} else {
				add(s.lower.Add(s.upper.Sub(s.lower).Mul(decimal.NewFromInt(int64(k))).Div(n)))
			}
		}
		return rounded, exact
	}
	if !s.trailing.IsPositive() {
		return nil, nil
	}
	for p := minP; p.LessThanOrEqual(maxP) && len(exact) < 5000; {
		add(p)
		if f.geometric {
			p = p.Mul(decimal.NewFromInt(1).Add(s.trailing))
		} else {
			p = p.Add(s.trailing)
		}
	}
	return rounded, exact
}

// coarseTick warns when rounding the levels to the tick moves one by more
// than 5 % of the spacing around it.
func coarseTick(rules exchange.Rules, rounded, exact []decimal.Decimal, warn func(string)) {
	if len(exact) < 2 {
		return
	}
	worst, spacing := decimal.Zero, decimal.Zero
	for i := range exact {
		d := rounded[i].Sub(exact[i]).Abs()
		gap := exact[min(i+1, len(exact)-1)].Sub(exact[max(i-1, 0)]).Abs()
		if i > 0 && i+1 < len(exact) {
			gap = gap.Div(decimal.NewFromInt(2))
		}
		if gap.IsPositive() && d.Div(gap).GreaterThan(worst) {
			worst, spacing = d.Div(gap), gap
		}
	}
	if worst.GreaterThan(decimal.RequireFromString("0.05")) {
		warn(fmt.Sprintf("-tick %s is coarse for these levels: rounding moves a level by up to %s%% of its %s spacing", rules.TickSize,
			worst.Shift(2).Round(1), spacing.Round(8)))
	}
}

// sizing warns when rounding each order's quantity to the step (as
// -rounding says; down by default) makes its
// notional deviate from -amount by more than sizingTolerance, naming the
// levels and the actual notionals.
func (f flags) sizing(rules exchange.Rules, amount decimal.Decimal, levels []decimal.Decimal, warn func(string)) {
	if !amount.IsPositive() || len(levels) == 0 {
		return
	}
	var off []decimal.Decimal
	lowN, highN := decimal.Zero, decimal.Zero
	for _, p := range levels {
		if !p.IsPositive() {
			continue
		}
		q := rules.FloorQty(amount.Div(p))
		switch f.rounding {
		case "nearest":
			q = amount.Div(p).Div(rules.StepSize).Round(0).Mul(rules.StepSize)
		case "up":
			q = amount.Div(p).Div(rules.StepSize).Ceil().Mul(rules.StepSize)
		}
		if !q.IsPositive() {
			continue // below the minimum: the grid refuses it with an error
		}
		n := q.Mul(p)
		if n.Sub(amount).Abs().Div(amount).GreaterThan(sizingTolerance) {
			off = append(off, p)
			if lowN.IsZero() || n.LessThan(lowN) {
				lowN = n
			}
			if n.GreaterThan(highN) {
				highN = n
			}
		}
	}
	if len(off) == 0 {
		return
	}
	names := off
	if len(off) > 6 {
		names = append(append([]decimal.Decimal{}, off[:3]...), off[len(off)-3:]...)
	}
	list := make([]string, len(names))
	for i, p := range names {
		list[i] = p.String()
	}
	sep := ", "
	if len(off) > 6 {
		list = []string{strings.Join(list[:3], ", "), strings.Join(list[3:], ", ")}
		sep = ", …, "
	}
	how, fix := "flooring", "; raise -amount, use a finer -step or -rounding nearest"
	switch f.rounding {
	case "nearest":
		how, fix = "rounding to the nearest", "; raise -amount or use a finer -step"
	case "up":
		how, fix = "rounding up", "; raise -amount or use a finer -step"
	}
	warn(fmt.Sprintf("-amount %s: %s each order to the step %s puts %d of %d levels more than %s%% off the amount (levels %s: notional %s to %s)%s",
		amount, how, rules.StepSize, len(off), len(levels), sizingTolerance.Shift(2), strings.Join(list, sep), lowN, highN, fix))
}

// afterRun warns of what the run showed: orders the venue refused for
// margin, and settlements the funding data did not cover.
func (f flags) afterRun(s setup, res backtest.Result, warn func(string)) {
	if res.MarginRefusals > 0 {
		warn(fmt.Sprintf("the venue refused %d orders for insufficient margin: -balance %s at -leverage %d cannot carry every level of this grid",
			res.MarginRefusals, res.InitialBalance, f.leverage))
	}
	if ss := s.cfg.Funding.Settlements; len(ss) > 0 {
		ivl := ss[0].Interval
		if ivl <= 0 {
			ivl = 8 * time.Hour
		}
		iv := ivl.Milliseconds()
		// the candles' settlements: from the first open to the last candle's end
		from, to := res.Start.UnixMilli(), res.End.UnixMilli()+15_000-1
		due := int(to/iv - (from-1)/iv)
		if res.FundingPayments < due {
			warn(fmt.Sprintf("the funding data (%s → %s UTC) covers %d of the run's %d settlements: the rest are not charged",
				stamp(ss[0].Time), stamp(ss[len(ss)-1].Time), res.FundingPayments, due))
		}
	}
}
