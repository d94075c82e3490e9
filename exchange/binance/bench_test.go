package binance_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/binance/binancetest"
	"github.com/shopspring/decimal"
)

// BenchmarkTickToOrder measures the adapter's share of the live path on
// loopback: a bookTicker pushed by the local server is decoded and
// delivered on the price channel, and an order is signed, posted and
// answered (IOC below the market, so nothing accumulates). It reports the
// median and 99th percentile of price received → order answered, which
// bounds price received → order request written from above.
func BenchmarkTickToOrder(b *testing.B) {
	srv := binancetest.NewServer(binancetest.WithOrderLimits(1<<30, 1<<30), binancetest.WithWeightLimit(1<<30))
	defer srv.Close()
	c := newTestClient(b, srv)
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	prices, err := c.SubscribePrices(ctx, "BTCUSDT")
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.WaitConns(ctx, "public", 1); err != nil {
		b.Fatal(err)
	}
	if _, err := c.Rules(ctx, "BTCUSDT"); err != nil {
		b.Fatal(err)
	}
	if err := c.SyncTime(ctx); err != nil {
		b.Fatal(err)
	}
	levels := []decimal.Decimal{decimal.RequireFromString("60000"), decimal.RequireFromString("60000.1")}
	qty := decimal.RequireFromString("0.002")
	price := decimal.RequireFromString("50000")
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := srv.SetPrice(ctx, "BTCUSDT", levels[i%2]); err != nil {
			b.Fatal(err)
		}
		<-prices
		t0 := time.Now()
		_, err := c.PlaceOrder(ctx, exchange.OrderRequest{Symbol: "BTCUSDT", ClientOrderID: "bench-" + strconv.Itoa(i), Side: exchange.Buy,
			TimeInForce: exchange.IOC, Price: price, Quantity: qty})
		lat = append(lat, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	}
}
