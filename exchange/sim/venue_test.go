package sim

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gridmesh/gridmesh/exchange"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// stepClock returns t0, t0+1ms, t0+2ms, … one step per call.
func stepClock() func() time.Time {
	var n atomic.Int64
	return func() time.Time { return t0.Add(time.Duration(n.Add(1)-1) * time.Millisecond) }
}

func newTestVenue(t *testing.T, mutate func(*VenueConfig)) *Venue {
	t.Helper()
	core := DefaultCoreConfig(testRules())
	core.InitialBalance = 1_000_000_000 // 100,000 USDT
	cfg := VenueConfig{Core: core, Clock: stepClock()}
	if mutate != nil {
		mutate(&cfg)
	}
	v, err := NewVenue(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, v.Close()) })
	return v
}

func limit(cid string, side exchange.Side, price, qty string) exchange.OrderRequest {
	return exchange.OrderRequest{Symbol: "BTCUSDT", ClientOrderID: cid, Side: side, Type: exchange.Limit, Price: d(price), Quantity: d(qty)}
}

// userStream subscribes and consumes the first EventReady.
func userStream(t *testing.T, v *Venue) <-chan exchange.UserEvent {
	t.Helper()
	ch, err := v.SubscribeUserData(t.Context())
	require.NoError(t, err)
	e := <-ch
	require.Equal(t, exchange.EventReady, e.Kind)
	require.False(t, e.Reconnected)
	return ch
}

var barrierSeq atomic.Int64

// barrier places and cancels a marker order, then reads the stream up to
// the marker's CANCELED update and returns every other event before it:
// all the events of what the test did before calling it, and nothing else.
func barrier(t *testing.T, v *Venue, ch <-chan exchange.UserEvent) []exchange.UserEvent {
	t.Helper()
	cid := fmt.Sprintf("barrier-%d", barrierSeq.Add(1))
	_, err := v.PlaceOrder(t.Context(), limit(cid, exchange.Buy, "1", "0.001"))
	require.NoError(t, err)
	_, err = v.CancelOrder(t.Context(), exchange.CancelRequest{Symbol: "BTCUSDT", ClientOrderID: cid})
	require.NoError(t, err)
	var out []exchange.UserEvent
	for e := range ch {
		if e.Kind == exchange.EventOrder && e.Order.ClientOrderID == cid {
			if e.Order.Status == exchange.StatusCanceled {
				return out
			}
			continue
		}
		out = append(out, e)
	}
	t.Fatal("stream closed before the barrier")
	return nil
}

type upd struct {
	CID    string
	Status exchange.OrderStatus
	Filled string
	Last   string
	Price  string
	Fee    string
	Maker  bool
}

func upds(evs []exchange.UserEvent) []upd {
	var out []upd
	for _, e := range evs {
		if e.Kind != exchange.EventOrder {
			continue
		}
		o := e.Order
		out = append(out, upd{o.ClientOrderID, o.Status, o.FilledQty.String(), o.LastFillQty.String(), o.LastFillPrice.String(), o.Fee.String(), o.Maker})
	}
	return out
}

func TestVenueOrderLifecycle(t *testing.T) {
	v := newTestVenue(t, nil)
	ctx := t.Context()
	ch := userStream(t, v)
	_, err := v.PlaceOrder(ctx, limit("c1", exchange.Buy, "9900", "0.01"))
	require.ErrorIs(t, err, ErrNoPrice)

	require.NoError(t, v.SetPrice(ctx, d("10000")))
	o, err := v.PlaceOrder(ctx, limit("c1", exchange.Buy, "9900", "0.010"))
	require.NoError(t, err)
	assert.Equal(t, "1", o.OrderID)
	assert.Equal(t, "0.01", o.Quantity.String(), "quantities are reported on the step grid")
	assert.Equal(t, exchange.StatusNew, o.Status)
	assert.Equal(t, "9900", o.Price.String())
	require.NoError(t, v.SetPrice(ctx, d("9850")))

	// 9900 × 0.01 = 99 USDT; maker 0.02 % = 0.0198
	assert.Equal(t, []upd{
		{"c1", exchange.StatusNew, "0", "0", "0", "0", false},
		{"c1", exchange.StatusFilled, "0.01", "0.01", "9900", "0.0198", true},
	}, upds(barrier(t, v, ch)))

	q, err := v.QueryOrder(ctx, "BTCUSDT", "c1")
	require.NoError(t, err)
	assert.Equal(t, exchange.StatusFilled, q.Status)
	assert.Equal(t, "9900", q.AvgPrice.String())
	assert.Equal(t, "0.01", q.FilledQty.String())

	fills, err := v.Fills(ctx, "BTCUSDT", time.Time{})
	require.NoError(t, err)
	require.Len(t, fills, 1)
	f := fills[0]
	assert.Equal(t, []string{"c1", "1", "9900", "0.01", "0.0198", "USDT", "0"},
		[]string{f.ClientOrderID, f.TradeID, f.Price.String(), f.Quantity.String(), f.Fee.String(), f.FeeAsset, f.RealizedPnL.String()})
	later, err := v.Fills(ctx, "BTCUSDT", f.Time.Add(time.Nanosecond))
	require.NoError(t, err)
	assert.Empty(t, later)

	acct, err := v.Account(ctx)
	require.NoError(t, err)
	// wallet 100000 − 0.0198; unrealized at 9850: (9850 − 9900) × 0.01 = −0.5
	assert.Equal(t, "99999.9802", acct.TotalWallet.String())
	assert.Equal(t, "99999.4802", acct.TotalMargin.String())
	assert.Equal(t, "-0.5", acct.Balances[0].UnrealizedPnL.String())
	assert.Equal(t, "USDT", acct.Balances[0].Asset)
	// maintenance 0.4 % × 98.5 = 0.394
	assert.Equal(t, "0.394", acct.MaintMargin.String())

	pos, err := v.Positions(ctx, "BTCUSDT")
	require.NoError(t, err)
	require.Len(t, pos, 1)
	assert.Equal(t, exchange.PositionBoth, pos[0].PositionSide)
	assert.Equal(t, "0.01", pos[0].Quantity.String())
	assert.Equal(t, "9900", pos[0].EntryPrice.String())
	assert.Equal(t, "-0.5", pos[0].UnrealizedPnL.String())
	assert.True(t, pos[0].LiquidationPrice.IsZero(), "leverage 1 with a huge wallet: no liquidation price")

	open, err := v.OpenOrders(ctx, "BTCUSDT")
	require.NoError(t, err)
	assert.Empty(t, open)
}

