package exchange

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// crowdedVenue answers queries in a minute window (aligned to the clock, as
// Binance's) that another program shares: it takes all but room of the
// window's max as each minute opens. Every answer reports the venue's
// count; a query past the max is refused with a 429 until the minute ends.
// quiet makes it report nothing.
type crowdedVenue struct {
	*scriptedExchange
	max, room int
	quiet     bool

	mu      sync.Mutex
	start   time.Time
	used    int
	refused int
}

func (v *crowdedVenue) QueryOrder(ctx context.Context, symbol, cid string) (Order, error) {
	now := v.clock.Now()
	v.mu.Lock()
	if start := now.Truncate(time.Minute); !start.Equal(v.start) {
		v.start, v.used = start, v.max-v.room
	}
	reset := v.start.Add(time.Minute)
	full := v.used >= v.max
	if full {
		v.refused++
	} else {
		v.used++
	}
	used := v.used
	v.mu.Unlock()
	if !v.quiet {
		ReportUsage(ctx, Usage{Window: "REQUEST_WEIGHT_1M", Used: used, Reset: reset})
	}
	if full {
		return Order{}, &RateLimitError{RetryAfter: reset.Sub(now), Err: errors.New("crowded: 429")}
	}
	return v.scriptedExchange.QueryOrder(ctx, symbol, cid)
}

func (v *crowdedVenue) refusals() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.refused
}

// queryAll runs one query per id, each on a goroutine of its own (clk
// counts them as participants), and waits for them all.
func queryAll(t *testing.T, clk *barrierClock, e *Executor, ids ...string) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(ids))
	for i, id := range ids {
		goLeave(&wg, clk, func() { _, errs[i] = e.Query(context.Background(), "BTCUSDT", id) })
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "query %s", ids[i])
	}
}

// A window the venue reported full opens again with one request: the rest
// wait for its answer, which tells how much of the new window another
// program took as it opened, and then go as far as that leaves room. Sent
// all at once, they raced for the room at the venue and the losers were
// refused (a 429 that pauses every request until the next minute), which
// request lost being the goroutines' race, not the lanes' fair order: under
// a tight shared window a grid's cancels lost it window after window and its
// stop timed out (live soak mixed seed 106 at room 5).
func TestAFullWindowReopensWithOneRequest(t *testing.T) {
	defer goleak.VerifyNone(t)
	clk := newBarrierClock(3)
	v := &crowdedVenue{scriptedExchange: newScripted(clk), max: 100, room: 2}
	e := mustExecutor(t, v, WithExecutorClock(clk), WithLimits(weightWindow(100)))
	e.ReportUsage(Usage{Window: "REQUEST_WEIGHT_1M", Used: 100, Reset: execEpoch.Add(time.Minute)})

	queryAll(t, clk, e, "a", "b", "c")

	// 98 + 2 at the minute; the third waits for the next one, where it
	// goes alone again.
	assert.Equal(t, []string{"query@1m0s", "query@1m0s", "query@2m0s"}, v.opsAndTimes())
	assert.Zero(t, v.refusals(), "the venue refused a request")
	assert.Zero(t, e.Stats().RateLimited)
}

// A probe whose answer carries no count (the venue does not report on that
// request) lets the others go as soon as it is answered: the window is then
// the executor's own bucket again.
func TestAProbeWithoutAReportReleasesTheWindow(t *testing.T) {
	defer goleak.VerifyNone(t)
	clk := newBarrierClock(3)
	v := &crowdedVenue{scriptedExchange: newScripted(clk), max: 100, room: 50, quiet: true}
	e := mustExecutor(t, v, WithExecutorClock(clk), WithLimits(weightWindow(100)))
	e.ReportUsage(Usage{Window: "REQUEST_WEIGHT_1M", Used: 100, Reset: execEpoch.Add(time.Minute)})

	queryAll(t, clk, e, "a", "b", "c")

	assert.Equal(t, []string{"query@1m0s", "query@1m0s", "query@1m0s"}, v.opsAndTimes())
	assert.Zero(t, v.refusals())
}

// fullWindow is a limiter with one weight window of 100 that a report has
// just said is full until reset, and a query's demand on it.
func fullWindow(t *testing.T) (s *limiterSet, d demand, reset time.Time) {
	t.Helper()
	var p limiterParams
	p.queryShare = 100
	s = newLimiterSet([]LimitWindow{weightWindow(100)}, nil, p)
	d = s.demandFor(opQuery, "", 0)
	reset = execEpoch.Add(time.Minute)
	require.True(t, s.report(execEpoch, Usage{Window: "REQUEST_WEIGHT_1M", Used: 100, Reset: reset}, demand{}))
	return s, d, reset
}

// A probe that is never sent (its caller gave up as it was admitted) does
// not hold the window: the next request goes in its place.
func TestAProbeNeverSentDoesNotHoldTheWindow(t *testing.T) {
	defer goleak.VerifyNone(t)
	s, d, reset := fullWindow(t)
	at, _, ok := s.take(execEpoch, d)
	require.False(t, ok)
	require.Equal(t, reset, at)

	_, probes, ok := s.take(reset, d)
	require.True(t, ok)
	require.Equal(t, uint64(1), probes, "the first request after the reset is the window's probe")
	at, _, ok = s.take(reset, d)
	assert.False(t, ok, "a second request waits for the probe's answer")
	assert.Equal(t, reset.Add(probePoll), at)

	assert.True(t, s.release(d, probes), "releasing the probe ends it")
	_, probes, ok = s.take(reset, d)
	assert.True(t, ok)
	assert.Zero(t, probes)
	s.release(d, probes)
	assert.Equal(t, 0, s.wins[0].inflight)
}

// A count of the new window that arrives before its first request (the
// answer to a request sent before the reset) leaves nothing to probe.
func TestANewWindowsCountNeedsNoProbe(t *testing.T) {
	s, d, reset := fullWindow(t)
	_, _, ok := s.take(execEpoch, d)
	require.False(t, ok)
	require.True(t, s.report(reset, Usage{Window: "REQUEST_WEIGHT_1M", Used: 50, Reset: reset.Add(time.Minute)}, demand{}))
	for range 2 {
		_, probes, ok := s.take(reset, d)
		require.True(t, ok)
		assert.Zero(t, probes)
	}
}
