package examplevenue

import (
	"context"
	"errors"
	"sync"
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

// clock is a settable clock for the venue.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// venue starts a venue at price 60000 (unless price is empty) and an
// adapter over it, both stopped at the end of the test.
func venue(t *testing.T, cfg ServerConfig, price string) (*Server, *Adapter) {
	t.Helper()
	if cfg.Instrument.Symbol == "" {
		cfg.Instrument = testInstrument
	}
	if cfg.Balance == "" {
		cfg.Balance = "10000"
	}
	if cfg.Leverage == 0 {
		cfg.Leverage = 5
	}
	srv, err := NewServer(cfg)
	require.NoError(t, err)
	if price != "" {
		require.NoError(t, srv.SetPrice(price))
	}
	ad, err := New(srv, Config{})
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, ad.Close())
		srv.Close()
	})
	return srv, ad
}

func limit(id string, side exchange.Side, price, qty string) exchange.OrderRequest {
	return exchange.OrderRequest{Symbol: "BTCUSDT", ClientOrderID: id, Side: side, Type: exchange.Limit, Price: d(price), Quantity: d(qty)}
}

// next reads one user event (the suite's timeout guards a hang).
func next(t *testing.T, ch <-chan exchange.UserEvent) exchange.UserEvent {
	t.Helper()
	select {
	case ev, ok := <-ch:
		require.True(t, ok, "user stream closed")
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no user event within 10 s")
	}
	return exchange.UserEvent{}
}

// TestErrorMapping makes the venue refuse in each of its ways, through the
// adapter, and checks the sentinel and the venue's code that come back.
func TestErrorMapping(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name  string
		setup func(t *testing.T) (*Server, *Adapter)
		do    func(a *Adapter) error
		kind  error
		code  int // 0: no VenueError expected (the adapter refused locally)
	}{
		{"duplicate live client ID", defaultVenue, func(a *Adapter) error {
			if _, err := a.PlaceOrder(ctx, limit("dup", exchange.Buy, "59000", "0.001")); err != nil {
				return err
			}
			_, err := a.PlaceOrder(ctx, limit("dup", exchange.Buy, "58000", "0.001"))
			return err
		}, exchange.ErrDuplicateClientOrderID, CodeDuplicateID},
		{"margin", defaultVenue, func(a *Adapter) error { // 10 BTC × 59000 / 5 > 10000
			_, err := a.PlaceOrder(ctx, limit("big", exchange.Buy, "59000", "10"))
			return err
		}, exchange.ErrInsufficientMargin, CodeInsufficient},
		{"reduce-only with no position", defaultVenue, func(a *Adapter) error {
			req := limit("ro", exchange.Sell, "61000", "0.001")
			req.ReduceOnly = true
			_, err := a.PlaceOrder(ctx, req)
			return err
		}, exchange.ErrReduceOnlyRejected, CodeReduceOnly},
		{"open-order cap", func(t *testing.T) (*Server, *Adapter) { return venue(t, ServerConfig{MaxOpenOrders: 1}, "60000") }, func(a *Adapter) error {
			if _, err := a.PlaceOrder(ctx, limit("a", exchange.Buy, "59000", "0.001")); err != nil {
				return err
			}
			_, err := a.PlaceOrder(ctx, limit("b", exchange.Buy, "58000", "0.001"))
			return err
		}, exchange.ErrTooManyOrders, CodeTooManyOrders},
		{"unknown symbol", defaultVenue, func(a *Adapter) error {
			_, err := a.Rules(ctx, "ETHUSDT")
			return err
		}, exchange.ErrInvalidOrder, CodeBadSymbol},
		{"below the minimum notional", defaultVenue, func(a *Adapter) error {
			_, err := a.PlaceOrder(ctx, limit("small", exchange.Buy, "4000", "0.001"))
			return err
		}, exchange.ErrInvalidOrder, CodeBadSize},
		{"bad client ID", defaultVenue, func(a *Adapter) error {
			_, err := a.PlaceOrder(ctx, limit("no spaces", exchange.Buy, "59000", "0.001"))
			return err
		}, exchange.ErrInvalidOrder, CodeBadRequest},
		{"no market yet", func(t *testing.T) (*Server, *Adapter) { return venue(t, ServerConfig{}, "") }, func(a *Adapter) error {
			_, err := a.PlaceOrder(ctx, limit("early", exchange.Buy, "59000", "0.001"))
			return err
		}, exchange.ErrUnavailable, CodeNoMarket},
		{"cancel of a filled order", defaultVenue, func(a *Adapter) error {
			o, err := a.PlaceOrder(ctx, limit("taker", exchange.Buy, "61000", "0.001")) // crosses: fills at once
			if err != nil {
				return err
			}
			_, err = a.CancelOrder(ctx, exchange.CancelRequest{Symbol: "BTCUSDT", OrderID: o.OrderID})
			return err
		}, exchange.ErrOrderNotFound, CodeOrderClosed},
		{"cancel of an ID the venue never issues", defaultVenue, func(a *Adapter) error {
			_, err := a.CancelOrder(ctx, exchange.CancelRequest{Symbol: "BTCUSDT", OrderID: "abc"})
			return err
		}, exchange.ErrOrderNotFound, 0},
		{"hedge-mode position side", defaultVenue, func(a *Adapter) error {
			req := limit("hedge", exchange.Buy, "59000", "0.001")
			req.PositionSide = exchange.PositionLong
			_, err := a.PlaceOrder(ctx, req)
			return err
		}, exchange.ErrPositionMode, 0},
		{"venue shut down", func(t *testing.T) (*Server, *Adapter) {
			srv, a := venue(t, ServerConfig{}, "60000")
			srv.Close()
			return srv, a
		}, func(a *Adapter) error {
			_, err := a.OpenOrders(ctx, "BTCUSDT")
			return err
		}, exchange.ErrUnavailable, CodeServiceStopped},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, a := c.setup(t)
			err := c.do(a)
			require.Error(t, err)
			assert.ErrorIs(t, err, c.kind)
			var ve *exchange.VenueError
			if c.code == 0 {
				assert.False(t, errors.As(err, &ve), "%v", err)
				return
			}
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, c.code, ve.Code)
			assert.Equal(t, VenueName, ve.Venue)
		})
	}
}

