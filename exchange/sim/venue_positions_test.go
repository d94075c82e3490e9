package sim

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
)

// AllPositions answers what Positions answers for the venue's one symbol,
// and fails like it once the venue is closed.
func TestVenueAllPositions(t *testing.T) {
	v := newTestVenue(t, func(c *VenueConfig) { c.Core.PositionMode = exchange.Hedge })
	ctx := t.Context()
	require.NoError(t, v.SetPrice(ctx, d("10000")))
	_, err := v.PlaceOrder(ctx, exchange.OrderRequest{Symbol: "BTCUSDT", ClientOrderID: "l", Side: exchange.Buy,
		PositionSide: exchange.PositionLong, Type: exchange.Market, Quantity: d("0.03")})
	require.NoError(t, err)
	all, err := v.AllPositions(ctx)
	require.NoError(t, err)
	one, err := v.Positions(ctx, "BTCUSDT")
	require.NoError(t, err)
	assert.Equal(t, one, all)
	require.NotEmpty(t, all)
	assert.Equal(t, "BTCUSDT", all[0].Symbol)
	assert.Equal(t, "0.03", all[0].Quantity.String())

	require.NoError(t, v.Close())
	_, err = v.AllPositions(ctx)
	assert.ErrorIs(t, err, exchange.ErrClosed)
}
