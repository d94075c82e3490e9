package backtest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange/sim"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/pricefeed"
)

func TestZZExplore(t *testing.T) {
	near, err := pricefeed.ReadCandlesFile("../../risk/testdata/NEARUSDT-1m-2025-02-02_03.csv.gz", nearRules)
	require.NoError(t, err)
	sc := sim.DefaultCoreConfig(nearRules)
	sc.InitialBalance, _ = nearRules.DecimalToMoney(dec("1000"))
	sc.Leverage = 10
	for _, sl := range []grid.Target{grid.AtPnL(dec("100")), grid.AtPnLFraction(dec("0.05")), grid.AtPrice(dec("3.6"))} {
		opts := []grid.Option{grid.WithMode(grid.Long), grid.WithTrailing(dec("0.01"), 30), grid.WithGeometric(), grid.WithAmount(dec("150")), grid.WithWindows(10, 10, 2), grid.WithStopLoss(sl)}
		res, err := Run(near, Config{Rules: nearRules, Sim: sc, Grid: opts})
		require.NoError(t, err)
		t.Logf("SL %s: candles %d stopped %q at %v PnL %s end %v eng %+v liq %v", sl, res.Candles, res.Stopped, res.StoppedAt, res.PnL, res.End, res.Engine.Terminal, res.LiquidatedAt)
	}
	btc, err := pricefeed.ReadCandlesFile(shippedMonth, btcRules)
	require.NoError(t, err)
	bc := sim.DefaultCoreConfig(btcRules)
	bc.InitialBalance, _ = btcRules.DecimalToMoney(dec("10000"))
	bc.Leverage = 5
	base := []grid.Option{grid.WithBounds(dec("90000"), dec("115000"), 50), grid.WithAmount(dec("200"))}
	for name, extra := range map[string][]grid.Option{
		"tp":      {grid.WithTakeProfit(grid.AtPnL(dec("100")))},
		"tpfrac":  {grid.WithTakeProfit(grid.AtPnLFraction(dec("0.01")))},
		"tl":      {grid.WithTimeLimit(7 * 24 * time.Hour, true)},
		"trigger": {grid.WithStartTrigger(grid.TriggerAbove(dec("100000")))},
		"none":    {},
	} {
		res, err := Run(btc, Config{Rules: btcRules, Sim: bc, Grid: append(append([]grid.Option{}, base...), extra...)})
		require.NoError(t, err)
		t.Logf("%s: candles %d open %s stopped %q at %v PnL %s end %v RT %d inv? fills %d", name, res.Candles, res.OpenPrice, res.Stopped, res.StoppedAt, res.PnL, res.End, res.RoundTrips, res.Fills)
		if len(res.Trades) > 0 {
			t.Logf("  first trade %+v", res.Trades[0])
		}
	}
}