func defaultVenue(t *testing.T) (*Server, *Adapter) { return venue(t, ServerConfig{}, "60000") }

// TestEveryCodeIsMapped: each of the venue's codes has a sentinel (the
// rate limit is mapped on its own, with its wait).
func TestEveryCodeIsMapped(t *testing.T) {
	for _, code := range []int{CodeBadRequest, CodeBadSymbol, CodeBadPrice, CodeBadSize, CodeDuplicateID, CodeNoMarket,
		CodeInsufficient, CodeReduceOnly, CodeTooManyOrders, CodeOrderNotFound, CodeOrderClosed, CodeServiceStopped} {
		assert.NotNil(t, errorKinds[code], "code %d", code)
	}
	var ve *exchange.VenueError
	err := venueError(&APIError{Code: 99999, Msg: "new"})
	require.ErrorAs(t, err, &ve)
	assert.Nil(t, ve.Kind, "an unmapped code has no kind")
	assert.False(t, exchange.Retryable(err))
}

// TestRateLimit: the venue allows two order requests per second; the
// third is a *exchange.RateLimitError with the venue's wait, retryable.
func TestRateLimit(t *testing.T) {
	clk := &clock{t: time.Date(2025, 5, 4, 12, 0, 10, 250e6, time.UTC)}
	_, a := venue(t, ServerConfig{OrderRate: 2, Clock: clk.Now}, "60000")
	ctx := context.Background()
	for _, id := range []string{"r1", "r2"} {
		_, err := a.PlaceOrder(ctx, limit(id, exchange.Buy, "59000", "0.001"))
		require.NoError(t, err)
	}
	_, err := a.PlaceOrder(ctx, limit("r3", exchange.Buy, "59000", "0.001"))
	var rl *exchange.RateLimitError
	require.ErrorAs(t, err, &rl)
	assert.Equal(t, 751*time.Millisecond, rl.RetryAfter, "until the next second, plus 1 ms")
	assert.ErrorIs(t, err, exchange.ErrRateLimited)
	assert.True(t, exchange.Retryable(err))
	var ve *exchange.VenueError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, CodeRateLimited, ve.Code)

	clk.set(clk.Now().Add(750 * time.Millisecond)) // the next second
	_, err = a.PlaceOrder(ctx, limit("r3", exchange.Buy, "59000", "0.001"))
	assert.NoError(t, err)
}

