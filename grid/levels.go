package grid

import (
	"errors"
	"fmt"
	"math"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/slot"
)

// level is one grid level and its slot. Levels live in one slice indexed
// by level index minus base, so a tick's work touches a handful of
// neighbouring entries and no map. 128 bytes each (TestSlotMemoryBudget).
type level struct {
	s       slot.Slot
	price   exchange.Ticks
	exit    exchange.Ticks // the exit's price: the next level up (long) or down (short)
	qty     exchange.Steps // entry quantity
	fees    exchange.Money // fees of the current round trip
	pnl     exchange.Money // realized of the current round trip
	req     request        // the timing of the current order's requests
	retryAt int64          // Unix ns before which a refused slot does not place again
	rejects uint8          // refusals in a row
	// postRejects counts the entry's post-only rejections in a row
	// (immediate or later), plain that the live entry is a plain limit
	// (the maker fallback); see reprice.go.
	postRejects uint8
	plain       bool
	exists      bool   // the level has a valid price
	reserved    bool   // waiting for its share of the initial position
	bad         string // why entries are refused at this level ("" = fine)
}

// ladder computes level prices. Bounded grids precompute every level;
// trailing grids compute a level when the price first comes near it.
type ladder struct {
	bounded   bool
	geometric bool
	prices    []exchange.Ticks // bounded: levels 0..N
	anchor    exchange.Ticks   // trailing: level 0
	step      int64            // trailing arithmetic: ticks per level
	anchorDec decimal.Decimal  // trailing geometric
	factor    decimal.Decimal  // trailing geometric: 1 + interval
	rules     exchange.Rules
	// Trailing geometric levels, unrounded: up[k] = anchor × factor^k and
	// down[k] = anchor / factor^k, each from its neighbour by one product
	// rounded to powDigits decimals. Levels are made outward from the
	// anchor, so every level's value comes from the same operations
	// whatever path the price took. upT and downT are the same levels
	// rounded to the tick (0 where the level has no valid price).
	up, down    []decimal.Decimal
	upT, downT  []exchange.Ticks
	low         int64           // trailing geometric: the lowest level (≤ −1)
	interval    decimal.Decimal // trailing geometric: factor − 1
	lowestPrice decimal.Decimal // trailing geometric: tick / interval
}

// ErrLadderEnd is matched by every [*LadderEndError].
var ErrLadderEnd = errors.New("grid: the ladder makes no level beyond this end")

// LadderEndError says where a trailing geometric grid stops making levels
// and why. Below a price of TickSize / Interval one interval is less than
// one tick, so neighbouring levels would round to the same price and an
// exit would rest at its own entry's price (no gross profit, fees paid);
// the grid makes no level there. Level is the lowest level it makes: the
// last one whose unrounded price is at least Limit. Every level it makes is
// above its lower neighbour by at least one tick.
type LadderEndError struct {
	Level    int64           // the lowest level index the grid makes (negative: below the start)
	Limit    decimal.Decimal // TickSize / Interval, the lowest unrounded level price
	Interval decimal.Decimal // the geometric interval (0.01 = 1 %)
	TickSize decimal.Decimal // the symbol's tick size
}

// Error names the end and the numbers behind it, in the user's units.
func (e *LadderEndError) Error() string {
	return fmt.Sprintf("grid: trailing geometric levels end at level %d: below %s one interval (%s) is less than one tick (%s), "+
		"so neighbouring levels would round to the same price; the grid makes no level there (a wider interval or a finer tick reaches lower)",
		e.Level, e.Limit.Round(max(0, -e.TickSize.Exponent())+1), e.Interval, e.TickSize)
}

// Is makes every LadderEndError match [ErrLadderEnd].
func (e *LadderEndError) Is(target error) bool { return target == ErrLadderEnd }

