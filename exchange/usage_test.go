package exchange

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// weightWindow is a Binance-like IP weight window of max per minute that
// queries count in.
func weightWindow(max int) LimitWindow {
	return LimitWindow{Name: "REQUEST_WEIGHT_1M", Per: PerIP, Interval: time.Minute, Max: max, Costs: []OpCost{{Op: OpQuery, Units: 1}}}
}

// reportingExchange reports, on every query response, the venue's count:
// another program's use plus every query it has answered.
type reportingExchange struct {
	*scriptedExchange
	mu      sync.Mutex
	foreign int // units another program used in the current minute
	served  int
}

func (r *reportingExchange) QueryOrder(ctx context.Context, symbol, cid string) (Order, error) {
	o, err := r.scriptedExchange.QueryOrder(ctx, symbol, cid)
	now := r.clock.Now()
	r.mu.Lock()
	r.served++
	used := r.foreign + r.served
	r.mu.Unlock()
	// Binance's minute windows are aligned to the clock.
	ReportUsage(ctx, Usage{Window: "REQUEST_WEIGHT_1M", Used: used, Reset: now.Truncate(time.Minute).Add(time.Minute)})
	return o, err
}

// A report that the window is nearly used up holds requests back until it
// resets, although the executor's own bucket has room.
func TestUsageReportHoldsRequestsUntilReset(t *testing.T) {
	clk := newBarrierClock(1)
	f := newScripted(clk)
	e := mustExecutor(t, f, WithExecutorClock(clk), WithLimits(weightWindow(100)))
	e.ReportUsage(Usage{Window: "REQUEST_WEIGHT_1M", Used: 98, Reset: execEpoch.Add(20 * time.Second)})
	for range 3 {
		_, err := e.Query(context.Background(), "BTCUSDT", "a")
		require.NoError(t, err)
	}
	assert.Equal(t, []string{"query@0s", "query@0s", "query@20s"}, f.opsAndTimes())
	assert.Equal(t, uint64(1), e.Stats().UsageReports)
}

// After a restart, the executor knows nothing of the minute's use; the
// first response tells it that another program used 95 of 100, and it
// stops at the venue's limit instead of being refused (the bucket alone
// would let 50 through at once).
func TestUsageReportedByTheAdapterAfterARestart(t *testing.T) {
	clk := newBarrierClock(1)
	f := &reportingExchange{scriptedExchange: newScripted(clk), foreign: 95}
	e := mustExecutor(t, f, WithExecutorClock(clk), WithLimits(weightWindow(100)))
	for range 7 {
		_, err := e.Query(context.Background(), "BTCUSDT", "a")
		require.NoError(t, err)
	}
	calls := f.Calls()
	require.Len(t, calls, 7)
	for i, c := range calls[:5] {
		assert.Equal(t, execEpoch, c.at, "query %d", i)
	}
	// 95 + 5 = 100: the sixth waits for the minute to turn.
	assert.Equal(t, execEpoch.Add(time.Minute), calls[5].at)
	assert.Equal(t, uint64(7), e.Stats().UsageReports)
	assert.Equal(t, uint64(0), e.Stats().RateLimited, "the venue never refused")
}

func TestUsageReportRules(t *testing.T) {
	clk := newBarrierClock(1)
	f := newScripted(clk)
	e := mustExecutor(t, f, WithExecutorClock(clk), WithLimits(weightWindow(100)))
	e.ReportUsage(
		Usage{Window: "nope", Used: 100}, // unknown window: ignored
		Usage{Window: "REQUEST_WEIGHT_1M", Used: 100, Reset: execEpoch.Add(-time.Second)}, // over: ignored
	)
	assert.Equal(t, uint64(0), e.Stats().UsageReports)
	_, err := e.Query(context.Background(), "BTCUSDT", "a")
	require.NoError(t, err)

	// A later, lower figure for the same venue window does not lower it.
	reset := execEpoch.Add(30 * time.Second)
	e.ReportUsage(Usage{Window: "REQUEST_WEIGHT_1M", Used: 99, Reset: reset}, Usage{Window: "REQUEST_WEIGHT_1M", Used: 10, Reset: reset})
	_, err = e.Query(context.Background(), "BTCUSDT", "b")
	require.NoError(t, err)
	_, err = e.Query(context.Background(), "BTCUSDT", "c")
	require.NoError(t, err)
	assert.Equal(t, []string{"query@0s", "query@0s", "query@30s"}, f.opsAndTimes())

	// Without a reset time the window may last a whole interval from the count.
	clk2 := newBarrierClock(1)
	f2 := newScripted(clk2)
	e2 := mustExecutor(t, f2, WithExecutorClock(clk2), WithLimits(weightWindow(100)))
	e2.ReportUsage(Usage{Window: "REQUEST_WEIGHT_1M", Used: 100})
	_, err = e2.Query(context.Background(), "BTCUSDT", "a")
	require.NoError(t, err)
	assert.Equal(t, []string{"query@1m0s"}, f2.opsAndTimes())

	// Outside an executor's call, reporting is a no-op.
	ReportUsage(context.Background(), Usage{Window: "REQUEST_WEIGHT_1M", Used: 1})
}

// A venue figure near the int range (a broken header, a hostile proxy)
// must not wrap the window's sum to a negative count that admits
// everything.
func TestUsageReportOfAHugeCountHoldsRequests(t *testing.T) {
	for _, used := range []int{math.MaxInt32, math.MaxInt - 1, math.MaxInt} {
		clk := newBarrierClock(1)
		f := newScripted(clk)
		e := mustExecutor(t, f, WithExecutorClock(clk), WithLimits(weightWindow(100)))
		e.ReportUsage(Usage{Window: "REQUEST_WEIGHT_1M", Used: used, Reset: execEpoch.Add(20 * time.Second)})
		_, err := e.Query(context.Background(), "BTCUSDT", "a")
		require.NoError(t, err)
		assert.Equal(t, []string{"query@20s"}, f.opsAndTimes(), "used %d", used)
	}
}
