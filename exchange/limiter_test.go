package exchange

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// checkWindowsProperty runs one seeded random schedule of mixed operations
// against random windows in the general form, with random usage reports,
// and fails on any window holding more than its Max over any span of its
// Interval.
func checkWindowsProperty(t *testing.T, seed uint64, reports ...Usage) {
	rng := rand.New(rand.NewPCG(seed, 11))
	ops := []execOp{opPlace, opBatchPlace, opCancel, opQuery, opOpenOrders}
	var windows []LimitWindow
	for i := range 1 + rng.IntN(4) {
		w := LimitWindow{Name: fmt.Sprintf("w%d", i), Per: PerAccount,
			Interval: time.Duration(1+rng.IntN(60)) * 100 * time.Millisecond, Max: 10 + rng.IntN(60)}
		for _, op := range ops {
			if rng.IntN(2) == 0 {
				w.Costs = append(w.Costs, OpCost{Op: op.name(), Units: rng.IntN(4), PerOrder: rng.IntN(3)})
			}
		}
		windows = append(windows, w)
	}
	var p limiterParams
	p.queryShare = 1 + rng.IntN(100)
	p.maxOrders[opPlace], p.maxOrders[opCancel], p.maxOrders[opBatchPlace] = 1, 1, 3
	s := newLimiterSet(windows, nil, p)
	clock := execEpoch
	var calls []fakeCall
	for range 300 {
		if rng.IntN(3) > 0 {
			clock = clock.Add(time.Duration(rng.Int64N(int64(300 * time.Millisecond))))
		}
		if len(reports) > 0 && rng.IntN(10) == 0 {
			// A report as the venue sent it, its times relative to now.
			u := reports[0]
			reports = reports[1:]
			u.Window = windows[rng.IntN(len(windows))].Name
			if !u.At.IsZero() {
				u.At = clock.Add(u.At.Sub(execEpoch))
			}
			if !u.Reset.IsZero() {
				u.Reset = clock.Add(u.Reset.Sub(execEpoch))
			}
			s.report(clock, u, demand{})
		} else if rng.IntN(10) == 0 {
			w := windows[rng.IntN(len(windows))]
			s.report(clock, Usage{Window: w.Name, Used: rng.IntN(w.Max + 5), Reset: clock.Add(time.Duration(rng.Int64N(int64(w.Interval))))}, demand{})
		}
		op := ops[rng.IntN(len(ops))]
		orders := 0
		switch op {
		case opPlace, opCancel:
			orders = 1
		case opBatchPlace:
			orders = 2 + rng.IntN(2)
		}
		d := s.demandFor(op, "", orders)
		now := clock
		for {
			at, probes, ok := s.take(now, d)
			if ok {
				calls = append(calls, fakeCall{op: op.name(), at: at, cids: make([]string, orders)})
				clock = at
				s.release(d, probes)
				break
			}
			require.True(t, at.After(now), "seed %d: no progress", seed)
			now = at
		}
	}
	for _, w := range windows {
		lw := []RateLimit{{Scope: w.Name, Interval: w.Interval, Limit: w.Max}}
		bad := windowViolations(calls, lw, func(c fakeCall, _ string) int {
			cost, _ := w.cost(c.op)
			return cost.Units + cost.PerOrder*len(c.cids)
		})
		require.Empty(t, bad, "seed %d: %+v", seed, w)
	}
}

// TestLimitWindowsNeverExceededProperty: whatever the windows, their costs
// and the venue's reports, every request is admitted in the end and no
// window ever holds more than its Max.
func TestLimitWindowsNeverExceededProperty(t *testing.T) {
	for seed := range uint64(200) {
		checkWindowsProperty(t, seed)
	}
}

// FuzzLimitWindowsUsage: whatever the venue reports (any count, any times,
// within a day), every request is admitted in the end and no window ever
// holds more than its Max.
func FuzzLimitWindowsUsage(f *testing.F) {
	f.Add(uint64(1), 50, int64(0), int64(30_000), 10, int64(-5_000), int64(0))
	f.Add(uint64(7), -3, int64(1), int64(-1), 1<<40, int64(0), int64(86_400_000))
	f.Fuzz(func(t *testing.T, seed uint64, used1 int, at1, reset1 int64, used2 int, at2, reset2 int64) {
		ms := func(v int64) time.Time {
			if v == 0 {
				return time.Time{}
			}
			v %= 86_400_000
			return execEpoch.Add(time.Duration(v) * time.Millisecond)
		}
		checkWindowsProperty(t, seed%1000,
			Usage{Used: used1, At: ms(at1), Reset: ms(reset1)},
			Usage{Used: used2, At: ms(at2), Reset: ms(reset2)})
	})
}

// On the wall clock (waits built on Sleep, ended by canceling it), lanes
// share a tight window, every request gets through, a canceled one leaves
// the queue, and nothing is left running.
func TestLanesOnTheWallClock(t *testing.T) {
	defer goleak.VerifyNone(t)
	f := newScripted(executorWallClock{})
	e := mustExecutor(t, f, WithLimits(LimitWindow{Name: "orders", Per: PerAccount, Interval: 100 * time.Millisecond, Max: 4,
		Costs: []OpCost{{Op: OpPlace, PerOrder: 1}, {Op: OpQuery, Units: 1}}}))
	var wg sync.WaitGroup
	for i := range 4 {
		l, err := e.Lane(fmt.Sprintf("L%d", i))
		require.NoError(t, err)
		for g := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range 2 {
					_, err := l.Place(context.Background(), execOrder(fmt.Sprintf("%d-%d-%d", i, g, k)))
					assert.NoError(t, err)
				}
				_, err := l.Query(context.Background(), "BTCUSDT", "q")
				assert.NoError(t, err)
			}()
		}
	}
	wg.Wait()
	assert.Len(t, f.Calls(), 36)

	// A request queued for an hour leaves the queue when its context ends.
	e2 := mustExecutor(t, f, WithRateLimits(RateLimit{Scope: ScopeOrder, Interval: time.Hour, Limit: 1}))
	_, err := e2.Place(context.Background(), execOrder("first"))
	require.NoError(t, err)
	l, err := e2.Lane("gone")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := l.Place(ctx, execOrder("late"))
		done <- err
	}()
	waitQueued(t, l, 1)
	cancel()
	err = <-done
	assert.ErrorIs(t, err, ErrNotSent)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 0, l.Stats().Queued)
	assert.Len(t, f.Calls(), 37)
}

// A report counts the requests still on their way, which the venue's figure
// may miss, but not the one whose answer carries it.
func TestUsageReportCountsRequestsInFlight(t *testing.T) {
	var p limiterParams
	p.queryShare = 100
	s := newLimiterSet([]LimitWindow{weightWindow(100)}, nil, p)
	d := s.demandFor(opQuery, "", 0)
	for range 5 {
		_, _, ok := s.take(execEpoch, d)
		require.True(t, ok)
	}
	reset := execEpoch.Add(time.Minute)
	// The first answer says 96 used: the four others on their way make 100.
	require.True(t, s.report(execEpoch, Usage{Window: "REQUEST_WEIGHT_1M", Used: 96, Reset: reset}, d))
	s.release(d, 0)
	at, _, ok := s.take(execEpoch, d)
	assert.False(t, ok)
	assert.Equal(t, reset, at)
	for range 4 {
		s.release(d, 0)
	}
	assert.Equal(t, 0, s.wins[0].inflight)
}
