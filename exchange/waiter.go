package exchange

import (
	"context"
	"sync"
	"time"
)

// ExecutorWaiter is a wait that another goroutine can end early, made by an
// [ExecutorWaiterClock]. The executor's queued requests wait on one each.
// Implementations must be safe for concurrent use.
type ExecutorWaiter interface {
	// Wait blocks until Wake is called (woken is true), d has passed on
	// the clock (d < 0: never), or ctx ends (its error is returned). A Wake
	// that came while nobody waited ends the next Wait at once.
	Wait(ctx context.Context, d time.Duration) (woken bool, err error)
	// Wake ends the current or next Wait.
	Wake()
}

// ExecutorWaiterClock is an optional capability of an [ExecutorClock]:
// waits that another goroutine ends. A virtual clock that advances only
// when every goroutine it knows of is asleep implements it, so that a
// goroutine woken by another counts as running from the moment of the Wake,
// and time does not move before it has acted. Clocks without it get waits
// built on their Sleep, ended by canceling its context.
type ExecutorWaiterClock interface {
	ExecutorClock
	NewWaiter() ExecutorWaiter
}

// foreverish is the sleep of a wait without a timeout.
const foreverish = time.Duration(1 << 62)

// newExecWaiter returns a waiter on clk.
func newExecWaiter(clk ExecutorClock) ExecutorWaiter {
	if wc, ok := clk.(ExecutorWaiterClock); ok {
		return wc.NewWaiter()
	}
	return &sleepWaiter{clk: clk}
}

// sleepWaiter waits on an ExecutorClock's Sleep, which Wake ends by
// canceling the sleep's context.
type sleepWaiter struct {
	clk     ExecutorClock
	mu      sync.Mutex
	cancel  context.CancelFunc // of the current wait; nil when none
	woken   bool               // the current wait was ended by Wake
	pending bool               // a Wake came while nobody waited
}

func (w *sleepWaiter) Wait(ctx context.Context, d time.Duration) (bool, error) {
	w.mu.Lock()
	if w.pending {
		w.pending = false
		w.mu.Unlock()
		return true, nil
	}
	c, cancel := context.WithCancel(ctx)
	w.cancel, w.woken = cancel, false
	w.mu.Unlock()
	if d < 0 {
		d = foreverish
	}
	err := w.clk.Sleep(c, d)
	w.mu.Lock()
	woken := w.woken
	w.cancel, w.woken = nil, false
	w.mu.Unlock()
	cancel()
	if woken {
		return true, nil
	}
	if err != nil && ctx.Err() != nil {
		return false, ctx.Err()
	}
	return false, nil
}

func (w *sleepWaiter) Wake() {
	w.mu.Lock()
	if w.cancel != nil {
		w.woken = true
		w.cancel()
		w.cancel = nil
	} else {
		w.pending = true
	}
	w.mu.Unlock()
}