// LadderEnd reports where the grid's ladder stops making levels before the
// price reaches the symbol's smallest tick, as a [*LadderEndError]; nil for
// bounded and arithmetic grids (their ends are the bounds, or one tick).
// A host or runner reports it when the price falls below the lowest level:
// no entry is placed there. Not safe for concurrent use with the engine's
// other methods.
func (e *Engine) LadderEnd() error {
	l := e.lad
	if l == nil || l.bounded || !l.geometric {
		return nil
	}
	return &LadderEndError{Level: l.low, Limit: l.lowestPrice, Interval: l.interval, TickSize: l.rules.TickSize}
}

// endPrice is the ladder end as shown to users: TickSize / Interval to one
// decimal finer than the tick, as [LadderEndError] shows it (the exact
// value has powDigits decimals).
func (l *ladder) endPrice() decimal.Decimal {
	return l.lowestPrice.Round(max(0, -l.rules.TickSize.Exponent()) + 1)
}

// span bounds the level indices of a ladder.
func (l *ladder) span() (lo, hi int64) {
	if l.bounded {
		return 0, int64(len(l.prices) - 1)
	}
	if !l.geometric {
		// lowest level with a price of at least one tick
		return -((int64(l.anchor) - 1) / l.step), math.MaxInt32 / 2
	}
	return l.low, math.MaxInt32 / 2
}

// price returns level i's price in ticks; ok is false when the level has
// no valid (positive, representable) price.
func (l *ladder) price(i int64) (exchange.Ticks, bool) {
	if l.bounded {
		if i < 0 || i >= int64(len(l.prices)) {
			return 0, false
		}
		return l.prices[i], true
	}
	if !l.geometric {
		off, err := exchange.MulDiv(i, l.step, 1) // exact: i × step may pass int64
		if err != nil || off > math.MaxInt64/4 {
			return 0, false
		}
		p := int64(l.anchor) + off
		if p <= 0 || p > math.MaxInt64/4 {
			return 0, false
		}
		return exchange.Ticks(p), true
	}
	if i < l.low {
		return 0, false
	}
	l.geometricAt(i)
	var t, inner exchange.Ticks
	if i >= 0 {
		t = l.upT[i]
		if i > 0 {
			inner = l.upT[i-1]
		}
	} else {
		t, inner = l.downT[-i], l.downT[-i-1]
	}
	// A level is valid when it is a tick or more beyond its neighbour
	// toward the anchor. Above l.low the unrounded neighbours are at least
	// a tick apart, so this holds but for the last digits of powDigits.
	if t <= 0 || (i > 0 && t <= inner) || (i < 0 && (t >= inner || inner <= 0)) {
		return 0, false
	}
	return t, true
}

// geometricTicks is a geometric level's value rounded to the tick, or 0
// when it has no representable price.
func (l *ladder) geometricTicks(v decimal.Decimal) exchange.Ticks {
	t := v.Div(l.rules.TickSize).Round(0)
	if !t.IsPositive() || t.GreaterThan(decimal.NewFromInt(math.MaxInt64/4)) {
		return 0
	}
	return exchange.Ticks(t.IntPart())
}

// geometricLow is the lowest level of a trailing geometric ladder: −K for
// the largest K with anchor / factor^K ≥ tick / interval, so that every
// neighbouring pair down to it is at least one tick apart before rounding
// (and so after rounding to the tick). K is found from a float estimate,
// then settled in decimals; it is 0 when one interval below the anchor is
// already less than a tick.
func (l *ladder) geometricLow() int64 {
	r := l.anchorDec.Mul(l.interval).DivRound(l.rules.TickSize, powDigits) // factor^K ≤ r
	if r.LessThan(l.factor) {
		return 0
	}
	rf, _ := r.Float64()
	ff, _ := l.factor.Float64()
	k := int64(math.MaxInt32 / 2)
	if est := math.Log(rf) / math.Log(ff); est < float64(k) && ff > 1 {
		k = max(int64(est), 1)
	}
	for k > 1 && powInt(l.factor, k).GreaterThan(r) {
		k--
	}
	for k < math.MaxInt32/2 && powInt(l.factor, k+1).LessThanOrEqual(r) {
		k++
	}
	return -k
}

