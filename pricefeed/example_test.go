package pricefeed_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/pricefeed"
	"github.com/shopspring/decimal"
)

func ExampleReadCandles() {
	// The first two rows of the shipped BTCUSDT perpetual month.
	const csv = `open_time,open,high,low,close,volume
1746372780000,95505.4,95505.5,95502.7,95502.7,16.536
1746372840000,95502.8,95502.8,95478,95478.1,28.313
`
	rules := exchange.Rules{
		Symbol:   "BTCUSDT",
		TickSize: decimal.RequireFromString("0.1"),
		StepSize: decimal.RequireFromString("0.001"),
	}
	candles, err := pricefeed.ReadCandles(strings.NewReader(csv), rules)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range candles {
		fmt.Println(time.UnixMilli(c.OpenTime).UTC().Format(time.DateTime),
			"close", rules.TicksToPrice(c.Close), "=", c.Close, "ticks,",
			"volume", rules.StepsToQty(c.Volume), "path", c.Path())
	}

	_, err = pricefeed.ReadCandles(strings.NewReader("open_time,open,high,low,close,volume\n1746372780000,95505.4,95505.5,95502.7,95502.7,1x\n"), rules)
	fmt.Println(err)
	// Output:
	// 2025-05-04 15:33:00 close 95502.7 = 955027 ticks, volume 16.536 path [955054 955055 955027 955027]
	// 2025-05-04 15:34:00 close 95478.1 = 954781 ticks, volume 28.313 path [955028 955028 954780 954781]
	// pricefeed: line 2, column volume: "1x": malformed value: parse quantity "1x": not a decimal number
}

func ExampleMonitor() {
	mon, err := pricefeed.NewFeed("BTCUSDT", pricefeed.WithInterval(0))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer mon.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	prices := mon.Subscribe(ctx)
	at := time.Date(2025, 5, 22, 12, 0, 0, 0, time.UTC)
	mon.Publish(1119595, at) // a feed publishes; it never waits for subscribers
	fmt.Println("subscriber got", (<-prices).Ticks)
	mon.Publish(1119590, at.Add(time.Millisecond))
	fmt.Println("subscriber got", (<-prices).Ticks)

	p, t, ok := mon.Latest() // lock-free, for anyone who only needs the newest
	fmt.Println("latest", p, t.Format(time.StampMilli), ok)
	// Output:
	// subscriber got 1119595
	// subscriber got 1119590
	// latest 1119590 May 22 12:00:00.001 true
}

func ExampleMonitor_Run() {
	mon, err := pricefeed.NewFeed("BTCUSDT")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer mon.Close()
	trades := []pricefeed.Trade{
		{Time: 1723161256322, Price: 618003, Qty: 6},
		{Time: 1723161256344, Price: 618004, Qty: 199, BuyerMaker: true},
	}
	// Speed 0 replays without waiting; 1 would keep the recorded pace.
	replay, err := pricefeed.NewTradeReplay(trades, pricefeed.WithSpeed(0))
	if err != nil {
		fmt.Println(err)
		return
	}
	err = mon.Run(context.Background(), replay) // returns nil when the replay ends
	p, t, _ := mon.Latest()
	fmt.Println(err, p, t.Format(time.RFC3339Nano))
	// Output:
	// <nil> 618004 2024-08-08T23:54:16.344Z
}

// A flat market repeats its price: the subscription stays quiet, the
// liveness moves on.
func ExampleMonitor_Liveness() {
	mon, err := pricefeed.NewMonitor("BTCUSDT")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer mon.Close()
	t0 := time.Date(2025, 5, 4, 15, 33, 0, 0, time.UTC)
	for s := range 5 {
		mon.Publish(955027, t0.Add(time.Duration(s)*time.Second)) // the same price every second
	}
	l := mon.Liveness()
	fmt.Println(l.Price.Ticks, l.Price.Time.Format(time.TimeOnly), l.Messages)
	// Output:
	// 955027 15:33:04 5
}
