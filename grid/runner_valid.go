package grid

import (
	"math"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/slot"
)

// priceBand is a range of prices, in ticks, both ends included.
type priceBand struct{ lo, hi exchange.Ticks }

// latestPricer is a price feed that tells its latest price
// (pricefeed.Feed and pricefeed.Monitor do).
type latestPricer interface {
	Latest() (price exchange.Ticks, t time.Time, ok bool)
}

// marketSource wraps the run's latestPricer (one concrete type for the
// Runner's atomic.Value).
type marketSource struct{ feed latestPricer }

// marketPrice is the price a queued placement's band is checked against:
// the feed's latest when it tells it — the owner loop may not have taken
// it yet, and the engine will act on it when it does — else the last price
// the loop took. Safe for concurrent use.
func (r *Runner) marketPrice() exchange.Ticks {
	if m, ok := r.market.Load().(marketSource); ok {
		if p, _, ok := m.feed.Latest(); ok && p > 0 {
			return p
		}
	}
	return exchange.Ticks(r.lastPrice.Load())
}

// staleness says why a queued placement may no longer be sent at now
// with the market at price (b: its band): its slot's window left, or its
// send deadline passed; "" while it may. The one rule of both the loop's
// queue (dropStale) and a worker's last look before sending (place).
func staleness(it Intent, b priceBand, price exchange.Ticks, now time.Time) string {
	switch {
	case !b.holds(price):
		return "the price left its slot's window in the runner's queue"
	case !it.SendBy.IsZero() && !now.Before(it.SendBy):
		return "its send deadline passed in the runner's queue"
	}
	return ""
}

// anyPrice is the band of a placement the price cannot make stale.
var anyPrice = priceBand{lo: math.MinInt64, hi: math.MaxInt64}

// holds reports whether price p lies in the band; no price yet (p ≤ 0)
// holds in every band.
func (b priceBand) holds(p exchange.Ticks) bool { return p <= 0 || (p >= b.lo && p <= b.hi) }

// and is the intersection of two bands.
func (b priceBand) and(o priceBand) priceBand {
	return priceBand{lo: max(b.lo, o.lo), hi: min(b.hi, o.hi)}
}

// placeBand returns the prices at which the engine keeps a placement it
// asked for: past them the order has left its slot's window by more than
// the hysteresis, and the engine would cancel it as soon as it were
// placed (see keepEntry, keepExit), so a placement still unsent then is
// stale. It is the price form of the window rules, fixed when the
// placement is asked for, so that other goroutines can check a price
// against it without the engine:
//
//	long entry at level i   stale when the price > level i+bw+h
//	short entry at level i  stale when the price < level i−bw−h
//	long exit at level i+1  stale when the price < level i+1−sw−h
//	short exit at level i−1 stale when the price > level i−1+sw+h
//
// A level past the grid's bounds is no bound. The initial position's and a
// hard stop's market orders are never stale by price.
func (e *Engine) placeBand(it Intent) priceBand {
	if it.Kind != IntentPlace || it.Market || it.Ref.Level == InitialLevel || it.Ref.Level == CloseLevel || !e.has(it.Ref.Level) {
		return anyPrice
	}
	i := it.Ref.Level
	kind := e.lv(i).s.Kind
	bw, sw, h := int64(e.cfg.buyWindow), int64(e.cfg.sellWindow), int64(e.cfg.hysteresis)
	var m int64
	var upper bool // stale above level m's price (else below it)
	switch {
	case kind == slot.Long && it.Role == slot.RoleEntry:
		m, upper = i+bw+h, true
	case kind == slot.Short && it.Role == slot.RoleEntry:
		m, upper = i-bw-h, false
	case kind == slot.Long && it.Role == slot.RoleExit:
		m, upper = exitLevel(kind, i)-sw-h, false
	case kind == slot.Short && it.Role == slot.RoleExit:
		m, upper = exitLevel(kind, i)+sw+h, true
	default:
		return anyPrice
	}
	if m < e.minL || m > e.maxL {
		return anyPrice
	}
	p, ok := e.lad.price(m)
	if !ok {
		return anyPrice
	}
	if upper {
		return priceBand{lo: math.MinInt64, hi: p}
	}
	return priceBand{lo: p, hi: math.MaxInt64}
}