// TestUnknownOutcome: a place whose context has ended may or may not have
// reached the venue, as far as the adapter can tell. Here it did not: a
// query by its client ID finds nothing.
func TestUnknownOutcome(t *testing.T) {
	_, a := defaultVenue(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	before := time.Now()
	_, err := a.PlaceOrder(ctx, limit("lost", exchange.Buy, "59000", "0.001"))
	var uo *exchange.UnknownOutcomeError
	require.ErrorAs(t, err, &uo)
	assert.Equal(t, "place", uo.Op)
	assert.False(t, uo.SentAt.Before(before))
	assert.ErrorIs(t, err, exchange.ErrUnknownOutcome)
	assert.False(t, exchange.Retryable(err), "resolved by a query, never resent blindly")
	_, err = a.QueryOrder(context.Background(), "BTCUSDT", "lost")
	assert.ErrorIs(t, err, exchange.ErrOrderNotFound)

	_, err = a.CancelOrder(ctx, exchange.CancelRequest{Symbol: "BTCUSDT", ClientOrderID: "lost"})
	require.ErrorAs(t, err, &uo)
	assert.Equal(t, "cancel", uo.Op)
	_, err = a.OpenOrders(ctx, "BTCUSDT")
	assert.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, exchange.ErrUnknownOutcome, "a query changes nothing")
}

// TestPartialFillsAndFees: a resting buy of 0.004 fills in two trades of
// 0.002 at its price, as maker; the venue's negative fee (charged) arrives
// as a positive one, on the stream and in Fills alike.
func TestPartialFillsAndFees(t *testing.T) {
	clk := &clock{t: time.Date(2025, 5, 4, 12, 0, 0, 0, time.UTC)}
	srv, a := venue(t, ServerConfig{Clock: clk.Now}, "60000")
	ctx := context.Background()
	ch, err := a.SubscribeUserData(ctx)
	require.NoError(t, err)
	assert.Equal(t, exchange.EventReady, next(t, ch).Kind)

	o, err := a.PlaceOrder(ctx, limit("in", exchange.Buy, "59000", "0.004"))
	require.NoError(t, err)
	assert.Equal(t, "1000001", o.OrderID)
	assert.Equal(t, exchange.StatusNew, o.Status)
	clk.set(clk.Now().Add(time.Second))
	require.NoError(t, srv.SetPrice("58900"))

	want := []struct {
		status       exchange.OrderStatus
		filled, last string
		trade        string
	}{
		{exchange.StatusNew, "0", "0", ""},
		{exchange.StatusPartiallyFilled, "0.002", "0.002", "1"},
		{exchange.StatusFilled, "0.004", "0.002", "2"},
	}
	for i, w := range want {
		ev := next(t, ch)
		require.Equal(t, exchange.EventOrder, ev.Kind)
		u := ev.Order
		assert.Equal(t, w.status, u.Status, "update %d", i)
		assert.Equal(t, w.filled, u.FilledQty.String(), "update %d", i)
		assert.Equal(t, w.last, u.LastFillQty.String(), "update %d", i)
		assert.Equal(t, w.trade, u.TradeID, "update %d", i)
		if w.trade != "" {
			assert.Equal(t, "59000", u.LastFillPrice.String())
			assert.Equal(t, "0.0236", u.Fee.String(), "59000 × 0.002 × 0.02 %, paid")
			assert.True(t, u.Maker)
			assert.Equal(t, "USDT", u.FeeAsset)
			assert.Equal(t, clk.Now(), u.Time)
		}
	}
	fills, err := a.Fills(ctx, "BTCUSDT", clk.Now())
	require.NoError(t, err)
	require.Len(t, fills, 2)
	for _, f := range fills {
		assert.Equal(t, "0.0236", f.Fee.String())
		assert.Equal(t, "in", f.ClientOrderID)
		assert.Equal(t, o.OrderID, f.OrderID)
	}
	later, err := a.Fills(ctx, "BTCUSDT", clk.Now().Add(time.Microsecond))
	require.NoError(t, err)
	assert.Empty(t, later, "since is rounded up to the venue's millisecond")

	pos, err := a.Positions(ctx, "BTCUSDT")
	require.NoError(t, err)
	require.Len(t, pos, 1)
	assert.Equal(t, "0.004", pos[0].Quantity.String())
	assert.Equal(t, "59000", pos[0].EntryPrice.String())
	assert.Equal(t, "-0.4", pos[0].UnrealizedPnL.String(), "0.004 × (58900 − 59000)")
	acct, err := a.Account(ctx)
	require.NoError(t, err)
	assert.Equal(t, "9999.9528", acct.TotalWallet.String(), "10000 − 2 × 0.0236")
	assert.Equal(t, "9999.5528", acct.TotalMargin.String())
	assert.Equal(t, exchange.OneWay, acct.PositionMode)
}

