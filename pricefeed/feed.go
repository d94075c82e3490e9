package pricefeed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
)

// ErrClosed is returned by [Feed.Run] when the feed is closed.
var ErrClosed = errors.New("pricefeed: feed closed")

// DefaultInterval is a [Feed]'s default coalescing interval.
const DefaultInterval = 50 * time.Millisecond

// Price is one price observation of a feed's symbol: the price in ticks
// of the symbol's [exchange.Rules] and when it was observed. The zero value
// is a zero price at the zero time. A Price is a plain value, safe to copy.
type Price struct {
	Ticks exchange.Ticks
	Time  time.Time
}

// Feed is the single price source of one symbol: every component of a
// live host reads the symbol's price from its one Feed, never elsewhere,
// so that all of them act on the same price. (It was called Monitor,
// which read as a risk monitor: see [Monitor].)
//
// Writers call [Feed.Publish] (or [Feed.Run] pulls from a [Source]);
// Publish never blocks and never allocates more than the new price.
// [Feed.Latest] reads the newest price lock-free. Every subscriber of
// [Feed.Subscribe] receives the changes of the price on its own channel,
// coalesced: the first change after a quiet spell of at least the interval
// is delivered at once (leading edge), later ones at most once per interval,
// and the newest price always wins — a slow subscriber skips intermediate
// prices but always ends up with the newest, and never holds up the writer
// or the other subscribers. A price equal (in ticks) to the one a subscriber
// last received is not delivered again; interval 0 passes every change the
// subscriber is ready to take.
//
// A Price whose time is before the latest price's is stale and dropped, so
// "latest" means newest by observation time even with several writers.
//
// Liveness is not a price change. Every message the source sends — an
// unchanged price included — advances the time [Feed.Latest] returns and
// the count [Feed.Messages] returns, both lock-free, and wakes no
// subscriber. A host that watches the feed's health (risk's stale-feed
// monitor) reads them on its own timer (see [Feed.Liveness]), so a quiet
// but live market on a coarse tick is never mistaken for a dead feed, and
// the engine is not woken on every unchanged tick.
//
// Build one with [NewFeed]; the zero value is not usable. Close stops
// every goroutine the feed started. A Feed is safe for concurrent use.
type Feed struct {
	symbol   string
	interval time.Duration
	clock    Clock
	log      *slog.Logger

	latest   atomic.Pointer[Price]
	messages atomic.Uint64                 // accepted Publish calls
	subs     atomic.Pointer[[]*subscriber] // copy on write, under mu

	mu     sync.Mutex // guards subs writes and closed
	closed bool
	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // subscriber goroutines
}

// Monitor is the old name of [Feed].
//
// Deprecated: use Feed. The alias stays while branches written against
// the old name (the runner's, the examples of other open work) merge; it
// will be removed before the first release.
type Monitor = Feed

// MonitorOption is the old name of [FeedOption].
//
// Deprecated: use FeedOption (see [Monitor] for why the alias stays).
type MonitorOption = FeedOption

// NewMonitor is the old name of [NewFeed].
//
// Deprecated: use NewFeed (see [Monitor] for why the alias stays).
func NewMonitor(symbol string, opts ...FeedOption) (*Feed, error) { return NewFeed(symbol, opts...) }

// subscriber is one Subscribe call's state shared with Publish. A paced
// subscriber (interval > 0) has a goroutine of its own that Publish wakes;
// a direct one (interval 0) has none: Publish hands it the newest price
// itself (see direct).
type subscriber struct {
	wake   chan struct{} // capacity 1: "the latest price changed"; paced only
	direct *direct       // interval 0 only
}

// FeedOption configures a [Feed].
type FeedOption interface{ applyFeed(*monitorOptions) }

type monitorOptions struct {
	interval time.Duration
	clock    Clock
	log      *slog.Logger
}

type monitorOptionFunc func(*monitorOptions)

func (f monitorOptionFunc) applyFeed(o *monitorOptions) { f(o) }

// WithInterval sets the coalescing interval: after delivering a price to a
// subscriber, the next one waits until at least d has passed, counted from
// the feed clock's last reading before the handoff (the time the price
// was offered), never from a reading taken after the consumer has already
// run on. 0 delivers
// every change the subscriber takes; negative is an error. Default
// [DefaultInterval] (50 ms).
func WithInterval(d time.Duration) FeedOption {
	return monitorOptionFunc(func(o *monitorOptions) { o.interval = d })
}

// WithClock sets the clock the feed paces deliveries with. Default
// [SystemClock].
func WithClock(c Clock) FeedOption {
	return monitorOptionFunc(func(o *monitorOptions) { o.clock = c })
}

// WithLogger sets the logger; nil (the default) discards.
func WithLogger(l *slog.Logger) FeedOption {
	return monitorOptionFunc(func(o *monitorOptions) { o.log = l })
}

