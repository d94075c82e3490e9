package pricefeed_test

import (
	"sort"
	"sync"
	"time"

	"github.com/gridmesh/gridmesh/pricefeed"
)

// fakeClock is a manual Clock for tests. Timers fire when Advance moves
// the time past their deadline. With auto set, every timer fires at once
// and moves the time to its deadline, so code that sleeps runs instantly
// and the waits it asked for are recorded.
type fakeClock struct {
	mu      sync.Mutex
	cond    *sync.Cond
	now     time.Time
	pending []*fakeTimer
	auto    bool
	waits   []time.Duration
}

var _ pricefeed.Clock = (*fakeClock)(nil)

func newFakeClock(auto bool) *fakeClock {
	c := &fakeClock{now: time.Date(2024, 8, 8, 23, 54, 0, 0, time.UTC), auto: auto}
	c.cond = sync.NewCond(&c.mu)
	return c
}

type fakeTimer struct {
	c   chan time.Time
	at  time.Time
	clk *fakeClock
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.clk.mu.Lock()
	defer t.clk.mu.Unlock()
	for i, p := range t.clk.pending {
		if p == t {
			t.clk.pending = append(t.clk.pending[:i], t.clk.pending[i+1:]...)
			return true
		}
	}
	return false
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) pricefeed.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: make(chan time.Time, 1), at: c.now.Add(d), clk: c}
	switch {
	case c.auto:
		c.waits = append(c.waits, d)
		if d > 0 {
			c.now = t.at
		}
		t.c <- c.now
	case d <= 0:
		t.c <- c.now
	default:
		c.pending = append(c.pending, t)
		c.cond.Broadcast()
	}
	return t
}

// Advance moves the time on by d and fires the timers that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	keep := c.pending[:0]
	for _, t := range c.pending {
		if !t.at.After(c.now) {
			t.c <- c.now
		} else {
			keep = append(keep, t)
		}
	}
	c.pending = keep
}

// WaitTimers blocks until n timers are pending and returns their
// deadlines, earliest first.
func (c *fakeClock) WaitTimers(n int) []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.pending) < n {
		c.cond.Wait()
	}
	ds := make([]time.Time, len(c.pending))
	for i, t := range c.pending {
		ds[i] = t.at
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].Before(ds[j]) })
	return ds
}

// Waits returns the durations timers were asked for (auto mode).
func (c *fakeClock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waits...)
}
