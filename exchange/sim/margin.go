package sim

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
)

// Bracket is one maintenance-margin tier of a symbol, as Binance's
// GET /fapi/v1/leverageBracket lists them: a position whose notional N is
// at most NotionalCap (and above the previous tier's cap) needs a
// maintenance margin of N × Rate − Amount. Amount is Binance's "cum", the
// number that makes the margin continuous from tier to tier:
// Amount[k] = Amount[k−1] + NotionalCap[k−1] × (Rate[k] − Rate[k−1]).
// The last tier may leave NotionalCap 0 (no cap). The zero value is a tier
// with no maintenance margin. It is a plain value.
type Bracket struct {
	NotionalCap exchange.Money // upper edge of the tier (inclusive); 0 on the last tier: no cap
	Rate        exchange.Rate  // maintenance margin rate, e.g. 400_000 = 0.4 %
	Amount      exchange.Money // maintenance amount subtracted (Binance's cum)
}

// validateBrackets checks the tiers: rates within [0, 100 %) and not
// falling, caps rising, amounts continuous (to one Money unit).
func validateBrackets(bs []Bracket, bad func(field string, v any, reason string)) {
	for k, b := range bs {
		field := fmt.Sprintf("Brackets[%d]", k)
		if b.Rate < 0 || b.Rate >= exchange.RateScale {
			bad(field+".Rate", int64(b.Rate), "must lie in [0, 100 %)")
		}
		if b.Amount < 0 {
			bad(field+".Amount", int64(b.Amount), "must not be negative")
		}
		last := k == len(bs)-1
		if b.NotionalCap < 0 || (b.NotionalCap == 0 && !last) {
			bad(field+".NotionalCap", int64(b.NotionalCap), "must be positive (0 only on the last tier: no cap)")
		}
		if k == 0 {
			continue
		}
		p := bs[k-1]
		if b.NotionalCap != 0 && b.NotionalCap <= p.NotionalCap {
			bad(field+".NotionalCap", int64(b.NotionalCap), fmt.Sprintf("must be above the previous tier's %d", p.NotionalCap))
		}
		if b.Rate < p.Rate {
			bad(field+".Rate", int64(b.Rate), fmt.Sprintf("must not be below the previous tier's %d", p.Rate))
			continue
		}
		want := p.Amount + rateOf(p.NotionalCap, b.Rate-p.Rate).round()
		if d := b.Amount - want; d < -1 || d > 1 {
			bad(field+".Amount", int64(b.Amount), fmt.Sprintf("must be %d: the previous Amount plus the previous cap × the rate step, so the margin is continuous", want))
		}
	}
}

// line is one maintenance tier as a line: margin = N × rate − amount. The
// maintenance margin of a notional is the largest of the lines, which for
// continuous tiers is the tier's own.
type line struct {
	rate   exchange.Rate
	amount exchange.Money
}

func linesOf(cfg CoreConfig) []line {
	if len(cfg.Brackets) == 0 {
		return []line{{rate: cfg.MaintenanceRate}}
	}
	out := make([]line, len(cfg.Brackets))
	for i, b := range cfg.Brackets {
		out[i] = line{rate: b.Rate, amount: b.Amount}
	}
	return out
}

// maintenance returns the maintenance margin of a notional n ≥ 0, exactly.
func (c *Core) maintenance(n exchange.Money) fine {
	var best fine
	for i, l := range c.lines {
		v := rateOf(n, l.rate)
		v.m -= l.amount
		if i == 0 || v.m > best.m || (v.m == best.m && v.f > best.f) {
			best = v
		}
	}
	if best.m < 0 {
		return fine{}
	}
	return best
}

// below reports whether equity e is below the maintenance margin of the
// notional n, exactly: e × 10⁸ < n × rate − amount × 10⁸ on some line.
func (c *Core) below(e, n exchange.Money) bool {
	for _, l := range c.lines {
		ea := e + l.amount
		if ea < 0 {
			return true
		}
		eh, el := bits.Mul64(uint64(ea), exchange.RateScale)
		mh, ml := bits.Mul64(uint64(l.rate), uint64(n))
		if eh < mh || (eh == mh && el < ml) {
			return true
		}
	}
	return false
}

// MaintenanceMargin returns the maintenance margin at mark, rounded to the
// Money unit: in cross margin that of the gross notional Σ|qty × mark|
// (both hedge-mode sides count toward one bracket), in isolated margin the
// sum of each position side's own. The liquidation test compares exactly,
// without this rounding (see the package doc).
func (c *Core) MaintenanceMargin(mark exchange.Ticks) exchange.Money {
	if c.cfg.MarginMode != exchange.Isolated {
		return c.maintenance(c.grossNotional(mark)).round()
	}
	var sum fine
	for i := range c.pos {
		if c.pos[i].qty != 0 {
			sum.add(c.maintenance(absMoney(exchange.Notional(mark, c.pos[i].qty))))
		}
	}
	return sum.round()
}

// PositionMargin returns the margin of ps: the initial margin of its open
// part, ⌈opened notional / Leverage⌉ less what closing took off. In
// isolated margin it is what a liquidation of ps loses.
func (c *Core) PositionMargin(ps exchange.PositionSide) exchange.Money {
	if int(ps) >= len(c.pos) {
		return 0
	}
	return c.pos[ps].margin
}

