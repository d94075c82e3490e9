package binance_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/binance"
	"github.com/gridmesh/gridmesh/exchange/binance/binancetest"
	"github.com/shopspring/decimal"
)

const waitFor = 10 * time.Second

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// setup starts a server and a client of it, both stopped at the end of the test.
func setup(t *testing.T, opts []binancetest.Option, mods ...func(*binance.Config)) (*binancetest.Server, *binance.Client) {
	t.Helper()
	srv := binancetest.NewServer(opts...)
	c := newTestClient(t, srv, mods...)
	t.Cleanup(func() {
		_ = c.Close()
		srv.Close()
	})
	return srv, c
}

// events reads a user-data stream with a bound on every wait.
type events struct {
	t  *testing.T
	ch <-chan exchange.UserEvent
}

func subscribe(t *testing.T, c *binance.Client) *events {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ch, err := c.SubscribeUserData(ctx)
	if err != nil {
		t.Fatalf("SubscribeUserData: %v", err)
	}
	e := &events{t: t, ch: ch}
	if ev := e.next(); ev.Kind != exchange.EventReady || ev.Reconnected {
		t.Fatalf("first event %v reconnected=%v, want READY", ev.Kind, ev.Reconnected)
	}
	return e
}

func (e *events) next() exchange.UserEvent {
	e.t.Helper()
	select {
	case ev, ok := <-e.ch:
		if !ok {
			e.t.Fatal("user stream closed")
		}
		return ev
	case <-time.After(waitFor):
		e.t.Fatal("no user event")
	}
	return exchange.UserEvent{}
}

// until reads events until one satisfies pred, returning the ones before it too.
func (e *events) until(what string, pred func(exchange.UserEvent) bool) (exchange.UserEvent, []exchange.UserEvent) {
	e.t.Helper()
	var before []exchange.UserEvent
	deadline := time.After(waitFor)
	for {
		select {
		case ev, ok := <-e.ch:
			if !ok {
				e.t.Fatalf("user stream closed while waiting for %s", what)
			}
			if pred(ev) {
				return ev, before
			}
			before = append(before, ev)
		case <-deadline:
			e.t.Fatalf("no %s; saw %+v", what, before)
		}
	}
}

func isKind(k exchange.UserEventKind) func(exchange.UserEvent) bool {
	return func(ev exchange.UserEvent) bool { return ev.Kind == k }
}

func orderStatus(clientID string, st exchange.OrderStatus) func(exchange.UserEvent) bool {
	return func(ev exchange.UserEvent) bool {
		return ev.Kind == exchange.EventOrder && ev.Order.ClientOrderID == clientID && ev.Order.Status == st
	}
}

func buy(id, price, qty string) exchange.OrderRequest {
	return exchange.OrderRequest{Symbol: "BTCUSDT", ClientOrderID: id, Side: exchange.Buy, Price: dec(price), Quantity: dec(qty)}
}

// expectReconnect reads DISCONNECTED then READY{Reconnected} and returns the
// events before DISCONNECTED.
func (e *events) expectReconnect() []exchange.UserEvent {
	e.t.Helper()
	_, before := e.until("DISCONNECTED", isKind(exchange.EventDisconnected))
	ev := e.next()
	if ev.Kind != exchange.EventReady || !ev.Reconnected {
		e.t.Fatalf("after DISCONNECTED: %v reconnected=%v, want READY reconnected", ev.Kind, ev.Reconnected)
	}
	return before
}

// TestReconnectNoMissedFill: a fill happens while the socket is dead, so its
// events are lost; the adapter reports the reconnection and the REST state
// the engine reconciles from shows the fill.
func TestReconnectNoMissedFill(t *testing.T) {
	srv, c := setup(t, nil)
	ctx := context.Background()
	ev := subscribe(t, c)
	if _, err := c.PlaceOrder(ctx, buy("rc-1", "59000", "0.002")); err != nil {
		t.Fatal(err)
	}
	ev.until("NEW", orderStatus("rc-1", exchange.StatusNew))
	srv.Stall() // hold the fill's events in the doomed socket's queue
	if err := srv.SetPrice(ctx, "BTCUSDT", dec("58900")); err != nil {
		t.Fatal(err)
	}
	srv.DropStreams("private")
	srv.Resume()
	before := ev.expectReconnect()
	for _, e := range before {
		if e.Kind == exchange.EventOrder {
			t.Errorf("an update of the dead socket arrived: %+v", e.Order)
		}
	}
	open, err := c.OpenOrders(ctx, "BTCUSDT")
	if err != nil || len(open) != 0 {
		t.Fatalf("OpenOrders after reconnect = %+v, %v; want none", open, err)
	}
	o, err := c.QueryOrder(ctx, "BTCUSDT", "rc-1")
	if err != nil || o.Status != exchange.StatusFilled || !o.FilledQty.Equal(dec("0.002")) {
		t.Fatalf("QueryOrder = %+v, %v; want FILLED 0.002", o, err)
	}
	fills, err := c.Fills(ctx, "BTCUSDT", time.Time{})
	if err != nil || len(fills) != 2 || fills[0].ClientOrderID != "rc-1" {
		t.Fatalf("Fills = %+v, %v", fills, err)
	}
	// The new connection delivers later events.
	if _, err := c.PlaceOrder(ctx, buy("rc-2", "58000", "0.002")); err != nil {
		t.Fatal(err)
	}
	ev.until("NEW of rc-2", orderStatus("rc-2", exchange.StatusNew))
}

