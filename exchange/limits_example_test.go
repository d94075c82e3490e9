package exchange_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
)

// binanceWindows is Binance USDⓈ-M's declaration (protocol sheet §3): two
// order-count windows per account and the IP weight window, several of which
// a request counts in at once. A batch of up to 5 orders counts 5 on the
// 10-second window and 1 on the minute one; a single place weighs nothing on
// the IP window. Operations the executor does not call itself (listenKey,
// leverage, klines) are named endpoints, sent with Executor.Do.
func binanceWindows() []exchange.LimitWindow {
	return []exchange.LimitWindow{
		{Name: "ORDERS_10S", Per: exchange.PerAccount, Interval: 10 * time.Second, Max: 300, Costs: []exchange.OpCost{
			{Op: exchange.OpPlace, PerOrder: 1}, {Op: exchange.OpBatchPlace, Units: 5}, {Op: "amend", PerOrder: 1},
		}},
		{Name: "ORDERS_1M", Per: exchange.PerAccount, Interval: time.Minute, Max: 1200, Costs: []exchange.OpCost{
			{Op: exchange.OpPlace, PerOrder: 1}, {Op: exchange.OpBatchPlace, Units: 1}, {Op: "amend", PerOrder: 1},
		}},
		{Name: "REQUEST_WEIGHT_1M", Per: exchange.PerIP, Interval: time.Minute, Max: 2400, Costs: []exchange.OpCost{
			{Op: exchange.OpBatchPlace, Units: 5}, {Op: exchange.OpCancel, Units: 1}, {Op: exchange.OpBatchCancel, Units: 1},
			{Op: exchange.OpQuery, Units: 1}, {Op: exchange.OpOpenOrders, Units: 1}, {Op: exchange.OpFills, Units: 5},
			{Op: exchange.OpAccount, Units: 10}, {Op: exchange.OpPositions, Units: 10}, {Op: exchange.OpRules, Units: 1},
			{Op: "listenKey", Units: 1}, {Op: "leverage", Units: 1}, {Op: exchange.OpMarketData, Units: 2},
		}},
	}
}

// Binance: several windows at once, per account and per IP, weighted per
// operation. With 100 grids on one account, the IP weight window's read
// share (half of 2,400 a minute, refilled at ~10 a second) lets every grid
// reconcile (open orders 1 + positions 10 + fills 5) about every 2m40s, and
// no faster: a host sets its reconciliation interval from this.
func ExampleLimitWindow_binance() {
	x, err := exchange.NewExecutor(paperVenue{}, exchange.WithLimits(binanceWindows()...))
	if err != nil {
		panic(err)
	}
	for i := range 100 {
		if _, err := x.Lane(fmt.Sprintf("grid-%d", i)); err != nil {
			panic(err)
		}
	}
	fmt.Println(x.MinReconcileInterval(exchange.OpOpenOrders, exchange.OpPositions, exchange.OpFills).Round(time.Second))
	fmt.Println(x.RateLimits())
	// Output:
	// 2m40s
	// [{order 10s 300} {order 1m0s 1200} {request 1m0s 2400}]
}

// bitgetVenue places batches of up to 50 orders.
type bitgetVenue struct{ paperVenue }

func (bitgetVenue) MaxBatch() int { return 50 }

func (bitgetVenue) PlaceOrders(_ context.Context, reqs []exchange.OrderRequest) ([]exchange.BatchResult, error) {
	out := make([]exchange.BatchResult, len(reqs))
	for i, r := range reqs {
		out[i].Order = exchange.Order{Symbol: r.Symbol, ClientOrderID: r.ClientOrderID, Status: exchange.StatusNew}
	}
	return out, nil
}

// Bitget counts per endpoint: each endpoint is a window of its own, and
// batch placement allows 5 calls a second whatever the number of orders
// each carries (up to 50), so a batch costs 1 unit per call (Units), not
// per order.
func ExampleLimitWindow_bitget() {
	perSecond := func(name string, max int, ops ...string) exchange.LimitWindow {
		w := exchange.LimitWindow{Name: name, Per: exchange.PerAccount, Interval: time.Second, Max: max}
		for _, op := range ops {
			w.Costs = append(w.Costs, exchange.OpCost{Op: op, Units: 1})
		}
		return w
	}
	windows := []exchange.LimitWindow{
		perSecond("place-order", 10, exchange.OpPlace),
		perSecond("batch-place-order", 5, exchange.OpBatchPlace),
		perSecond("cancel-order", 10, exchange.OpCancel),
		perSecond("batch-cancel-orders", 10, exchange.OpBatchCancel),
		perSecond("detail", 10, exchange.OpQuery),
		perSecond("orders-pending", 10, exchange.OpOpenOrders),
		perSecond("fills", 10, exchange.OpFills),
		perSecond("accounts", 10, exchange.OpAccount),
		perSecond("all-position", 5, exchange.OpPositions),
		{Name: "market", Per: exchange.PerIP, Interval: time.Second, Max: 20, Costs: []exchange.OpCost{
			{Op: exchange.OpRules, Units: 1}, {Op: exchange.OpMarketData, Units: 1},
		}},
	}
	x, err := exchange.NewExecutor(bitgetVenue{}, exchange.WithLimits(windows...))
	if err != nil {
		panic(err)
	}
	reqs := make([]exchange.OrderRequest, 150)
	for i := range reqs {
		reqs[i] = exchange.OrderRequest{Symbol: "BTCUSDT", ClientOrderID: fmt.Sprintf("g1-%d", i)}
	}
	x.PlaceBatch(context.Background(), reqs)
	st := x.Stats()
	fmt.Println("batches:", st.Batches, "waits:", st.RateLimitWaits)
	// Output:
	// batches: 3 waits: 0
}

