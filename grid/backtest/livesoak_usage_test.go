package backtest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
)

// A fault of the live soak that closes a gap issue 11's fixes showed (issue
// 12, item 5): a limit window shared with another program on the same IP,
// seen only through the venue's usage reports. The other program takes
// most of each window at its start; the venue reports its count with every
// answer (exchange.ReportUsage) and refuses with a 429 a request past the
// window's maximum. An executor that heeds the reports sends none, but for
// the requests it releases at once when a window opens, before the first
// report of the new window can reach it. A request is timed from when it
// reached the venue: a batch from when its first order did, although the
// venue counts its orders one by one and an order that stays on the wire
// delays the count of the next (a batch released as a window opened, its
// second order counted 38 ms later, was once taken for a violation).

// sharedWindow is the window the soak's venue shares with another program.
const sharedWindow = "SHARED_10S"

// sharedIP is the venue's count of a window shared with another program.
type sharedIP struct {
	mu        sync.Mutex
	max, room int // the window's maximum, and what the other program leaves of it
	interval  time.Duration
	start     time.Time // the current window's start (aligned to the clock)
	first     time.Time // when the window's first request came
	used      int
	over      int // requests that came past the maximum after the window's first instant
	burst     int // requests past the maximum at the window's first instant
	// arrived is when each request reached the venue, by the context the
	// executor passed it (a batch's orders share one), for two windows: a
	// key keeps its context alive, so no later request can reuse it.
	arrived map[context.Context]time.Time
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
		w.start, w.first, w.used = start, now, w.max-w.room // the other program's burst
		for c, at := range w.arrived {
			if at.Before(start.Add(-w.interval)) {
				delete(w.arrived, c)
			}
		}
	}
	if w.arrived == nil {
		w.arrived = map[context.Context]time.Time{}
	}
	arrived, ok := w.arrived[ctx]
	if !ok {
		arrived = now
		w.arrived[ctx] = now
	}
	reset := w.start.Add(w.interval)
	if w.used >= w.max {
		// Requests the executor admitted at once when the window opened
		// (those it held for the reset) reach the venue before any report
		// of the new window: they may pass the maximum, and so may a
		// request that reached the venue in an earlier window and is
		// counted in this one. Any later one was admitted after a report
		// and must not.
		if arrived.After(w.first) {
			w.over++
		} else {
			w.burst++
		}
		exchange.ReportUsage(ctx, exchange.Usage{Window: sharedWindow, Used: w.used, At: now, Reset: reset})
		return &exchange.RateLimitError{RetryAfter: reset.Sub(now), Err: errors.New("soak: 429: the shared window is used up")}
	}
	w.used++
	exchange.ReportUsage(ctx, exchange.Usage{Window: sharedWindow, Used: w.used, At: now, Reset: reset})
	return nil
}

// overLimit is how many requests came past the maximum after a window's
// first instant, and how many at it.
func (w *sharedIP) overLimit() (over, burst int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.over, w.burst
}

// The shared window's check: a request past the maximum is the executor's
// fault only when it reached the venue after the window's first instant. A
// batch reaches the venue with its first order, though the venue counts
// the next only after the first's time on the wire; a request that reaches
// it in one window and is counted in the next came before any report of it.
func TestSharedIPTimesARequestFromWhenItReachedTheVenue(t *testing.T) {
	w := &sharedIP{max: 200, room: 2, interval: 10 * time.Second}
	open := time.Date(2000, 1, 1, 0, 0, 10, 0, time.UTC)
	batch, late := context.Background(), context.WithValue(context.Background(), struct{}{}, "late")

	// A request of the window before, counted in this one as it opens.
	require.NoError(t, w.take(late, open.Add(-time.Millisecond)))
	require.NoError(t, w.take(batch, open)) // 199: the other program took 198
	require.NoError(t, w.take(batch, open)) // 200
	require.Error(t, w.take(late, open.Add(time.Millisecond)))
	// The batch's third order, counted 38 ms later behind the wire.
	require.Error(t, w.take(batch, open.Add(38*time.Millisecond)))
	over, burst := w.overLimit()
	assert.Equal(t, 0, over)
	assert.Equal(t, 2, burst)

	// A request sent after the window's first report.
	require.Error(t, w.take(context.WithValue(context.Background(), struct{}{}, "after"), open.Add(time.Second)))
	over, _ = w.overLimit()
	assert.Equal(t, 1, over)
}
