package binance_test

import (
	"context"
	"testing"
	"time"

	"github.com/gridmesh/gridmesh/exchange/binance"
	"github.com/gridmesh/gridmesh/exchange/binance/binancetest"
	"github.com/gridmesh/gridmesh/exchange/exchangetest"
	"github.com/shopspring/decimal"
)

// newTestClient returns a client of srv with fast stream timings.
func newTestClient(t testing.TB, srv *binancetest.Server, mod ...func(*binance.Config)) *binance.Client {
	t.Helper()
	cfg := binance.Config{
		RESTURL: srv.URL(), WSURL: srv.WSURL(),
		APIKey: binance.NewSecret(binancetest.APIKey), APISecret: binance.NewSecret(binancetest.APISecret),
		PingInterval: 200 * time.Millisecond, StaleAfter: time.Second,
		ReconnectMin: 10 * time.Millisecond, ReconnectMax: 100 * time.Millisecond, JitterSeed: 1,
	}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := binance.New(cfg)
	if err != nil {
		t.Fatalf("binance.New: %v", err)
	}
	return c
}

func TestConformance(t *testing.T) {
	for _, mode := range []struct {
		name string
		opts []binancetest.Option
	}{
		{"OneWay", nil},
		{"Hedge", []binancetest.Option{binancetest.WithHedgeMode()}},
		{"OneWayWholeFills", []binancetest.Option{binancetest.WithFillParts(1)}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			exchangetest.Run(t, func(t *testing.T) exchangetest.Harness {
				srv := binancetest.NewServer(mode.opts...)
				c := newTestClient(t, srv)
				return exchangetest.Harness{
					Exchange: c,
					Symbol:   "BTCUSDT",
					Price:    decimal.RequireFromString("60000"),
					SetPrice: func(ctx context.Context, p decimal.Decimal) error { return srv.SetPrice(ctx, "BTCUSDT", p) },
					Cleanup:  srv.Close,
				}
			})
		})
	}
}