func TestVenueClientOrderIDs(t *testing.T) {
	v := newTestVenue(t, nil)
	ctx := t.Context()
	require.NoError(t, v.SetPrice(ctx, d("10000")))
	_, err := v.PlaceOrder(ctx, limit("dup", exchange.Buy, "9900", "0.01"))
	require.NoError(t, err)
	_, err = v.PlaceOrder(ctx, limit("dup", exchange.Buy, "9800", "0.01"))
	require.ErrorIs(t, err, exchange.ErrDuplicateClientOrderID)

	c, err := v.CancelOrder(ctx, exchange.CancelRequest{Symbol: "BTCUSDT", ClientOrderID: "dup"})
	require.NoError(t, err)
	assert.Equal(t, exchange.StatusCanceled, c.Status)
	_, err = v.CancelOrder(ctx, exchange.CancelRequest{Symbol: "BTCUSDT", ClientOrderID: "dup"})
	require.ErrorIs(t, err, exchange.ErrOrderNotFound)

	again, err := v.PlaceOrder(ctx, limit("dup", exchange.Buy, "9800", "0.01")) // closed: reusable
	require.NoError(t, err)
	q, err := v.QueryOrder(ctx, "BTCUSDT", "dup")
	require.NoError(t, err)
	assert.Equal(t, again.OrderID, q.OrderID, "the query finds the latest order of the id")

	gen, err := v.PlaceOrder(ctx, limit("", exchange.Buy, "9700", "0.01"))
	require.NoError(t, err)
	assert.Equal(t, "sim-"+gen.OrderID, gen.ClientOrderID)

	c, err = v.CancelOrder(ctx, exchange.CancelRequest{Symbol: "BTCUSDT", OrderID: gen.OrderID})
	require.NoError(t, err)
	assert.Equal(t, gen.ClientOrderID, c.ClientOrderID)
	for _, req := range []exchange.CancelRequest{
		{Symbol: "BTCUSDT", OrderID: "999"},
		{Symbol: "BTCUSDT", OrderID: "x"},
		{Symbol: "BTCUSDT"},
		{Symbol: "BTCUSDT", ClientOrderID: "never"},
	} {
		_, err = v.CancelOrder(ctx, req)
		require.ErrorIs(t, err, exchange.ErrOrderNotFound, "%+v", req)
	}
	_, err = v.QueryOrder(ctx, "BTCUSDT", "never")
	require.ErrorIs(t, err, exchange.ErrOrderNotFound)
}

func TestVenueRemembersClosedOrdersUpToLimit(t *testing.T) {
	v := newTestVenue(t, func(c *VenueConfig) { c.ClosedOrders = 2 })
	ctx := t.Context()
	require.NoError(t, v.SetPrice(ctx, d("10000")))
	for i := range 3 {
		cid := fmt.Sprintf("o%d", i)
		_, err := v.PlaceOrder(ctx, limit(cid, exchange.Buy, "9000", "0.01"))
		require.NoError(t, err)
		_, err = v.CancelOrder(ctx, exchange.CancelRequest{Symbol: "BTCUSDT", ClientOrderID: cid})
		require.NoError(t, err)
	}
	_, err := v.QueryOrder(ctx, "BTCUSDT", "o0")
	require.ErrorIs(t, err, exchange.ErrOrderNotFound, "the oldest closed order is forgotten")
	for _, cid := range []string{"o1", "o2"} {
		o, err := v.QueryOrder(ctx, "BTCUSDT", cid)
		require.NoError(t, err)
		assert.Equal(t, exchange.StatusCanceled, o.Status)
	}
}

