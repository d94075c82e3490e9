package pricefeed_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/pricefeed"
	"go.uber.org/goleak"
)

// TestDirectSubscribeStartsNoGoroutine: with interval 0 there is nothing
// to pace, so a subscription is served from the writer's goroutine; with
// a positive interval each subscription has its pacing goroutine.
func TestDirectSubscribeStartsNoGoroutine(t *testing.T) {
	const n = 200
	for _, tc := range []struct {
		interval time.Duration
		direct   bool
	}{{0, true}, {time.Second, false}} {
		m := newMonitor(t, pricefeed.WithInterval(tc.interval))
		ctx, cancel := context.WithCancel(context.Background())
		// Let the goroutines of earlier tests (and of this one's previous
		// round) finish exiting first: one still unwinding after its
		// channel closed would leave during the count and hide a new one.
		if err := goleak.Find(); err != nil {
			t.Fatal(err)
		}
		before := runtime.NumGoroutine()
		chans := make([]<-chan pricefeed.Price, n)
		for i := range chans {
			chans[i] = m.Subscribe(ctx)
		}
		added := runtime.NumGoroutine() - before
		if tc.direct && added >= n/2 {
			t.Errorf("interval %s: %d subscriptions started %d goroutines, want none", tc.interval, n, added)
		}
		if !tc.direct && added < n/2 {
			t.Errorf("interval %s: %d subscriptions started %d goroutines, want about one each", tc.interval, n, added)
		}
		m.Publish(7, t0)
		for i, ch := range chans {
			if got := recv(t, ch); got != 7 {
				t.Fatalf("interval %s: subscriber %d got %d, want 7", tc.interval, i, got)
			}
		}
		cancel()
		for i, ch := range chans {
			if _, ok := <-ch; ok {
				t.Fatalf("interval %s: subscriber %d got a price after its context ended", tc.interval, i)
			}
		}
	}
}

// TestDirectEndClosesAndOthersGoOn: a subscription whose context ends
// is closed — at most the price it was already offered can still be read
// in the race with the end, never a later one — and the feed's other
// subscriptions go on.
func TestDirectEndClosesAndOthersGoOn(t *testing.T) {
	m := newMonitor(t, pricefeed.WithInterval(0))
	ctx, cancel := context.WithCancel(context.Background())
	ch := m.Subscribe(ctx)
	other := m.Subscribe(context.Background())
	m.Publish(100, t0) // offered to both, taken by neither
	cancel()
	m.Publish(101, t0) // may or may not reach ch before its end
	var got []exchange.Ticks
	for p := range ch {
		got = append(got, p.Ticks)
	}
	if len(got) > 1 {
		t.Fatalf("after the end the subscriber read %v, want at most one price", got)
	}
	m.Publish(102, t0)
	if got := recvUntil(t, other, 102); len(got) > 2 {
		t.Fatalf("other subscriber read %v, want [101 102] or [102]", got)
	}
	m.Close()
	if p, ok := <-other; ok {
		t.Fatalf("got %d after Close", p.Ticks)
	}
}

// TestDirectSubscribeEndedContext: a subscription whose context has
// already ended is closed without a price, even if one is known.
func TestDirectSubscribeEndedContext(t *testing.T) {
	m := newMonitor(t, pricefeed.WithInterval(0))
	m.Publish(100, t0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ch := m.Subscribe(ctx)
	select {
	case p, ok := <-ch:
		if ok {
			// The known price may be offered before the end is seen; the
			// channel must close right after.
			if p.Ticks != 100 {
				t.Fatalf("got %d, want 100 or nothing", p.Ticks)
			}
			if _, ok := <-ch; ok {
				t.Fatal("channel still open after the context ended")
			}
		}
	case <-time.After(10 * time.Second):
		t.Fatal("channel not closed after the context ended")
	}
	m.Publish(101, t0) // no subscriber left: does not block or panic
}

// TestDirectPendingReplacedByNewest: a consumer that was not reading
// finds the newest price, not the first one offered.
func TestDirectPendingReplacedByNewest(t *testing.T) {
	m := newMonitor(t, pricefeed.WithInterval(0))
	ch := m.Subscribe(context.Background())
	for p := range 50 {
		m.Publish(exchange.Ticks(100+p), t0)
	}
	if got := recv(t, ch); got != 149 {
		t.Fatalf("got %d, want the newest, 149", got)
	}
	select {
	case p := <-ch:
		t.Fatalf("got %d after the newest", p.Ticks)
	default:
	}
}