func TestListenKeyExpired(t *testing.T) {
	srv, c := setup(t, nil)
	ev := subscribe(t, c)
	first := srv.ListenKey()
	srv.ExpireListenKey()
	ev.expectReconnect()
	if k := srv.ListenKey(); k == "" || k == first {
		t.Fatalf("listen key after expiry = %q (was %q), want a new one", k, first)
	}
	if n := srv.Requests("POST", "/fapi/v1/listenKey"); n != 2 {
		t.Errorf("listen keys created = %d, want 2", n)
	}
	if _, err := c.PlaceOrder(context.Background(), buy("lk-1", "59000", "0.002")); err != nil {
		t.Fatal(err)
	}
	ev.until("NEW on the new key", orderStatus("lk-1", exchange.StatusNew))
}

func TestKeepAliveInvalidKeyReconnects(t *testing.T) {
	srv, c := setup(t, nil, func(cfg *binance.Config) { cfg.KeepAlive = 50 * time.Millisecond })
	ev := subscribe(t, c)
	srv.InjectFault(binancetest.Fault{Method: "PUT", Path: "/fapi/v1/listenKey", Status: 400, Code: -1125, Msg: "This listenKey does not exist."})
	ev.expectReconnect()
	if n := srv.Requests("PUT", "/fapi/v1/listenKey"); n < 1 {
		t.Errorf("keepalives = %d", n)
	}
	if n := srv.Requests("POST", "/fapi/v1/listenKey"); n != 2 {
		t.Errorf("listen keys created = %d, want 2", n)
	}
}

func TestStaleConnectionIsRedialled(t *testing.T) {
	srv, c := setup(t, nil)
	ev := subscribe(t, c)
	srv.Stall() // no data, no pong: the adapter's StaleAfter (1 s) ends the socket
	_, _ = ev.until("DISCONNECTED", isKind(exchange.EventDisconnected))
	srv.Resume()
	if r := ev.next(); r.Kind != exchange.EventReady || !r.Reconnected {
		t.Fatalf("after stall: %v %v", r.Kind, r.Reconnected)
	}
}

func TestConnectionRollover(t *testing.T) {
	_, c := setup(t, nil, func(cfg *binance.Config) { cfg.MaxConnAge = 300 * time.Millisecond })
	ev := subscribe(t, c)
	ev.expectReconnect()
	ev.expectReconnect()
}

func TestClockDriftResync(t *testing.T) {
	for _, drift := range []time.Duration{30 * time.Second, -30 * time.Second} {
		srv, c := setup(t, nil)
		ctx := context.Background()
		if _, err := c.OpenOrders(ctx, "BTCUSDT"); err != nil {
			t.Fatal(err)
		}
		srv.SetClockOffset(drift)
		if _, err := c.PlaceOrder(ctx, buy("drift", "59000", "0.002")); err != nil {
			t.Fatalf("drift %s: PlaceOrder after -1021: %v", drift, err)
		}
		if n := srv.Requests("GET", "/fapi/v1/time"); n != 2 {
			t.Errorf("drift %s: time syncs = %d, want 2", drift, n)
		}
		if n := srv.Requests("POST", "/fapi/v1/order"); n != 2 {
			t.Errorf("drift %s: order requests = %d, want 2 (rejected, then retried)", drift, n)
		}
		if off := c.ClockOffset(); (off - drift).Abs() > time.Second {
			t.Errorf("drift %s: ClockOffset = %s", drift, off)
		}
		if len(srv.OpenOrders("BTCUSDT")) != 1 {
			t.Errorf("drift %s: the order was not placed exactly once", drift)
		}
	}
}

