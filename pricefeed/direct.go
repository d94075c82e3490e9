package pricefeed

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/gridmesh/gridmesh/exchange"
)

// direct is the state of a subscriber of a feed with interval 0. There is
// nothing to pace, so no goroutine stands between the writer and the
// consumer: the channel holds one price, and [Feed.Publish] replaces it,
// under the subscriber's own lock and without blocking, with the newest
// price (loaded under that lock, so that of two racing writers the later
// delivery carries the newer price). A price equal to the one the consumer
// last took is not offered again.
type direct struct {
	out chan Price // capacity 1

	mu      sync.Mutex
	closed  bool
	pending bool           // out holds a price the consumer has not taken…
	offered exchange.Ticks // …this one, when pending
	taken   bool           // the consumer has taken a price…
	last    exchange.Ticks // …this one, the newest it took
	stops   []func() bool  // the context.AfterFuncs that close the subscription
}

// offer hands the consumer the newest price, replacing one it has not
// taken yet. It never blocks on the consumer.
func (d *direct) offer(latest *atomic.Pointer[Price]) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	d.reclaim()
	p := latest.Load()
	if p == nil || (d.taken && p.Ticks == d.last) {
		return
	}
	// The channel is empty (reclaim emptied it and only offer, under
	// d.mu, sends), so this send cannot block.
	d.out <- *p
	d.pending, d.offered = true, p.Ticks
}

// reclaim takes back a price the consumer has not taken, or, if the
// consumer took it meanwhile, records it as taken. Called with d.mu held.
func (d *direct) reclaim() {
	if !d.pending {
		return
	}
	d.pending = false
	select {
	case <-d.out:
	default:
		d.taken, d.last = true, d.offered
	}
}

// subscribeDirect is Subscribe for a feed with interval 0.
func (m *Feed) subscribeDirect(ctx context.Context) <-chan Price {
	d := &direct{out: make(chan Price, 1)}
	s := &subscriber{direct: d}
	if !m.addSubscriber(s) {
		close(d.out)
		return d.out
	}
	d.offer(&m.latest) // the price already known, if any

	end := func() { m.endDirect(s) }
	stops := []func() bool{context.AfterFunc(ctx, end), context.AfterFunc(m.ctx, end)}
	d.mu.Lock()
	closed := d.closed
	if !closed {
		d.stops = stops
	}
	d.mu.Unlock()
	if closed { // ended before the stops were stored: release them here
		for _, stop := range stops {
			stop()
		}
	}
	return d.out
}

// endDirect ends a direct subscription (its context or the feed ended):
// the price not yet taken is withdrawn and the channel closed. It is
// idempotent.
func (m *Feed) endDirect(s *subscriber) {
	d := s.direct
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.closed = true
	d.reclaim()
	close(d.out)
	stops := d.stops
	d.stops = nil
	d.mu.Unlock()
	for _, stop := range stops {
		stop()
	}
	m.unsubscribe(s)
	m.wg.Done()
}
