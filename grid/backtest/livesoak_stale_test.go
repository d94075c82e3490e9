package backtest

import (
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/pricefeed"
)

// A check of the live soak that closes a gap a reverted fix of issue 11
// showed (issue 12, item 5): a grid's limit order must not reach the venue
// when the market has already left the order's window by more than the
// hysteresis — an order the engine would cancel as soon as it learned it
// was placed. Such a placement is stale: it was asked for while the price
// was near, then waited (in the runner's queue, in the executor's limiter,
// behind busy workers) while the price went away. The venue sees every
// placement and knows the market price when it arrives; the soak knows
// every grid's levels (soakLevel apart) and windows, so it can tell a
// stale placement without asking the engine.
//
// In the price terms of the window rules (grid's placeBand): with a window
// of w levels and a hysteresis of h, an order to buy at P is stale once
// the price is above P + (w+h) levels, an order to sell at P once it is
// below P − (w+h) levels, whatever the order is (a long grid's entry, a
// short grid's exit, ...). The soak's grids all have windows of 3 levels
// and a hysteresis of 1.
//
// The runner checks the band against the last price its feed delivered:
// the feed coalesces (pricefeed.DefaultInterval, 50 ms: latest price
// wins), and the soak moves the venue's price a moment before it
// publishes it, so the runner may still hold any price that was in force
// during the last interval or so. A placement is stale only when it is
// past its window at every price in force during the last soakStaleLag
// (two intervals), the one in force when that began included: a
// placement sent after the price had left its band for good.
//
// With the fix (the executor's valid-until drop, the runner's band, the
// loop's dropStale) a few stale placements still reach the venue: the
// band is checked against the price the runner's loop last took from its
// feed, and a loop busy elsewhere takes it late (an open finding of issue
// 12). Over 600 seeds of "mixed" and "hardstops" the worst run sent 6, at
// most 3 levels past their window; with the fix reverted, about one run in
// eight sends more than soakStaleMax of one grid or one more than
// soakStaleFar past. A run fails on either: a stale placement sent.

// soakStaleMax is how many stale placements one grid may send in a run.
const soakStaleMax = 8

// soakStaleFar is how far past its window (ticks) no placement may be.
const soakStaleFar = 4 * soakLevel

// soakStaleBand is how far past an order's price the market may go, in
// ticks, before the order leaves its window by more than the hysteresis
// (WithWindows(3, 3, 1) on levels soakLevel apart).
const soakStaleBand = (3 + 1) * soakLevel

// soakStaleLag is how far back the price a runner holds may be.
const soakStaleLag = 2 * pricefeed.DefaultInterval

// marketAt is the venue's price from a moment on.
type marketAt struct {
	at time.Time
	p  exchange.Ticks
}

// staleWatch records, for every grid limit order the venue receives, how
// far the market price was past the order's window. Safe for concurrent
// use.
type staleWatch struct {
	mu     sync.Mutex
	market []marketAt     // the venue's prices, the one in force soakStaleLag ago first
	sent   int            // grid limit orders received
	stale  int            // of them, stale
	grids  map[string]int // stale placements by grid
	worst  exchange.Ticks
	what   string // the placement that was worst
}

// setMarket records the venue's price p, from now.
func (w *staleWatch) setMarket(p exchange.Ticks) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.market = append(w.market, marketAt{at: now, p: p})
	w.pruneLocked(now)
}

// pruneLocked drops the prices no longer in force since soakStaleLag ago.
func (w *staleWatch) pruneLocked(now time.Time) {
	cut := now.Add(-soakStaleLag)
	i := 0
	for i+1 < len(w.market) && !w.market[i+1].at.After(cut) {
		i++
	}
	w.market = w.market[i:]
}

// check records req, arriving now at the venue; it returns a violation
// ("" when none) for a stale placement.
func (w *staleWatch) check(req exchange.OrderRequest) string {
	if req.Type == exchange.Market {
		return ""
	}
	g, ref, err := grid.ParseClientOrderID(req.ClientOrderID)
	if err != nil || ref.Level == grid.InitialLevel || ref.Level == grid.CloseLevel {
		return ""
	}
	p, err := btcRules.PriceToTicks(req.Price)
	if err != nil {
		return fmt.Sprintf("placement %s with a price off the tick: %s", req.ClientOrderID, req.Price)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pruneLocked(time.Now())
	w.sent++
	// How far past its window the order is at the price that suits it
	// best among those the runner may hold.
	past, m := exchange.Ticks(math.MaxInt64), exchange.Ticks(0)
	for _, mk := range w.market {
		d := mk.p - p - soakStaleBand // a buy: the price rose away from it
		if req.Side == exchange.Sell {
			d = p - mk.p - soakStaleBand // a sell: the price fell away from it
		}
		if d < past {
			past, m = d, mk.p
		}
	}
	if len(w.market) == 0 || past <= 0 {
		return ""
	}
	w.stale++
	if w.grids == nil {
		w.grids = map[string]int{}
	}
	w.grids[g]++
	what := fmt.Sprintf("grid %s %s %s at %s reached the venue with the price at %s or further for %s: %s past its window of 3 levels and a hysteresis of 1",
		g, req.ClientOrderID, req.Side, req.Price, btcRules.TicksToPrice(m), soakStaleLag, btcRules.TicksToPrice(past))
	if past > w.worst {
		w.worst, w.what = past, what
	}
	switch {
	case past > soakStaleFar:
		return "stale placement sent: " + what
	case w.grids[g] == soakStaleMax+1:
		return fmt.Sprintf("stale placements sent: grid %s sent %d past their window (at most %d), the last: %s", g, w.grids[g], soakStaleMax, what)
	}
	return ""
}

// outside reports whether req, a grid limit order, is past its window at
// the venue's price now (the price has left its band).
func (w *staleWatch) outside(req exchange.OrderRequest) bool {
	p, err := btcRules.PriceToTicks(req.Price)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil || req.Type == exchange.Market || len(w.market) == 0 {
		return false
	}
	m := w.market[len(w.market)-1].p
	if req.Side == exchange.Sell {
		return p-m > soakStaleBand
	}
	return m-p > soakStaleBand
}

// summary is the watch's counts for the soak's trace.
func (w *staleWatch) summary() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return fmt.Sprintf("grid limit orders received %d, past their window %d, worst %s past (%s)",
		w.sent, w.stale, btcRules.TicksToPrice(w.worst), w.what)
}