func TestRateLimits(t *testing.T) {
	fixed := time.Date(2026, 11, 1, 12, 0, 15, 0, time.UTC)
	clock := func() time.Time { return fixed }
	srv, c := setup(t, []binancetest.Option{binancetest.WithClock(clock), binancetest.WithWeightLimit(8)},
		func(cfg *binance.Config) { cfg.Clock = clock })
	ctx := context.Background()
	// exchangeInfo 1 + time 1 + openOrders 1 ×6 = 8: the next request is refused.
	for i := 0; i < 6; i++ {
		if _, err := c.OpenOrders(ctx, "BTCUSDT"); err != nil {
			t.Fatalf("OpenOrders %d: %v", i, err)
		}
	}
	if _, err := c.Rules(ctx, "BTCUSDT"); err != nil {
		t.Fatal(err)
	}
	if u := c.Usage(); u.UsedWeight1m != 8 {
		t.Errorf("Usage = %+v, want 8 weight", u)
	}
	_, err := c.OpenOrders(ctx, "BTCUSDT")
	var rl *exchange.RateLimitError
	if !errors.As(err, &rl) || !errors.Is(err, exchange.ErrRateLimited) || rl.RetryAfter != 45*time.Second || rl.Banned {
		t.Fatalf("over the limit: %v (%+v), want RateLimitError retry 45s", err, rl)
	}
	if !exchange.Retryable(err) {
		t.Error("rate limit not retryable")
	}
	sent := srv.Requests("GET", "/fapi/v1/openOrders")
	if _, err := c.OpenOrders(ctx, "BTCUSDT"); !errors.As(err, &rl) || rl.RetryAfter != 45*time.Second {
		t.Fatalf("during the pause: %v", err)
	}
	if srv.Requests("GET", "/fapi/v1/openOrders") != sent {
		t.Error("the adapter sent a request while paused after a 429")
	}
}

func TestRateLimitBanAndOrderCount(t *testing.T) {
	fixed := time.Date(2026, 11, 1, 12, 0, 15, 0, time.UTC)
	clock := func() time.Time { return fixed }
	srv, c := setup(t, []binancetest.Option{binancetest.WithClock(clock), binancetest.WithOrderLimits(2, 100), binancetest.WithoutRetryAfter()},
		func(cfg *binance.Config) { cfg.Clock = clock })
	ctx := context.Background()
	for i, id := range []string{"oc-1", "oc-2"} {
		if _, err := c.PlaceOrder(ctx, buy(id, "59000", "0.002")); err != nil {
			t.Fatalf("order %d: %v", i, err)
		}
	}
	if u := c.Usage(); u.OrderCount10s != 2 || u.OrderCount1m != 2 {
		t.Errorf("Usage = %+v, want 2 orders", u)
	}
	_, err := c.PlaceOrder(ctx, buy("oc-3", "59000", "0.002"))
	var rl *exchange.RateLimitError
	var ve *exchange.VenueError
	if !errors.As(err, &rl) || rl.RetryAfter != 5*time.Second || !errors.As(err, &ve) || ve.Code != -1015 {
		t.Fatalf("order over the limit: %v, want -1015 retry 5s", err)
	}
	// -1015 pauses nothing else: cancels still go out.
	if _, err := c.CancelOrder(ctx, exchange.CancelRequest{Symbol: "BTCUSDT", ClientOrderID: "oc-1"}); err != nil {
		t.Fatalf("cancel after -1015: %v", err)
	}
	until := fixed.Add(2 * time.Minute).UnixMilli()
	srv.InjectFault(binancetest.Fault{Path: "/fapi/v1/openOrders", Status: 418, Code: -1003,
		Msg: "Way too many requests; IP banned until " + itoa(until) + ". Please use the websocket for live updates to avoid bans."})
	_, err = c.OpenOrders(ctx, "BTCUSDT")
	if !errors.As(err, &rl) || !rl.Banned || rl.RetryAfter != 2*time.Minute {
		t.Fatalf("418: %v (%+v), want banned 2m", err, rl)
	}
	if _, err := c.CancelOrder(ctx, exchange.CancelRequest{Symbol: "BTCUSDT", ClientOrderID: "oc-2"}); !errors.As(err, &rl) || !rl.Banned {
		t.Fatalf("request during a ban: %v, want refused locally", err)
	}
}

func itoa(n int64) string { return decimal.NewFromInt(n).String() }

