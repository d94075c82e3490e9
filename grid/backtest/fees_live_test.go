package backtest

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/sim"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/pricefeed"
)

// Issue 10, bug 3, live: with the venue's order stream dropping,
// duplicating and reordering updates, fills are learned from
// reconciliations and queries (without fees) and out of order (with their
// fees). Once quiet, the runner has booked exactly the fees the venue
// charged, and holds the venue's position.
func TestRunnerFeesSurviveReconciliationAndReordering(t *testing.T) {
	defer goleak.VerifyNone(t)
	v := newRecordingVenue(t, 50*time.Millisecond, func(c *sim.VenueConfig) {
		c.Faults = sim.Faults{Seed: 7, DropUpdate: 0.15, DuplicateUpdate: 0.1, ReorderUpdate: 0.2}
	})
	feed, err := pricefeed.NewFeed(btcRules.Symbol)
	require.NoError(t, err)
	defer feed.Close()
	eng, err := grid.New(btcRules, grid.WithGridID("fees"), grid.WithStartPrice(dec("100000")),
		grid.WithBounds(dec("99000"), dec("101000"), 20), grid.WithAmount(dec("500")), grid.WithWindows(3, 3, 1))
	require.NoError(t, err)
	var mu sync.Mutex
	var seen grid.Books // the books as the runner's goroutine last saw them, caught up
	missing := true
	runner, err := grid.NewRunner(eng, v, grid.WithPriceFeed(feed), grid.WithTimerInterval(20*time.Millisecond),
		grid.WithReconcileInterval(100*time.Millisecond), grid.WithCancelOnStop(false),
		grid.WithIdleHook(func(grid.IdleState) {
			mu.Lock()
			seen, missing = eng.Books(), eng.FeesMissing()
			mu.Unlock()
		}))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runner.Run(ctx) }()
	rng := rand.New(rand.NewPCG(7, 7))
	price := int64(1_000_000)
	feed.Publish(exchange.Ticks(price), time.Now())
	for range 120 {
		price = min(max(price+(rng.Int64N(5)-2)*400, 990_500), 1_009_500)
		require.NoError(t, v.SetPriceTicks(context.Background(), exchange.Ticks(price)))
		feed.Publish(exchange.Ticks(price), time.Now())
		time.Sleep(10 * time.Millisecond)
	}
	// Quiet: no more prices; reconciliations and fee recovery catch up.
	venueFees := func() exchange.Money { return v.Stats().FeesPaid }
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		mu.Lock()
		caughtUp := seen.Fees == venueFees() && !missing
		mu.Unlock()
		if caughtUp {
			break
		}
	}
	time.Sleep(300 * time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	books := eng.Books()
	pos, err := v.Positions(context.Background(), btcRules.Symbol)
	require.NoError(t, err)
	require.NotEmpty(t, pos)
	assert.Equal(t, pos[0].Quantity.String(), btcRules.StepsToQty(books.Position).String(), "the venue's position")
	assert.Positive(t, books.Fills)
	assert.Equal(t, venueFees(), books.Fees, "every fee the venue charged, once")
}
