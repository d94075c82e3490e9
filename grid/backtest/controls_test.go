package backtest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange/sim"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/pricefeed"
	"github.com/gridmesh/gridmesh/risk"
)

// closeTrades are the trades of the grid's closing orders.
func closeTrades(res Result) []Trade {
	var out []Trade
	for _, tr := range res.Trades {
		if tr.Level == grid.CloseLevel {
			out = append(out, tr)
		}
	}
	return out
}

func nearCrash(t *testing.T, extra ...grid.Option) Result {
	t.Helper()
	near, err := pricefeed.ReadCandlesFile("../../risk/testdata/NEARUSDT-1m-2025-02-02_03.csv.gz", nearRules)
	require.NoError(t, err)
	sc := sim.DefaultCoreConfig(nearRules)
	sc.InitialBalance, _ = nearRules.DecimalToMoney(dec("1000"))
	sc.Leverage = 10
	opts := append([]grid.Option{grid.WithMode(grid.Long), grid.WithTrailing(dec("0.01"), 30), grid.WithGeometric(), grid.WithAmount(dec("150")),
		grid.WithWindows(10, 10, 2)}, extra...)
	res, err := Run(near, Config{Rules: nearRules, Sim: sc, Grid: opts})
	require.NoError(t, err)
	return res
}

// btcMonth runs the shipped BTCUSDT month with 10,000 USDT at 5× leverage
// on a grid from 90,000 to 115,000 in 50 levels of 200 USDT, plus extra.
func btcMonth(t *testing.T, extra ...grid.Option) Result {
	t.Helper()
	return btcMonthFunded(t, Funding{}, extra...)
}

// btcMonthFunded is btcMonth with funding charged as f (the shipped
// month's recorded settlements, in the tests that use it).
func btcMonthFunded(t *testing.T, f Funding, extra ...grid.Option) Result {
	t.Helper()
	candles, err := pricefeed.ReadCandlesFile(shippedMonth, btcRules)
	require.NoError(t, err)
	sc := sim.DefaultCoreConfig(btcRules)
	sc.InitialBalance, _ = btcRules.DecimalToMoney(dec("10000"))
	sc.Leverage = 5
	opts := append([]grid.Option{grid.WithBounds(dec("90000"), dec("115000"), 50), grid.WithAmount(dec("200"))}, extra...)
	res, err := Run(candles, Config{Rules: btcRules, Sim: sc, Funding: f, Grid: opts})
	require.NoError(t, err)
	return res
}

// The stop-loss on the NEARUSDT flush of 2025-02-02/03 (risk/testdata):
// the leveraged trailing long grid that is liquidated at 02:07:30 on
// Feb 3 without it (TestMonitorsCutTheCrashLoss) stops instead when its
// PnL — realized, fees and the open position at the price — reaches
// −100 USDT: on the candle of 2025-02-02 17:53 (the 1,074th), at its low
// tick (17:53:30), where the grid's 475 NEAR are sold by the limit close
// at 3.800. The run ends with that candle, flat, having lost 102.19 USDT
// of the 1,000 instead of all of it. By price (3.6) it stops on the
// 22:40 candle instead.
func TestStopLossFiresOnTheNEARCrash(t *testing.T) {
	res := nearCrash(t, grid.WithStopLoss(grid.AtPnL(dec("100"))))
	assert.Zero(t, res.Liquidations)
	assert.Equal(t, 1074, res.Candles)
	assert.Equal(t, "stop-loss: PnL -100.809 at or below −100 (PnL 100)", res.Stopped)
	assert.Equal(t, grid.TerminalStopLoss, res.Engine.Terminal)
	assert.Equal(t, "2025-02-02T17:53:45Z", utc(res.StoppedAt))
	assert.Equal(t, "2025-02-02T17:53:45Z", utc(res.End))
	cl := closeTrades(res)
	require.Len(t, cl, 1)
	assert.Equal(t, "2025-02-02T17:53:30Z", utc(cl[0].Time))
	assert.Equal(t, "SELL 475 @ 3.8", cl[0].Side.String()+" "+cl[0].Qty.String()+" @ "+cl[0].Price.String())
	assert.True(t, res.Position.IsZero())
	assert.Zero(t, res.Engine.OpenOrders)
	assert.Equal(t, "-102.1868048", res.PnL.String())

	byPrice := nearCrash(t, grid.WithStopLoss(grid.AtPrice(dec("3.6"))))
	assert.Equal(t, 1361, byPrice.Candles)
	assert.Equal(t, "stop-loss: price 3.568 at or below 3.6", byPrice.Stopped)
	cl = closeTrades(byPrice)
	require.Len(t, cl, 1)
	assert.Equal(t, "2025-02-02T22:40:30Z", utc(cl[0].Time))
	assert.Equal(t, "SELL 716 @ 3.567", cl[0].Side.String()+" "+cl[0].Qty.String()+" @ "+cl[0].Price.String())
	assert.Equal(t, "-222.9016556", byPrice.PnL.String())
}