func TestUnknownOutcomes(t *testing.T) {
	srv, c := setup(t, nil)
	ctx := context.Background()
	if _, err := c.Rules(ctx, "BTCUSDT"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		fault binancetest.Fault
		ctx   func() (context.Context, context.CancelFunc)
	}{
		{"503 unknown error after the order was placed", binancetest.Fault{Method: "POST", Path: "/fapi/v1/order", Status: 503, Code: -1000,
			Msg: "Unknown error, please check your request or try again later.", AfterProcessing: true}, nil},
		{"-1007 timeout", binancetest.Fault{Method: "POST", Path: "/fapi/v1/order", Status: 408, Code: -1007,
			Msg: "Timeout waiting for response from backend server. Send status unknown; execution status unknown.", AfterProcessing: true}, nil},
		{"client timeout after sending", binancetest.Fault{Method: "POST", Path: "/fapi/v1/order", AfterProcessing: true, Delay: 5 * time.Second, Status: 200, Msg: "{}"},
			func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 200*time.Millisecond) }},
	}
	for i, cs := range cases {
		srv.InjectFault(cs.fault)
		rctx, cancel := ctx, context.CancelFunc(func() {})
		if cs.ctx != nil {
			rctx, cancel = cs.ctx()
		}
		id := "uo-" + itoa(int64(i))
		_, err := c.PlaceOrder(rctx, buy(id, "59000", "0.002"))
		cancel()
		var uo *exchange.UnknownOutcomeError
		if !errors.As(err, &uo) || uo.Op != "place" || uo.SentAt.IsZero() || exchange.Retryable(err) {
			t.Errorf("%s: %v, want a non-retryable UnknownOutcomeError", cs.name, err)
		}
		// The order exists: a query by client order ID settles the outcome.
		if o, err := c.QueryOrder(ctx, "BTCUSDT", id); err != nil || o.Status != exchange.StatusNew {
			t.Errorf("%s: QueryOrder = %+v, %v", cs.name, o, err)
		}
	}
	// 503 "Service Unavailable." is a certain failure: nothing was placed.
	srv.InjectFault(binancetest.Fault{Method: "POST", Path: "/fapi/v1/order", Status: 503, Msg: "Service Unavailable."})
	_, err := c.PlaceOrder(ctx, buy("su-1", "59000", "0.002"))
	if !errors.Is(err, exchange.ErrUnavailable) || errors.Is(err, exchange.ErrUnknownOutcome) || !exchange.Retryable(err) {
		t.Errorf("503 Service Unavailable: %v", err)
	}
	if _, err := c.QueryOrder(ctx, "BTCUSDT", "su-1"); !errors.Is(err, exchange.ErrOrderNotFound) {
		t.Errorf("su-1 exists: %v", err)
	}
}

func TestBatchPlaceAndCancel(t *testing.T) {
	srv, c := setup(t, nil)
	ctx := context.Background()
	reqs := []exchange.OrderRequest{
		buy("b-1", "59000", "0.002"),
		{Symbol: "BTCUSDT", ClientOrderID: "b-2", Side: exchange.Buy, TimeInForce: exchange.PostOnly, Price: dec("60500"), Quantity: dec("0.002")},
		buy("b-3", "59000.05", "0.002"),
		buy("b-4", "58000", "0.002"),
	}
	res, err := c.PlaceOrders(ctx, reqs)
	if err != nil || len(res) != 4 {
		t.Fatalf("PlaceOrders: %v %+v", err, res)
	}
	if res[0].Err != nil || res[0].Order.ClientOrderID != "b-1" || res[3].Err != nil || res[3].Order.ClientOrderID != "b-4" {
		t.Errorf("successes = %+v / %+v", res[0], res[3])
	}
	if !errors.Is(res[1].Err, exchange.ErrPostOnlyRejected) {
		t.Errorf("crossing GTX in a batch: %v", res[1].Err)
	}
	var re *exchange.RuleError
	if !errors.As(res[2].Err, &re) || re.Field != "price" || re.Value != "59000.05" {
		t.Errorf("off-tick price in a batch: %v", res[2].Err)
	}
	if n := len(srv.OpenOrders("BTCUSDT")); n != 2 {
		t.Errorf("open orders = %d, want 2", n)
	}
	if _, err := c.PlaceOrders(ctx, make([]exchange.OrderRequest, 6)); !errors.Is(err, exchange.ErrInvalidOrder) {
		t.Errorf("batch of 6: %v", err)
	}
	if c.MaxBatch() != 5 {
		t.Errorf("MaxBatch = %d", c.MaxBatch())
	}
	cres, err := c.CancelOrders(ctx, []exchange.CancelRequest{{Symbol: "BTCUSDT", OrderID: res[0].Order.OrderID}, {Symbol: "BTCUSDT", OrderID: "1"}})
	if err != nil || cres[0].Err != nil || cres[0].Order.Status != exchange.StatusCanceled || !errors.Is(cres[1].Err, exchange.ErrOrderNotFound) {
		t.Fatalf("CancelOrders by id: %v %+v", err, cres)
	}
	cres, err = c.CancelOrders(ctx, []exchange.CancelRequest{{Symbol: "BTCUSDT", ClientOrderID: "b-4"}, {Symbol: "BTCUSDT", ClientOrderID: "b-1"}})
	if err != nil || cres[0].Err != nil || cres[0].Order.ClientOrderID != "b-4" || !errors.Is(cres[1].Err, exchange.ErrOrderNotFound) {
		t.Fatalf("CancelOrders by client id: %v %+v", err, cres)
	}
	if n := len(srv.OpenOrders("BTCUSDT")); n != 0 {
		t.Errorf("open orders after cancels = %d", n)
	}
}

