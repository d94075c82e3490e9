package sim

import (
	"context"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/exchangetest"
)

// TestConformance runs the adapter conformance suite against the venue, in
// one-way and in hedge mode.
func TestConformance(t *testing.T) {
	for _, mode := range []exchange.PositionMode{exchange.OneWay, exchange.Hedge} {
		t.Run(mode.String(), func(t *testing.T) {
			exchangetest.Run(t, func(t *testing.T) exchangetest.Harness {
				cfg := DefaultCoreConfig(testRules())
				cfg.InitialBalance = 1_000_000_000
				cfg.PositionMode = mode
				v, err := NewVenue(VenueConfig{Core: cfg})
				if err != nil {
					t.Fatal(err)
				}
				return exchangetest.Harness{
					Exchange: v,
					Symbol:   "BTCUSDT",
					Price:    decimal.RequireFromString("60000"),
					SetPrice: func(ctx context.Context, p decimal.Decimal) error { return v.SetPrice(ctx, p) },
				}
			})
		})
	}
}