func absMoney(m exchange.Money) exchange.Money { return max(m, -m) }

// ApplyFunding books a funding payment at time now on every open position
// side: payment = rate × (signed quantity × mark), exact (see
// [Core.ExactFunding]), so longs pay a positive rate and shorts receive
// it. It emits one EventFunding per position side with a position, whose
// Funding is the payment in whole Money (the change of the rounded total).
func (c *Core) ApplyFunding(now time.Time, rate exchange.Rate, mark exchange.Ticks) {
	c.now = now
	for ps := range c.pos {
		if q := c.pos[ps].qty; q != 0 {
			c.payFunding(now, exchange.PositionSide(ps), mark, rateOf(exchange.Notional(mark, q), rate))
		}
	}
	c.recomputeGuards()
}

// ApplyFundingAtMark is [Core.ApplyFunding] with a mark price finer than
// the tick (Binance's markPrice has 8 decimals): payment = rate × signed
// quantity × mark, exact to 1e-8 of a Money unit. Events carry the mark
// rounded to the tick.
func (c *Core) ApplyFundingAtMark(now time.Time, rate exchange.Rate, mark decimal.Decimal) {
	c.now = now
	ticks := exchange.Ticks(mark.Div(c.cfg.Rules.TickSize).Round(0).IntPart())
	r := rate.Decimal()
	for ps := range c.pos {
		q := c.pos[ps].qty
		if q == 0 {
			continue
		}
		// q steps × mark / tick = the notional in Money units
		n := decimal.NewFromInt(int64(q)).Mul(mark).Div(c.cfg.Rules.TickSize)
		c.payFunding(now, exchange.PositionSide(ps), ticks, fineFromDecimal(n.Mul(r)))
	}
	c.recomputeGuards()
}

func (c *Core) payFunding(now time.Time, ps exchange.PositionSide, mark exchange.Ticks, exact fine) {
	pay := charge(&c.funding, exact)
	c.wallet -= pay
	c.stats.Funding += pay
	c.bandDirty = true
	c.emit(Event{Kind: EventFunding, Time: now, PositionSide: ps, Price: mark, Qty: c.pos[ps].qty, Funding: pay})
}

// liquidatable reports whether the account (cross) or one position side
// (isolated) is below its maintenance margin at p, compared exactly.
func (c *Core) liquidatable(p exchange.Ticks) bool {
	if c.cfg.MarginMode != exchange.Isolated {
		return c.below(c.Equity(p), c.grossNotional(p))
	}
	for ps := range c.pos {
		if c.sideLiquidatable(ps, p) {
			return true
		}
	}
	return false
}

// sideLiquidatable: an isolated position side whose margin plus unrealized
// PnL at p is below its maintenance margin.
func (c *Core) sideLiquidatable(ps int, p exchange.Ticks) bool {
	q := c.pos[ps].qty
	if q == 0 {
		return false
	}
	n := exchange.Notional(p, q)
	return c.below(c.pos[ps].margin+n-c.pos[ps].cost, absMoney(n))
}

// checkLiquidation liquidates at p when due, else widens the safe band.
func (c *Core) checkLiquidation(p exchange.Ticks) {
	if c.bandDirty {
		c.computeBand()
	}
	if p >= c.safeLo && p <= c.safeHi {
		return
	}
	if !c.liquidatable(p) {
		if p > 0 { // the band is an interval of positive prices only
			c.safeLo, c.safeHi = min(c.safeLo, p), max(c.safeHi, p)
		}
		return
	}
	c.liquidate(p)
}

// liquidate cancels every open order (in id order) and closes at p, as
// taker, every position side (cross) or each side below its maintenance
// margin (isolated). The venue took the position over at its bankruptcy
// price; the insurance fund keeps what the close left above it and covers
// what it left below. So in cross margin the wallet ends at zero, and in
// isolated margin it ends lower by exactly the closed sides' margin.
func (c *Core) liquidate(p exchange.Ticks) {
	c.stats.Liquidations++
	isolated := c.cfg.MarginMode == exchange.Isolated
	var due [3]bool
	for ps := range c.pos {
		due[ps] = c.pos[ps].qty != 0 && (!isolated || c.sideLiquidatable(ps, p))
	}
	c.scratch = append(c.scratch[:0], c.bids...)
	c.scratch = append(c.scratch, c.asks...)
	slices.SortFunc(c.scratch, func(a, b order) int { return cmpID(a.id, b.id) })
	c.bids, c.asks = c.bids[:0], c.asks[:0]
	for i := range c.scratch {
		c.remove(EventCanceled, &c.scratch[i])
	}
	target, keep := exchange.Money(0), fine{}
	if isolated {
		target, keep = c.wallet, c.residual()
	}
	for ps := range c.pos {
		if !due[ps] {
			continue
		}
		q := c.pos[ps].qty
		if isolated {
			target -= c.pos[ps].margin
		}
		side := exchange.Sell
		if q < 0 {
			side, q = exchange.Buy, -q
		}
		c.nextID++
		c.stats.Orders++
		o := order{id: c.nextID, price: p, qty: q, side: side, ps: exchange.PositionSide(ps), closing: true}
		margin := c.pos[ps].margin
		c.fill(EventLiquidation, &o, q, p, false)
		c.ev[c.cur][len(c.ev[c.cur])-1].Margin = margin
	}
	ins := c.wallet - target
	c.stats.Insurance += ins
	c.wallet = target
	// the fund also takes (or covers) the sub-unit rest of the close's exact
	// fee: the exact wallet is zero (cross) or lower by the margin exactly
	// (isolated)
	r := c.residual().neg()
	r.add(keep)
	c.adjust.add(r)
	c.bandDirty = true
	c.computeBand()
}