func TestVenueRequestValidation(t *testing.T) {
	v := newTestVenue(t, nil)
	ctx := t.Context()
	require.NoError(t, v.SetPrice(ctx, d("10000")))
	tests := []struct {
		name string
		req  exchange.OrderRequest
		is   error
		msg  []string
	}{
		{"off tick", limit("a", exchange.Buy, "9900.05", "0.01"), exchange.ErrInvalidOrder, []string{"price 9900.05 is not a multiple of 0.1"}},
		{"off step", limit("a", exchange.Buy, "9900", "0.0105"), exchange.ErrInvalidOrder, []string{"quantity 0.0105 is not a multiple of 0.001"}},
		{"zero qty", limit("a", exchange.Buy, "9900", "0"), exchange.ErrInvalidOrder, []string{"quantity 0 must be positive"}},
		{"negative price", limit("a", exchange.Buy, "-1", "0.01"), exchange.ErrInvalidOrder, []string{"price -1 must be positive"}},
		{"client id too long", limit(strings.Repeat("x", 37), exchange.Buy, "9900", "0.01"), exchange.ErrInvalidOrder, []string{"clientOrderId"}},
		{"client id charset", limit("a b", exchange.Buy, "9900", "0.01"), exchange.ErrInvalidOrder, []string{`clientOrderId "a b"`}},
		{"symbol", exchange.OrderRequest{Symbol: "ETHUSDT", Side: exchange.Buy, Price: d("1"), Quantity: d("1")}, ErrUnknownSymbol, []string{`"ETHUSDT"`}},
		{"no side", exchange.OrderRequest{Symbol: "BTCUSDT", Price: d("9900"), Quantity: d("0.01")}, exchange.ErrInvalidOrder, []string{"OrderSpec.Side"}},
		{"hedge side in one-way", exchange.OrderRequest{Symbol: "BTCUSDT", Side: exchange.Buy, PositionSide: exchange.PositionLong, Price: d("9900"), Quantity: d("0.01")}, exchange.ErrPositionMode, nil},
		{"post-only crossing", exchange.OrderRequest{Symbol: "BTCUSDT", Side: exchange.Buy, TimeInForce: exchange.PostOnly, Price: d("10000"), Quantity: d("0.01")}, exchange.ErrPostOnlyRejected, nil},
		{"reduce-only flat", exchange.OrderRequest{Symbol: "BTCUSDT", Side: exchange.Sell, ReduceOnly: true, Price: d("10100"), Quantity: d("0.01")}, exchange.ErrReduceOnlyRejected, nil},
		{"type", exchange.OrderRequest{Symbol: "BTCUSDT", Side: exchange.Buy, Type: 9, Quantity: d("0.01")}, exchange.ErrInvalidOrder, []string{"type"}},
		{"time in force", exchange.OrderRequest{Symbol: "BTCUSDT", Side: exchange.Buy, TimeInForce: 9, Price: d("9900"), Quantity: d("0.01")}, exchange.ErrInvalidOrder, []string{"timeInForce"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.PlaceOrder(ctx, tt.req)
			require.ErrorIs(t, err, tt.is)
			for _, m := range tt.msg {
				assert.Contains(t, err.Error(), m)
			}
		})
	}
	open, err := v.OpenOrders(ctx, "BTCUSDT")
	require.NoError(t, err)
	assert.Empty(t, open)
	assert.Equal(t, int64(0), v.Stats().Orders)
}

