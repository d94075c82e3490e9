package backtest_test

import (
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/sim"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/grid/backtest"
	"github.com/gridmesh/gridmesh/pricefeed"
)

// A bounded long grid backtested on the month of real BTCUSDT perpetual
// candles this repository ships, charged the month's real funding
// settlements. The venue model is the backtest's default: margin checked,
// market orders slipping 1 bp, fees and funding exact.
func ExampleRun() {
	d := decimal.RequireFromString
	rules := exchange.Rules{Symbol: "BTCUSDT", TickSize: d("0.1"), StepSize: d("0.001"), MinQty: d("0.001"), MinNotional: d("100")}
	candles, err := pricefeed.ReadCandlesFile("../../examples/data/binance-um_BTCUSDT_1m_2025-05-04_2025-06-03.csv.gz", rules)
	if err != nil {
		fmt.Println(err)
		return
	}
	funding, err := backtest.ReadFundingFile("../../examples/data/BTCUSDT-fundingRate-2025-05-04_2025-06-03.csv")
	if err != nil {
		fmt.Println(err)
		return
	}
	venue := sim.DefaultCoreConfig(rules) // Binance fees: 0.02 % maker, 0.05 % taker
	venue.InitialBalance, _ = rules.DecimalToMoney(d("10000"))
	venue.Leverage = 5
	res, err := backtest.Run(candles, backtest.Config{Rules: rules, Sim: venue, Funding: backtest.Funding{Settlements: funding}, Grid: []grid.Option{
		grid.WithBounds(d("90000"), d("115000"), 50),
		grid.WithAmount(d("200")),
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("candles:", res.Candles)
	fmt.Println("round trips:", res.RoundTrips)
	fmt.Println("fees:", res.Fees.StringFixed(2))
	fmt.Println("funding:", res.Funding.StringFixed(2), "in", res.FundingPayments, "settlements")
	fmt.Println("net realized:", res.NetRealized.StringFixed(2))
	fmt.Println("final equity:", res.FinalEquity.StringFixed(2))
	fmt.Println("liquidations:", res.Liquidations)
	// Output:
	// candles: 43199
	// round trips: 250
	// fees: 13.24
	// funding: 9.79 in 90 settlements
	// net realized: 386.37
	// final equity: 10442.27
	// liquidations: 0
}