// NewFeed returns the price feed of symbol. It reports every bad
// option at once, each naming the option and the value. It starts no
// goroutine; Subscribe does, with a positive interval.
func NewFeed(symbol string, opts ...FeedOption) (*Feed, error) {
	o := monitorOptions{interval: DefaultInterval, clock: SystemClock()}
	for _, opt := range opts {
		if opt != nil {
			opt.applyFeed(&o)
		}
	}
	var errs []error
	if symbol == "" {
		errs = append(errs, errors.New("pricefeed: NewFeed: symbol is empty"))
	}
	if o.interval < 0 {
		errs = append(errs, fmt.Errorf("pricefeed: NewFeed: WithInterval(%s) is negative", o.interval))
	}
	if o.clock == nil {
		errs = append(errs, errors.New("pricefeed: NewFeed: WithClock(nil)"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	m := &Feed{symbol: symbol, interval: o.interval, clock: o.clock, log: o.log.With("symbol", symbol)}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	return m, nil
}

// Symbol returns the feed's symbol.
func (m *Feed) Symbol() string { return m.symbol }

// Interval returns the coalescing interval.
func (m *Feed) Interval() time.Duration { return m.interval }

// Publish records a new price observed at t. It never blocks: it stores the
// price and its time (an unchanged price too: that is the source's
// liveness, see [Feed.Liveness]), and when the price differs from the
// previous one, wakes each subscriber without waiting for it. A price
// observed before the latest one (t earlier than its time) is dropped.
// Publish after Close still updates Latest.
func (m *Feed) Publish(price exchange.Ticks, t time.Time) {
	p := &Price{Ticks: price, Time: t}
	for {
		old := m.latest.Load()
		if old != nil && t.Before(old.Time) {
			return
		}
		if m.latest.CompareAndSwap(old, p) {
			m.messages.Add(1)
			if old != nil && old.Ticks == price {
				return
			}
			break
		}
	}
	if subs := m.subs.Load(); subs != nil {
		for _, s := range *subs {
			if s.direct != nil {
				s.direct.offer(&m.latest)
				continue
			}
			select {
			case s.wake <- struct{}{}:
			default: // already woken
			}
		}
	}
}

// Latest returns the newest price and the time of the newest message —
// the message that set the price or a later one that repeated it; ok is
// false until the first Publish. It takes no lock.
func (m *Feed) Latest() (price exchange.Ticks, t time.Time, ok bool) {
	p := m.latest.Load()
	if p == nil {
		return 0, time.Time{}, false
	}
	return p.Ticks, p.Time, true
}

// Liveness is what a [Monitor] knows of its source's life: the newest
// message's price and time, and how many messages it has accepted. A
// message that repeats the price counts: a quiet market on a coarse tick
// is alive. The zero value (Messages 0) means nothing was heard yet. It is
// a plain value.
type Liveness struct {
	Price    Price  // the latest price; Price.Time is the newest message's time
	Messages uint64 // messages accepted so far (stale ones dropped are not counted)
}

// Liveness returns the source's liveness, lock-free, without waking
// anyone. A runner reads it on its timer and hands it to its risk
// monitors (risk.KindAlive observations: Heard = Price.Time); a message
// count that has not moved since the last read means the source said
// nothing in between.
func (m *Monitor) Liveness() Liveness {
	// Messages first: a Publish between the two loads can only make the
	// price newer than the count says, never older.
	n := m.messages.Load()
	p := m.latest.Load()
	if p == nil {
		return Liveness{}
	}
	return Liveness{Price: *p, Messages: max(n, 1)}
}

// Messages returns how many messages (prices, changed or not) Publish has
// accepted. It takes no lock.
func (m *Monitor) Messages() uint64 { return m.messages.Load() }

// Subscribe returns a channel of coalesced price changes for one consumer
// (see [Feed] for the rules). If a price is already known it is
// delivered first. What a consumer receives is the newest price at the
// moment it receives (give or take a Publish racing with the receive,
// whose price then follows). The channel is closed when ctx ends or the
// feed is closed; after Close, Subscribe returns a closed channel.
//
// With a positive interval each call starts one goroutine, owned by the
// feed, that paces the subscriber; the channel is unbuffered. With
// interval 0 there is nothing to pace and no goroutine: the channel holds
// one price, and Publish, on the writer's goroutine, replaces it with the
// newest without ever waiting for the consumer.
func (m *Feed) Subscribe(ctx context.Context) <-chan Price {
	if m.interval == 0 {
		return m.subscribeDirect(ctx)
	}
	out := make(chan Price)
	s := &subscriber{wake: make(chan struct{}, 1)}
	if !m.addSubscriber(s) {
		close(out)
		return out
	}
	go m.serve(ctx, s, out)
	return out
}

// addSubscriber adds s to the subscribers, counted in the feed's wait
// group until it ends; false when the feed is closed.
func (m *Feed) addSubscriber(s *subscriber) bool {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return false
	}
	var next []*subscriber
	if cur := m.subs.Load(); cur != nil {
		next = append(next, *cur...)
	}
	next = append(next, s)
	m.subs.Store(&next)
	m.wg.Add(1)
	m.mu.Unlock()
	m.log.Debug("pricefeed: subscribed", "subscribers", len(next))
	return true
}

func (m *Feed) unsubscribe(s *subscriber) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.subs.Load()
	if cur == nil {
		return
	}
	next := make([]*subscriber, 0, len(*cur))
	for _, x := range *cur {
		if x != s {
			next = append(next, x)
		}
	}
	m.subs.Store(&next)
	m.log.Debug("pricefeed: unsubscribed", "subscribers", len(next))
}

// serve is one subscriber's goroutine: it waits for a change, paces it by
// the interval and hands the newest price over.
func (m *Feed) serve(ctx context.Context, s *subscriber, out chan<- Price) {
	defer m.wg.Done()
	defer close(out)
	defer m.unsubscribe(s)
	var (
		sent   bool           // something was delivered
		last   exchange.Ticks // what was delivered last
		lastAt time.Time      // when
	)
	for {
		p := m.latest.Load()
		if p == nil || (sent && p.Ticks == last) {
			select {
			case <-s.wake:
				continue
			case <-ctx.Done():
				return
			case <-m.ctx.Done():
				return
			}
		}
		// One clock reading decides the wait and, once the price is taken,
		// stands as its delivery time. Reading the clock again after the
		// handoff would race with the consumer, which may already have
		// moved a fake clock on (or been descheduled past the interval):
		// the recorded time would be later than the delivery, and the next
		// change after a full quiet interval would wait another interval.
		now := m.clock.Now()
		if sent {
			if wait := lastAt.Add(m.interval).Sub(now); wait > 0 {
				if !m.sleep(ctx, s, wait) {
					return
				}
				continue // take the newest price after the wait
			}
		}
		q, at, ok := m.send(ctx, s, out, p, sent, last, now)
		if !ok {
			return
		}
		if q != nil {
			sent, last, lastAt = true, q.Ticks, at
		}
	}
}

// sleep waits d on the feed's clock, absorbing wake-ups meanwhile. It
// reports false when the subscriber must stop.
func (m *Feed) sleep(ctx context.Context, s *subscriber, d time.Duration) bool {
	t := m.clock.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-t.C():
			return true
		case <-s.wake:
		case <-ctx.Done():
			return false
		case <-m.ctx.Done():
			return false
		}
	}
}

