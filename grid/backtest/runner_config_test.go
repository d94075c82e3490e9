package backtest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/pricefeed"
)

// Issue 10: a grid whose position mode differs from the account's is
// refused at start, naming both, instead of logging the venue's refusal
// of every order forever.
func TestRunnerRefusesAPositionModeMismatch(t *testing.T) {
	defer goleak.VerifyNone(t)
	v := newRecordingVenue(t, 50*time.Millisecond, nil)
	feed, err := pricefeed.NewFeed(btcRules.Symbol)
	require.NoError(t, err)
	defer feed.Close()
	eng, err := grid.New(btcRules, grid.WithStartPrice(dec("100000")), grid.WithBounds(dec("90000"), dec("110000"), 20),
		grid.WithAmount(dec("500")), grid.WithMode(grid.Neutral), grid.WithPositionMode(exchange.Hedge))
	require.NoError(t, err)
	runner, err := grid.NewRunner(eng, v, grid.WithPriceFeed(feed))
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- runner.Run(context.Background()) }()
	feed.Publish(1_000_000, time.Now())
	err = <-done
	require.ErrorIs(t, err, grid.ErrPositionModeMismatch)
	assert.Contains(t, err.Error(), "the grid is set for HEDGE (grid.WithPositionMode) but the sim account is in ONE_WAY mode")
	open, _ := v.OpenOrders(context.Background(), btcRules.Symbol)
	assert.Empty(t, open, "nothing placed")
}
