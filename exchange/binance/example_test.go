package binance_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/binance"
	"github.com/gridmesh/gridmesh/exchange/binance/binancetest"
	"github.com/shopspring/decimal"
)

// A Secret never prints its value.
func ExampleSecret() {
	s := binance.NewSecret("my-api-secret")
	fmt.Println(s)
	fmt.Printf("%+v %q\n", binance.Config{APISecret: s}.APISecret, s)
	// Output:
	// [REDACTED]
	// [REDACTED] "[REDACTED]"
}

// The adapter against the local protocol server: the user stream first,
// then orders; a crossing post-only order is refused at once.
func ExampleNew() {
	srv := binancetest.NewServer() // BTCUSDT at 60000
	defer srv.Close()
	c, err := binance.New(binance.Config{
		RESTURL:   srv.URL(),
		WSURL:     srv.WSURL(),
		APIKey:    binance.NewSecret(binancetest.APIKey),
		APISecret: binance.NewSecret(binancetest.APISecret),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, err := c.SubscribeUserData(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println((<-events).Kind) // nothing is placed before the stream is ready

	o, err := c.PlaceOrder(ctx, exchange.OrderRequest{Symbol: "BTCUSDT", ClientOrderID: "g1-b-0001", Side: exchange.Buy,
		TimeInForce: exchange.PostOnly, Price: decimal.RequireFromString("59000"), Quantity: decimal.RequireFromString("0.002")})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(o.ClientOrderID, o.Status)
	ev := <-events
	fmt.Println(ev.Kind, ev.Order.ClientOrderID, ev.Order.Status)

	_, err = c.PlaceOrder(ctx, exchange.OrderRequest{Symbol: "BTCUSDT", ClientOrderID: "g1-b-0002", Side: exchange.Buy,
		TimeInForce: exchange.PostOnly, Price: decimal.RequireFromString("60500"), Quantity: decimal.RequireFromString("0.002")})
	fmt.Println(errors.Is(err, exchange.ErrPostOnlyRejected))
	// Output:
	// READY
	// g1-b-0001 NEW
	// ORDER g1-b-0001 NEW
	// true
}
