package backtest

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
)

// A fault of the live soak that closes a gap issue 11's fixes showed (issue
// 12, item 5): a limit window shared with another program on the same IP,
// seen only through the venue's usage reports. The other program takes
// most of each window at its start; the venue reports its count with every
// answer (exchange.ReportUsage) and refuses with a 429 a request past the
// window's maximum. An executor that heeds the reports never sends one.

// sharedWindow is the window the soak's venue shares with another program.
const sharedWindow = "SHARED_10S"

// sharedIP is the venue's count of a window shared with another program.
type sharedIP struct {
	mu        sync.Mutex
	max, room int // the window's maximum, and what the other program leaves of it
	interval  time.Duration
	start     time.Time // the current window's start (aligned to the clock)
	used      int
	over      int // requests that came past the maximum
}

// window is the executor's declaration of the shared window: every order
// operation, query and open-orders read takes 1 (per order for batches).
func (w *sharedIP) window() exchange.LimitWindow {
	return exchange.LimitWindow{Name: sharedWindow, Per: exchange.PerIP, Interval: w.interval, Max: w.max, Costs: []exchange.OpCost{
		{Op: exchange.OpPlace, Units: 1}, {Op: exchange.OpBatchPlace, PerOrder: 1},
		{Op: exchange.OpCancel, Units: 1}, {Op: exchange.OpBatchCancel, PerOrder: 1},
		{Op: exchange.OpQuery, Units: 1}, {Op: exchange.OpOpenOrders, Units: 1},
	}}
}

// take counts one request (one order of a batch) at now and reports the
// count to the executor that sent it; past the maximum it is refused.
func (w *sharedIP) take(ctx context.Context, now time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if start := now.Truncate(w.interval); !start.Equal(w.start) {
		w.start, w.used = start, w.max-w.room // the other program's burst
	}
	reset := w.start.Add(w.interval)
	if w.used >= w.max {
		w.over++
		exchange.ReportUsage(ctx, exchange.Usage{Window: sharedWindow, Used: w.used, At: now, Reset: reset})
		return &exchange.RateLimitError{RetryAfter: reset.Sub(now), Err: errors.New("soak: 429: the shared window is used up")}
	}
	w.used++
	exchange.ReportUsage(ctx, exchange.Usage{Window: sharedWindow, Used: w.used, At: now, Reset: reset})
	return nil
}

// overLimit is how many requests came past the maximum.
func (w *sharedIP) overLimit() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.over
}
