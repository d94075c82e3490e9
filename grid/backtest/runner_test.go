package backtest

import (
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gridmesh/gridmesh/exchange/sim"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/pricefeed"
)

// TestRunnerAgreesWithBacktest runs the same grid over the same real candles
// twice: through the backtest's direct calls, and live through grid.Runner
// against the simulated venue (its order stream, its REST-like calls,
// batching, worker goroutines), stepped in lockstep. The books must agree
// exactly.
func TestRunnerAgreesWithBacktest(t *testing.T) {
	defer goleak.VerifyNone(t)
	candles, err := pricefeed.ReadCandlesFile(shippedMonth, btcRules)
	require.NoError(t, err)
	candles = candles[:600]
	start := btcRules.TicksToPrice(candles[0].Open)
	opts := []grid.Option{
		grid.WithGridID("agree"), grid.WithStartPrice(start),
		grid.WithBounds(dec("94500"), dec("96500"), 80), grid.WithAmount(dec("500")), grid.WithWindows(5, 5, 1),
	}
	sc := sim.DefaultCoreConfig(btcRules)
	sc.InitialBalance, _ = btcRules.DecimalToMoney(dec("100000"))
	sc.Leverage = 5
	// the venue model the backtest uses by default: margin checked, 1 bp of slippage
	sc.CheckMargin, sc.SlippageRate = true, 10_000

	want, err := Run(candles, Config{Rules: btcRules, Sim: sc, Grid: opts})
	require.NoError(t, err)
	require.Positive(t, want.RoundTrips)

	venue, err := sim.NewVenue(sim.VenueConfig{Core: sc})
	require.NoError(t, err)
	eng, err := grid.New(btcRules, opts...)
	require.NoError(t, err)
	var clock atomic.Int64
	ls := startLockstep(t, venue, venue, eng, &clock)
	ls.begin(candles[0])
	for _, c := range candles {
		ls.candle(c)
	}
	ls.stop()

	got := eng.Books()
	assert.Equal(t, want.RoundTrips, got.RoundTrips, "round trips")
	assert.Equal(t, want.Realized.String(), btcRules.MoneyToDecimal(got.Realized).String(), "realized")
	// the engine books fees in whole Money units (0.0001 USDT): the exact total, rounded
	assert.Equal(t, want.Fees.Round(4).String(), btcRules.MoneyToDecimal(got.Fees).String(), "fees")
	assert.Equal(t, want.Position.String(), btcRules.StepsToQty(got.Position).String(), "position")
	assert.Equal(t, want.Fills, venue.Stats().Fills, "venue fills")
	require.NoError(t, eng.CheckInvariants())
}
