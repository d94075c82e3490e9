package sim

import (
	"math"
	"math/bits"
	"slices"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
)

// closes reports whether an order of side on position side ps is a
// hedge-mode closing order (sell LONG, buy SHORT).
func (c *Core) closes(side exchange.Side, ps exchange.PositionSide) bool {
	return (ps == exchange.PositionLong && side == exchange.Sell) || (ps == exchange.PositionShort && side == exchange.Buy)
}

// reducible is how many steps an order of side can take off the position
// of ps without opening anything.
func (c *Core) reducible(side exchange.Side, ps exchange.PositionSide) exchange.Steps {
	q := c.pos[ps].qty
	if side == exchange.Sell {
		return max(q, 0)
	}
	return max(-q, 0)
}

// fill executes q steps of o at price: position, realized PnL, fee,
// wallet, stats, and one event of kind.
func (c *Core) fill(kind EventKind, o *order, q exchange.Steps, price exchange.Ticks, maker bool) {
	d := q
	if o.side == exchange.Sell {
		d = -q
	}
	notional := exchange.Notional(price, q)
	rate := c.cfg.TakerFee
	if maker {
		rate = c.cfg.MakerFee
	}
	fee := rate.Apply(notional)
	realized := c.pos[o.ps].apply(d, price)
	o.filled += q
	c.wallet += realized - fee
	c.bandDirty = true

	s := &c.stats
	s.Fills++
	if maker {
		s.MakerFills++
	} else {
		s.TakerFills++
	}
	s.Volume += notional
	s.FeesPaid += fee
	s.RealizedPnL += realized

	c.emit(Event{
		Kind: kind, Time: c.now, OrderID: o.id, Tag: o.tag, Side: o.side, PositionSide: o.ps,
		Price: price, Qty: q, CumQty: o.filled, OrderQty: o.qty, Fee: fee, Maker: maker, RealizedPnL: realized,
	})
}

// apply books a signed fill of d steps at price and returns the realized
// PnL. Reducing removes cost × closed / |qty| (truncated toward zero) from
// the cost basis; the remainder stays in it, so the realized PnL of a
// round trip sums exactly once flat. The part of d beyond the position
// opens a new one at price.
func (p *position) apply(d exchange.Steps, price exchange.Ticks) exchange.Money {
	if p.qty == 0 || (p.qty > 0) == (d > 0) {
		p.qty += d
		p.cost += exchange.Notional(price, d)
		return 0
	}
	absQ, absD := p.qty, d
	if absQ < 0 {
		absQ = -absQ
	}
	if absD < 0 {
		absD = -absD
	}
	closed := min(absD, absQ)
	dc := closed
	if d < 0 {
		dc = -closed
	}
	// exact in 128 bits; cannot fail: closed ≤ |qty|, so |removed| ≤ |cost|
	r, _ := exchange.MulDiv(int64(p.cost), int64(closed), int64(absQ))
	removed := exchange.Money(r)
	realized := -exchange.Notional(price, dc) - removed
	p.qty += dc
	p.cost -= removed
	if rest := d - dc; rest != 0 {
		p.qty += rest
		p.cost += exchange.Notional(price, rest)
	}
	return realized
}

func uabs(v int64) uint64 {
	if v < 0 {
		return uint64(-v)
	}
	return uint64(v)
}

// ceilDiv returns ⌈a / b⌉ for b > 0.
func ceilDiv(a, b int64) exchange.Money {
	q := a / b
	if a%b > 0 {
		q++
	}
	return exchange.Money(q)
}

// Position returns the position of ps: its signed quantity and its signed
// entry cost (quantity × average entry price, in Money). In one-way mode
// only PositionBoth is used; in hedge mode PositionLong (≥ 0) and
// PositionShort (≤ 0).
func (c *Core) Position(ps exchange.PositionSide) (qty exchange.Steps, entryCost exchange.Money) {
	if int(ps) >= len(c.pos) {
		return 0, 0
	}
	return c.pos[ps].qty, c.pos[ps].cost
}

func (c *Core) hasPosition() bool {
	return c.pos[0].qty != 0 || c.pos[1].qty != 0 || c.pos[2].qty != 0
}

// Wallet returns the wallet balance: initial balance + realized PnL − fees
// − funding. It may be negative after a liquidation; it is not clamped.
func (c *Core) Wallet() exchange.Money { return c.wallet }

// Equity returns the wallet plus the unrealized PnL of every position at mark.
func (c *Core) Equity(mark exchange.Ticks) exchange.Money {
	e := c.wallet
	for i := range c.pos {
		e += exchange.Notional(mark, c.pos[i].qty) - c.pos[i].cost
	}
	return e
}

// UnrealizedPnL returns the unrealized PnL of ps at mark.
func (c *Core) UnrealizedPnL(ps exchange.PositionSide, mark exchange.Ticks) exchange.Money {
	if int(ps) >= len(c.pos) {
		return 0
	}
	return exchange.Notional(mark, c.pos[ps].qty) - c.pos[ps].cost
}

// grossNotional is Σ |position notional| at mark.
func (c *Core) grossNotional(mark exchange.Ticks) exchange.Money {
	var n exchange.Money
	for i := range c.pos {
		v := exchange.Notional(mark, c.pos[i].qty)
		if v < 0 {
			v = -v
		}
		n += v
	}
	return n
}

// MaintenanceMargin returns Σ |position notional at mark| × MaintenanceRate,
// rounded by [exchange.Rate.Apply]. The liquidation test compares exactly,
// without this rounding (see the package doc).
func (c *Core) MaintenanceMargin(mark exchange.Ticks) exchange.Money {
	return c.cfg.MaintenanceRate.Apply(c.grossNotional(mark))
}

