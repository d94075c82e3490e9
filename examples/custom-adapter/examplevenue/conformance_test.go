package examplevenue

import (
	"context"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange/exchangetest"
)

// testInstrument is BTCUSDT as the venue lists it.
var testInstrument = Instrument{Symbol: "BTCUSDT", TickSz: "0.1", LotSz: "0.001", MinSz: "0.001", MinNotional: "5"}

// TestConformance is the first test an adapter's author writes: the
// conformance suite every gridmesh adapter passes, run against a fresh
// venue and adapter for each check. SetPrice is the venue's market: the
// suite moves it to fill resting orders and to make post-only orders cross.
func TestConformance(t *testing.T) {
	exchangetest.Run(t, func(t *testing.T) exchangetest.Harness {
		srv, err := NewServer(ServerConfig{Instrument: testInstrument, Balance: "1000000", Leverage: 10})
		if err != nil {
			t.Fatal(err)
		}
		ad, err := New(srv, Config{})
		if err != nil {
			t.Fatal(err)
		}
		return exchangetest.Harness{
			Exchange: ad,
			Symbol:   "BTCUSDT",
			Price:    decimal.RequireFromString("60000"),
			SetPrice: func(_ context.Context, p decimal.Decimal) error { return srv.SetPrice(p.String()) },
			Cleanup:  srv.Close, // the suite closes the adapter; the venue is ours to stop
		}
	})
}
