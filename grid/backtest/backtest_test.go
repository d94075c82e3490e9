package backtest

import (
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/sim"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/pricefeed"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

var handRules = exchange.Rules{
	Symbol: "TESTUSDT", TickSize: dec("0.1"), StepSize: dec("0.001"),
	MinQty: dec("0.001"), MinNotional: dec("5"),
}

// candle builds a 1-minute candle from decimal prices.
func candle(t *testing.T, minute int64, o, h, l, c string) pricefeed.Candle {
	t.Helper()
	tick := func(s string) exchange.Ticks {
		v, err := handRules.PriceToTicks(dec(s))
		require.NoError(t, err)
		return v
	}
	return pricefeed.Candle{OpenTime: 1_700_000_000_000 + minute*60_000, Open: tick(o), High: tick(h), Low: tick(l), Close: tick(c)}
}

// TestHandComputedLongGrid checks a bounded long grid against numbers
// worked out by hand.
//
// Grid: levels 90, 95, 100, 105, 110 (4 intervals), 1.000 per order, start
// 102, fees 0.02 % maker / 0.05 % taker, initial position on.
//
//	start   market buy 1 @ 102 for slot 105 (taker fee 0.051); its exit sells @ 110;
//	        entries buy @ 100, 95, 90
//	c1 102→103→99→101 (red: o,h,l,c)  buy @100 fills (fee 0.020); exit sell @105
//	c2 101→100.5→106→106 (green: o,l,h,c)  sell @105 fills: +5 (fee 0.021); entry @100 again
//	c3 106→111→94→96 (red)  sell @110 fills: +8 vs 102 (fee 0.022); entry @105 placed;
//	        then buys @105, @100, @95 fill (fees 0.021, 0.020, 0.019)
//	c4 96→96→101→101 (green)  sell @100 fills for the slot bought @95: +5 (fee 0.020)
//
// Round trips 3; realized 5+8+5 = 18; fees 0.194; net 17.806. Held at the
// end: 1 @105 and 1 @100, worth −4 + 1 = −3 at 101. Equity change 14.806,
// which is also the cash flows: −102−100+105+110−105−100−95+100 + 2×101 − 0.194.
func TestHandComputedLongGrid(t *testing.T) {
	sc := sim.DefaultCoreConfig(handRules)
	var err error
	sc.InitialBalance, err = handRules.DecimalToMoney(dec("1000"))
	require.NoError(t, err)
	candles := []pricefeed.Candle{
		candle(t, 0, "102", "103", "99", "101"),
		candle(t, 1, "101", "106", "100.5", "106"),
		candle(t, 2, "106", "111", "94", "96"),
		candle(t, 3, "96", "101", "96", "101"),
	}
	res, err := Run(candles, Config{Rules: handRules, Sim: sc, Slippage: &Slippage{}, Grid: []grid.Option{
		grid.WithBounds(dec("90"), dec("110"), 4),
		grid.WithQuantity(dec("1")),
	}})
	require.NoError(t, err)

	assert.Equal(t, 3, res.RoundTrips)
	assert.Equal(t, "18", res.Realized.String())
	assert.Equal(t, "0.194", res.Fees.String())
	assert.Equal(t, "17.806", res.NetRealized.String())
	assert.Equal(t, "-3", res.Unrealized.String())
	assert.Equal(t, "2", res.Position.String())
	assert.Equal(t, "1014.806", res.FinalEquity.String())
	assert.Equal(t, "14.806", res.PnL.String())
	assert.Equal(t, int64(8), res.Fills)
	assert.Equal(t, int64(1), res.TakerFills)
	assert.Equal(t, int64(0), res.Liquidations)
	assert.Equal(t, "101", res.ClosePrice.String())
}

// TestShippedDataIsDeterministic runs the example's default grid twice on
// the shipped month and demands identical results, with the engine and the
// venue in agreement (Run checks that itself).
func TestShippedDataIsDeterministic(t *testing.T) {
	rules := exchange.Rules{Symbol: "BTCUSDT", TickSize: dec("0.1"), StepSize: dec("0.001"), MinQty: dec("0.001"), MinNotional: dec("100")}
	candles, err := pricefeed.ReadCandlesFile("../../examples/data/binance-um_BTCUSDT_1m_2025-05-04_2025-06-03.csv.gz", rules)
	require.NoError(t, err)
	require.Len(t, candles, 43199)
	sc := sim.DefaultCoreConfig(rules)
	sc.InitialBalance, _ = rules.DecimalToMoney(dec("10000"))
	sc.Leverage = 5
	cfg := Config{Rules: rules, Sim: sc, Grid: []grid.Option{
		grid.WithBounds(dec("90000"), dec("115000"), 50), grid.WithAmount(dec("200")),
	}}
	a, err := Run(candles, cfg)
	require.NoError(t, err)
	b, err := Run(candles, cfg)
	require.NoError(t, err)
	assert.Equal(t, a, b)
	assert.Positive(t, a.RoundTrips)
	assert.Zero(t, a.Liquidations)
}

// TestFillModelsKeepTheBooksInStep runs the shipped month with partial
// fills, pessimistic trade-through fills, hedge-mode neutral and short
// grids: Run itself fails if the engine's position or equity change ever
// disagrees with the venue's at the end.
func TestFillModelsKeepTheBooksInStep(t *testing.T) {
	candles, err := pricefeed.ReadCandlesFile(shippedMonth, btcRules)
	require.NoError(t, err)
	candles = candles[:10_000]
	for _, tc := range []struct {
		name string
		sim  func(*sim.CoreConfig)
		grid []grid.Option
	}{
		{"partial fills", func(c *sim.CoreConfig) { c.PartialFill = 1 }, []grid.Option{grid.WithBounds(dec("92000"), dec("100000"), 40), grid.WithAmount(dec("400"))}},
		{"trade through", func(c *sim.CoreConfig) { c.TradeThrough = true }, []grid.Option{grid.WithBounds(dec("92000"), dec("100000"), 40), grid.WithAmount(dec("400"))}},
		{"short", func(*sim.CoreConfig) {}, []grid.Option{grid.WithMode(grid.Short), grid.WithBounds(dec("92000"), dec("100000"), 40), grid.WithAmount(dec("400"))}},
		{"neutral hedge", func(c *sim.CoreConfig) { c.PositionMode = exchange.Hedge }, []grid.Option{grid.WithMode(grid.Neutral),
			grid.WithPositionMode(exchange.Hedge), grid.WithBounds(dec("92000"), dec("100000"), 40), grid.WithAmount(dec("400"))}},
		{"trailing geometric", func(*sim.CoreConfig) {}, []grid.Option{grid.WithTrailing(dec("0.002"), 30), grid.WithGeometric(), grid.WithAmount(dec("400"))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := sim.DefaultCoreConfig(btcRules)
			sc.InitialBalance, _ = btcRules.DecimalToMoney(dec("100000"))
			sc.Leverage = 3
			tc.sim(&sc)
			res, err := Run(candles, Config{Rules: btcRules, Sim: sc, Grid: tc.grid})
			require.NoError(t, err)
			assert.Positive(t, res.RoundTrips)
			assert.Zero(t, res.Liquidations)
		})
	}
}