func TestCancelAllAndDeadManSwitch(t *testing.T) {
	srv, c := setup(t, nil)
	ctx := context.Background()
	for _, id := range []string{"ca-1", "ca-2"} {
		if _, err := c.PlaceOrder(ctx, buy(id, "59000", "0.002")); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.CancelAllOrders(ctx, "BTCUSDT"); err != nil {
		t.Fatalf("CancelAllOrders: %v", err)
	}
	if n := len(srv.OpenOrders("BTCUSDT")); n != 0 {
		t.Fatalf("open after cancel-all = %d", n)
	}
	if _, err := c.PlaceOrder(ctx, buy("dm-1", "59000", "0.002")); err != nil {
		t.Fatal(err)
	}
	if err := c.ArmCancelAll(ctx, "BTCUSDT", time.Hour); err != nil {
		t.Fatalf("ArmCancelAll: %v", err)
	}
	if err := c.ArmCancelAll(ctx, "BTCUSDT", 0); err != nil { // disarm
		t.Fatal(err)
	}
	if err := c.ArmCancelAll(ctx, "BTCUSDT", 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(waitFor)
	for len(srv.OpenOrders("BTCUSDT")) != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := len(srv.OpenOrders("BTCUSDT")); n != 0 {
		t.Errorf("the dead-man switch left %d orders", n)
	}
	if err := c.ArmCancelAll(ctx, "BTCUSDT", -time.Second); !errors.Is(err, exchange.ErrInvalidOrder) {
		t.Errorf("negative countdown: %v", err)
	}
}

func TestPositionModes(t *testing.T) {
	ctx := context.Background()
	// Hedge mode: reduceOnly is never sent (it would be -1106).
	srv, c := setup(t, []binancetest.Option{binancetest.WithHedgeMode()})
	req := buy("h-1", "59000", "0.002")
	req.PositionSide, req.ReduceOnly = exchange.PositionLong, true
	if _, err := c.PlaceOrder(ctx, req); err != nil {
		t.Fatalf("hedge order with ReduceOnly: %v", err)
	}
	req.ClientOrderID, req.PositionSide = "h-2", exchange.PositionBoth
	if _, err := c.PlaceOrder(ctx, req); !errors.Is(err, exchange.ErrPositionMode) {
		t.Errorf("BOTH in hedge mode: %v, want ErrPositionMode", err)
	}
	if a, err := c.Account(ctx); err != nil || a.PositionMode != exchange.Hedge || !a.CanTrade {
		t.Errorf("Account = %+v %v", a, err)
	}
	if err := c.CancelAllOrders(ctx, "BTCUSDT"); err != nil {
		t.Fatal(err)
	}
	if err := c.SetPositionMode(ctx, exchange.OneWay); err != nil {
		t.Fatalf("SetPositionMode: %v", err)
	}
	if err := c.SetPositionMode(ctx, exchange.OneWay); err != nil {
		t.Fatalf("SetPositionMode again (-4059 is harmless): %v", err)
	}
	// One-way: a reduce-only order with nothing to reduce is refused.
	ro := exchange.OrderRequest{Symbol: "BTCUSDT", ClientOrderID: "ro-1", Side: exchange.Sell, Price: dec("61000"), Quantity: dec("0.002"), ReduceOnly: true}
	if _, err := c.PlaceOrder(ctx, ro); !errors.Is(err, exchange.ErrReduceOnlyRejected) {
		t.Errorf("reduce-only without position: %v", err)
	}
	_ = srv
}

func TestUserEventKinds(t *testing.T) {
	srv, c := setup(t, []binancetest.Option{binancetest.WithFees(dec("-0.0001"), dec("0.0005")), binancetest.WithFillParts(1)})
	ctx := context.Background()
	ev := subscribe(t, c)
	if _, err := c.PlaceOrder(ctx, buy("k-1", "59000", "0.002")); err != nil {
		t.Fatal(err)
	}
	if err := srv.SetPrice(ctx, "BTCUSDT", dec("59000")); err != nil {
		t.Fatal(err)
	}
	fill, _ := ev.until("FILLED", orderStatus("k-1", exchange.StatusFilled))
	// A maker rebate arrives as a negative commission: 59000 × 0.002 × -0.0001.
	if !fill.Order.Fee.Equal(dec("-0.0118")) || fill.Order.FeeAsset != "USDT" || !fill.Order.Maker {
		t.Errorf("fill fee = %s %s maker=%v, want -0.0118 USDT maker", fill.Order.Fee, fill.Order.FeeAsset, fill.Order.Maker)
	}
	acct, _ := ev.until("ACCOUNT", isKind(exchange.EventAccount))
	if len(acct.Positions) != 1 || !acct.Positions[0].Quantity.Equal(dec("0.002")) || !acct.Balances[0].WalletBalance.Equal(dec("10000.0118")) {
		t.Errorf("ACCOUNT_UPDATE = %+v", acct)
	}
	if _, err := c.SetLeverage(ctx, "BTCUSDT", 7); err != nil {
		t.Fatal(err)
	}
	cfg, _ := ev.until("CONFIG", isKind(exchange.EventConfig))
	if cfg.Reason != "leverage BTCUSDT 7" {
		t.Errorf("config = %+v", cfg)
	}
	mc, err := os.ReadFile("testdata/ws_margin_call.json")
	if err != nil {
		t.Fatal(err)
	}
	srv.PushUserEvent(mc)
	if m, _ := ev.until("MARGIN_CALL", isKind(exchange.EventMarginCall)); len(m.Positions) != 1 || m.Positions[0].Symbol != "ETHUSDT" {
		t.Errorf("margin call = %+v", m)
	}
	srv.PushUserEvent([]byte(`{"e":"ORDER_TRADE_UPDATE","E":1,"o":{"q":"not a number"}}`)) // counted and skipped
	liq, err := os.ReadFile("testdata/ws_order_trade_update_real_rebate.json")
	if err != nil {
		t.Fatal(err)
	}
	srv.PushUserEvent([]byte(strings.Replace(string(liq), "ios_3pdK38TLtMRjqN6y5WBZ", "autoclose-1643186482920", 1)))
	srv.PushUserEvent([]byte(strings.Replace(string(liq), "ios_3pdK38TLtMRjqN6y5WBZ", "adl_autoclose", 1)))
	l, skipped := ev.until("liquidation", func(e exchange.UserEvent) bool {
		return e.Kind == exchange.EventOrder && e.Order.Kind == exchange.ExecLiquidation
	})
	if len(skipped) != 0 || l.Order.ClientOrderID != "autoclose-1643186482920" {
		t.Errorf("liquidation = %+v after %+v", l, skipped)
	}
	if a := ev.next(); a.Order.Kind != exchange.ExecADL {
		t.Errorf("ADL = %+v", a)
	}
	if n := c.MalformedMessages(); n != 1 {
		t.Errorf("MalformedMessages = %d, want 1", n)
	}
}

func TestMarketStreams(t *testing.T) {
	srv, c := setup(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	marks, err := c.SubscribeMarkPrice(ctx, "BTCUSDT")
	if err != nil {
		t.Fatal(err)
	}
	klines, err := c.SubscribeKlines(ctx, "BTCUSDT", "1m")
	if err != nil {
		t.Fatal(err)
	}
	prices, err := c.SubscribePrices(ctx, "BTCUSDT")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.WaitConns(ctx, "market", 2); err != nil {
		t.Fatal(err)
	}
	if err := srv.WaitConns(ctx, "public", 1); err != nil {
		t.Fatal(err)
	}
	if err := srv.SetPrice(ctx, "BTCUSDT", dec("60123.4")); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-marks:
		if !m.MarkPrice.Equal(dec("60123.4")) || !m.FundingRate.Equal(dec("0.0001")) || m.NextFundingTime.IsZero() {
			t.Errorf("mark = %+v", m)
		}
	case <-time.After(waitFor):
		t.Fatal("no mark price")
	}
	select {
	case k := <-klines:
		if !k.Close.Equal(dec("60123.4")) || k.Interval != "1m" || k.Closed {
			t.Errorf("kline = %+v", k)
		}
	case <-time.After(waitFor):
		t.Fatal("no kline")
	}
	select {
	case p := <-prices:
		if !p.Price.Equal(dec("60123.4")) || !p.Bid.Equal(dec("60123.3")) || !p.Ask.Equal(dec("60123.5")) {
			t.Errorf("price = %+v", p)
		}
	case <-time.After(waitFor):
		t.Fatal("no price")
	}
	if _, err := c.SubscribeKlines(ctx, "BTCUSDT", "1s"); !errors.Is(err, exchange.ErrUnsupported) {
		t.Errorf("1s klines: error %v, want ErrUnsupported (Binance futures has none)", err)
	}
	if _, err := c.Klines(ctx, "BTCUSDT", "1s", time.Time{}, 10); !errors.Is(err, exchange.ErrUnsupported) {
		t.Errorf("REST 1s klines: error %v, want ErrUnsupported", err)
	}
	// REST klines come from the same price path.
	ks, err := c.Klines(ctx, "BTCUSDT", "1m", time.Time{}, 10)
	if err != nil || len(ks) != 1 || !ks[0].Close.Equal(dec("60123.4")) {
		t.Errorf("Klines = %+v, %v", ks, err)
	}
}

func TestAggTradePrices(t *testing.T) {
	srv, c := setup(t, nil, func(cfg *binance.Config) { cfg.PriceSource = binance.PriceAggTrade })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	prices, err := c.SubscribePrices(ctx, "BTCUSDT")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.WaitConns(ctx, "market", 1); err != nil {
		t.Fatal(err)
	}
	if err := srv.SetPrice(ctx, "BTCUSDT", dec("59999.9")); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-prices:
		if !p.Price.Equal(dec("59999.9")) || !p.Bid.IsZero() {
			t.Errorf("trade price = %+v", p)
		}
	case <-time.After(waitFor):
		t.Fatal("no trade price")
	}
}

func TestAccountPositionsAndLimits(t *testing.T) {
	srv, c := setup(t, []binancetest.Option{binancetest.WithFillParts(1)})
	ctx := context.Background()
	if _, err := c.PlaceOrder(ctx, buy("ap-1", "59000", "0.010")); err != nil {
		t.Fatal(err)
	}
	if err := srv.SetPrice(ctx, "BTCUSDT", dec("59000")); err != nil {
		t.Fatal(err)
	}
	if err := srv.SetPrice(ctx, "BTCUSDT", dec("60000")); err != nil {
		t.Fatal(err)
	}
	ps, err := c.Positions(ctx, "BTCUSDT")
	if err != nil || len(ps) != 1 {
		t.Fatalf("Positions = %+v %v", ps, err)
	}
	p := ps[0]
	if !p.Quantity.Equal(dec("0.01")) || !p.EntryPrice.Equal(dec("59000")) || !p.UnrealizedPnL.Equal(dec("10")) || p.Leverage != 20 || p.PositionSide != exchange.PositionBoth {
		t.Errorf("position = %+v", p)
	}
	a, err := c.Account(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Maker fee 0.0002 × 590 = 0.118 paid.
	if !a.TotalWallet.Equal(dec("9999.882")) || !a.TotalMargin.Equal(dec("10009.882")) || a.PositionMode != exchange.OneWay || len(a.Balances) != 1 {
		t.Errorf("account = %+v", a)
	}
	fills, err := c.Fills(ctx, "BTCUSDT", time.Time{})
	if err != nil || len(fills) != 1 || !fills[0].Fee.Equal(dec("0.118")) || fills[0].FeeAsset != "USDT" || !fills[0].Maker || fills[0].ClientOrderID != "ap-1" {
		t.Errorf("fills = %+v %v", fills, err)
	}
	if n := srv.Requests("GET", "/fapi/v1/order"); n != 0 {
		t.Errorf("Fills queried %d orders whose client IDs the adapter knew", n)
	}
	// A fresh client learns the client order ID with one query per order.
	c2 := newTestClient(t, srv)
	defer c2.Close()
	fills, err = c2.Fills(ctx, "BTCUSDT", time.Time{})
	if err != nil || len(fills) != 1 || fills[0].ClientOrderID != "ap-1" || srv.Requests("GET", "/fapi/v1/order") != 1 {
		t.Errorf("fresh client fills = %+v %v, %d queries", fills, err, srv.Requests("GET", "/fapi/v1/order"))
	}
	limits := c.RateLimits()
	want := map[string]int{"order 10s": 300, "order 1m0s": 1200, "request 1m0s": 2400}
	if len(limits) != 3 {
		t.Fatalf("RateLimits = %+v", limits)
	}
	for _, l := range limits {
		if want[l.Scope+" "+l.Interval.String()] != l.Limit {
			t.Errorf("limit %+v", l)
		}
	}
	for op, w := range map[string]int{"place": 0, "batchPlace": 5, "cancel": 1, "openOrders": 1, "fills": 5, "account": 10, "armCancelAll": 10, "unknown": 1} {
		if got := c.Weight(op); got != w {
			t.Errorf("Weight(%s) = %d, want %d", op, got, w)
		}
	}
	if n10, n1m := c.OrderCost("batchPlace"); n10 != 5 || n1m != 1 {
		t.Errorf("OrderCost(batchPlace) = %d, %d", n10, n1m)
	}
	if c.ReceiveWindow() != 5*time.Second || c.Name() != "binance-usdm" {
		t.Errorf("ReceiveWindow %s Name %s", c.ReceiveWindow(), c.Name())
	}
	if lev, err := c.SetLeverage(ctx, "BTCUSDT", 5); err != nil || lev != 5 {
		t.Errorf("SetLeverage = %d %v", lev, err)
	}
	if _, err := c.SetLeverage(ctx, "BTCUSDT", 200); !errors.Is(err, exchange.ErrInvalidOrder) {
		t.Errorf("leverage 200: %v", err)
	}
	if _, err := c.Rules(ctx, "NOPEUSDT"); !errors.Is(err, exchange.ErrInvalidOrder) {
		t.Errorf("unlisted symbol: %v", err)
	}
}

// TestTestnetSmoke runs against Binance's futures testnet when keys are in
// the environment; it is skipped otherwise. Run it with
//
//	BINANCE_TESTNET_API_KEY=… BINANCE_TESTNET_API_SECRET=… go test -run TestTestnetSmoke -v ./exchange/binance/
//
// It reads rules, the account and open orders, places one post-only buy
// 10 % under the market and cancels it.
func TestTestnetSmoke(t *testing.T) {
	key, secret := os.Getenv("BINANCE_TESTNET_API_KEY"), os.Getenv("BINANCE_TESTNET_API_SECRET")
	if key == "" || secret == "" {
		t.Skip("BINANCE_TESTNET_API_KEY and BINANCE_TESTNET_API_SECRET are not set")
	}
	c, err := binance.New(binance.Config{RESTURL: binance.TestnetRESTURL, WSURL: binance.TestnetWSURL,
		APIKey: binance.NewSecret(key), APISecret: binance.NewSecret(secret)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rules, err := c.Rules(ctx, "BTCUSDT")
	if err != nil {
		t.Fatalf("Rules: %v", err)
	}
	if _, err := c.Account(ctx); err != nil {
		t.Fatalf("Account: %v", err)
	}
	ks, err := c.Klines(ctx, "BTCUSDT", "1m", time.Time{}, 1)
	if err != nil || len(ks) != 1 {
		t.Fatalf("Klines: %v", err)
	}
	price := rules.RoundPrice(ks[0].Close.Mul(dec("0.9")))
	qty := rules.MinNotional.Mul(dec("1.5")).Div(price).Div(rules.StepSize).Ceil().Mul(rules.StepSize)
	qty = decimal.Max(qty, rules.MinQty)
	id := "gm-smoke-" + itoa(time.Now().UnixMilli())
	o, err := c.PlaceOrder(ctx, exchange.OrderRequest{Symbol: "BTCUSDT", ClientOrderID: id, Side: exchange.Buy, TimeInForce: exchange.PostOnly, Price: price, Quantity: qty})
	if err != nil {
		t.Fatalf("PlaceOrder: %v", err)
	}
	if _, err := c.CancelOrder(ctx, exchange.CancelRequest{Symbol: "BTCUSDT", OrderID: o.OrderID}); err != nil {
		t.Fatalf("CancelOrder: %v", err)
	}
}

func TestVenueFilterErrorRefreshesRules(t *testing.T) {
	srv, c := setup(t, nil)
	ctx := context.Background()
	srv.InjectFault(binancetest.Fault{Method: "POST", Path: "/fapi/v1/order", Status: 400, Code: -4014, Msg: "Price not increased by tick size."})
	_, err := c.PlaceOrder(ctx, buy("f-1", "59000", "0.002"))
	var ve *exchange.VenueError
	if !errors.Is(err, exchange.ErrInvalidOrder) || !errors.As(err, &ve) || ve.Code != -4014 {
		t.Fatalf("venue -4014: %v", err)
	}
	if _, err := c.Rules(ctx, "BTCUSDT"); err != nil {
		t.Fatal(err)
	}
	if n := srv.Requests("GET", "/fapi/v1/exchangeInfo"); n != 2 {
		t.Errorf("exchangeInfo loads = %d, want 2 (reloaded after the filter error)", n)
	}
}

func TestMatchingEngineRecvWindowRetried(t *testing.T) {
	srv, c := setup(t, nil)
	srv.InjectFault(binancetest.Fault{Method: "POST", Path: "/fapi/v1/order", Status: 400, Code: -5028, Msg: "Timestamp for this request is outside of the ME recvWindow."})
	if _, err := c.PlaceOrder(context.Background(), buy("me-1", "59000", "0.002")); err != nil {
		t.Fatalf("PlaceOrder after -5028: %v", err)
	}
	if n, m := srv.Requests("GET", "/fapi/v1/time"), srv.Requests("POST", "/fapi/v1/order"); n != 2 || m != 2 {
		t.Errorf("time syncs %d, order requests %d; want 2 and 2", n, m)
	}
	if o := srv.OpenOrders("BTCUSDT"); len(o) != 1 || o[0].ClientOrderID != "me-1" {
		t.Errorf("open orders = %+v", o)
	}
}

func TestAnswersServerPings(t *testing.T) {
	srv, c := setup(t, []binancetest.Option{binancetest.WithPingInterval(10 * time.Millisecond)})
	subscribe(t, c)
	deadline := time.Now().Add(waitFor)
	for srv.Pongs() < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := srv.Pongs(); n < 3 {
		t.Errorf("pongs with the ping payload = %d, want at least 3", n)
	}
}
