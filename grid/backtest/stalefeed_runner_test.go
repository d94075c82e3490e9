package backtest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/pricefeed"
	"github.com/gridmesh/gridmesh/risk"
)

// Issue 10, bug 2, through the runner: a flat market repeats one price.
// The feed delivers no change, but the runner reports its liveness on the
// timer, so the stale-feed monitor stays quiet; when the feed goes silent,
// it pauses entries.
func TestRunnerStaleFeedTellsQuietFromDead(t *testing.T) {
	defer goleak.VerifyNone(t)
	v := newRecordingVenue(t, 50*time.Millisecond, nil)
	feed, err := pricefeed.NewMonitor(btcRules.Symbol)
	require.NoError(t, err)
	defer feed.Close()
	m, err := risk.NewStaleFeed(risk.StaleFeedConfig{Name: "stale", Symbol: btcRules.Symbol, MaxAge: 600 * time.Millisecond, ClearPrices: 1})
	require.NoError(t, err)
	eng, err := grid.New(btcRules, grid.WithStartPrice(dec("100000")), grid.WithBounds(dec("90000"), dec("110000"), 20),
		grid.WithAmount(dec("500")), grid.WithInitialPosition(false), grid.WithRiskMonitors(0, m))
	require.NoError(t, err)
	paused := make(chan bool, 1)
	runner, err := grid.NewRunner(eng, v, grid.WithPriceFeed(feed), grid.WithTimerInterval(50*time.Millisecond),
		grid.WithIdleHook(func(grid.IdleState) {
			select {
			case <-paused:
			default:
			}
			paused <- eng.Stats().Paused
		}))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runner.Run(ctx) }()
	latest := func() bool {
		time.Sleep(60 * time.Millisecond)
		return <-paused
	}
	// Two seconds of one unchanged price, every 200 ms: quiet but live.
	for range 10 {
		feed.Publish(1_000_000, time.Now())
		time.Sleep(200 * time.Millisecond)
	}
	assert.False(t, latest(), "a quiet but live feed does not pause entries")
	// Silence: past MaxAge the monitor pauses entries.
	time.Sleep(time.Second)
	assert.True(t, latest(), "a silent feed pauses entries")
	cancel()
	require.NoError(t, <-done)
}
