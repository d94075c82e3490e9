package exchange

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"
)

func TestBucketFor(t *testing.T) {
	tests := []struct {
		limit    int
		interval time.Duration
		maxUnit  int
		burst    int
		refill   int // whole tokens per interval; the bucket gets refill − refillSlack
	}{
		{10, time.Second, 1, 5, 6},
		{11, time.Second, 1, 6, 6},
		{1, time.Second, 1, 1, 1},
		{2, time.Second, 1, 1, 2},
		{5, time.Second, 5, 5, 1},  // one request may take the whole window
		{10, time.Second, 7, 7, 4}, // the burst grows to the largest request
		{300, 10 * time.Second, 5, 150, 151},
		{1200, time.Minute, 5, 600, 601},
		{2400, time.Minute, 40, 1200, 1201},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d per %s max %d", tt.limit, tt.interval, tt.maxUnit), func(t *testing.T) {
			r, b := bucketFor(tt.limit, tt.interval, tt.maxUnit)
			assert.Equal(t, tt.burst, b, "burst")
			assert.InDelta(t, (float64(tt.refill)-0.001)/tt.interval.Seconds(), float64(r), 1e-12, "rate")
			// The invariant behind the choice: burst + rate·interval = limit + 1 − slack.
			assert.InDelta(t, float64(tt.limit)+0.999, float64(b)+float64(r)*tt.interval.Seconds(), 1e-9)
		})
	}
}

func TestLimiterSetOneWindow(t *testing.T) {
	s := newLegacyLimiter([]RateLimit{{Scope: ScopeOrder, Interval: time.Second, Limit: 10}}, legacyParams{maxOrders: 1, queryShare: 100})
	t0 := execEpoch
	for i := range 5 {
		at, ok := s.take(t0, budgetOrder, 1, 0)
		require.True(t, ok, "order %d within the burst", i)
		require.Equal(t, t0, at)
	}
	// The burst is spent; the bucket refills at 5.999 per second, so the
	// sixth order waits ceil(1e9 / 5.999) ns.
	wake, ok := s.take(t0, budgetOrder, 1, 0)
	require.False(t, ok)
	assert.Equal(t, 166694450*time.Nanosecond, wake.Sub(t0))
	// Nothing was taken by the refusal: trying again at wake succeeds once.
	at, ok := s.take(wake, budgetOrder, 1, 0)
	require.True(t, ok)
	assert.Equal(t, wake, at)
	_, ok = s.take(wake, budgetOrder, 1, 0)
	assert.False(t, ok)
	// Queries do not touch order windows; with no request window they pass.
	_, ok = s.take(wake, budgetQuery, 0, 3)
	assert.True(t, ok)
}

func TestLimiterSetAllWindowsMustAdmit(t *testing.T) {
	s := newLegacyLimiter([]RateLimit{
		{Scope: ScopeOrder, Interval: time.Second, Limit: 10},  // burst 5, 5.999/s
		{Scope: ScopeOrder, Interval: time.Minute, Limit: 6},   // burst 3, 3.999/min
		{Scope: ScopeRequest, Interval: time.Minute, Limit: 4}, // burst 2, 2.999/min
	}, legacyParams{maxOrders: 2, maxWeight: 2, maxQueryWeight: 1, queryShare: 100})
	t0 := execEpoch
	// A batch of two orders weighing 2: every window admits it.
	_, ok := s.take(t0, budgetOrder, 2, 2)
	require.True(t, ok)
	// One more order of weight 0: the minute order window has one token left.
	_, ok = s.take(t0, budgetOrder, 1, 0)
	require.True(t, ok)
	// Now the minute order window is empty: one token at 3.999/min.
	wake, ok := s.take(t0, budgetOrder, 1, 0)
	require.False(t, ok)
	assert.Equal(t, 15003750938*time.Nanosecond, wake.Sub(t0))
	// A query of weight 1 waits for the request window alone (empty after
	// the batch): one token at 2.999/min.
	wake, ok = s.take(t0, budgetQuery, 0, 1)
	require.False(t, ok)
	assert.Equal(t, 20006668890*time.Nanosecond, wake.Sub(t0))
}

