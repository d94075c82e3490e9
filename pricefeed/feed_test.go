package pricefeed_test

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/pricefeed"
)

var t0 = time.Date(2024, 8, 8, 23, 54, 0, 0, time.UTC)

func newMonitor(t *testing.T, opts ...pricefeed.FeedOption) *pricefeed.Feed {
	t.Helper()
	m, err := pricefeed.NewFeed("BTCUSDT", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

func recv(t *testing.T, ch <-chan pricefeed.Price) exchange.Ticks {
	t.Helper()
	p, ok := <-ch
	if !ok {
		t.Fatal("channel closed")
	}
	return p.Ticks
}

// recvUntil reads until want arrives and returns everything read.
func recvUntil(t *testing.T, ch <-chan pricefeed.Price, want exchange.Ticks) []exchange.Ticks {
	t.Helper()
	var got []exchange.Ticks
	for {
		p := recv(t, ch)
		got = append(got, p)
		if p == want {
			return got
		}
	}
}

func TestNewFeedErrors(t *testing.T) {
	_, err := pricefeed.NewFeed("", pricefeed.WithInterval(-time.Second), pricefeed.WithClock(nil))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"symbol is empty", "WithInterval(-1s) is negative", "WithClock(nil)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	m, err := pricefeed.NewFeed("ETHUSDT", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Symbol() != "ETHUSDT" || m.Interval() != pricefeed.DefaultInterval || pricefeed.DefaultInterval != 50*time.Millisecond {
		t.Errorf("defaults: symbol %q interval %s", m.Symbol(), m.Interval())
	}
}

func TestMonitorLatest(t *testing.T) {
	m := newMonitor(t)
	if p, at, ok := m.Latest(); ok || p != 0 || !at.IsZero() {
		t.Errorf("Latest before any Publish = %d, %v, %v", p, at, ok)
	}
	steps := []struct {
		price exchange.Ticks
		at    time.Time
		want  exchange.Ticks
		wantT time.Time
	}{
		{100, t0, 100, t0},
		{101, t0.Add(time.Second), 101, t0.Add(time.Second)},
		{99, t0, 101, t0.Add(time.Second)},                           // stale: dropped
		{101, t0.Add(2 * time.Second), 101, t0.Add(2 * time.Second)}, // same price, newer time
		{102, t0.Add(2 * time.Second), 102, t0.Add(2 * time.Second)}, // same time: accepted
	}
	for i, s := range steps {
		m.Publish(s.price, s.at)
		p, at, ok := m.Latest()
		if !ok || p != s.want || !at.Equal(s.wantT) {
			t.Errorf("step %d: Latest = %d, %v, %v; want %d, %v", i, p, at, ok, s.want, s.wantT)
		}
	}
}

func TestMonitorEverySubscriberGetsNewest(t *testing.T) {
	m := newMonitor(t, pricefeed.WithInterval(0))
	ctx := context.Background()
	subs := []<-chan pricefeed.Price{m.Subscribe(ctx), m.Subscribe(ctx), m.Subscribe(ctx)}
	m.Publish(100, t0)
	for i, ch := range subs {
		if got := recv(t, ch); got != 100 {
			t.Errorf("subscriber %d got %d, want 100", i, got)
		}
	}
	for p := exchange.Ticks(101); p <= 103; p++ {
		m.Publish(p, t0)
	}
	for i, ch := range subs {
		got := recvUntil(t, ch, 103)
		for j := 1; j < len(got); j++ {
			if got[j] <= got[j-1] {
				t.Errorf("subscriber %d got %v: not the publishing order", i, got)
			}
		}
		if got[0] < 101 {
			t.Errorf("subscriber %d got %v: repeats a delivered price", i, got)
		}
	}
	// Nothing stale is left behind: the next price is the next one read.
	m.Publish(104, t0)
	for i, ch := range subs {
		if got := recv(t, ch); got != 104 {
			t.Errorf("subscriber %d got %d, want 104", i, got)
		}
	}
	// A late subscriber gets the current price at once.
	if got := recv(t, m.Subscribe(ctx)); got != 104 {
		t.Errorf("late subscriber got %d, want 104", got)
	}
}

func TestMonitorSlowSubscriberNeverBlocksWriter(t *testing.T) {
	for _, interval := range []time.Duration{0, time.Millisecond} {
		m := newMonitor(t, pricefeed.WithInterval(interval))
		ctx := context.Background()
		slow := m.Subscribe(ctx) // not read until every price is published
		fast := m.Subscribe(ctx)
		const n = 10000
		var fastGot []exchange.Ticks
		done := make(chan struct{})
		go func() {
			defer close(done)
			for p := range fast {
				fastGot = append(fastGot, p.Ticks)
				if p.Ticks == n {
					return
				}
			}
		}()
		for p := exchange.Ticks(1); p <= n; p++ {
			m.Publish(p, t0) // returns although slow is not read
		}
		<-done
		for j := 1; j < len(fastGot); j++ {
			if fastGot[j] <= fastGot[j-1] {
				t.Fatalf("interval %s: fast subscriber went back: %v after %v", interval, fastGot[j], fastGot[j-1])
			}
		}
		// The slow subscriber gets the newest price, at most one stale price
		// (the one it was offered before the last change) first.
		got := recvUntil(t, slow, n)
		if len(got) > 2 {
			t.Errorf("interval %s: slow subscriber read %v before the newest", interval, got)
		}
	}
}

func TestMonitorNoRepeatOfDeliveredPrice(t *testing.T) {
	m := newMonitor(t, pricefeed.WithInterval(0))
	ch := m.Subscribe(context.Background())
	m.Publish(100, t0)
	if got := recv(t, ch); got != 100 {
		t.Fatalf("got %d, want 100", got)
	}
	m.Publish(101, t0)
	m.Publish(100, t0) // back to what the subscriber has
	m.Publish(102, t0)
	got := recvUntil(t, ch, 102)
	if len(got) > 2 || (len(got) == 2 && got[0] != 101) {
		t.Errorf("got %v, want [102] or [101 102]", got)
	}
}

func TestMonitorLeadingEdge(t *testing.T) {
	clk := newFakeClock(false)
	m := newMonitor(t, pricefeed.WithClock(clk)) // 50 ms
	ch := m.Subscribe(context.Background())
	// The first price goes out at once, with no timer.
	m.Publish(100, t0)
	if got := recv(t, ch); got != 100 {
		t.Fatalf("got %d, want 100", got)
	}
	// After a quiet spell longer than the interval, at once again.
	clk.Advance(60 * time.Millisecond)
	m.Publish(101, t0)
	if got := recv(t, ch); got != 101 {
		t.Fatalf("got %d, want 101", got)
	}
	// Exactly one interval later also counts as quiet.
	clk.Advance(50 * time.Millisecond)
	m.Publish(102, t0)
	if got := recv(t, ch); got != 102 {
		t.Fatalf("got %d, want 102", got)
	}
	if n := len(clk.WaitTimers(0)); n != 0 {
		t.Errorf("%d timers pending, want none", n)
	}
}

func TestMonitorCoalescesWithinInterval(t *testing.T) {
	clk := newFakeClock(false)
	m := newMonitor(t, pricefeed.WithClock(clk), pricefeed.WithInterval(50*time.Millisecond))
	ch := m.Subscribe(context.Background())
	start := clk.Now()
	m.Publish(100, t0)
	if got := recv(t, ch); got != 100 {
		t.Fatalf("got %d, want 100", got)
	}
	m.Publish(101, t0)
	m.Publish(102, t0)
	m.Publish(103, t0)
	// The subscriber waits for the end of the interval since its last delivery…
	if d := clk.WaitTimers(1); !d[0].Equal(start.Add(50 * time.Millisecond)) {
		t.Fatalf("timer due %v, want %v", d[0], start.Add(50*time.Millisecond))
	}
	// …then delivers only the newest.
	clk.Advance(50 * time.Millisecond)
	if got := recv(t, ch); got != 103 {
		t.Fatalf("got %d, want 103", got)
	}
	// The next change waits a full interval from that delivery.
	clk.Advance(10 * time.Millisecond)
	m.Publish(104, t0)
	if d := clk.WaitTimers(1); !d[0].Equal(start.Add(100 * time.Millisecond)) {
		t.Fatalf("timer due %v, want %v", d[0], start.Add(100*time.Millisecond))
	}
	clk.Advance(40 * time.Millisecond)
	if got := recv(t, ch); got != 104 {
		t.Fatalf("got %d, want 104", got)
	}
}

func TestMonitorShutdown(t *testing.T) {
	m, err := pricefeed.NewFeed("BTCUSDT")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	byCtx := m.Subscribe(ctx)
	byClose := m.Subscribe(context.Background())
	cancel()
	if _, ok := <-byCtx; ok {
		t.Error("got a price after the subscriber's context ended")
	}
	m.Publish(100, t0)
	if got := recv(t, byClose); got != 100 {
		t.Errorf("got %d, want 100", got)
	}

	// Run on a source that blocks until its context ends returns ErrClosed
	// when the feed closes.
	runErr := make(chan error, 1)
	go func() { runErr <- m.Run(context.Background(), blockingSource{}) }()

	m.Close()
	if _, ok := <-byClose; ok {
		t.Error("got a price after Close")
	}
	if err := <-runErr; !errors.Is(err, pricefeed.ErrClosed) {
		t.Errorf("Run after Close = %v, want ErrClosed", err)
	}
	if _, ok := <-m.Subscribe(context.Background()); ok {
		t.Error("Subscribe after Close: channel open")
	}
	if err := m.Run(context.Background(), blockingSource{}); !errors.Is(err, pricefeed.ErrClosed) {
		t.Errorf("Run after Close = %v, want ErrClosed", err)
	}
	m.Publish(101, t0) // does not block or panic
	if p, _, _ := m.Latest(); p != 101 {
		t.Errorf("Latest after Close = %d, want 101", p)
	}
	m.Close() // idempotent
}

type blockingSource struct{}

func (blockingSource) Next(ctx context.Context) (pricefeed.Price, error) {
	<-ctx.Done()
	return pricefeed.Price{}, ctx.Err()
}

type errSource struct{ err error }

func (s errSource) Next(context.Context) (pricefeed.Price, error) { return pricefeed.Price{}, s.err }

func TestMonitorRunEnds(t *testing.T) {
	m := newMonitor(t)
	boom := errors.New("boom")
	err := m.Run(context.Background(), errSource{boom})
	if !errors.Is(err, boom) || err.Error() != "pricefeed: BTCUSDT source: boom" {
		t.Errorf("Run = %v, want the source's error wrapped", err)
	}
	if err := m.Run(context.Background(), errSource{io.EOF}); err != nil {
		t.Errorf("Run on an exhausted source = %v, want nil", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- m.Run(ctx, blockingSource{}) }()
	cancel()
	if err := <-runErr; !errors.Is(err, context.Canceled) {
		t.Errorf("Run after cancel = %v, want context.Canceled", err)
	}
}

func TestMonitorRunReplay(t *testing.T) {
	trades, err := pricefeed.ReadTradesFile(usdmTrades, btcRules)
	if err != nil {
		t.Fatal(err)
	}
	prices := map[exchange.Ticks]bool{}
	for _, tr := range trades {
		prices[tr.Price] = true
	}
	m := newMonitor(t, pricefeed.WithInterval(0))
	ch := m.Subscribe(context.Background())
	// The replay's first price reaches the idle subscriber at once; what
	// follows may be coalesced down to the end marker alone.
	m.Publish(trades[0].Price, time.UnixMilli(trades[0].Time))
	if got := recv(t, ch); got != trades[0].Price {
		t.Fatalf("first price %d, want %d", got, trades[0].Price)
	}
	var got []exchange.Ticks
	done := make(chan struct{})
	go func() {
		defer close(done)
		for p := range ch {
			if p.Ticks == -1 {
				return
			}
			got = append(got, p.Ticks)
		}
	}()
	rp, err := pricefeed.NewTradeReplay(trades, pricefeed.WithSpeed(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background(), rp); err != nil {
		t.Fatal(err)
	}
	last := trades[len(trades)-1]
	if p, at, _ := m.Latest(); p != last.Price || at.UnixMilli() != last.Time {
		t.Errorf("Latest = %d at %d, want %d at %d", p, at.UnixMilli(), last.Price, last.Time)
	}
	m.Publish(-1, time.UnixMilli(last.Time+1)) // end marker
	<-done
	for i, p := range got {
		if !prices[p] || (i == 0 && p == trades[0].Price) || (i > 0 && p == got[i-1]) {
			t.Fatalf("delivery %d: %d is not a traded price or repeats the previous", i, p)
		}
	}
}

// TestMonitorConcurrent publishes from several goroutines while several
// subscribers read (run with -race).
func TestMonitorConcurrent(t *testing.T) {
	m := newMonitor(t, pricefeed.WithInterval(0))
	var clock atomic.Int64
	const subs, writers, perWriter = 5, 4, 2000
	got := make([][]exchange.Ticks, subs)
	var rwg sync.WaitGroup
	for i := range subs {
		ch := m.Subscribe(context.Background())
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			for p := range ch {
				got[i] = append(got[i], p.Ticks)
				if p.Ticks == 0 {
					return
				}
			}
		}()
	}
	var wwg sync.WaitGroup
	for w := range writers {
		wwg.Add(1)
		go func() {
			defer wwg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			for range perWriter {
				m.Publish(exchange.Ticks(1+rng.IntN(1000)), t0.Add(time.Duration(clock.Add(1))))
			}
		}()
	}
	wwg.Wait()
	m.Publish(0, t0.Add(time.Hour)) // end marker, newest of all
	rwg.Wait()
	for i, g := range got {
		if g[len(g)-1] != 0 {
			t.Errorf("subscriber %d ended on %d", i, g[len(g)-1])
		}
		for j := 1; j < len(g); j++ {
			if g[j] == g[j-1] || g[j] < 0 || g[j] > 1000 {
				t.Fatalf("subscriber %d delivery %d: %d after %d", i, j, g[j], g[j-1])
			}
		}
	}
	if p, at, _ := m.Latest(); p != 0 || !at.Equal(t0.Add(time.Hour)) {
		t.Errorf("Latest = %d at %v", p, at)
	}
}

func BenchmarkMonitorPublish(b *testing.B) {
	for _, nsubs := range []int{0, 4} {
		b.Run(map[int]string{0: "no-subscribers", 4: "4-subscribers"}[nsubs], func(b *testing.B) {
			m, err := pricefeed.NewFeed("BTCUSDT", pricefeed.WithInterval(0))
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var wg sync.WaitGroup
			for range nsubs {
				ch := m.Subscribe(ctx)
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range ch {
					}
				}()
			}
			b.ReportAllocs()
			i := exchange.Ticks(0)
			for b.Loop() {
				i++
				m.Publish(i, t0)
			}
			cancel()
			wg.Wait()
		})
	}
}

func BenchmarkMonitorLatest(b *testing.B) {
	m, err := pricefeed.NewFeed("BTCUSDT")
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	m.Publish(1, t0)
	b.ReportAllocs()
	var sum exchange.Ticks
	for b.Loop() {
		p, _, _ := m.Latest()
		sum += p
	}
	if sum == 0 {
		b.Fatal("no price")
	}
}

// holdClock is a fakeClock whose next Now call, once asked for, blocks
// until the test releases it, and which reports every timer armed: a
// test can then put the consumer's next step between the pacing
// goroutine's handoff and its next clock reading.
type holdClock struct {
	*fakeClock
	hold    atomic.Bool
	held    chan struct{} // a Now call is blocked
	release chan struct{} // lets it return
	armed   chan struct{} // a timer was armed
}

func (c *holdClock) Now() time.Time {
	if c.hold.CompareAndSwap(true, false) {
		c.held <- struct{}{}
		<-c.release
	}
	return c.fakeClock.Now()
}

func (c *holdClock) NewTimer(d time.Duration) pricefeed.Timer {
	select {
	case c.armed <- struct{}{}:
	default:
	}
	return c.fakeClock.NewTimer(d)
}

// A consumer that moves a fake clock on right after taking a price (here
// before the pacing goroutine runs again, the interleaving that made
// TestMonitorLeadingEdge hang about once in 10 runs on 2 CPUs) must still
// get the next change at once after a quiet interval: the delivery time is
// the clock reading the pacing goroutine took before the handoff, not one
// taken after the consumer has run on.
func TestMonitorDeliveryTimeReadBeforeHandoff(t *testing.T) {
	clk := &holdClock{
		fakeClock: newFakeClock(false),
		held:      make(chan struct{}, 1),
		release:   make(chan struct{}, 1),
		armed:     make(chan struct{}, 1),
	}
	m := newMonitor(t, pricefeed.WithClock(clk)) // 50 ms
	ch := m.Subscribe(context.Background())
	clk.hold.Store(true)
	m.Publish(100, t0)
	select {
	case p := <-ch:
		// Handed over before any clock reading: the consumer moves the
		// clock on before the pacing goroutine reads it.
		if p.Ticks != 100 {
			t.Fatalf("got %d, want 100", p.Ticks)
		}
		clk.Advance(60 * time.Millisecond)
		clk.release <- struct{}{}
	case <-clk.held:
		// The clock is read before the handoff.
		clk.release <- struct{}{}
		if got := recv(t, ch); got != 100 {
			t.Fatalf("got %d, want 100", got)
		}
		clk.Advance(60 * time.Millisecond)
	}
	m.Publish(101, t0)
	select {
	case p := <-ch:
		if p.Ticks != 101 {
			t.Fatalf("got %d, want 101", p.Ticks)
		}
	case <-clk.armed:
		t.Fatalf("a timer was armed for a change 60 ms after the last delivery (interval 50 ms): the delivery time was read after the consumer moved the clock on")
	}
}
