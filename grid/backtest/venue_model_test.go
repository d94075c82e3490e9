package backtest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange/sim"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/pricefeed"
)

// TestMarginRefusedByDefault: the long grid of TestHandComputedLongGrid on
// a 250 USDT balance at leverage 1. The initial buy of 1 at 102 (fee
// 0.051) leaves 249.949 − 102 = 147.949 available; the entry at 100 needs
// 100 (47.949 left), the one at 95 needs 95: refused, as is the one at 90.
// With SkipMarginCheck all three rest.
func TestMarginRefusedByDefault(t *testing.T) {
	candles := []pricefeed.Candle{candle(t, 0, "102", "102", "102", "102")}
	sc := handSim(t)
	sc.InitialBalance, _ = handRules.DecimalToMoney(dec("250"))
	cfg := Config{Rules: handRules, Sim: sc, Slippage: &Slippage{}, Grid: []grid.Option{
		grid.WithBounds(dec("90"), dec("110"), 4), grid.WithQuantity(dec("1")),
	}}
	res, err := Run(candles, cfg)
	require.NoError(t, err)
	assert.Equal(t, 2, res.MarginRefusals)
	assert.Equal(t, 2, res.Rejections)
	cfg.SkipMarginCheck = true
	res, err = Run(candles, cfg)
	require.NoError(t, err)
	assert.Zero(t, res.MarginRefusals)
	assert.Zero(t, res.Rejections)
}

// TestSlippageOnTheInitialPosition: the initial buy of 1 at 102 slips by
// 2 ticks + 1 bp of 102 (0.0102, rounded up to a tick: 0.1), filling at
// 102.3: slippage 0.3, taker fee 102.3 × 0.05 % = 0.05115. The default is
// 1 bp: 102.1.
func TestSlippageOnTheInitialPosition(t *testing.T) {
	candles := []pricefeed.Candle{candle(t, 0, "102", "102", "102", "102")}
	grid := []grid.Option{grid.WithBounds(dec("90"), dec("110"), 4), grid.WithQuantity(dec("1"))}
	res, err := Run(candles, Config{Rules: handRules, Sim: handSim(t), Grid: grid, Slippage: &Slippage{Ticks: 2, Bps: dec("1")}})
	require.NoError(t, err)
	assert.Equal(t, "0.3", res.Slippage.String())
	assert.Equal(t, "0.05115", res.Fees.String())
	assert.Equal(t, "-0.35115", res.PnL.String(), "marked at 102: −0.3 − 0.05115")
	res, err = Run(candles, Config{Rules: handRules, Sim: handSim(t), Grid: grid})
	require.NoError(t, err)
	assert.Equal(t, "0.1", res.Slippage.String(), "the default, 1 bp")
	assert.Equal(t, "1 bp", DefaultSlippage().String())
	_, err = Run(candles, Config{Rules: handRules, Sim: handSim(t), Grid: grid, Slippage: &Slippage{Bps: dec("-1")}})
	assert.EqualError(t, err, "backtest: Slippage -1 bps: must be a non-negative number of ticks and of bps (4 decimals at most)")
}

// TestFeeTotalIsExactOnTheShippedMonth: over the shipped month the fee
// total is the exact sum of every fill's notional × rate — maker volume ×
// 0.02 % + taker volume × 0.05 % — to 1e-6 (in fact exactly), where
// rounding each fee to the 0.0001 USDT money unit drifted.
func TestFeeTotalIsExactOnTheShippedMonth(t *testing.T) {
	candles, err := pricefeed.ReadCandlesFile(shippedMonth, btcRules)
	require.NoError(t, err)
	sc := sim.DefaultCoreConfig(btcRules)
	sc.InitialBalance, _ = btcRules.DecimalToMoney(dec("10000"))
	sc.Leverage = 5
	res, err := Run(candles, Config{Rules: btcRules, Sim: sc, Grid: []grid.Option{
		grid.WithBounds(dec("90000"), dec("115000"), 50), grid.WithAmount(dec("200")),
	}})
	require.NoError(t, err)
	maker := res.Volume.Sub(res.TakerVolume)
	exact := maker.Mul(dec("0.0002")).Add(res.TakerVolume.Mul(dec("0.0005")))
	assert.True(t, res.Fees.Sub(exact).Abs().LessThan(dec("0.000001")), "fees %s, exact %s", res.Fees, exact)
	assert.Equal(t, exact.String(), res.Fees.String())
	assert.Positive(t, res.Fills)
}