func TestLimiterSetPause(t *testing.T) {
	s := newLegacyLimiter(DefaultRateLimits(), legacyParams{maxOrders: 1, maxWeight: 5, maxQueryWeight: 5, queryShare: 50})
	t0 := execEpoch
	s.pause(t0.Add(3 * time.Second))
	s.pause(t0.Add(time.Second)) // an earlier end never shortens a pause
	for _, b := range []execBudget{budgetOrder, budgetQuery} {
		wake, ok := s.take(t0, b, 1, 1)
		require.False(t, ok)
		assert.Equal(t, t0.Add(3*time.Second), wake)
	}
	_, ok := s.take(t0.Add(3*time.Second), budgetOrder, 1, 1)
	assert.True(t, ok)
}

func TestLimiterSetClockStepsBack(t *testing.T) {
	s := newLegacyLimiter([]RateLimit{{Scope: ScopeOrder, Interval: time.Second, Limit: 2}}, legacyParams{maxOrders: 1, queryShare: 100})
	t0 := execEpoch
	_, ok := s.take(t0.Add(time.Second), budgetOrder, 1, 0)
	require.True(t, ok)
	// A clock that went back is treated as the latest time seen, so the
	// bucket does not refill twice for the same span.
	at, ok := s.take(t0, budgetOrder, 1, 0)
	assert.False(t, ok)
	assert.True(t, at.After(t0.Add(time.Second)), "wake %s", at.Sub(t0))
}

// TestLimiterQueriesCannotStarveOrders floods the limiter with queries for
// ten minutes while an order arrives every 4 s: every order is admitted the
// moment it arrives, because queries may take only their share of the
// shared request window.
func TestLimiterQueriesCannotStarveOrders(t *testing.T) {
	windows := []RateLimit{{Scope: ScopeRequest, Interval: time.Minute, Limit: 100}}
	s := newLegacyLimiter(windows, legacyParams{maxOrders: 1, maxWeight: 1, maxQueryWeight: 1, queryShare: 50})
	t0 := execEpoch
	queries := 0
	nextQuery := t0
	for sec := 0; sec < 600; sec++ {
		now := t0.Add(time.Duration(sec) * time.Second)
		for !nextQuery.After(now) { // the flood: a query whenever one is admitted
			at, ok := s.take(nextQuery, budgetQuery, 0, 1)
			if !ok {
				nextQuery = at
				continue
			}
			queries++
		}
		if sec%4 == 0 {
			at, ok := s.take(now, budgetOrder, 1, 1)
			require.True(t, ok, "order at %ds had to wait until %s", sec, at.Sub(t0))
		}
	}
	// The query share is 50 per minute: a burst of 25, then 25.999 a
	// minute for the 599 s until the last second: 25 + 259.56.
	assert.Equal(t, 284, queries)

	// Without a separate query budget the same flood starves the orders.
	s = newLegacyLimiter(windows, legacyParams{maxOrders: 1, maxWeight: 1, maxQueryWeight: 1, queryShare: 100})
	for range 200 {
		s.take(t0, budgetQuery, 0, 1)
	}
	_, ok := s.take(t0, budgetOrder, 1, 1)
	assert.False(t, ok)
}

// simulateLimiter feeds requests arriving at the given offsets through a
// limiter set, each retried at the wake time until admitted (FIFO per
// arrival), and returns the admitted calls.
func simulateLimiter(s *legacyLimiter, arrivals []time.Duration, kinds []int) []fakeCall {
	var calls []fakeCall
	clock := execEpoch
	for i, off := range arrivals {
		now := execEpoch.Add(off)
		if now.Before(clock) {
			now = clock
		}
		b, orders, weight, op := budgetOrder, 1, 1, OpPlace
		switch kinds[i] % 4 {
		case 1:
			b, orders, weight, op = budgetQuery, 0, 2, OpQuery
		case 2:
			b, orders, weight, op = budgetOrder, 3, 5, OpBatchPlace
		case 3:
			b, orders, weight, op = budgetOrder, 1, 0, OpCancel
		}
		for {
			at, ok := s.take(now, b, orders, weight)
			if ok {
				cids := make([]string, orders)
				calls = append(calls, fakeCall{op: op, at: at, cids: cids})
				clock = at
				break
			}
			now = at
		}
	}
	return calls
}

// limiterUnits counts a simulated call in a window of scope.
func limiterUnits(c fakeCall, scope string) int {
	weights := map[string]int{OpPlace: 1, OpQuery: 2, OpBatchPlace: 5, OpCancel: 0}
	if scope == ScopeOrder {
		return len(c.cids)
	}
	return weights[c.op]
}

