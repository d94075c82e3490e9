package backtest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/pricefeed"
	"github.com/gridmesh/gridmesh/risk"
)

// The runner keeps a grid with a start trigger idle, and when it fires
// reads the account and positions again and runs the pre-start checks
// against them (IntentCheckStart) before anything is placed.
func TestRunnerRunsTheChecksAgainAtTheTrigger(t *testing.T) {
	defer goleak.VerifyNone(t)
	v := newRecordingVenue(t, 50*time.Millisecond, nil)
	feed, err := pricefeed.NewFeed(btcRules.Symbol)
	require.NoError(t, err)
	defer feed.Close()
	var calls atomic.Int32
	check := risk.CheckFunc{Label: "counted", Fn: func(in risk.CheckInput) error {
		calls.Add(1)
		return nil
	}}
	eng, err := grid.New(btcRules, grid.WithStartPrice(dec("100000")), grid.WithBounds(dec("90000"), dec("110000"), 20),
		grid.WithAmount(dec("500")), grid.WithInitialPosition(false), grid.WithStartTrigger(grid.TriggerBelow(dec("99000"))),
		grid.WithRiskChecks(risk.Plan{Leverage: 1, MaintenanceRate: dec("0.004")}, check))
	require.NoError(t, err)
	runner, err := grid.NewRunner(eng, v, grid.WithPriceFeed(feed))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runner.Run(ctx) }()
	now := time.Now()
	feed.Publish(1_000_000, now)
	require.Eventually(t, func() bool { return calls.Load() == 1 }, 5*time.Second, 5*time.Millisecond, "the checks at start")
	feed.Publish(999_000, now.Add(time.Second))
	time.Sleep(100 * time.Millisecond)
	open, err := v.OpenOrders(context.Background(), btcRules.Symbol)
	require.NoError(t, err)
	assert.Empty(t, open, "idle until the trigger")
	require.NoError(t, v.SetPrice(context.Background(), dec("98900")))
	feed.Publish(989_000, now.Add(2*time.Second))
	require.Eventually(t, func() bool {
		open, err := v.OpenOrders(context.Background(), btcRules.Symbol)
		return err == nil && len(open) > 0
	}, 5*time.Second, 5*time.Millisecond, "the grid starts at the trigger")
	assert.Equal(t, int32(2), calls.Load(), "the checks ran again at the trigger")
	open, err = v.OpenOrders(context.Background(), btcRules.Symbol)
	require.NoError(t, err)
	for _, o := range open {
		assert.Equal(t, exchange.Buy, o.Side)
	}
	cancel()
	require.NoError(t, <-done)
}