func TestVenueMarketIOCAndPartialFills(t *testing.T) {
	v := newTestVenue(t, func(c *VenueConfig) { c.Core.PartialFill = 4 })
	ctx := t.Context()
	ch := userStream(t, v)
	require.NoError(t, v.SetPrice(ctx, d("10000")))

	m, err := v.PlaceOrder(ctx, exchange.OrderRequest{Symbol: "BTCUSDT", ClientOrderID: "m", Side: exchange.Buy, Type: exchange.Market, Quantity: d("0.002")})
	require.NoError(t, err)
	assert.Equal(t, exchange.StatusFilled, m.Status, "the answer is the state after the immediate fill")
	assert.True(t, m.Price.IsZero())

	ioc, err := v.PlaceOrder(ctx, exchange.OrderRequest{Symbol: "BTCUSDT", ClientOrderID: "ioc", Side: exchange.Buy, TimeInForce: exchange.IOC, Price: d("9990"), Quantity: d("0.001")})
	require.NoError(t, err)
	assert.Equal(t, exchange.StatusExpired, ioc.Status)

	_, err = v.PlaceOrder(ctx, limit("p", exchange.Sell, "10010", "0.010"))
	require.NoError(t, err)
	require.NoError(t, v.SetPrice(ctx, d("10020")))
	require.NoError(t, v.SetPrice(ctx, d("10030")))
	require.NoError(t, v.SetPrice(ctx, d("10000")))
	require.NoError(t, v.SetPrice(ctx, d("10010")))

	// market: 10000 × 0.002 = 20 USDT, taker 0.05 % = 0.01
	// partial: 4 + 4 steps, then 2; 4 steps = 40.04 USDT × 0.02 % = 0.008008 → 0.008
	// (fees round to the Money unit, 0.0001 USDT); 2 steps: 0.004004 → 0.004
	assert.Equal(t, []upd{
		{"m", exchange.StatusNew, "0", "0", "0", "0", false},
		{"m", exchange.StatusFilled, "0.002", "0.002", "10000", "0.01", false},
		{"ioc", exchange.StatusNew, "0", "0", "0", "0", false},
		{"ioc", exchange.StatusExpired, "0", "0", "0", "0", false},
		{"p", exchange.StatusNew, "0", "0", "0", "0", false},
		{"p", exchange.StatusPartiallyFilled, "0.004", "0.004", "10010", "0.008", true},
		{"p", exchange.StatusPartiallyFilled, "0.008", "0.004", "10010", "0.008", true},
		{"p", exchange.StatusFilled, "0.01", "0.002", "10010", "0.004", true},
	}, upds(barrier(t, v, ch)))
}

func TestVenueBatchAndCancelAll(t *testing.T) {
	v := newTestVenue(t, nil)
	ctx := t.Context()
	require.NoError(t, v.SetPrice(ctx, d("10000")))
	assert.Equal(t, 5, v.MaxBatch())
	six := make([]exchange.OrderRequest, 6)
	_, err := v.PlaceOrders(ctx, six)
	require.ErrorIs(t, err, exchange.ErrInvalidOrder)
	_, err = v.PlaceOrders(ctx, nil)
	require.ErrorIs(t, err, exchange.ErrInvalidOrder)

	res, err := v.PlaceOrders(ctx, []exchange.OrderRequest{
		limit("b1", exchange.Buy, "9900", "0.01"),
		limit("b2", exchange.Buy, "9900.01", "0.01"),
		limit("b3", exchange.Buy, "9800", "0.01"),
	})
	require.NoError(t, err)
	require.Len(t, res, 3)
	require.NoError(t, res[0].Err)
	require.ErrorIs(t, res[1].Err, exchange.ErrInvalidOrder)
	require.NoError(t, res[2].Err)
	assert.Equal(t, "b3", res[2].Order.ClientOrderID)

	cres, err := v.CancelOrders(ctx, []exchange.CancelRequest{
		{Symbol: "BTCUSDT", ClientOrderID: "b1"},
		{Symbol: "BTCUSDT", ClientOrderID: "b2"},
	})
	require.NoError(t, err)
	require.NoError(t, cres[0].Err)
	assert.Equal(t, exchange.StatusCanceled, cres[0].Order.Status)
	require.ErrorIs(t, cres[1].Err, exchange.ErrOrderNotFound)
	_, err = v.CancelOrders(ctx, make([]exchange.CancelRequest, 6))
	require.ErrorIs(t, err, exchange.ErrInvalidOrder)

	_, err = v.PlaceOrder(ctx, limit("s1", exchange.Sell, "10100", "0.01"))
	require.NoError(t, err)
	require.NoError(t, v.CancelAllOrders(ctx, "BTCUSDT"))
	open, err := v.OpenOrders(ctx, "BTCUSDT")
	require.NoError(t, err)
	assert.Empty(t, open)
	for _, cid := range []string{"b3", "s1"} {
		o, err := v.QueryOrder(ctx, "BTCUSDT", cid)
		require.NoError(t, err)
		assert.Equal(t, exchange.StatusCanceled, o.Status)
	}
	require.ErrorIs(t, v.CancelAllOrders(ctx, "ETHUSDT"), ErrUnknownSymbol)
}

func TestVenueOpenOrdersOldestFirst(t *testing.T) {
	v := newTestVenue(t, nil)
	ctx := t.Context()
	require.NoError(t, v.SetPrice(ctx, d("10000")))
	for _, r := range []exchange.OrderRequest{
		limit("a", exchange.Sell, "10200", "0.01"),
		limit("b", exchange.Buy, "9800", "0.01"),
		limit("c", exchange.Buy, "9900", "0.01"),
	} {
		_, err := v.PlaceOrder(ctx, r)
		require.NoError(t, err)
	}
	open, err := v.OpenOrders(ctx, "BTCUSDT")
	require.NoError(t, err)
	var cids []string
	for _, o := range open {
		cids = append(cids, o.ClientOrderID)
		assert.Equal(t, exchange.StatusNew, o.Status)
	}
	assert.Equal(t, []string{"a", "b", "c"}, cids)
}

