package pricefeed_test

import (
	"context"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/pricefeed"
)

// TestExchangeSourceTickRange: prices whose count of ticks would not fit
// are skipped, and a tick finer than the fast parser takes (more than 18
// places) still converts, by decimal division.
func TestExchangeSourceTickRange(t *testing.T) {
	d := decimal.RequireFromString
	tests := []struct {
		name  string
		tick  string
		price string
		want  exchange.Ticks // 0: skipped
	}{
		{"fast", "0.1", "61800.35", 618004},
		{"fast, tick above one", "10", "61805", 6181},
		{"fast, below half a tick", "0.1", "0.04", 0},
		{"fast, too many ticks", "0.1", "1e30", 0},
		{"fine tick", "1e-20", "0.000000000000000012345", 1235},
		{"fine tick, too many ticks", "1e-20", "1e10", 0},
	}
	for _, tc := range tests {
		ex := &fakeExchange{ch: make(chan exchange.PriceUpdate, 1)}
		ex.ch <- exchange.PriceUpdate{Symbol: "BTCUSDT", Price: d(tc.price), Time: t0}
		close(ex.ch)
		src, err := pricefeed.NewExchangeSource(ex, "BTCUSDT", exchange.Rules{Symbol: "BTCUSDT", TickSize: d(tc.tick)})
		if err != nil {
			t.Fatal(err)
		}
		got := drain(t, src)
		switch {
		case tc.want == 0 && (len(got) != 0 || src.Skipped() != 1):
			t.Errorf("%s: got %v, skipped %d; want the price skipped", tc.name, got, src.Skipped())
		case tc.want != 0 && (len(got) != 1 || got[0].Ticks != tc.want):
			t.Errorf("%s: got %v, want %d ticks", tc.name, got, tc.want)
		}
	}
}

// TestExchangeSourceNextAllocatesNothing: turning a venue's decimal
// price into ticks is on every live tick's path.
func TestExchangeSourceNextAllocatesNothing(t *testing.T) {
	ex := &fakeExchange{ch: make(chan exchange.PriceUpdate, 1)}
	src, err := pricefeed.NewExchangeSource(ex, "BTCUSDT", btcRules)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	bid, ask := decimal.RequireFromString("61800.2"), decimal.RequireFromString("61800.5")
	u := exchange.PriceUpdate{Symbol: "BTCUSDT", Price: decimal.RequireFromString("61800.35"), Bid: bid, Ask: ask, Time: t0}
	mid := exchange.PriceUpdate{Symbol: "BTCUSDT", Bid: bid, Ask: ask, Time: t0}
	for _, u := range []exchange.PriceUpdate{u, mid} {
		ex.ch <- u
		if p, err := src.Next(ctx); err != nil || p.Ticks != 618004 {
			t.Fatalf("Next = %v, %v; want 618004 ticks", p, err)
		}
		n := testing.AllocsPerRun(100, func() {
			ex.ch <- u
			_, _ = src.Next(ctx)
		})
		if n != 0 {
			t.Errorf("Next allocates %v times per price, want 0", n)
		}
	}
}