// InitialMargin returns the initial margin at the current price: of the
// positions, ⌈Σ |notional| / Leverage⌉, and of the open orders that can open
// a position (not reduce-only, not hedge-mode closing),
// ⌈Σ price × unfilled quantity / Leverage⌉.
func (c *Core) InitialMargin() (positions, orders exchange.Money) {
	positions = ceilDiv(int64(c.grossNotional(c.price)), c.cfg.Leverage)
	var n exchange.Money
	for _, b := range [2][]order{c.bids, c.asks} {
		for i := range b {
			if !b[i].closing {
				n += exchange.Notional(b[i].price, b[i].qty-b[i].filled)
			}
		}
	}
	return positions, ceilDiv(int64(n), c.cfg.Leverage)
}

// Available returns the balance available for new orders at the current
// price: equity − position initial margin − open-order initial margin.
func (c *Core) Available() exchange.Money {
	pim, oim := c.InitialMargin()
	return c.Equity(c.price) - pim - oim
}

// ApplyFunding books a funding payment at time now on every open position
// side: payment = rate × (signed quantity × mark), rounded by
// [exchange.Rate.Apply], so longs pay a positive rate and shorts receive
// it. It emits one EventFunding per position side with a position.
func (c *Core) ApplyFunding(now time.Time, rate exchange.Rate, mark exchange.Ticks) {
	c.now = now
	for ps := range c.pos {
		q := c.pos[ps].qty
		if q == 0 {
			continue
		}
		pay := rate.Apply(exchange.Notional(mark, q))
		c.wallet -= pay
		c.stats.Funding += pay
		c.bandDirty = true
		c.emit(Event{
			Kind: EventFunding, Time: now, PositionSide: exchange.PositionSide(ps), Price: mark, Qty: q, Funding: pay,
		})
	}
	c.recomputeGuards()
}

// liquidatable reports whether equity at p is below the maintenance
// margin, compared exactly: equity × RateScale < MaintenanceRate × Σ|notional|.
func (c *Core) liquidatable(p exchange.Ticks) bool {
	e := c.Equity(p)
	if e < 0 {
		return true
	}
	eh, el := bits.Mul64(uint64(e), exchange.RateScale)
	mh, ml := bits.Mul64(uint64(c.cfg.MaintenanceRate), uint64(c.grossNotional(p)))
	return eh < mh || (eh == mh && el < ml)
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

// liquidate cancels every open order (in id order) and closes every
// position side at p as taker.
func (c *Core) liquidate(p exchange.Ticks) {
	c.stats.Liquidations++
	c.scratch = append(c.scratch[:0], c.bids...)
	c.scratch = append(c.scratch, c.asks...)
	slices.SortFunc(c.scratch, func(a, b order) int { return cmpID(a.id, b.id) })
	c.bids, c.asks = c.bids[:0], c.asks[:0]
	for i := range c.scratch {
		c.remove(EventCanceled, &c.scratch[i])
	}
	for ps := range c.pos {
		q := c.pos[ps].qty
		if q == 0 {
			continue
		}
		side := exchange.Sell
		if q < 0 {
			side, q = exchange.Buy, -q
		}
		c.nextID++
		c.stats.Orders++
		o := order{id: c.nextID, price: p, qty: q, side: side, ps: exchange.PositionSide(ps), closing: true}
		c.fill(EventLiquidation, &o, q, p, false)
	}
	c.computeBand()
}

// computeBand sets [safeLo, safeHi] to the positive prices at which the
// current positions and wallet are not liquidatable. With K = RateScale ×
// (wallet − Σcost), S = RateScale × Σqty − MaintenanceRate × Σ|qty|, the
// test at price p > 0 is K + S × p < 0, linear in p. When the numbers do not
// fit, the band is left empty and grows as exact checks pass.
func (c *Core) computeBand() {
	c.bandDirty, c.bandInexact = false, false
	if !c.hasPosition() {
		c.safeLo, c.safeHi = math.MinInt64, math.MaxInt64
		return
	}
	c.safeLo, c.safeHi = math.MaxInt64, math.MinInt64 // empty
	const lim = math.MaxInt64 / exchange.RateScale / 2
	var q, a, cost int64
	for i := range c.pos {
		q += int64(c.pos[i].qty)
		a += int64(max(c.pos[i].qty, -c.pos[i].qty))
		cost += int64(c.pos[i].cost)
	}
	if a > lim {
		c.bandInexact = true // the band grows as exact checks pass
		return
	}
	s := q*exchange.RateScale - int64(c.cfg.MaintenanceRate)*a
	w := int64(c.wallet) - cost
	kh, kl := bits.Mul64(uabs(w), exchange.RateScale) // |K|
	kNeg := w < 0
	switch {
	case s > 0:
		// need p ≥ −K / S
		if !kNeg {
			c.safeLo, c.safeHi = 1, math.MaxInt64
			return
		}
		if kh >= uint64(s) {
			return // threshold beyond int64
		}
		t, r := bits.Div64(kh, kl, uint64(s))
		if r != 0 {
			t++
		}
		if t > math.MaxInt64 {
			return
		}
		c.safeLo, c.safeHi = max(exchange.Ticks(t), 1), math.MaxInt64
	case s < 0:
		// need p ≤ K / −S
		if kNeg {
			return
		}
		if kh >= uint64(-s) {
			c.safeLo, c.safeHi = 1, math.MaxInt64
			return
		}
		t, _ := bits.Div64(kh, kl, uint64(-s))
		if t > math.MaxInt64 {
			t = math.MaxInt64
		}
		if t >= 1 {
			c.safeLo, c.safeHi = 1, exchange.Ticks(t)
		}
	default:
		if !kNeg {
			c.safeLo, c.safeHi = 1, math.MaxInt64
		}
	}
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