func TestVenueHedgePositions(t *testing.T) {
	v := newTestVenue(t, func(c *VenueConfig) { c.Core.PositionMode = exchange.Hedge })
	ctx := t.Context()
	require.NoError(t, v.SetPrice(ctx, d("10000")))
	req := func(cid string, side exchange.Side, ps exchange.PositionSide, qty string) exchange.OrderRequest {
		return exchange.OrderRequest{Symbol: "BTCUSDT", ClientOrderID: cid, Side: side, PositionSide: ps, Type: exchange.Market, Quantity: d(qty)}
	}
	_, err := v.PlaceOrder(ctx, req("l", exchange.Buy, exchange.PositionLong, "0.03"))
	require.NoError(t, err)
	_, err = v.PlaceOrder(ctx, req("s", exchange.Sell, exchange.PositionShort, "0.01"))
	require.NoError(t, err)
	pos, err := v.Positions(ctx, "BTCUSDT")
	require.NoError(t, err)
	require.Len(t, pos, 2)
	assert.Equal(t, []string{"LONG 0.03 10000", "SHORT -0.01 10000"}, []string{
		pos[0].PositionSide.String() + " " + pos[0].Quantity.String() + " " + pos[0].EntryPrice.String(),
		pos[1].PositionSide.String() + " " + pos[1].Quantity.String() + " " + pos[1].EntryPrice.String(),
	})
	acct, err := v.Account(ctx)
	require.NoError(t, err)
	assert.Equal(t, exchange.Hedge, acct.PositionMode)
}

func TestVenueLiquidationAndFunding(t *testing.T) {
	// wallet 100 USDT, long 0.1 at 10000 (fee 0.5): liquidated below 9041.2 (see TestLiquidationLong)
	v := newTestVenue(t, func(c *VenueConfig) { c.Core.InitialBalance = 1_000_000 })
	ctx := t.Context()
	ch := userStream(t, v)
	require.NoError(t, v.SetPrice(ctx, d("10000")))
	_, err := v.PlaceOrder(ctx, exchange.OrderRequest{Symbol: "BTCUSDT", ClientOrderID: "L", Side: exchange.Buy, Type: exchange.Market, Quantity: d("0.1")})
	require.NoError(t, err)

	pos, err := v.Positions(ctx, "BTCUSDT")
	require.NoError(t, err)
	assert.Equal(t, "9041.1", pos[0].LiquidationPrice.String())

	require.NoError(t, v.ApplyFunding(ctx, d("0.0001"), d("10000")))
	require.ErrorContains(t, v.ApplyFunding(ctx, d("0.000000001"), d("10000")), "more than 8 decimals")
	// funding 0.01 % × 1000 USDT = 0.1; the liquidation price moves up by 0.1 / 0.1 / 0.996 ≈ 1.004 → 9042.1
	pos, err = v.Positions(ctx, "BTCUSDT")
	require.NoError(t, err)
	assert.Equal(t, "9042.1", pos[0].LiquidationPrice.String())

	_, err = v.PlaceOrder(ctx, limit("rest", exchange.Buy, "8000", "0.001"))
	require.NoError(t, err)
	require.NoError(t, v.SetPrice(ctx, d("9042.2")))
	require.NoError(t, v.SetPrice(ctx, d("9042.1")))
	evs := barrier(t, v, ch)
	var kinds []string
	for _, e := range evs {
		switch e.Kind {
		case exchange.EventOrder:
			kinds = append(kinds, strings.TrimSpace(e.Order.ClientOrderID+" "+e.Order.Status.String()+" "+e.Order.Kind.String()+" "+e.Order.Reason))
		case exchange.EventAccount:
			kinds = append(kinds, "ACCOUNT "+e.Reason)
			if e.Reason == "ORDER" {
				require.Len(t, e.Positions, 1)
				assert.Equal(t, "0.1", e.Positions[0].Quantity.String())
				assert.Equal(t, "10000", e.Positions[0].MarkPrice.String())
				assert.Equal(t, "9041.1", e.Positions[0].LiquidationPrice.String(), "the fill's update carries the liquidation price")
				require.Len(t, e.Balances, 1)
			}
		}
	}
	assert.Equal(t, []string{
		"L NEW NORMAL", "L FILLED NORMAL",
		"ACCOUNT ORDER", // after every batch of fills (issue 10): positions for the risk monitors
		"ACCOUNT FUNDING_FEE",
		"rest NEW NORMAL",
		"rest CANCELED NORMAL LIQUIDATION",
		"autoclose-3 FILLED LIQUIDATION LIQUIDATION",
		"ACCOUNT LIQUIDATION",
	}, kinds)
	fills, err := v.Fills(ctx, "BTCUSDT", time.Time{})
	require.NoError(t, err)
	require.Len(t, fills, 2)
	assert.Equal(t, exchange.ExecLiquidation, fills[1].Kind)
	// sold 0.1 at 9042.1: realized (9042.1 − 10000) × 0.1 = −95.79, taker fee 904.21 × 0.05 % = 0.452105 → 0.4521
	assert.Equal(t, "-95.79", fills[1].RealizedPnL.String())
	assert.Equal(t, "0.4521", fills[1].Fee.String())
	acct, err := v.Account(ctx)
	require.NoError(t, err)
	// 100 − 0.5 − 0.1 − 95.79 − 0.4521 = 3.1579 above the bankruptcy
	// price: the insurance fund keeps it, and the cross wallet ends at 0
	assert.Equal(t, "0", acct.TotalWallet.String())
	assert.Equal(t, exchange.Money(31579), v.Stats().Insurance)
	assert.Equal(t, int64(1), v.Stats().Liquidations)
}