// checkLimiterProperty runs one seeded random schedule against random
// windows and reports violations of any window.
func checkLimiterProperty(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	var windows []RateLimit
	for range 1 + rng.IntN(3) {
		scope := ScopeOrder
		if rng.IntN(2) == 0 {
			scope = ScopeRequest
		}
		windows = append(windows, RateLimit{
			Scope:    scope,
			Interval: time.Duration(1+rng.IntN(60)) * 100 * time.Millisecond,
			Limit:    5 + rng.IntN(60),
		})
	}
	s := newLegacyLimiter(windows, legacyParams{maxOrders: 3, maxWeight: 5, maxQueryWeight: 2, queryShare: 1 + rng.IntN(100)})
	n := 300
	arrivals := make([]time.Duration, n)
	kinds := make([]int, n)
	var at time.Duration
	for i := range n {
		if rng.IntN(3) > 0 { // bursts: two in three arrive together
			at += time.Duration(rng.Int64N(int64(400 * time.Millisecond)))
		}
		arrivals[i] = at
		kinds[i] = rng.IntN(4)
	}
	calls := simulateLimiter(s, arrivals, kinds)
	require.Len(t, calls, n, "seed %d: every request is admitted", seed)
	if bad := windowViolations(calls, windows, limiterUnits); len(bad) > 0 {
		t.Fatalf("seed %d: windows %+v: %v", seed, windows, bad)
	}
}

// TestLimiterNeverExceedsWindowsProperty: for many seeded random windows
// and bursty schedules, no window of any declared length ever holds more
// than its limit.
func TestLimiterNeverExceedsWindowsProperty(t *testing.T) {
	for seed := range uint64(200) {
		checkLimiterProperty(t, seed)
	}
}

// TestLimiterBurstNAtNPerIntervalWouldExceed shows why bucketFor does not use
// the obvious burst N at N per interval: that bucket lets 2N−1 through in
// one window.
func TestLimiterBurstNAtNPerIntervalWouldExceed(t *testing.T) {
	const n = 10
	lim := rate.NewLimiter(rate.Limit(n), n) // 10 per second, burst 10
	t0 := execEpoch
	count := 0
	for ns := time.Duration(0); ns < time.Second; ns += time.Millisecond {
		for lim.AllowN(t0.Add(ns), 1) {
			count++
		}
	}
	assert.Equal(t, 2*n-1, count)

	s := newLegacyLimiter([]RateLimit{{Scope: ScopeOrder, Interval: time.Second, Limit: n}}, legacyParams{maxOrders: 1, queryShare: 100})
	count = 0
	for ns := time.Duration(0); ns < time.Second; ns += time.Millisecond {
		for {
			if _, ok := s.take(t0.Add(ns), budgetOrder, 1, 0); !ok {
				break
			}
			count++
		}
	}
	assert.Equal(t, n, count)
}

// FuzzLimiterWindows: whatever the windows and the arrival pattern, no
// window ever holds more than its limit, and every request is admitted.
func FuzzLimiterWindows(f *testing.F) {
	f.Add(uint8(10), uint16(1000), uint8(30), uint16(60000), []byte{0, 0, 0, 1, 2, 3, 0, 200, 5, 5, 5})
	f.Add(uint8(1), uint16(1), uint8(1), uint16(1), []byte{1, 1, 1, 1})
	f.Fuzz(func(t *testing.T, orderLimit uint8, orderMillis uint16, reqLimit uint8, reqMillis uint16, pattern []byte) {
		if orderLimit < 3 || reqLimit < 5 || orderMillis == 0 || reqMillis == 0 || len(pattern) > 400 {
			t.Skip()
		}
		windows := []RateLimit{
			{Scope: ScopeOrder, Interval: time.Duration(orderMillis) * time.Millisecond, Limit: int(orderLimit)},
			{Scope: ScopeRequest, Interval: time.Duration(reqMillis) * time.Millisecond, Limit: int(reqLimit)},
		}
		s := newLegacyLimiter(windows, legacyParams{maxOrders: 3, maxWeight: 5, maxQueryWeight: 2, queryShare: 50})
		arrivals := make([]time.Duration, len(pattern))
		kinds := make([]int, len(pattern))
		var at time.Duration
		for i, b := range pattern {
			at += time.Duration(b>>2) * 7 * time.Millisecond
			arrivals[i] = at
			kinds[i] = int(b & 3)
		}
		calls := simulateLimiter(s, arrivals, kinds)
		if len(calls) != len(pattern) {
			t.Fatalf("%d of %d admitted", len(calls), len(pattern))
		}
		if bad := windowViolations(calls, windows, limiterUnits); len(bad) > 0 {
			t.Fatal(bad)
		}
	})
}
