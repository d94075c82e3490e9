package exchange

import (
	"context"
	"testing"
	"time"
)

// quietExchange answers every place at once without recording it.
type quietExchange struct{ *scriptedExchange }

func (quietExchange) PlaceOrder(_ context.Context, req OrderRequest) (Order, error) {
	return Order{Symbol: req.Symbol, ClientOrderID: req.ClientOrderID, Status: StatusNew}, nil
}

// BenchmarkExecutorPlace measures the executor's own cost per order on the
// path with no wait: limiter, deadline context, counters.
func BenchmarkExecutorPlace(b *testing.B) {
	e, err := NewExecutor(quietExchange{newScripted(executorWallClock{})},
		WithRateLimits(RateLimit{Scope: ScopeOrder, Interval: time.Nanosecond, Limit: 1 << 30}))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	req := execOrder("bench")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Place(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExecutorPlaceParallel is BenchmarkExecutorPlace from several
// goroutines sharing one executor, as several grids do.
func BenchmarkExecutorPlaceParallel(b *testing.B) {
	e, err := NewExecutor(quietExchange{newScripted(executorWallClock{})},
		WithRateLimits(RateLimit{Scope: ScopeOrder, Interval: time.Nanosecond, Limit: 1 << 30}))
	if err != nil {
		b.Fatal(err)
	}
	req := execOrder("bench")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if _, err := e.Place(ctx, req); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkLimiterTake measures one admission through the Binance windows
// (two order windows and one request window).
func BenchmarkLimiterTake(b *testing.B) {
	s := newLegacyLimiter([]RateLimit{
		{Scope: ScopeOrder, Interval: 10 * time.Second, Limit: 300},
		{Scope: ScopeOrder, Interval: time.Minute, Limit: 1200},
		{Scope: ScopeRequest, Interval: time.Minute, Limit: 2400},
	}, legacyParams{maxOrders: 5, maxWeight: 5, maxQueryWeight: 5, queryShare: 50})
	t := execEpoch
	b.ReportAllocs()
	for b.Loop() {
		t = t.Add(time.Second) // always room: 1 per second
		if _, ok := s.take(t, budgetOrder, 1, 1); !ok {
			b.Fatal("refused")
		}
	}
}