func TestVenuePricesLatestWins(t *testing.T) {
	v := newTestVenue(t, nil)
	ctx := t.Context()
	ch, err := v.SubscribePrices(ctx, "BTCUSDT")
	require.NoError(t, err)
	for _, p := range []string{"10000", "10000.1", "10000.2", "9999.9"} {
		require.NoError(t, v.SetPrice(ctx, d(p))) // nobody reads: must not block
	}
	u := <-ch
	assert.Equal(t, "9999.9", u.Price.String())
	assert.Equal(t, "BTCUSDT", u.Symbol)

	late, err := v.SubscribePrices(ctx, "BTCUSDT")
	require.NoError(t, err)
	assert.Equal(t, "9999.9", (<-late).Price.String(), "a new subscriber gets the latest price at once")
	_, err = v.SubscribePrices(ctx, "ETHUSDT")
	require.ErrorIs(t, err, ErrUnknownSymbol)
}

func TestVenueKlines(t *testing.T) {
	var now atomic.Int64 // seconds after t0
	v := newTestVenue(t, func(c *VenueConfig) {
		c.Clock = func() time.Time { return t0.Truncate(time.Minute).Add(time.Duration(now.Load()) * time.Second) }
	})
	ctx := t.Context()
	_, err := v.SubscribeKlines(ctx, "BTCUSDT", "5m")
	require.ErrorIs(t, err, exchange.ErrUnsupported)
	ch, err := v.SubscribeKlines(ctx, "BTCUSDT", "1m")
	require.NoError(t, err)
	for i, p := range []string{"100", "103", "99", "101", "102"} {
		now.Store(int64(i * 20)) // 0, 20, 40 s; then 60, 80 s: a new minute
		require.NoError(t, v.SetPrice(ctx, d(p)))
	}
	var got []string
	for range 6 {
		k := <-ch
		got = append(got, fmt.Sprintf("%s %s/%s/%s/%s %v", k.OpenTime.Format("15:04"), k.Open, k.High, k.Low, k.Close, k.Closed))
	}
	assert.Equal(t, []string{
		"03:04 100/100/100/100 false",
		"03:04 100/103/100/103 false",
		"03:04 100/103/99/99 false",
		"03:04 100/103/99/99 true",
		"03:05 101/101/101/101 false",
		"03:05 101/102/101/102 false",
	}, got)
}

func TestVenueCloseAndContext(t *testing.T) {
	core := DefaultCoreConfig(testRules())
	v, err := NewVenue(VenueConfig{Core: core})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	user, err := v.SubscribeUserData(ctx)
	require.NoError(t, err)
	prices, err := v.SubscribePrices(t.Context(), "BTCUSDT")
	require.NoError(t, err)
	klines, err := v.SubscribeKlines(t.Context(), "BTCUSDT", "1m")
	require.NoError(t, err)
	assert.Equal(t, exchange.EventReady, (<-user).Kind)
	cancel()
	for range user { // closes when its context ends
	}
	require.NoError(t, v.Close())
	for range prices {
	}
	for range klines {
	}
	require.NoError(t, v.Close(), "Close twice is fine")

	bg := context.Background()
	require.ErrorIs(t, v.SetPrice(bg, d("1")), exchange.ErrClosed)
	_, err = v.PlaceOrder(bg, limit("x", exchange.Buy, "1", "1"))
	require.ErrorIs(t, err, exchange.ErrClosed)
	_, err = v.SubscribeUserData(bg)
	require.ErrorIs(t, err, exchange.ErrClosed)
	_, err = v.Account(bg)
	require.ErrorIs(t, err, exchange.ErrClosed)
	_, err = v.OpenOrders(bg, "BTCUSDT")
	require.ErrorIs(t, err, exchange.ErrClosed)

	v2, err := NewVenue(VenueConfig{Core: core})
	require.NoError(t, err)
	defer v2.Close()
	done, cancel2 := context.WithCancel(bg)
	cancel2()
	_, err = v2.PlaceOrder(done, limit("x", exchange.Buy, "1", "1"))
	require.ErrorIs(t, err, context.Canceled)
	_, err = v2.SubscribeUserData(done)
	require.ErrorIs(t, err, context.Canceled)
}

