package exchange_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/shopspring/decimal"
)

// paperVenue stands in for an adapter; only the methods the examples call
// are implemented.
type paperVenue struct {
	exchange.IExchange
	lost bool // the response of every place is lost
}

func (v paperVenue) PlaceOrder(_ context.Context, req exchange.OrderRequest) (exchange.Order, error) {
	if v.lost {
		return exchange.Order{}, &exchange.UnknownOutcomeError{Op: "place", Err: errors.New("connection reset")}
	}
	return exchange.Order{Symbol: req.Symbol, ClientOrderID: req.ClientOrderID, Status: exchange.StatusNew}, nil
}

func ExampleExecutor() {
	ex, err := exchange.NewExecutor(paperVenue{}, exchange.WithRetryPolicy(exchange.DefaultRetryPolicy()))
	if err != nil {
		panic(err)
	}
	o, err := ex.Place(context.Background(), exchange.OrderRequest{
		Symbol: "BTCUSDT", ClientOrderID: "g1-3-0", Side: exchange.Buy,
		Price: decimal.RequireFromString("64000.1"), Quantity: decimal.RequireFromString("0.002"),
	})
	fmt.Println(o.ClientOrderID, o.Status, err)
	fmt.Println(ex.Stats().Requests)
	fmt.Println(ex.RateLimits())
	// Output:
	// g1-3-0 NEW <nil>
	// map[place:1]
	// [{order 1s 10} {request 1m0s 1200}]
}

// A place whose response was lost is returned as an UnknownOutcomeError and
// never resent by the executor. The engine queries the client order ID; if
// the venue has no such order, it may place again only once the request can
// no longer arrive.
func ExampleExecutor_ResendSafe() {
	ex, err := exchange.NewExecutor(paperVenue{lost: true})
	if err != nil {
		panic(err)
	}
	_, err = ex.Place(context.Background(), exchange.OrderRequest{Symbol: "BTCUSDT", ClientOrderID: "g1-3-0"})
	var u *exchange.UnknownOutcomeError
	if errors.As(err, &u) {
		fmt.Println("outcome unknown; receive window", ex.ReceiveWindow())
		fmt.Println("resend 10 s later:", ex.ResendSafe(u.SentAt, u.SentAt.Add(10*time.Second)))
		fmt.Println("resend 60 s later:", ex.ResendSafe(u.SentAt, u.SentAt.Add(60*time.Second)))
	}
	fmt.Println(ex.Stats().UnknownOutcomes)
	// Output:
	// outcome unknown; receive window 1m0s
	// resend 10 s later: false
	// resend 60 s later: true
	// 1
}
