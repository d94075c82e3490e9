package exchangetest

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/shopspring/decimal"
)

func testPriceStream(t tb, s *suite) {
	if s.h.SetPrice == nil {
		t.Skip("harness has no SetPrice")
	}
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	ch, err := s.h.Exchange.SubscribePrices(ctx, s.h.Symbol)
	if err != nil {
		t.Fatalf("SubscribePrices: %v", err)
	}
	target := s.level(1)
	timer := time.NewTimer(s.timeout)
	defer timer.Stop()
	// The stream may connect after the first SetPrice; repeat it on every
	// update that does not yet show the target.
	if err := s.h.SetPrice(s.ctx, target); err != nil {
		t.Fatalf("SetPrice: %v", err)
	}
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	for {
		select {
		case u, ok := <-ch:
			if !ok {
				t.Fatalf("price stream closed early")
			}
			if u.Symbol != s.h.Symbol {
				t.Fatalf("price update for %q, want %q", u.Symbol, s.h.Symbol)
			}
			if !u.Bid.IsZero() && !u.Ask.IsZero() && u.Bid.GreaterThan(u.Ask) {
				t.Errorf("price update bid %s above ask %s", u.Bid, u.Ask)
			}
			if u.Price.Equal(target) {
				return
			}
		case <-poll.C:
			if err := s.h.SetPrice(s.ctx, target); err != nil {
				t.Fatalf("SetPrice: %v", err)
			}
		case <-timer.C:
			t.Fatalf("no price update showing %s within %s", target, s.timeout)
		}
	}
}

// unlistedInterval is a candle interval no venue we know offers.
const unlistedInterval = "7m"

// subscribeKlines opens the kline stream if the adapter offers one: nil
// when SubscribeKlines answers [exchange.ErrUnsupported] (klines are an
// optional capability, needed only by grid.WithRiskKlines).
func (s *suite) subscribeKlines(t tb, ctx context.Context) <-chan exchange.Kline {
	t.Helper()
	ch, err := s.h.Exchange.SubscribeKlines(ctx, s.h.Symbol, "1m")
	if errors.Is(err, exchange.ErrUnsupported) {
		return nil
	}
	if err != nil {
		t.Fatalf("SubscribeKlines(%q, \"1m\"): %v (an adapter without klines answers ErrUnsupported)", s.h.Symbol, err)
	}
	return ch
}

func testKlines(t tb, s *suite) {
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	ch := s.subscribeKlines(t, ctx)
	if ch == nil {
		t.Skip("the adapter offers no klines (SubscribeKlines answers ErrUnsupported): grid.WithRiskKlines cannot run on it")
	}
	if _, err := s.h.Exchange.SubscribeKlines(ctx, s.h.Symbol, unlistedInterval); !errors.Is(err, exchange.ErrUnsupported) {
		t.Errorf("SubscribeKlines(%q, %q): error %v, want ErrUnsupported for an interval the venue does not offer", s.h.Symbol, unlistedInterval, err)
	}
	if s.h.SetPrice == nil {
		t.Skip("harness has no SetPrice")
	}
	target := s.level(1)
	if err := s.h.SetPrice(s.ctx, target); err != nil {
		t.Fatalf("SetPrice: %v", err)
	}
	timer := time.NewTimer(s.timeout)
	defer timer.Stop()
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	for {
		select {
		case k, ok := <-ch:
			if !ok {
				t.Fatalf("kline stream closed early")
			}
			if k.Symbol != s.h.Symbol || k.Interval != "1m" {
				t.Fatalf("kline %+v: want symbol %q, interval 1m", k, s.h.Symbol)
			}
			if !k.CloseTime.After(k.OpenTime) || k.Low.GreaterThan(decimal.Min(k.Open, k.Close)) || k.High.LessThan(decimal.Max(k.Open, k.Close)) {
				t.Errorf("malformed kline: open %s high %s low %s close %s, %s to %s", k.Open, k.High, k.Low, k.Close, k.OpenTime, k.CloseTime)
			}
			if k.Close.Equal(target) {
				return
			}
		case <-poll.C:
			if err := s.h.SetPrice(s.ctx, target); err != nil {
				t.Fatalf("SetPrice: %v", err)
			}
		case <-timer.C:
			t.Fatalf("no kline closing at %s within %s", target, s.timeout)
		}
	}
}

func testStreamsStop(t tb, s *suite) {
	ctx, cancel := context.WithCancel(s.ctx)
	prices, err := s.h.Exchange.SubscribePrices(ctx, s.h.Symbol)
	if err != nil {
		t.Fatalf("SubscribePrices: %v", err)
	}
	klines := s.subscribeKlines(t, ctx) // nil: the adapter has none
	us := s.subscribeUser(t, ctx)
	cancel()
	drainUntilClosed(t, "price", prices, s.timeout)
	if klines != nil {
		drainUntilClosed(t, "kline", klines, s.timeout)
	}
	drainUntilClosed(t, "user-data", us.ch, s.timeout)
}

func testClose(t tb, s *suite) {
	// Let goroutines from the harness's setup settle before the baseline.
	before := settledGoroutines(s.timeout / 10)
	if _, err := s.h.Exchange.SubscribePrices(s.ctx, s.h.Symbol); err != nil {
		t.Fatalf("SubscribePrices: %v", err)
	}
	s.subscribeKlines(t, s.ctx)
	// A burst of events that nobody reads: the adapter may be blocked
	// delivering them when Close comes, and Close must not wait for the
	// consumer.
	s.subscribeUser(t, s.ctx)
	s.restingBuys(t, "cl", s.h.BurstOrders)
	if s.h.SetPrice != nil {
		if err := s.h.SetPrice(s.ctx, s.level(-4)); err != nil {
			t.Fatalf("SetPrice: %v", err)
		}
	}
	// Give the adapter time to try to deliver the burst, so that a
	// delivery blocked on the consumer is under way when Close comes.
	time.Sleep(s.timeout / 20)
	closed := make(chan error, 1)
	go func() { closed <- s.h.Exchange.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(s.timeout):
		s.closeHung = true // the cleanup must not call it again
		t.Fatalf("Close did not return within %s while the order stream's consumer had stopped reading: Close must not wait for consumers", s.timeout)
	}
	deadline := time.Now().Add(s.timeout)
	n := runtime.NumGoroutine()
	for n > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	if n > before {
		var buf bytes.Buffer
		_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
		t.Errorf("%d goroutines after Close, %d before the streams opened:\n%s", n, before, buf.String())
	}
	if _, err := s.h.Exchange.OpenOrders(context.Background(), s.h.Symbol); !errors.Is(err, exchange.ErrClosed) {
		t.Errorf("OpenOrders after Close: error %v, want ErrClosed", err)
	}
	if _, err := s.h.Exchange.SubscribeUserData(context.Background()); !errors.Is(err, exchange.ErrClosed) {
		t.Errorf("SubscribeUserData after Close: error %v, want ErrClosed", err)
	}
}

// settledGoroutines returns the goroutine count once it has stopped
// falling for a while (bounded by wait×10).
func settledGoroutines(wait time.Duration) int {
	if wait <= 0 {
		wait = time.Second
	}
	n := runtime.NumGoroutine()
	for i := 0; i < 10; i++ {
		time.Sleep(wait / 10)
		m := runtime.NumGoroutine()
		if m >= n {
			return n
		}
		n = m
	}
	return n
}
