package sim

import "time"

// placeCanceled accepts a crossing post-only order and ends it at once,
// unfilled, with an EventCanceled (CoreConfig.PostOnlyCancelLater).
func (c *Core) placeCanceled(now time.Time, o OrderSpec) uint64 {
	c.now = now
	c.nextID++
	c.stats.Orders++
	ord := order{id: c.nextID, tag: o.Tag, price: o.Price, qty: o.Qty, side: o.Side, ps: o.PositionSide, postOnly: true, reduceOnly: o.ReduceOnly}
	c.remove(EventCanceled, &ord)
	return ord.id
}