// send offers p, first offered at now, until the consumer takes it,
// replacing it with each newer price meanwhile (latest wins). It returns
// the price delivered and its delivery time — the last clock reading taken
// before the handoff: the offer's, or that of the newest replacement — or
// nil when the newest price came back to the one delivered before, and
// false when the subscriber must stop.
func (m *Feed) send(ctx context.Context, s *subscriber, out chan<- Price, p *Price, sent bool, last exchange.Ticks, now time.Time) (*Price, time.Time, bool) {
	for {
		select {
		case out <- *p:
			return p, now, true
		case <-s.wake:
			p = m.latest.Load()
			if sent && p.Ticks == last {
				return nil, now, true
			}
			now = m.clock.Now()
		case <-ctx.Done():
			return nil, now, false
		case <-m.ctx.Done():
			return nil, now, false
		}
	}
}

// Run pulls prices from src and publishes them until src is exhausted
// (io.EOF: Run returns nil), ctx ends (Run returns ctx's error), the
// feed is closed (ErrClosed) or src fails (its error, wrapped). The
// caller owns the goroutine Run blocks; Close makes Run return.
func (m *Feed) Run(ctx context.Context, src Source) error {
	if m.ctx.Err() != nil {
		return ErrClosed
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(m.ctx, cancel)
	defer stop()
	for {
		p, err := src.Next(rctx)
		if err != nil {
			switch {
			case errors.Is(err, io.EOF):
				m.log.Debug("pricefeed: source exhausted")
				return nil
			case ctx.Err() != nil:
				return ctx.Err()
			case m.ctx.Err() != nil:
				return ErrClosed
			}
			return fmt.Errorf("pricefeed: %s source: %w", m.symbol, err)
		}
		m.Publish(p.Ticks, p.Time)
	}
}

// Close ends every subscription, closes their channels, makes Run
// return and waits for the goroutines to end. It is idempotent.
func (m *Feed) Close() {
	m.mu.Lock()
	if !m.closed {
		m.closed = true
		m.cancel()
	}
	m.mu.Unlock()
	m.wg.Wait()
}