// newLadder builds the level prices of a validated config.
func newLadder(c *config, rules exchange.Rules, start exchange.Ticks) (*ladder, error) {
	l := &ladder{geometric: c.geometric, rules: rules}
	if c.trailing {
		l.anchor = start
		if c.geometric {
			l.anchorDec = rules.TicksToPrice(start)
			l.interval = c.interval
			l.factor = decimal.NewFromInt(1).Add(c.interval)
			l.lowestPrice = rules.TickSize.DivRound(c.interval, powDigits)
			if l.low = l.geometricLow(); l.low > -1 {
				return nil, &OptionError{Option: "WithTrailing", Value: c.interval.String(),
					Reason: fmt.Sprintf("interval is below one tick (%s) at the start price %s: one level below it would be less than a tick away", rules.TickSize, l.anchorDec)}
			}
			if floor := rules.RoundPrice(c.floor); c.floor.IsPositive() && floor.LessThan(l.lowestPrice) {
				return nil, &OptionError{Option: "WithFloorPrice", Value: floor.String(),
					Reason: fmt.Sprintf("is below the ladder end %s of this trailing geometric grid (level %d): below it one interval (%s) is less than one tick (%s), so the grid makes no level there; "+
						"raise the floor to at least the ladder end, or widen the interval", l.endPrice(), l.low, c.interval, rules.TickSize)}
			}
			return l, nil
		}
		step := c.interval.Div(rules.TickSize)
		if !step.IsInteger() || step.LessThan(decimal.NewFromInt(1)) {
			return nil, &OptionError{Option: "WithTrailing", Value: c.interval.String(), Reason: fmt.Sprintf("interval must be a positive multiple of the tick size %s", rules.TickSize)}
		}
		l.step = step.IntPart()
		return l, nil
	}
	l.bounded = true
	lo, hi := rules.RoundPrice(c.lower), rules.RoundPrice(c.upper)
	loT, err := rules.PriceToTicks(lo)
	if err != nil {
		return nil, err
	}
	hiT, err := rules.PriceToTicks(hi)
	if err != nil {
		return nil, err
	}
	n := int64(c.intervals)
	l.prices = make([]exchange.Ticks, n+1)
	if !c.geometric {
		for i := int64(0); i <= n; i++ {
			// i × (hi − lo) / n, rounded half up: exact in 128 bits, and
			// the quotient is at most hi − lo, so it cannot fail.
			off, _ := exchange.MulDivRound(i, int64(hiT-loT), n)
			l.prices[i] = loT + exchange.Ticks(off)
		}
	} else {
		// ratio = (upper/lower)^(1/N) in decimals (no float64 anywhere near
		// a price); each level is the previous times the ratio, rounded to
		// powDigits decimals, then once to the tick.
		r := nthRoot(hi.DivRound(lo, powDigits), n)
		p := lo
		for i := int64(0); i <= n; i++ {
			if i == n {
				l.prices[i] = hiT
				break
			}
			t := p.Div(rules.TickSize).Round(0).IntPart()
			l.prices[i] = exchange.Ticks(t)
			p = p.Mul(r).Round(powDigits)
		}
	}
	for i := int64(1); i <= n; i++ {
		if l.prices[i] <= l.prices[i-1] {
			return nil, &OptionError{Option: "WithBounds", Value: fmt.Sprint(c.intervals),
				Reason: fmt.Sprintf("levels %d and %d both round to %s: fewer intervals or a wider range", i-1, i, rules.TicksToPrice(l.prices[i]))}
		}
	}
	return l, nil
}

