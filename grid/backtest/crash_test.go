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

var nearRules = exchange.Rules{Symbol: "NEARUSDT", TickSize: dec("0.001"), StepSize: dec("1"), MinQty: dec("1"), MinNotional: dec("5")}
var avaxRules = exchange.Rules{Symbol: "AVAXUSDT", TickSize: dec("0.001"), StepSize: dec("1"), MinQty: dec("1"), MinNotional: dec("5")}

// TestMonitorsCutTheCrashLoss replays the NEARUSDT flush of 2025-02-02/03
// (4.25 → 2.705, −36 %; shipped in risk/testdata) through a leveraged
// trailing long grid twice: without risk monitors the grid keeps buying
// into the fall and is liquidated; with the price-band circuit breaker
// (5 % in 15 minutes, entries canceled while it holds, 30-minute cool-down)
// it stops buying during the fastest legs, survives and loses far less.
// The AVAXUSDT candles of the same days ride along as the basket.
//
// Cross margin, as the venue books it: liquidated at 2.736, the close
// left 80.49 USDT below the bankruptcy price, which the insurance fund
// covered, so the 1,000 USDT balance ends at exactly 0, never below.
func TestMonitorsCutTheCrashLoss(t *testing.T) {
	near, err := pricefeed.ReadCandlesFile("../../risk/testdata/NEARUSDT-1m-2025-02-02_03.csv.gz", nearRules)
	require.NoError(t, err)
	avax, err := pricefeed.ReadCandlesFile("../../risk/testdata/AVAXUSDT-1m-2025-02-02_03.csv.gz", avaxRules)
	require.NoError(t, err)
	run := func(withMonitors bool) Result {
		sc := sim.DefaultCoreConfig(nearRules)
		sc.InitialBalance, _ = nearRules.DecimalToMoney(dec("1000"))
		sc.Leverage = 10
		opts := []grid.Option{grid.WithMode(grid.Long), grid.WithTrailing(dec("0.01"), 30), grid.WithGeometric(), grid.WithAmount(dec("150")), grid.WithWindows(10, 10, 2)}
		cfg := Config{Rules: nearRules, Sim: sc, Basket: map[string][]pricefeed.Candle{"AVAXUSDT": avax}, BasketRules: map[string]exchange.Rules{"AVAXUSDT": avaxRules}}
		if withMonitors {
			band, err := risk.NewPriceBand(risk.DefaultPriceBandConfig("NEARUSDT"))
			require.NoError(t, err)
			opts = append(opts, grid.WithRiskMonitors(30*time.Minute, band), grid.WithPauseCancelsEntries(true))
		}
		cfg.Grid = opts
		res, err := Run(near, cfg)
		require.NoError(t, err)
		return res
	}
	without, with := run(false), run(true)
	t.Logf("without monitors: PnL %s, max drawdown %s, liquidated %v", without.PnL, without.MaxDrawdown, without.LiquidatedAt)
	t.Logf("with monitors:    PnL %s, max drawdown %s, %d candles paused", with.PnL, with.MaxDrawdown, with.PausedCandles)
	assert.Equal(t, int64(1), without.Liquidations)
	assert.Equal(t, "2025-02-03T02:07:30Z", without.LiquidatedAt.UTC().Format(time.RFC3339))
	assert.Equal(t, "-1000", without.PnL.String())
	assert.True(t, without.FinalEquity.IsZero())
	assert.Equal(t, "-80.49", without.Insurance.String())
	require.Len(t, without.Liquidated, 1)
	assert.Equal(t, Liquidation{Time: without.LiquidatedAt, Price: dec("2.736"), PositionSide: exchange.PositionBoth, Qty: dec("-1207"), Margin: dec("420.627")}, without.Liquidated[0])
	assert.Equal(t, 26, without.MarginRefusals, "the venue refused the entries the account could not margin")
	assert.Zero(t, with.Liquidations)
	assert.Equal(t, "-39.247414", with.PnL.String())
	assert.Equal(t, 258, with.PausedCandles)
	assert.True(t, with.MaxDrawdown.LessThan(without.MaxDrawdown))
}

// TestIsolatedCrashLosesThePositionMargin replays the same crash in
// isolated margin: the position's 10× margin (408.112 USDT) runs out
// sooner than the whole wallet would, at 3.115 at 01:54:30, and the
// account keeps the rest of its balance.
func TestIsolatedCrashLosesThePositionMargin(t *testing.T) {
	near, err := pricefeed.ReadCandlesFile("../../risk/testdata/NEARUSDT-1m-2025-02-02_03.csv.gz", nearRules)
	require.NoError(t, err)
	sc := sim.DefaultCoreConfig(nearRules)
	sc.InitialBalance, _ = nearRules.DecimalToMoney(dec("1000"))
	sc.Leverage = 10
	sc.MarginMode = exchange.Isolated
	res, err := Run(near, Config{Rules: nearRules, Sim: sc, Grid: []grid.Option{grid.WithMode(grid.Long),
		grid.WithTrailing(dec("0.01"), 30), grid.WithGeometric(), grid.WithAmount(dec("150")), grid.WithWindows(10, 10, 2)}})
	require.NoError(t, err)
	require.Len(t, res.Liquidated, 1)
	assert.Equal(t, Liquidation{Time: res.LiquidatedAt, Price: dec("3.115"), PositionSide: exchange.PositionBoth, Qty: dec("-1155"), Margin: dec("408.112")}, res.Liquidated[0])
	assert.Equal(t, "2025-02-03T01:54:30Z", res.LiquidatedAt.UTC().Format(time.RFC3339))
	assert.Equal(t, "438.9148242", res.FinalEquity.String())
	assert.Equal(t, "-76.844", res.Insurance.String())
}
