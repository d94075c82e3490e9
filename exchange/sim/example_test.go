package sim_test

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/sim"
)

// A backtest loop: rest a buy, let the price fall through it, and answer
// the fill with a sell one level up.
func ExampleCore() {
	rules := exchange.Rules{
		Symbol:   "BTCUSDT",
		TickSize: decimal.RequireFromString("0.1"),
		StepSize: decimal.RequireFromString("0.001"),
	}
	cfg := sim.DefaultCoreConfig(rules)
	cfg.InitialBalance = 1_000_000_000 // 100,000 USDT in 0.0001 units
	core, err := sim.NewCore(cfg)
	if err != nil {
		panic(err)
	}
	t := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	core.Tick(t, 100000) // 10000.0
	if _, err := core.Place(t, sim.OrderSpec{Tag: 1, Side: exchange.Buy, Price: 99000, Qty: 10}); err != nil {
		panic(err)
	}
	for i, p := range []exchange.Ticks{99500, 98900, 99600, 100100} {
		now := t.Add(time.Duration(i+1) * time.Minute)
		core.Tick(now, p)
		for _, ev := range core.Events() {
			fmt.Printf("%s %s %s at %s, fee %s, pnl %s\n", ev.Kind, ev.Side, rules.StepsToQty(ev.Qty),
				rules.TicksToPrice(ev.Price), rules.MoneyToDecimal(ev.Fee), rules.MoneyToDecimal(ev.RealizedPnL))
			if ev.Side == exchange.Buy {
				if _, err := core.Place(now, sim.OrderSpec{Tag: 2, Side: exchange.Sell, Price: ev.Price + 1000, Qty: ev.Qty}); err != nil {
					panic(err)
				}
			}
		}
	}
	fmt.Println("wallet", rules.MoneyToDecimal(core.Wallet()))
	// Output:
	// FILL BUY 0.01 at 9900, fee 0.0198, pnl 0
	// FILL SELL 0.01 at 10000, fee 0.02, pnl 1
	// wallet 100000.9602
}