// geometricAt is anchor × factor^i, unrounded (see ladder.up).
func (l *ladder) geometricAt(i int64) decimal.Decimal {
	if len(l.up) == 0 {
		t := l.geometricTicks(l.anchorDec)
		l.up, l.down = []decimal.Decimal{l.anchorDec}, []decimal.Decimal{l.anchorDec}
		l.upT, l.downT = []exchange.Ticks{t}, []exchange.Ticks{t}
	}
	if i >= 0 {
		for int64(len(l.up)) <= i {
			v := l.up[len(l.up)-1].Mul(l.factor).Round(powDigits)
			l.up, l.upT = append(l.up, v), append(l.upT, l.geometricTicks(v))
		}
		return l.up[i]
	}
	for int64(len(l.down)) <= -i {
		v := l.down[len(l.down)-1].DivRound(l.factor, powDigits)
		l.down, l.downT = append(l.down, v), append(l.downT, l.geometricTicks(v))
	}
	return l.down[-i]
}

// nthRoot is a^(1/n) for a > 0, to powDigits decimals, by Newton's method
// on x^n = a in decimals: x ← ((n−1)x + a/x^(n−1)) / n, from 1 + (a−1)/n,
// until a step no longer changes x.
func nthRoot(a decimal.Decimal, n int64) decimal.Decimal {
	if n == 1 {
		return a
	}
	one, nd, n1 := decimal.NewFromInt(1), decimal.NewFromInt(n), decimal.NewFromInt(n-1)
	x := one.Add(a.Sub(one).DivRound(nd, powDigits))
	for range 200 {
		next := n1.Mul(x).Add(a.DivRound(powInt(x, n-1), powDigits)).DivRound(nd, powDigits)
		if next.Equal(x) {
			break
		}
		x = next
	}
	return x
}

// powInt is x^k for k ≥ 0 by squaring, each product rounded to powDigits.
func powInt(x decimal.Decimal, k int64) decimal.Decimal {
	result := decimal.NewFromInt(1)
	for ; k > 0; k >>= 1 {
		if k&1 == 1 {
			result = result.Mul(x).Round(powDigits)
		}
		x = x.Mul(x).Round(powDigits)
	}
	return result
}

// powDigits is the number of decimals kept in geometric level arithmetic:
// far below any tick, and it keeps the numbers small. Level prices are
// rounded to the tick afterwards, so they are exact, repeatable decimals.
const powDigits = 30

// booksBudget bounds the sum of the notionals of every order the grid can
// hold at once, in Money units: a quarter of the int64 range, so that the
// books' sums (costs, the unrealized PnL at a mark up to a few times the
// levels, realized PnL over many round trips) stay exact in int64.
const booksBudget exchange.Money = math.MaxInt64 >> 2

// maxLevelNotional is the largest entry or exit notional one level may
// carry: the books' budget shared by every slot that can hold at once (a
// bounded grid's levels, a trailing grid's layer cap), and never above
// [exchange.MaxNotional]. It is a bound of the integer books, far above
// any real order: with a 1e-8 tick and whole-coin steps a 100,000-level
// grid still allows 230,000 USDT a level.
func maxLevelNotional(c *config) exchange.Money {
	slots := int64(c.layerCap)
	if !c.trailing {
		slots = int64(c.intervals) + 1
	}
	return min(exchange.MaxNotional, booksBudget/exchange.Money(max(slots, 1)))
}

// fitsBooks reports whether an order of qty at price stays within the
// level bound (maxLevelNotional), computed without overflow.
func (e *Engine) fitsBooks(price exchange.Ticks, qty exchange.Steps) bool {
	n, err := exchange.CheckedNotional(price, qty)
	return err == nil && n <= e.maxNotion
}

// beyondBooks says why a level's order is refused by fitsBooks, in the
// user's units.
func (e *Engine) beyondBooks(role string, price exchange.Ticks, qty exchange.Steps) string {
	return fmt.Sprintf("%s notional %s (%s at %s) is beyond %s, the most one level may carry so that the grid's integer books stay exact "+
		"(they count money in units of TickSize × StepSize = %s; fewer levels, a smaller size or coarser rules fix it)",
		role, e.rules.TicksToPrice(price).Mul(e.rules.StepsToQty(qty)), e.rules.StepsToQty(qty), e.rules.TicksToPrice(price),
		e.rules.MoneyToDecimal(e.maxNotion), e.rules.MoneyUnit())
}
