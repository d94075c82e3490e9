package sim

import (
	"github.com/shopspring/decimal"

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
// wallet, stats, and one event of kind. The fee is exact in c.fees; the
// event and the wallet book it in whole Money (see [charge]).
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
	fee := charge(&c.fees, rateOf(notional, rate))
	realized := c.pos[o.ps].apply(d, price, c.cfg.Leverage)
	o.filled += q
	c.wallet += realized - fee
	c.bandDirty = true

	s := &c.stats
	s.Fills++
	if maker {
		s.MakerFills++
	} else {
		s.TakerFills++
		s.TakerVolume += notional
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
// opens a new one at price. The position's margin (what isolated margin
// can lose) grows by ⌈opened notional / leverage⌉ and shrinks in
// proportion to what is closed.
func (p *position) apply(d exchange.Steps, price exchange.Ticks, leverage int64) exchange.Money {
	if p.qty == 0 || (p.qty > 0) == (d > 0) {
		p.qty += d
		p.cost += exchange.Notional(price, d)
		p.margin += ceilDiv(int64(exchange.Notional(price, max(d, -d))), leverage)
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
	m, _ := exchange.MulDiv(int64(p.margin), int64(closed), int64(absQ)) // |result| ≤ |margin|
	p.margin -= exchange.Money(m)
	p.qty += dc
	p.cost -= removed
	if p.qty == 0 {
		p.margin = 0
	}
	if rest := d - dc; rest != 0 {
		p.qty += rest
		p.cost += exchange.Notional(price, rest)
		p.margin += ceilDiv(int64(exchange.Notional(price, max(rest, -rest))), leverage)
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

// ExchangePositions returns the symbol's positions as the venue reports
// them, marked at mark: one PositionBoth entry in one-way mode, a
// PositionLong and a PositionShort entry in hedge mode, flat ones included.
// EntryPrice is the average entry price; LiquidationPrice is the price at
// which the account is liquidated ([Core.LiquidationPrices]: the one on the
// side the position loses on), zero for a flat position or when no
// positive price liquidates it. A backtest feeds these to risk monitors;
// [Venue] reports the same from Positions and its account updates.
func (c *Core) ExchangePositions(mark exchange.Ticks) []exchange.Position {
	r := c.cfg.Rules
	sides := []exchange.PositionSide{exchange.PositionBoth}
	if c.cfg.PositionMode == exchange.Hedge {
		sides = []exchange.PositionSide{exchange.PositionLong, exchange.PositionShort}
	}
	lo, hi, ok := c.LiquidationPrices()
	out := make([]exchange.Position, 0, len(sides))
	for _, ps := range sides {
		q, cost := c.Position(ps)
		pos := exchange.Position{
			Symbol: r.Symbol, PositionSide: ps, Quantity: r.StepsToQty(q), EntryPrice: decimal.Zero,
			MarkPrice: r.TicksToPrice(mark), UnrealizedPnL: r.MoneyToDecimal(c.UnrealizedPnL(ps, mark)),
			LiquidationPrice: decimal.Zero, Leverage: int(c.cfg.Leverage), MarginMode: c.cfg.MarginMode,
		}
		if q != 0 {
			pos.EntryPrice = r.MoneyToDecimal(cost).Div(r.StepsToQty(q))
			// A long loses on a fall, a short on a rise; in cross margin
			// the account's band is shared, so a hedge's legs may both
			// name the same side's price.
			switch {
			case !ok:
			case q > 0 && lo > 0:
				pos.LiquidationPrice = r.TicksToPrice(lo)
			case q < 0 && hi > 0:
				pos.LiquidationPrice = r.TicksToPrice(hi)
			case lo > 0:
				pos.LiquidationPrice = r.TicksToPrice(lo)
			case hi > 0:
				pos.LiquidationPrice = r.TicksToPrice(hi)
			}
		}
		out = append(out, pos)
	}
	return out
}