// computeBand sets [safeLo, safeHi] to the positive prices at which the
// current positions and wallet are not liquidatable: the intersection of
// one linear condition per maintenance line (and, in isolated margin, per
// position side). With K = RateScale × (wallet − Σcost + amount) and
// S = RateScale × Σqty − rate × Σ|qty|, a line is safe at p > 0 when
// K + S × p ≥ 0. When the numbers do not fit, the band is left empty and
// grows as exact checks pass.
func (c *Core) computeBand() {
	c.bandDirty, c.bandInexact = false, false
	if !c.hasPosition() {
		c.safeLo, c.safeHi = math.MinInt64, math.MaxInt64
		return
	}
	lo, hi := exchange.Ticks(1), exchange.Ticks(math.MaxInt64)
	intersect := func(w, q, a int64) {
		for _, l := range c.lines {
			l0, h0, ok := lineBand(w+int64(l.amount), q, a, l.rate)
			if !ok {
				c.bandInexact = true
			}
			lo, hi = max(lo, l0), min(hi, h0)
		}
	}
	if c.cfg.MarginMode == exchange.Isolated {
		for i := range c.pos {
			if q := int64(c.pos[i].qty); q != 0 {
				intersect(int64(c.pos[i].margin)-int64(c.pos[i].cost), q, max(q, -q))
			}
		}
	} else {
		var q, a, cost int64
		for i := range c.pos {
			q += int64(c.pos[i].qty)
			a += int64(max(c.pos[i].qty, -c.pos[i].qty))
			cost += int64(c.pos[i].cost)
		}
		intersect(int64(c.wallet)-cost, q, a)
	}
	if c.bandInexact {
		lo, hi = math.MaxInt64, math.MinInt64
	}
	c.safeLo, c.safeHi = lo, hi
}

// lineBand returns the positive prices p with K + S × p ≥ 0, where
// K = RateScale × w and S = RateScale × q − rate × a: an interval [lo, hi]
// (empty when lo > hi). ok is false when the numbers do not fit.
func lineBand(w, q, a int64, rate exchange.Rate) (lo, hi exchange.Ticks, ok bool) {
	const lim = math.MaxInt64 / exchange.RateScale / 2
	empty := func() (exchange.Ticks, exchange.Ticks, bool) { return math.MaxInt64, math.MinInt64, true }
	if a > lim {
		return math.MaxInt64, math.MinInt64, false
	}
	s := q*exchange.RateScale - int64(rate)*a
	kh, kl := bits.Mul64(uabs(w), exchange.RateScale) // |K|
	kNeg := w < 0
	switch {
	case s > 0:
		// need p ≥ −K / S
		if !kNeg {
			return 1, math.MaxInt64, true
		}
		if kh >= uint64(s) {
			return empty() // threshold beyond int64
		}
		t, r := bits.Div64(kh, kl, uint64(s))
		if r != 0 {
			t++
		}
		if t > math.MaxInt64 {
			return empty()
		}
		return max(exchange.Ticks(t), 1), math.MaxInt64, true
	case s < 0:
		// need p ≤ K / −S
		if kNeg {
			return empty()
		}
		if kh >= uint64(-s) {
			return 1, math.MaxInt64, true
		}
		t, _ := bits.Div64(kh, kl, uint64(-s))
		if t > math.MaxInt64 {
			t = math.MaxInt64
		}
		if t >= 1 {
			return 1, exchange.Ticks(t), true
		}
		return empty()
	}
	if !kNeg {
		return 1, math.MaxInt64, true
	}
	return empty()
}

// LiquidationPrices returns where the current positions and wallet would
// be liquidated: below is the highest price that liquidates on a fall and
// above the lowest price that liquidates on a rise, 0 when no positive
// price does on that side. ok is false when no price is safe (the next
// Tick liquidates) or the positions are too large for the exact bound;
// with no position it is (0, 0, true).
func (c *Core) LiquidationPrices() (below, above exchange.Ticks, ok bool) {
	if c.bandDirty {
		c.computeBand()
	}
	if !c.hasPosition() {
		return 0, 0, true
	}
	if c.bandInexact || c.safeLo > c.safeHi {
		return 0, 0, false
	}
	if c.safeLo > 1 {
		below = c.safeLo - 1
	}
	if c.safeHi < math.MaxInt64 {
		above = c.safeHi + 1
	}
	return below, above, true
}
