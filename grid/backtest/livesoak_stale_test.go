package backtest

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/grid"
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
// The runner checks the band against the last price its feed delivered,
// and the soak moves the venue's price a moment before it publishes it to
// the feed; a placement checked just before the tick may reach the venue
// just after it. The check allows that one step of the walk
// (soakStaleSlack); anything beyond is a placement sent after the price had
// left its band by more than a step: a stale placement sent.

// soakStaleBand is how far past an order's price the market may go, in
// ticks, before the order leaves its window by more than the hysteresis
// (WithWindows(3, 3, 1) on levels soakLevel apart).
const soakStaleBand = (3 + 1) * soakLevel

// soakStaleSlack is the largest move of one step of the soak's price walk
// (three half levels): how far a price tick may pass a placement that the
// runner checked just before it.
const soakStaleSlack = 3 * soakLevel / 2

// staleWatch records, for every grid limit order the venue receives, how
// far the market price was past the order's window. Safe for concurrent
// use.
type staleWatch struct {
	market atomic.Int64 // the venue's price, in ticks

	mu    sync.Mutex
	sent  int            // grid limit orders received
	stale int            // of them, past their window (by any amount)
	worst exchange.Ticks // the largest distance past a window
	what  string         // the placement that was worst
}

// setMarket records the venue's price p.
func (w *staleWatch) setMarket(p exchange.Ticks) { w.market.Store(int64(p)) }

// check records req, arriving now at the venue; it returns a violation
// ("" when none) for a placement beyond its window by more than a step.
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
	m := exchange.Ticks(w.market.Load())
	past := m - p - soakStaleBand // a buy: the price rose away from it
	if req.Side == exchange.Sell {
		past = p - m - soakStaleBand // a sell: the price fell away from it
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sent++
	if past <= 0 {
		return ""
	}
	w.stale++
	what := fmt.Sprintf("grid %s %s %s at %s reached the venue at price %s: %s past its window of 3 levels and a hysteresis of 1",
		g, req.ClientOrderID, req.Side, req.Price, btcRules.TicksToPrice(m), btcRules.TicksToPrice(past))
	if past > w.worst {
		w.worst, w.what = past, what
	}
	if past > soakStaleSlack {
		return "stale placement sent: " + what
	}
	return ""
}

// summary is the watch's counts for the soak's trace.
func (w *staleWatch) summary() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return fmt.Sprintf("grid limit orders received %d, past their window %d, worst %s past (%s)",
		w.sent, w.stale, btcRules.TicksToPrice(w.worst), w.what)
}