// The take-profit ends the backtest of the shipped BTCUSDT month (a
// bounded long grid 90,000–115,000, 50 intervals, 200 USDT an order) when
// the PnL reaches 100 USDT: on the candle of 2025-05-07 01:03 (the
// 3,451st), at its 01:03:30 tick, where the 0.041 BTC the grid holds are
// sold at 97,584.6. Without it the grid runs the whole month (43,199
// candles).
func TestTakeProfitEndsTheShippedMonth(t *testing.T) {
	res := btcMonth(t, grid.WithTakeProfit(grid.AtPnL(dec("100"))))
	assert.Equal(t, 3451, res.Candles)
	assert.Equal(t, "take-profit: PnL 103.8218 at or above 100 (PnL 100)", res.Stopped)
	assert.Equal(t, grid.TerminalTakeProfit, res.Engine.Terminal)
	assert.Equal(t, "2025-05-07T01:03:45Z", utc(res.StoppedAt))
	cl := closeTrades(res)
	require.Len(t, cl, 1)
	assert.Equal(t, "2025-05-07T01:03:30Z", utc(cl[0].Time))
	assert.Equal(t, "SELL 0.041 @ 97584.6", cl[0].Side.String()+" "+cl[0].Qty.String()+" @ "+cl[0].Price.String())
	assert.True(t, res.Position.IsZero())
	assert.Equal(t, "101.4195132", res.PnL.String())
}

// The time limit (7 days, closing the position) ends the shipped month's
// backtest at 2025-05-11 15:33:00, 168 h after the grid started at the
// first candle's open tick (2025-05-04 15:33:00): the 10,081st candle,
// where the 0.021 BTC held are sold at 104,274.3.
func TestTimeLimitEndsTheShippedMonth(t *testing.T) {
	res := btcMonth(t, grid.WithTimeLimit(7*24*time.Hour, true))
	assert.Equal(t, 10081, res.Candles)
	assert.Equal(t, "time limit: 168h0m0s since the start at 2025-05-04T15:33:00Z", res.Stopped)
	assert.Equal(t, grid.TerminalTimeLimit, res.Engine.Terminal)
	cl := closeTrades(res)
	require.Len(t, cl, 1)
	assert.Equal(t, "2025-05-11T15:33:00Z", utc(cl[0].Time))
	assert.Equal(t, "SELL 0.021 @ 104274.3", cl[0].Side.String()+" "+cl[0].Qty.String()+" @ "+cl[0].Price.String())
	assert.True(t, res.Position.IsZero())
	assert.Equal(t, "318.88471735", res.PnL.String())
}

// The start trigger (price ≥ 100,000) keeps the grid idle through the
// month's first days: its first trade, the initial position bought at
// 100,510.1, is at 2025-05-08 15:21:15, the tick at which the price first
// reached the trigger; nothing trades before it.
func TestStartTriggerDelaysTheShippedMonth(t *testing.T) {
	res := btcMonth(t, grid.WithStartTrigger(grid.TriggerAbove(dec("100000"))))
	require.NotEmpty(t, res.Trades)
	first := res.Trades[0]
	assert.Equal(t, "2025-05-08T15:21:15Z", utc(first.Time))
	assert.Equal(t, grid.InitialLevel, first.Level)
	assert.Equal(t, "BUY 0.029 @ 100510.1", first.Side.String()+" "+first.Qty.String()+" @ "+first.Price.String())
	assert.Empty(t, res.Engine.Waiting)
	assert.Equal(t, 43199, res.Candles)
	idle := btcMonth(t, grid.WithStartTrigger(grid.TriggerAbove(dec("120000"))))
	assert.Empty(t, idle.Trades, "a trigger the month never reaches: the grid never trades")
	assert.Equal(t, "waiting for the start trigger: price ≥ 120000", idle.Engine.Waiting)
	assert.True(t, idle.PnL.IsZero())
}

// The engine's PnL, which take-profit and stop-loss by PnL compare, is net
// of the funding the backtest charges: every settlement is booked in the
// engine as the venue books it.
func TestFundingIsBookedInTheEngine(t *testing.T) {
	ss, err := ReadFundingFile(shippedFunding)
	require.NoError(t, err)
	res := btcMonthFunded(t, Funding{Settlements: ss})
	require.True(t, res.Funding.IsPositive())
	assert.Equal(t, res.Funding.Round(4).String(), res.Engine.Funding.Round(4).String())
	assert.Equal(t, res.Engine.NetRealized.Sub(res.Engine.Funding).Add(res.Engine.Unrealized).String(), res.Engine.PnL.String())
}

// At the trigger the backtest runs the pre-start checks against the
// simulated account as it is then: a check the account fails keeps the
// grid idle with the reason.
func TestStartTriggerChecksTheAccountInTheBacktest(t *testing.T) {
	need := func(amount string) risk.Check {
		return risk.CheckFunc{Label: "funds", Fn: func(in risk.CheckInput) error {
			if in.Account.AvailableBalance.LessThan(dec(amount)) {
				return fmt.Errorf("available %s is below %s", in.Account.AvailableBalance, amount)
			}
			return nil
		}}
	}
	plan := risk.Plan{Leverage: 5, MaintenanceRate: dec("0.004")}
	ok := btcMonth(t, grid.WithStartTrigger(grid.TriggerAbove(dec("100000"))), grid.WithRiskChecks(plan, need("5000")))
	require.NotEmpty(t, ok.Trades)
	assert.Equal(t, "2025-05-08T15:21:15Z", utc(ok.Trades[0].Time))
	poor := btcMonth(t, grid.WithStartTrigger(grid.TriggerAbove(dec("100000"))), grid.WithRiskChecks(plan, need("20000")))
	assert.Empty(t, poor.Trades)
	assert.Contains(t, poor.Engine.Waiting, "the start trigger fired but the pre-start checks failed")
	assert.Contains(t, poor.Engine.Waiting, "available 10000 is below 20000")
}