// TestVenueEndsAreExpired: a post-only order that would cross and a
// reduce-only order left with nothing to reduce end as EXPIRED with the
// venue's reason; a requested cancel is CANCELED.
func TestVenueEndsAreExpired(t *testing.T) {
	srv, a := defaultVenue(t)
	ctx := context.Background()
	ch, err := a.SubscribeUserData(ctx)
	require.NoError(t, err)
	next(t, ch) // ready

	po := limit("po", exchange.Buy, "60100", "0.002")
	po.TimeInForce = exchange.PostOnly
	o, err := a.PlaceOrder(ctx, po)
	require.NoError(t, err, "accepted, then canceled by the venue")
	assert.Equal(t, exchange.StatusExpired, o.Status)
	assert.Equal(t, exchange.StatusNew, next(t, ch).Order.Status)
	u := next(t, ch).Order
	assert.Equal(t, exchange.StatusExpired, u.Status)
	assert.Equal(t, SourcePostOnly, u.Reason)
	assert.True(t, u.FilledQty.IsZero())

	// Hold 0.002, then try to reduce 0.004: half fills, the rest expires.
	_, err = a.PlaceOrder(ctx, exchange.OrderRequest{Symbol: "BTCUSDT", ClientOrderID: "open", Side: exchange.Buy, Type: exchange.Market, Quantity: d("0.002")})
	require.NoError(t, err)
	for range 2 { // NEW, FILLED
		next(t, ch)
	}
	ro := limit("ro", exchange.Sell, "60100", "0.004")
	ro.ReduceOnly = true
	_, err = a.PlaceOrder(ctx, ro)
	require.NoError(t, err)
	require.NoError(t, srv.SetPrice("60200"))
	var got []exchange.OrderStatus
	for len(got) < 3 {
		u = next(t, ch).Order
		got = append(got, u.Status)
	}
	assert.Equal(t, []exchange.OrderStatus{exchange.StatusNew, exchange.StatusPartiallyFilled, exchange.StatusExpired}, got)
	assert.Equal(t, SourceReduceOnly, u.Reason)
	assert.Equal(t, "0.002", u.FilledQty.String())

	rest, err := a.PlaceOrder(ctx, limit("rest", exchange.Buy, "59000", "0.002"))
	require.NoError(t, err)
	c, err := a.CancelOrder(ctx, exchange.CancelRequest{Symbol: "BTCUSDT", OrderID: rest.OrderID})
	require.NoError(t, err)
	assert.Equal(t, exchange.StatusCanceled, c.Status)
}

// TestMalformedMessageSkipped: a push the adapter cannot read is counted
// and skipped; the stream goes on.
func TestMalformedMessageSkipped(t *testing.T) {
	srv, a := defaultVenue(t)
	ctx := context.Background()
	ch, err := a.SubscribeUserData(ctx)
	require.NoError(t, err)
	next(t, ch)
	srv.mu.Lock()
	srv.publish(Message{Channel: ChannelOrders, Order: NativeOrder{ID: 7, Side: "buy", Type: "limit", Px: "1", Sz: "x", FilledSz: "0", State: StateLive}})
	srv.mu.Unlock()
	_, err = a.PlaceOrder(ctx, limit("ok", exchange.Buy, "59000", "0.001"))
	require.NoError(t, err)
	assert.Equal(t, "ok", next(t, ch).Order.ClientOrderID)
	assert.Equal(t, uint64(1), a.Malformed())
}

