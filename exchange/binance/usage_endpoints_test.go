package binance

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/binance/binancetest"
)

// usageRecorder keeps every usage report it is given.
type usageRecorder struct {
	mu  sync.Mutex
	got []exchange.Usage
}

func (r *usageRecorder) ReportUsage(us ...exchange.Usage) {
	r.mu.Lock()
	r.got = append(r.got, us...)
	r.mu.Unlock()
}

// take returns and forgets the reports received so far.
func (r *usageRecorder) take() []exchange.Usage {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.got
	r.got = nil
	return out
}

// TestUsageReportedForEveryEndpoint runs every REST call the adapter
// makes against binancetest, each through a context carrying a usage
// reporter, and checks for each: the weight the server charged is the
// sheet's (§3.4, written out here), the adapter's own ledger charged the
// same, the reports carry the server's running counts, with the order
// counts exactly on order placements, each at the end of the venue's
// window (the minute, or the 10 seconds, after the request's time, plus
// the clock sync's uncertainty: 1 ms on a clock that stands still) — for
// error answers (-2013, 429) as well as successes.
func TestUsageReportedForEveryEndpoint(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 30, 250e6, time.UTC)
	clock := func() time.Time { return now }
	srv := binancetest.NewServer(binancetest.WithClock(clock), binancetest.WithoutPeriodicStreams())
	defer srv.Close()
	c, err := New(Config{RESTURL: srv.URL(), WSURL: srv.WSURL(), Clock: clock,
		APIKey: NewSecret(binancetest.APIKey), APISecret: NewSecret(binancetest.APISecret)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rec := &usageRecorder{}
	ctx := exchange.WithUsageReporter(context.Background(), rec)
	sym := "BTCUSDT"
	order := func(id string, price int64) exchange.OrderRequest {
		return exchange.OrderRequest{Symbol: sym, ClientOrderID: id, Side: exchange.Buy, Type: exchange.Limit,
			TimeInForce: exchange.PostOnly, Price: decimal.NewFromInt(price), Quantity: decimal.RequireFromString("0.002")}
	}
	ignore := func(error) error { return nil }
	steps := []struct {
		name          string
		op            string // the ledger's operation
		call          func() error
		weight        int // sheet §3.4
		orders        int // units on the 10-second ORDERS window; the minute's is 1 when > 0
		wantErrStatus int // the answer is an error of this status
	}{
		{"time", "time", func() error { return c.SyncTime(ctx) }, 1, 0, 0},
		{"exchangeInfo", "rules", func() error { return c.RefreshRules(ctx) }, 1, 0, 0},
		{"klines limit 50", OpKlines, func() error { _, err := c.Klines(ctx, sym, "1m", time.Time{}, 50); return err }, 1, 0, 0},
		{"klines limit 200", OpKlines, func() error { _, err := c.Klines(ctx, sym, "1m", time.Time{}, 200); return err }, 2, 0, 0},
		{"klines default limit", OpKlines, func() error { _, err := c.Klines(ctx, sym, "1m", time.Time{}, 0); return err }, 5, 0, 0},
		{"klines limit 1000", OpKlines, func() error { _, err := c.Klines(ctx, sym, "1m", time.Time{}, 1000); return err }, 5, 0, 0},
		{"place", "place", func() error { _, err := c.PlaceOrder(ctx, order("e-1", 50000)); return err }, 0, 1, 0},
		{"batch place", "batchPlace", func() error {
			_, err := c.PlaceOrders(ctx, []exchange.OrderRequest{order("e-2", 50001), order("e-3", 50002)})
			return err
		}, 5, 5, 0},
		{"query", "query", func() error { _, err := c.QueryOrder(ctx, sym, "e-1"); return err }, 1, 0, 0},
		{"query of an unknown order (-2013)", "query", func() error {
			_, err := c.QueryOrder(ctx, sym, "nope")
			if !errors.Is(err, exchange.ErrOrderNotFound) {
				return err
			}
			return nil
		}, 1, 0, 0},
		{"open orders", "openOrders", func() error { _, err := c.OpenOrders(ctx, sym); return err }, 1, 0, 0},
		{"cancel", "cancel", func() error {
			_, err := c.CancelOrder(ctx, exchange.CancelRequest{Symbol: sym, ClientOrderID: "e-1"})
			return err
		}, 1, 0, 0},
		{"batch cancel", "batchCancel", func() error {
			_, err := c.CancelOrders(ctx, []exchange.CancelRequest{{Symbol: sym, ClientOrderID: "e-2"}, {Symbol: sym, ClientOrderID: "e-3"}})
			return err
		}, 1, 0, 0},
		{"cancel all", "cancelAll", func() error { return c.CancelAllOrders(ctx, sym) }, 1, 0, 0},
		{"countdown cancel all", "armCancelAll", func() error { return c.ArmCancelAll(ctx, sym, 0) }, 10, 0, 0},
		{"account", "account", func() error { _, err := c.Account(ctx); return err }, 5 + 5, 0, 0},
		{"positions, flat", "positions", func() error { _, err := c.Positions(ctx, sym); return err }, 5, 0, 0},
		{"leverage", "leverage", func() error { _, err := c.SetLeverage(ctx, sym, 10); return err }, 1, 0, 0},
		{"position mode", "positionMode", func() error { return c.SetPositionMode(ctx, exchange.OneWay) }, 1, 0, 0},
		{"fills", "fills", func() error { _, err := c.Fills(ctx, sym, now.Add(-time.Hour)); return err }, 5, 0, 0},
		{"listen key", "listenKey", func() error { _, err := c.listenKey(ctx, http.MethodPost); return err }, 1, 0, 0},
		{"429 on weight", "openOrders", func() error {
			w, _, _ := srv.Usage()
			srv.UseWeight(2400 - w)
			_, err := c.OpenOrders(ctx, sym)
			if !errors.Is(err, exchange.ErrRateLimited) {
				return err
			}
			return ignore(err)
		}, 0, 0, 429},
	}
	minuteEnd := time.Date(2026, 12, 3, 12, 1, 0, 0, time.UTC).Add(time.Millisecond)
	tenEnd := time.Date(2026, 12, 3, 12, 0, 40, 0, time.UTC).Add(time.Millisecond)
	for _, st := range steps {
		w0, o10, o1m := srv.Usage()
		if st.name == "429 on weight" {
			w0 = 2400
		}
		ch0 := c.Charges()[st.op]
		if err := st.call(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		w1, p10, p1m := srv.Usage()
		if w1-w0 != st.weight {
			t.Errorf("%s: the server charged weight %d, the sheet says %d", st.name, w1-w0, st.weight)
		}
		if st.wantErrStatus == 0 {
			if got := c.Charges()[st.op].Weight - ch0.Weight; got != st.weight {
				t.Errorf("%s: the adapter's ledger charged %d, the sheet says %d", st.name, got, st.weight)
			}
		}
		per1m := 0
		if st.orders > 0 {
			per1m = 1
		}
		if p10-o10 != st.orders || p1m-o1m != per1m {
			t.Errorf("%s: order counts +%d/+%d, want +%d/+%d", st.name, p10-o10, p1m-o1m, st.orders, per1m)
		}
		reports := st.name
		byWindow := map[string]exchange.Usage{}
		for _, u := range rec.take() {
			if !u.At.Equal(now) {
				t.Errorf("%s: report %+v: At is not the request's time", reports, u)
			}
			byWindow[u.Window] = u // the last report of each window
		}
		wantReset := minuteEnd
		if u, ok := byWindow[WindowRequestWeight]; !ok || u.Used != w1 || !u.Reset.Equal(wantReset) {
			t.Errorf("%s: weight report %+v (present %v), want Used %d, Reset %s", st.name, u, ok, w1, wantReset)
		}
		u10, ok10 := byWindow[WindowOrders10s]
		u1m, ok1m := byWindow[WindowOrders1m]
		if st.orders > 0 {
			if !ok10 || u10.Used != p10 || !u10.Reset.Equal(tenEnd) || !ok1m || u1m.Used != p1m || !u1m.Reset.Equal(minuteEnd) {
				t.Errorf("%s: order reports %+v, %+v; want %d (reset %s) and %d (reset %s)", st.name, u10, u1m, p10, tenEnd, p1m, minuteEnd)
			}
		} else if ok10 || ok1m {
			t.Errorf("%s: order counts reported on a request that places none: %+v %+v", st.name, u10, u1m)
		}
		if len(byWindow) != 1+2*min(st.orders, 1) {
			t.Errorf("%s: reports for windows %v", st.name, byWindow)
		}
	}
	if got := c.Usage(); got.UsedWeight1m != 2400 || got.OrderCount10s != 6 || got.OrderCount1m != 2 {
		t.Errorf("Client.Usage = %+v, want the last counts 2400, 6, 2", got)
	}
}
