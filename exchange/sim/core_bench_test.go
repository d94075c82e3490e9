package sim

import (
	"testing"

	"github.com/gridmesh/gridmesh/exchange"
)

// benchCore returns a core at 100000 with a grid of 30 buys below and 30
// sells above, 100 ticks apart, and an open long (so the liquidation band
// is in play).
func benchCore(b *testing.B) *Core {
	c := newTestCore(b, nil)
	place(b, c, mkt(exchange.Buy, 10))
	for i := 1; i <= 30; i++ {
		place(b, c, buy(100000-exchange.Ticks(i)*100, 1))
		place(b, c, sell(100000+exchange.Ticks(i)*100, 1))
	}
	c.Events()
	return c
}

// BenchmarkCoreTickQuiet: ticks that reach no order (the common case).
func BenchmarkCoreTickQuiet(b *testing.B) {
	c := benchCore(b)
	now := c.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		c.Tick(now, 99950+exchange.Ticks(i&63))
	}
	if len(c.Events()) != 0 {
		b.Fatal("quiet ticks filled")
	}
}

// BenchmarkCoreTickFill: every iteration is a tick down through the
// nearest buy (one maker fill), the grid's reaction (a sell one level up),
// a tick up through that sell, and the reaction (the buy again): two ticks,
// two fills, two places.
func BenchmarkCoreTickFill(b *testing.B) {
	c := benchCore(b)
	now := c.Now()
	var fills int
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		c.Tick(now, 99890)
		for _, e := range c.Events() {
			fills++
			if _, err := c.Place(now, OrderSpec{Side: exchange.Sell, Price: e.Price + 100, Qty: e.Qty}); err != nil {
				b.Fatal(err)
			}
		}
		c.Tick(now, 100010)
		for _, e := range c.Events() {
			fills++
			if _, err := c.Place(now, OrderSpec{Side: exchange.Buy, Price: e.Price - 100, Qty: e.Qty}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	if fills != 2*b.N {
		b.Fatalf("%d fills in %d iterations, want 2 each", fills, b.N)
	}
	b.ReportMetric(float64(fills)/float64(b.N), "fills/op")
}
