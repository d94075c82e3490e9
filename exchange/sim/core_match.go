package sim

import (
	"math"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
)

// Tick moves the market at time now from the previous price to price along
// a continuous path, fills the resting orders the path reaches, then checks
// for liquidation at price. The first Tick only sets the price.
//
// A resting buy at b fills at b as maker when the path reaches b (a price
// ≤ b; with TradeThrough, < b); a sell mirrors it. Within one Tick orders
// fill in path order: on a fall the highest buy first, on a rise the lowest
// sell first, ties in placement order. Orders the previous price already
// reached (left resting by PartialFill) are at the start of the path and
// fill first. When no resting order lies on the path and no liquidation is
// possible, Tick is two comparisons.
func (c *Core) Tick(now time.Time, price exchange.Ticks) {
	c.now = now
	if price > c.lowGuard && price < c.highGuard {
		c.price = price
		return
	}
	c.tickSlow(price)
}

func (c *Core) tickSlow(p exchange.Ticks) {
	if !c.hasPrice {
		c.hasPrice = true
		c.price = p
		c.recomputeGuards()
		return
	}
	prev := c.price
	c.price = p
	if p < prev {
		c.matchAsks(prev)
		c.matchBids(p)
	} else {
		c.matchBids(prev)
		c.matchAsks(p)
	}
	c.checkLiquidation(p)
	c.recomputeGuards()
}

// matchBids fills every buy the path down to lo reaches, highest first.
func (c *Core) matchBids(lo exchange.Ticks) {
	n := 0
	for n < len(c.bids) && c.bids[n].price-c.tt >= lo {
		n++
	}
	if n == 0 {
		return
	}
	c.bids = c.matchTouched(c.bids, n)
}

// matchAsks fills every sell the path up to hi reaches, lowest first.
func (c *Core) matchAsks(hi exchange.Ticks) {
	n := 0
	for n < len(c.asks) && c.asks[n].price+c.tt <= hi {
		n++
	}
	if n == 0 {
		return
	}
	c.asks = c.matchTouched(c.asks, n)
}

// matchTouched fills book[:n] in order and drops the orders that closed.
func (c *Core) matchTouched(book []order, n int) []order {
	j := 0
	for i := 0; i < n; i++ {
		if !c.fillResting(&book[i]) {
			book[j] = book[i]
			j++
		}
	}
	if j == n {
		return book
	}
	k := copy(book[j:], book[n:])
	return book[:j+k]
}

// fillResting fills a touched resting order as maker and reports whether
// it closed (filled, or its rest expired).
func (c *Core) fillResting(o *order) bool {
	want := o.qty - o.filled
	if c.cfg.PartialFill > 0 && want > c.cfg.PartialFill {
		want = c.cfg.PartialFill
	}
	clipped := false
	if o.closing {
		r := c.reducible(o.side, o.ps)
		if r <= 0 {
			c.remove(EventExpired, o)
			return true
		}
		if want > r {
			want, clipped = r, true
		}
	}
	c.fill(EventFill, o, want, o.price, true)
	if o.filled == o.qty {
		return true
	}
	if clipped {
		c.remove(EventExpired, o)
		return true
	}
	return false
}

// recomputeGuards sets the quiet-tick interval from the best resting
// prices and the liquidation band.
func (c *Core) recomputeGuards() {
	lo, hi := exchange.Ticks(math.MinInt64), exchange.Ticks(math.MaxInt64)
	if len(c.bids) > 0 {
		lo = c.bids[0].price - c.tt
	}
	if len(c.asks) > 0 {
		hi = c.asks[0].price + c.tt
	}
	if !c.hasPrice || c.price <= lo || c.price >= hi {
		// orders already reached (partial fills) or no price: every tick is slow
		c.lowGuard, c.highGuard = math.MaxInt64, math.MinInt64
		return
	}
	if c.bandDirty {
		c.computeBand()
	}
	if c.safeLo > c.safeHi {
		c.lowGuard, c.highGuard = math.MaxInt64, math.MinInt64
		return
	}
	if c.safeLo != math.MinInt64 {
		lo = max(lo, c.safeLo-1)
	}
	if c.safeHi != math.MaxInt64 {
		hi = min(hi, c.safeHi+1)
	}
	c.lowGuard, c.highGuard = lo, hi
}
