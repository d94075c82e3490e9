package backtest_test

import (
	"context"
	"fmt"
	"os"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/sim"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/grid/backtest"
	"github.com/gridmesh/gridmesh/pricefeed"
)

// Four long grids ranked by return on the first 70 % of the shipped month,
// the best two run again on the rest, starting flat at the split. The
// venue is the backtest's default: margin checked, and the initial
// position's market buy slipping by the default 1 bp (about 0.01 % of
// return each here); no funding is configured.
func ExampleSweep() {
	d := decimal.RequireFromString
	rules := exchange.Rules{Symbol: "BTCUSDT", TickSize: d("0.1"), StepSize: d("0.001"), MinQty: d("0.001"), MinNotional: d("100")}
	candles, err := pricefeed.ReadCandlesFile("../../examples/data/binance-um_BTCUSDT_1m_2025-05-04_2025-06-03.csv.gz", rules)
	if err != nil {
		fmt.Println(err)
		return
	}
	venue := sim.DefaultCoreConfig(rules)
	venue.InitialBalance, _ = rules.DecimalToMoney(d("10000"))
	split, _ := backtest.SplitAt(candles, 0.7)
	res, err := backtest.Sweep(context.Background(), candles, backtest.SweepConfig{
		Base: backtest.Config{Rules: rules, Sim: venue},
		Space: backtest.Space{
			Modes:     []grid.Mode{grid.Long},
			Bounds:    []backtest.Range{{Lower: d("90000"), Upper: d("115000")}, {Lower: d("95000"), Upper: d("110000")}},
			Levels:    []int{20, 40},
			Amounts:   []decimal.Decimal{d("300")},
			Windows:   []int{10},
			Leverages: []int{5},
		},
		Metric: backtest.MetricReturn,
		Split:  split,
		Top:    2,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = res.WriteMarkdown(os.Stdout, 0)
	// Output:
	// Ranked by return on 2025-05-04 15:33 → 2025-05-25 15:32 (30239 candles); out of sample 2025-05-25 15:32 → 2025-06-03 15:32 (12960 candles), top 2.
	//
	// | # | mode | grid | amount | window | leverage | return | return % | max DD % | trips | OOS return | OOS return % | OOS max DD % | OOS trips |
	// |--:|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|
	// | 1 | long | 95000-110000/40 | 300 | 10 | 5 | 7.56 | 7.56 | 2.21 | 300 | 0.72 | 0.72 | 1.02 | 113 |
	// | 2 | long | 90000-115000/40 | 300 | 10 | 5 | 6.60 | 6.60 | 1.70 | 126 | 0.36 | 0.36 | 1.77 | 35 |
	// | 3 | long | 95000-110000/20 | 300 | 10 | 5 | 3.93 | 3.93 | 1.09 | 85 | | | | |
	// | 4 | long | 90000-115000/20 | 300 | 10 | 5 | 3.41 | 3.41 | 0.88 | 35 | | | | |
}
