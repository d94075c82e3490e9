package binance_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/binance"
	"github.com/gridmesh/gridmesh/exchange/binance/binancetest"
)

// TestFundingHistory: the adapter reads the settlements the local server
// charged (GET /fapi/v1/fundingRate), from since on, with their rates and
// mark prices, oldest first, paging past the 1000 of one answer.
func TestFundingHistory(t *testing.T) {
	ctx := context.Background()
	base := time.Date(2025, 5, 4, 0, 0, 0, 1_000_000, time.UTC) // Binance stamps a ms after the boundary
	var clock atomic.Int64
	clock.Store(base.UnixMilli())
	srv := binancetest.NewServer(binancetest.WithClock(func() time.Time { return time.UnixMilli(clock.Load()) }))
	defer srv.Close()
	c := newTestClient(t, srv)
	defer c.Close()

	got, err := c.FundingHistory(ctx, "BTCUSDT", base)
	require.NoError(t, err)
	assert.Empty(t, got, "nothing settled yet")

	rates := []string{"0.0001", "-0.00002", "0.0003"}
	prices := []string{"60000", "61000.5", "59000.1"}
	for i := range rates {
		clock.Store(base.Add(time.Duration(i) * 8 * time.Hour).UnixMilli())
		require.NoError(t, srv.SetPrice(ctx, "BTCUSDT", decimal.RequireFromString(prices[i])))
		require.NoError(t, srv.SettleFunding(ctx, "BTCUSDT", decimal.RequireFromString(rates[i])))
	}
	got, err = c.FundingHistory(ctx, "BTCUSDT", base)
	require.NoError(t, err)
	require.Len(t, got, 3)
	for i, s := range got {
		assert.Equal(t, "BTCUSDT", s.Symbol)
		assert.True(t, s.Time.Equal(base.Add(time.Duration(i)*8*time.Hour)), "settlement %d at %s", i, s.Time)
		assert.Equal(t, rates[i], s.Rate.String())
		assert.Equal(t, prices[i], s.MarkPrice.String())
	}
	// since is inclusive; later settlements only
	got, err = c.FundingHistory(ctx, "BTCUSDT", base.Add(8*time.Hour))
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, "-0.00002", got[0].Rate.String())
	// a long of 0.5 BTC pays 0.5 × 59000.1 × 0.0003 at the last one
	assert.Equal(t, "8.850015", got[1].Payment(decimal.RequireFromString("0.5")).String())

	// More than one page: 2,500 hourly settlements come back whole, in order.
	for i := range 2500 {
		clock.Store(base.Add(24*time.Hour + time.Duration(i)*time.Hour).UnixMilli())
		require.NoError(t, srv.SettleFunding(ctx, "BTCUSDT", decimal.New(int64(i), -8)))
	}
	got, err = c.FundingHistory(ctx, "BTCUSDT", base.Add(24*time.Hour))
	require.NoError(t, err)
	require.Len(t, got, 2500)
	for i, s := range got {
		require.Equal(t, decimal.New(int64(i), -8).String(), s.Rate.String(), "settlement %d", i)
	}
	_, err = c.FundingHistory(ctx, "", base)
	assert.ErrorContains(t, err, "symbol is empty")
}

// The adapter has the capability the runner looks for (grid.FundingHistory).
var _ interface {
	FundingHistory(context.Context, string, time.Time) ([]exchange.FundingSettlement, error)
} = (*binance.Client)(nil)
