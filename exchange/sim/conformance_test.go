package sim

import (
	"context"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/exchangetest"
)

// TestConformance runs the adapter conformance suite against the venue, in
// one-way and in hedge mode, and with orders filling one step per price
// move (so that an order fills in parts).
func TestConformance(t *testing.T) {
	for _, c := range []struct {
		name    string
		mode    exchange.PositionMode
		partial exchange.Steps
	}{
		{"ONE_WAY", exchange.OneWay, 0},
		{"HEDGE", exchange.Hedge, 0},
		{"ONE_WAY_PARTIAL_FILLS", exchange.OneWay, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			exchangetest.Run(t, func(t *testing.T) exchangetest.Harness {
				cfg := DefaultCoreConfig(testRules())
				cfg.InitialBalance = 1_000_000_000
				cfg.PositionMode = c.mode
				cfg.PartialFill = c.partial
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