// TestKlines: the adapter builds 1-minute candles from the ticker.
func TestKlines(t *testing.T) {
	clk := &clock{t: time.Date(2025, 5, 4, 12, 0, 10, 0, time.UTC)}
	srv, a := venue(t, ServerConfig{Clock: clk.Now}, "")
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := a.SubscribeKlines(ctx, "BTCUSDT", "1m")
	require.NoError(t, err)
	_, err = a.SubscribeKlines(ctx, "BTCUSDT", "5m")
	assert.ErrorIs(t, err, exchange.ErrUnsupported)
	for _, step := range []struct {
		at    time.Duration
		price string
	}{{0, "100"}, {30 * time.Second, "105"}, {15 * time.Second, "98"}, {25 * time.Second, "99"}} {
		clk.set(clk.Now().Add(step.at))
		require.NoError(t, srv.SetPrice(step.price))
	}
	type ohlc struct {
		open, high, low, close string
		closed                 bool
		minute                 int
	}
	var got []ohlc
	for len(got) < 5 {
		k := <-ch
		got = append(got, ohlc{k.Open.String(), k.High.String(), k.Low.String(), k.Close.String(), k.Closed, k.OpenTime.Minute()})
	}
	assert.Equal(t, []ohlc{
		{"100", "100", "100", "100", false, 0},
		{"100", "105", "100", "105", false, 0},
		{"100", "105", "98", "98", false, 0},
		{"100", "105", "98", "98", true, 0},
		{"99", "99", "99", "99", false, 1},
	}, got)
	cancel()
	for range ch { // closes once ctx ends
	}
}

// FuzzToUpdate feeds the order-stream translation arbitrary venue fields:
// it never panics, and what it accepts is consistent.
func FuzzToUpdate(f *testing.F) {
	f.Add("limit", "buy", "59000", "0.004", "0.002", "59000", StatePartiallyFilled, "", true, "59000", "0.002", "-0.0236")
	f.Add("post_only", "sell", "61000", "0.001", "0", "", StateCanceled, SourcePostOnly, false, "", "", "")
	f.Add("market", "buy", "", "1e-3", "0.001", "60000", StateFilled, "", true, "60000", "0.001", "0.01")
	f.Add("limit", "hold", "x", "-1", "", "", "gone", "", true, "0", "-1", "fee")
	f.Fuzz(func(t *testing.T, typ, side, px, sz, filled, avg, state, source string, trade bool, tpx, tsz, fee string) {
		m := Message{Channel: ChannelOrders, Order: NativeOrder{ID: 1, Symbol: "BTCUSDT", Side: side, Type: typ, Px: px, Sz: sz,
			FilledSz: filled, AvgPx: avg, State: state, CancelSource: source, UpdatedMs: 1}}
		if trade {
			m.Trade = &NativeTrade{TradeID: 2, OrderID: 1, Side: side, Px: tpx, Sz: tsz, Fee: fee, Liquidity: "maker", Ms: 3}
		}
		u, err := toUpdate(m)
		if err != nil {
			return
		}
		if u.Status == exchange.StatusUnknown || (u.Side != exchange.Buy && u.Side != exchange.Sell) {
			t.Fatalf("accepted state %q side %q as %v %v", state, side, u.Status, u.Side)
		}
		if !u.Quantity.Equal(d(sz)) || !u.FilledQty.Equal(d(filled)) {
			t.Fatalf("quantities %s/%s from %q/%q", u.Quantity, u.FilledQty, sz, filled)
		}
		if trade {
			if !u.LastFillQty.IsPositive() || !u.LastFillPrice.IsPositive() || !u.Fee.Equal(d(fee).Neg()) || u.TradeID != "2" {
				t.Fatalf("trade %q×%q fee %q accepted as %+v", tpx, tsz, fee, u)
			}
		} else if !u.LastFillQty.IsZero() || u.TradeID != "" {
			t.Fatalf("no trade, yet %+v", u)
		}
	})
}