// Gate limits placement and cancellation apart, per account: 100 orders a
// second placed (every order of a batch counts: PerOrder) and 200 canceled,
// so a grid whose placements are exhausted can still cancel at once; other
// private endpoints allow 200 requests per 10 s each, public ones 200 per
// 10 s per IP.
func ExampleLimitWindow_gate() {
	per10s := func(name string, per exchange.LimitPer, op string) exchange.LimitWindow {
		return exchange.LimitWindow{Name: name, Per: per, Interval: 10 * time.Second, Max: 200, Costs: []exchange.OpCost{{Op: op, Units: 1}}}
	}
	windows := []exchange.LimitWindow{
		{Name: "place", Per: exchange.PerAccount, Interval: time.Second, Max: 100, Costs: []exchange.OpCost{
			{Op: exchange.OpPlace, PerOrder: 1}, {Op: exchange.OpBatchPlace, PerOrder: 1}, {Op: "amend", PerOrder: 1},
		}},
		{Name: "cancel", Per: exchange.PerAccount, Interval: time.Second, Max: 200, Costs: []exchange.OpCost{
			{Op: exchange.OpCancel, PerOrder: 1}, {Op: exchange.OpBatchCancel, PerOrder: 1},
		}},
		per10s("orders/{id}", exchange.PerAccount, exchange.OpQuery),
		per10s("orders", exchange.PerAccount, exchange.OpOpenOrders),
		per10s("my_trades", exchange.PerAccount, exchange.OpFills),
		per10s("accounts", exchange.PerAccount, exchange.OpAccount),
		per10s("positions", exchange.PerAccount, exchange.OpPositions),
		per10s("contracts", exchange.PerIP, exchange.OpRules),
	}
	x, err := exchange.NewExecutor(paperVenue{}, exchange.WithLimits(windows...))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	for i := range 50 { // the placement window's burst
		if _, err := x.Place(ctx, exchange.OrderRequest{Symbol: "BTC_USDT", ClientOrderID: fmt.Sprintf("t-g1-%d", i)}); err != nil {
			panic(err)
		}
	}
	_, err = x.Cancel(ctx, exchange.CancelRequest{Symbol: "BTC_USDT", ClientOrderID: "t-g1-0"})
	fmt.Println("cancel:", err, "waits:", x.Stats().RateLimitWaits)
	// Output:
	// cancel: <nil> waits: 0
}

func (paperVenue) CancelOrder(_ context.Context, req exchange.CancelRequest) (exchange.Order, error) {
	return exchange.Order{Symbol: req.Symbol, ClientOrderID: req.ClientOrderID, Status: exchange.StatusCanceled}, nil
}

// Two grids share one executor, each through its lane; a stopping grid
// drains its lane (no more placements), cancels what it has live, and
// closes the lane, while the other keeps trading.
func ExampleExecutor_Lane() {
	x, err := exchange.NewExecutor(paperVenue{})
	if err != nil {
		panic(err)
	}
	btc, _ := x.Lane("BTCUSDT", exchange.WithLaneQueue(16))
	eth, _ := x.Lane("ETHUSDT", exchange.WithLaneQueue(16))
	ctx := context.Background()
	inWindow := func() bool { return true } // the engine: the price is still in the slot's window
	_, err = btc.Place(exchange.WithValidUntil(ctx, inWindow), exchange.OrderRequest{Symbol: "BTCUSDT", ClientOrderID: "g1-1-0"})
	fmt.Println("btc:", err)

	_ = eth.Drain(ctx)
	_, err = eth.Place(ctx, exchange.OrderRequest{Symbol: "ETHUSDT", ClientOrderID: "g2-1-0"})
	fmt.Println("eth after drain:", err, errors.Is(err, exchange.ErrNotSent))
	_, err = eth.Cancel(ctx, exchange.CancelRequest{Symbol: "ETHUSDT", ClientOrderID: "g2-0-0"})
	fmt.Println("eth cancel:", err)
	_ = eth.Close()

	_, err = btc.Place(ctx, exchange.OrderRequest{Symbol: "BTCUSDT", ClientOrderID: "g1-2-0"})
	fmt.Println("btc still:", err)
	for _, s := range x.LaneStats() {
		fmt.Printf("%q admitted %d\n", s.Name, s.Admitted)
	}
	// Output:
	// btc: <nil>
	// eth after drain: exchange: place g2-1-0: lane closed: request not sent true
	// eth cancel: <nil>
	// btc still: <nil>
	// "" admitted 0
	// "BTCUSDT" admitted 2
}
