package backtest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/sim"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/pricefeed"
	"github.com/gridmesh/gridmesh/risk"
)

// trendRun replays a NEARUSDT file (risk/testdata) through the leveraged
// trailing long grid of TestMonitorsCutTheCrashLoss, with or without the
// default trend filter (entries canceled while it holds).
func trendRun(t *testing.T, file string, withTrend bool) Result {
	t.Helper()
	near, err := pricefeed.ReadCandlesFile("../../risk/testdata/"+file, nearRules)
	require.NoError(t, err)
	sc := sim.DefaultCoreConfig(nearRules)
	sc.InitialBalance, _ = nearRules.DecimalToMoney(dec("1000"))
	sc.Leverage = 10
	opts := []grid.Option{grid.WithMode(grid.Long), grid.WithTrailing(dec("0.01"), 30), grid.WithGeometric(), grid.WithAmount(dec("150")), grid.WithWindows(10, 10, 2)}
	if withTrend {
		opts = append(opts, grid.WithTrendFilter(risk.DefaultTrendConfig("NEARUSDT"), true))
	}
	res, err := Run(near, Config{Rules: nearRules, Sim: sc, Grid: opts})
	require.NoError(t, err)
	return res
}

// TestTrendFilterSitsOutTheCrash: on the NEARUSDT flush of 2025-02-03 the
// grid without a filter keeps buying into the fall and is liquidated at
// 02:07:30; with the default trend filter (EMA20/EMA60 of 1m closes,
// enter at a 1 % gap, leave at 0.4 %) the long entries are paused from
// 00:37 — price 3.563, before the worst of it (2.705 at 02:08) — until the
// fall fades at 03:17: no buy in between, no liquidation, and the two
// days end almost flat.
func TestTrendFilterSitsOutTheCrash(t *testing.T) {
	without := trendRun(t, "NEARUSDT-1m-2025-02-02_03.csv.gz", false)
	with := trendRun(t, "NEARUSDT-1m-2025-02-02_03.csv.gz", true)
	t.Logf("without: PnL %s, max drawdown %s, liquidated %v", without.PnL, without.MaxDrawdown, without.LiquidatedAt)
	t.Logf("with:    PnL %s, max drawdown %s, max position %s", with.PnL, with.MaxDrawdown, with.MaxPosition)
	from, to := time.Date(2025, 2, 3, 0, 37, 0, 0, time.UTC), time.Date(2025, 2, 3, 3, 17, 0, 0, time.UTC)
	buys := func(r Result) int {
		n := 0
		for _, tr := range r.Trades {
			if tr.Side == exchange.Buy && !tr.Time.Before(from) && tr.Time.Before(to) {
				n++
			}
		}
		return n
	}
	assert.Equal(t, int64(1), without.Liquidations)
	assert.Positive(t, buys(without), "the grid without a filter buys into the fall")
	assert.Zero(t, with.Liquidations)
	assert.Zero(t, buys(with), "no long entry while the down-trend holds")
	assert.True(t, with.PnL.GreaterThan(dec("-50")), "PnL %s", with.PnL)
	assert.True(t, with.MaxDrawdown.LessThan(without.MaxDrawdown))
	assert.Equal(t, "none", with.Engine.Trend, "the trend faded by the end")
	assert.Positive(t, with.TrendCandles)
	assert.Zero(t, without.TrendCandles)
}

// TestTrendFilterQuietOnCalmDays: over three calm days of NEARUSDT the
// default filter never acts: the run is the same fill for fill as
// without it.
func TestTrendFilterQuietOnCalmDays(t *testing.T) {
	without := trendRun(t, "NEARUSDT-1m-2023-09-14_16.csv.gz", false)
	with := trendRun(t, "NEARUSDT-1m-2023-09-14_16.csv.gz", true)
	require.Positive(t, without.RoundTrips)
	assert.Equal(t, without.RoundTrips, with.RoundTrips)
	assert.Equal(t, without.Fills, with.Fills)
	assert.Equal(t, without.PnL.String(), with.PnL.String())
	assert.Equal(t, "none", with.Engine.Trend)
	assert.False(t, with.Engine.BuysPaused)
	assert.Zero(t, with.TrendCandles)
}
