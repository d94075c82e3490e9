package grid_test

import (
	"context"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/sim"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/pricefeed"
)

var rules = exchange.Rules{
	Symbol:      "BTCUSDT",
	TickSize:    decimal.RequireFromString("0.1"),
	StepSize:    decimal.RequireFromString("0.001"),
	MinQty:      decimal.RequireFromString("0.001"),
	MinNotional: decimal.RequireFromString("100"),
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// A bounded long grid from 90,000 to 110,000 in 20 steps, 500 USDT per
// order, started at 100,000: one market order buys the position of the
// ten levels at and above the price (0.005 at 100,000, 0.004 above:
// 500 / price, floored to the step), and entries rest on the three
// levels below.
func ExampleNew() {
	eng, err := grid.New(rules,
		grid.WithGridID("btc1"),
		grid.WithStartPrice(dec("100000")),
		grid.WithBounds(dec("90000"), dec("110000"), 20),
		grid.WithAmount(dec("500")),
		grid.WithWindows(3, 3, 1),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	now := time.Date(2025, 5, 4, 0, 0, 0, 0, time.UTC)
	price, _ := rules.PriceToTicks(dec("100000"))
	eng.OnPrice(now, price) // nothing is placed before the order stream is ready
	for _, in := range eng.OnStreamReady(now) {
		req := in.OrderRequest(rules, eng.GridID())
		fmt.Println(req.ClientOrderID, req.Side, req.Type, req.Quantity, req.Price, req.TimeInForce)
	}
	// Output:
	// gmbtc1_I_1 BUY MARKET 0.041 0 GTC
	// gmbtc1_7_1 BUY LIMIT 0.005 97000 GTX
	// gmbtc1_8_1 BUY LIMIT 0.005 98000 GTX
	// gmbtc1_9_1 BUY LIMIT 0.005 99000 GTX
}

// New reports every bad option at once, each with its value.
func ExampleNew_errors() {
	_, err := grid.New(rules,
		grid.WithStartPrice(dec("100000")),
		grid.WithBounds(dec("110000"), dec("90000"), 20),
		grid.WithAmount(dec("-5")),
	)
	fmt.Println(err)
	// Output:
	// grid: WithBounds = 110000..90000: upper must be above lower
	// grid: WithAmount = -5: must be positive
}

// A host wires a price feed, a venue (here the simulated one) and a runner.
// The runner rebuilds the grid from the venue, waits for the order stream,
// then trades until its context ends.
func ExampleRunner() {
	venue, _ := sim.NewVenue(sim.VenueConfig{Core: func() sim.CoreConfig {
		c := sim.DefaultCoreConfig(rules)
		c.InitialBalance, _ = rules.DecimalToMoney(dec("10000"))
		return c
	}()})
	defer venue.Close()
	ctx, cancel := context.WithCancel(context.Background())
	_ = venue.SetPrice(ctx, dec("100000"))

	feed, _ := pricefeed.NewFeed(rules.Symbol)
	defer feed.Close()
	eng, _ := grid.New(rules, grid.WithStartPrice(dec("100000")),
		grid.WithBounds(dec("90000"), dec("110000"), 20), grid.WithAmount(dec("500")), grid.WithWindows(3, 3, 1))
	started := make(chan struct{})
	runner, _ := grid.NewRunner(eng, venue, grid.WithPriceFeed(feed), grid.WithCancelOnStop(false),
		grid.WithIdleHook(func(s grid.IdleState) {
			if s.OrderEvents >= 5 { // the market order's NEW and FILL, three entries' NEW
				select {
				case <-started:
				default:
					close(started)
				}
			}
		}))
	done := make(chan error)
	go func() { done <- runner.Run(ctx) }()
	price, _ := rules.PriceToTicks(dec("100000"))
	feed.Publish(price, time.Now())
	<-started
	cancel()
	fmt.Println(<-done)
	open, _ := venue.OpenOrders(context.Background(), rules.Symbol)
	pos, _ := venue.Positions(context.Background(), rules.Symbol)
	fmt.Println(len(open), "orders open; position", pos[0].Quantity)
	// Output:
	// <nil>
	// 6 orders open; position 0.041
}