func TestVenueRun(t *testing.T) {
	v := newTestVenue(t, nil)
	ctx := t.Context()
	require.NoError(t, v.SetPrice(ctx, d("10000")))
	_, err := v.PlaceOrder(ctx, limit("r", exchange.Buy, "9950", "0.01"))
	require.NoError(t, err)
	feed := make(chan exchange.PriceUpdate, 3)
	feed <- exchange.PriceUpdate{Symbol: "BTCUSDT", Price: d("9990")}
	feed <- exchange.PriceUpdate{Price: d("9940")}
	close(feed)
	require.NoError(t, v.Run(ctx, feed))
	o, err := v.QueryOrder(ctx, "BTCUSDT", "r")
	require.NoError(t, err)
	assert.Equal(t, exchange.StatusFilled, o.Status)

	bad := make(chan exchange.PriceUpdate, 1)
	bad <- exchange.PriceUpdate{Symbol: "ETHUSDT", Price: d("1")}
	require.ErrorIs(t, v.Run(ctx, bad), ErrUnknownSymbol)
	offTick := make(chan exchange.PriceUpdate, 1)
	offTick <- exchange.PriceUpdate{Price: d("1.05")}
	require.ErrorIs(t, v.Run(ctx, offTick), exchange.ErrInvalidOrder)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, v.Run(cctx, make(chan exchange.PriceUpdate)), context.Canceled)
}

func TestVenueRulesAndName(t *testing.T) {
	v := newTestVenue(t, func(c *VenueConfig) { c.Name = "paper"; c.Asset = "USDC" })
	assert.Equal(t, "paper", v.Name())
	r, err := v.Rules(t.Context(), "BTCUSDT")
	require.NoError(t, err)
	assert.Equal(t, testRules(), r)
	_, err = v.Rules(t.Context(), "ETHUSDT")
	require.ErrorIs(t, err, ErrUnknownSymbol)
	require.ErrorIs(t, err, exchange.ErrInvalidOrder, "the contract: an unlisted symbol is ErrInvalidOrder")
	_, err = v.Positions(t.Context(), "ETHUSDT")
	require.ErrorIs(t, err, ErrUnknownSymbol)
	_, err = v.Fills(t.Context(), "ETHUSDT", time.Time{})
	require.ErrorIs(t, err, ErrUnknownSymbol)
	_, err = v.QueryOrder(t.Context(), "ETHUSDT", "a")
	require.ErrorIs(t, err, ErrUnknownSymbol)
	require.NotErrorIs(t, err, exchange.ErrOrderNotFound, "an unknown symbol is no proof that an order is absent")
}

func TestNewVenueValidation(t *testing.T) {
	_, err := NewVenue(VenueConfig{Core: CoreConfig{}, Latency: -1, ClosedOrders: -1, FillHistory: -2, Faults: Faults{DropUpdate: 2}})
	require.ErrorIs(t, err, ErrInvalidConfig)
	for _, s := range []string{"Leverage = 0", "Latency = -1ns", "ClosedOrders = -1", "FillHistory = -2", "Faults.DropUpdate = 2"} {
		assert.Contains(t, err.Error(), s)
	}
}

func TestVenueLatencyHonoursContext(t *testing.T) {
	v := newTestVenue(t, func(c *VenueConfig) { c.Latency = time.Hour })
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := v.Account(ctx)
	require.ErrorIs(t, err, context.Canceled)
}

