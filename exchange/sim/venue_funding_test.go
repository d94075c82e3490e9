package sim

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
)

// TestVenueFundingHistory: every settlement ApplyFunding charges joins the
// venue's funding history, with its time on the venue's clock, its rate
// and its mark (finer than the tick too), whether a position paid or not;
// since is inclusive; a refused settlement is not recorded.
func TestVenueFundingHistory(t *testing.T) {
	base := time.UnixMilli(time.Date(2025, 5, 4, 0, 0, 0, 0, time.UTC).UnixMilli()) // as the clock gives it
	var clock atomic.Int64
	clock.Store(base.UnixMilli())
	v := newTestVenue(t, func(c *VenueConfig) { c.Clock = func() time.Time { return time.UnixMilli(clock.Load()) } })
	ctx := t.Context()
	got, err := v.FundingHistory(ctx, "BTCUSDT", time.Time{})
	require.NoError(t, err)
	assert.Empty(t, got)

	require.NoError(t, v.SetPrice(ctx, d("10000")))
	require.NoError(t, v.ApplyFunding(ctx, d("0.0001"), d("10000"))) // flat: nothing paid, still settled
	_, err = v.PlaceOrder(ctx, exchange.OrderRequest{Symbol: "BTCUSDT", ClientOrderID: "L", Side: exchange.Buy, Type: exchange.Market, Quantity: d("0.1")})
	require.NoError(t, err)
	clock.Store(base.Add(8 * time.Hour).UnixMilli())
	require.NoError(t, v.ApplyFunding(ctx, d("-0.0002"), d("10000.05")))
	require.Error(t, v.ApplyFunding(ctx, d("0.000000001"), d("10000")))
	require.Error(t, v.ApplyFunding(ctx, d("0.0001"), d("0")))

	got, err = v.FundingHistory(ctx, "BTCUSDT", time.Time{})
	require.NoError(t, err)
	assert.Equal(t, []exchange.FundingSettlement{
		{Symbol: "BTCUSDT", Time: base, Rate: d("0.0001"), MarkPrice: d("10000")},
		{Symbol: "BTCUSDT", Time: base.Add(8 * time.Hour), Rate: d("-0.0002"), MarkPrice: d("10000.05")},
	}, got)
	// The long 0.1 received 0.1 × 10000.05 × 0.0002 = 0.200001 USDT: the
	// history's payment is what the venue charged.
	assert.Equal(t, "-0.200001", got[1].Payment(d("0.1")).String())
	assert.Equal(t, exchange.Money(-2000), v.Stats().Funding, "-0.200001 USDT in 0.0001 units, rounded")

	got, err = v.FundingHistory(ctx, "BTCUSDT", base.Add(time.Millisecond))
	require.NoError(t, err)
	require.Len(t, got, 1)
	_, err = v.FundingHistory(ctx, "ETHUSDT", base)
	assert.ErrorIs(t, err, ErrUnknownSymbol)
}