// TestVenueConcurrent hammers the venue from several goroutines (run with
// -race) and checks that the fills on the stream add up to the position.
func TestVenueConcurrent(t *testing.T) {
	v := newTestVenue(t, nil)
	ctx := t.Context()
	ch := userStream(t, v)
	require.NoError(t, v.SetPrice(ctx, d("10000")))
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				side := exchange.Buy
				px := 9990 - i%5
				if (w+i)%2 == 1 {
					side, px = exchange.Sell, 10010+i%5
				}
				o, err := v.PlaceOrder(ctx, limit(fmt.Sprintf("w%d-%d", w, i), side, fmt.Sprint(px), "0.001"))
				if err != nil {
					t.Error(err)
					return
				}
				if i%3 == 0 {
					_, _ = v.CancelOrder(ctx, exchange.CancelRequest{Symbol: "BTCUSDT", OrderID: o.OrderID}) // may have filled
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 100 {
			px := []string{"9980", "10020", "10000"}[i%3]
			if err := v.SetPrice(ctx, d(px)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
	evs := barrier(t, v, ch)
	filled := decimal.Zero
	for _, e := range evs {
		if e.Kind == exchange.EventOrder && e.Order.LastFillQty.IsPositive() {
			q := e.Order.LastFillQty
			if e.Order.Side == exchange.Sell {
				q = q.Neg()
			}
			filled = filled.Add(q)
		}
	}
	pos, err := v.Positions(ctx, "BTCUSDT")
	require.NoError(t, err)
	assert.True(t, filled.Equal(pos[0].Quantity), "stream fills %s, position %s", filled, pos[0].Quantity)
	assert.Positive(t, v.Stats().Fills)
}

// FuzzVenuePlaceOrder feeds arbitrary decimal text through the venue's
// decimal boundary: it must answer with an order on the grids or an error,
// never panic.
func FuzzVenuePlaceOrder(f *testing.F) {
	f.Add("9900", "0.01", "c1", uint8(0))
	f.Add("1e3", "-0.001", "", uint8(1))
	f.Add("99999999999999999999", "0.000000000001", "x/y:z", uint8(2))
	f.Fuzz(func(t *testing.T, price, qty, cid string, flags uint8) {
		p, err1 := decimal.NewFromString(price)
		q, err2 := decimal.NewFromString(qty)
		if err1 != nil || err2 != nil || p.Exponent() < -30 || q.Exponent() < -30 || p.Exponent() > 30 || q.Exponent() > 30 {
			return
		}
		v := newTestVenue(t, nil)
		ctx := t.Context()
		require.NoError(t, v.SetPrice(ctx, d("10000")))
		req := exchange.OrderRequest{
			Symbol: "BTCUSDT", ClientOrderID: cid, Side: exchange.Side(1 + flags&1), Type: exchange.OrderType(flags >> 1 & 1),
			TimeInForce: exchange.TimeInForce(flags >> 2 & 3), Price: p, Quantity: q, ReduceOnly: flags&16 != 0,
		}
		o, err := v.PlaceOrder(ctx, req)
		if err != nil {
			return
		}
		if _, err := testRules().QtyToSteps(o.Quantity); err != nil {
			t.Fatalf("accepted quantity %s off the step grid", o.Quantity)
		}
		if _, err := testRules().PriceToTicks(o.Price); err != nil {
			t.Fatalf("accepted price %s off the tick grid", o.Price)
		}
		if !o.Quantity.IsPositive() || o.ClientOrderID == "" {
			t.Fatalf("accepted order %+v", o)
		}
	})
}

// TestVenueFundingAtAFineMark: a mark price with more decimals than the
// tick (Binance's has 8) is charged exactly, not refused.
func TestVenueFundingAtAFineMark(t *testing.T) {
	v := newTestVenue(t, func(c *VenueConfig) { c.Core.InitialBalance = 1_000_000; c.Core.TakerFee = 0 })
	ctx := t.Context()
	require.NoError(t, v.SetPrice(ctx, d("10000")))
	_, err := v.PlaceOrder(ctx, exchange.OrderRequest{Symbol: "BTCUSDT", ClientOrderID: "L", Side: exchange.Buy, Type: exchange.Market, Quantity: d("0.1")})
	require.NoError(t, err)
	// 0.1 × 10000.05 × 0.01 % = 0.1000005 USDT: 1000.005 Money, booked 1000
	require.NoError(t, v.ApplyFunding(ctx, d("0.0001"), d("10000.05")))
	assert.Equal(t, exchange.Money(1000), v.Stats().Funding)
	require.ErrorContains(t, v.ApplyFunding(ctx, d("0.0001"), d("0")), "sim: funding: mark price 0 must be positive")
}

// The venue's two post-only behaviours: refused at once (Binance -5022),
// or accepted and canceled at once with nothing filled, on the stream as
// NEW then CANCELED (Bitget; CoreConfig.PostOnlyCancelLater).
func TestVenuePostOnlyRejectedNowOrLater(t *testing.T) {
	for _, later := range []bool{false, true} {
		v := newTestVenue(t, func(c *VenueConfig) { c.Core.PostOnlyCancelLater = later })
		ctx := t.Context()
		ch := userStream(t, v)
		require.NoError(t, v.SetPrice(ctx, d("10000")))
		req := limit("po1", exchange.Buy, "10000", "0.01")
		req.TimeInForce = exchange.PostOnly
		o, err := v.PlaceOrder(ctx, req)
		if !later {
			require.ErrorIs(t, err, exchange.ErrPostOnlyRejected)
			assert.Empty(t, upds(barrier(t, v, ch)))
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, exchange.StatusCanceled, o.Status)
		assert.Equal(t, []upd{
			{"po1", exchange.StatusNew, "0", "0", "0", "0", false},
			{"po1", exchange.StatusCanceled, "0", "0", "0", "0", false},
		}, upds(barrier(t, v, ch)))
		q, err := v.QueryOrder(ctx, "BTCUSDT", "po1")
		require.NoError(t, err)
		assert.Equal(t, exchange.StatusCanceled, q.Status)
	}
}
