package binance_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/binance"
	"github.com/gridmesh/gridmesh/exchange/binance/binancetest"
)

// vclock is a virtual clock shared by the test server, the adapter and the
// executor: it stands still while requests travel, and a sleep moves it
// forward at once. The tests that use it call from one goroutine, so a
// sleep is never overtaken. A sleep of more than an hour (the executor's
// wait for a wake-up with no timeout) waits for its context instead.
type vclock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *vclock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *vclock) Sleep(ctx context.Context, d time.Duration) error {
	if d > time.Hour {
		<-ctx.Done()
		return ctx.Err()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	if d > 0 {
		c.now = c.now.Add(d)
	}
	c.mu.Unlock()
	return nil
}

// t0 is half past a minute on the virtual clock: the venue's windows have
// 30 seconds left.
var t0 = time.Date(2026, 12, 3, 12, 0, 30, 0, time.UTC)

// usageRig is a server, an adapter and an executor on one virtual clock.
func usageRig(t *testing.T, wrap func(*binance.Client) exchange.IExchange, opts ...binancetest.Option) (*vclock, *binancetest.Server, *exchange.Executor) {
	t.Helper()
	clk := &vclock{now: t0}
	srv, c := setup(t, append([]binancetest.Option{binancetest.WithClock(clk.Now), binancetest.WithoutPeriodicStreams()}, opts...),
		func(cfg *binance.Config) { cfg.Clock = clk.Now })
	var ex exchange.IExchange = c
	if wrap != nil {
		ex = wrap(c)
	}
	x, err := exchange.NewExecutor(ex, exchange.WithExecutorClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	return clk, srv, x
}

// deaf is the adapter with its usage reports cut off: what the executor
// does without the venue's counts.
type deaf struct{ *binance.Client }

type nopReporter struct{}

func (nopReporter) ReportUsage(...exchange.Usage) {}

func (d deaf) OpenOrders(ctx context.Context, symbol string) ([]exchange.Order, error) {
	return d.Client.OpenOrders(exchange.WithUsageReporter(ctx, nopReporter{}), symbol)
}

func (d deaf) PlaceOrder(ctx context.Context, req exchange.OrderRequest) (exchange.Order, error) {
	return d.Client.PlaceOrder(exchange.WithUsageReporter(ctx, nopReporter{}), req)
}

// TestExecutorHonoursPreusedWeight: another program on the IP (or this one
// before a restart) used 2,300 of the minute's 2,400 weight. A fresh
// adapter and executor send 150 requests of weight 1: the first answer's
// X-MBX-USED-WEIGHT-1M tells the executor, which sends exactly the 98
// that still fit (the clock sync and the first request took 2), then
// waits for the venue's minute to end and sends the rest: no 429. Without
// the reports the same executor runs into the venue's limit.
func TestExecutorHonoursPreusedWeight(t *testing.T) {
	run := func(t *testing.T, wrap func(*binance.Client) exchange.IExchange) (*vclock, *binancetest.Server, *exchange.Executor, int) {
		clk, srv, x := usageRig(t, wrap)
		srv.UseWeight(2300)
		ctx := context.Background()
		inFirstMinute := 0
		for i := 0; i < 150; i++ {
			if _, err := x.OpenOrders(ctx, "BTCUSDT"); err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			if clk.Now().Before(t0.Truncate(time.Minute).Add(time.Minute)) {
				inFirstMinute++
				if w, _, _ := srv.Usage(); w > 2400 {
					t.Fatalf("request %d: the venue counts %d of 2400", i, w)
				}
			}
		}
		return clk, srv, x, inFirstMinute
	}
	t.Run("reported", func(t *testing.T) {
		clk, srv, x, first := run(t, nil)
		if n := srv.RateLimitRefusals(); n != 0 {
			t.Errorf("the venue refused %d requests with 429", n)
		}
		if first != 99 {
			t.Errorf("%d requests answered in the first minute, want 99 (2300 + time 1 + 99 = 2400)", first)
		}
		st := x.Stats()
		if st.RateLimited != 0 || st.RateLimitWaits == 0 || st.UsageReports == 0 {
			t.Errorf("stats: RateLimited %d, RateLimitWaits %d, UsageReports %d", st.RateLimited, st.RateLimitWaits, st.UsageReports)
		}
		next := t0.Truncate(time.Minute).Add(time.Minute)
		if now := clk.Now(); now.Before(next) || now.After(next.Add(time.Second)) {
			t.Errorf("clock at %s: the executor should have waited for the venue's minute to end at %s", now, next)
		}
	})
	t.Run("not reported", func(t *testing.T) {
		_, srv, x, _ := run(t, func(c *binance.Client) exchange.IExchange { return deaf{c} })
		if srv.RateLimitRefusals() == 0 || x.Stats().RateLimited == 0 {
			t.Errorf("without usage reports the executor should have met the venue's 429 (refusals %d)", srv.RateLimitRefusals())
		}
	})
}

// TestExecutorHonoursPreusedOrders: another program on the account placed
// 295 orders in the current 10 seconds. Of 12 placements, the first
// answer's X-MBX-ORDER-COUNT-10S shows 296, the executor sends 4 more to
// reach 300 and holds the rest until the venue's 10-second window ends.
func TestExecutorHonoursPreusedOrders(t *testing.T) {
	for _, tc := range []struct {
		name    string
		wrap    func(*binance.Client) exchange.IExchange
		refused bool
	}{{"reported", nil, false}, {"not reported", func(c *binance.Client) exchange.IExchange { return deaf{c} }, true}} {
		t.Run(tc.name, func(t *testing.T) {
			clk, srv, x := usageRig(t, tc.wrap)
			srv.UseOrders(295, 295)
			ctx := context.Background()
			window := t0.Add(10 * time.Second)
			first := 0
			for i := 0; i < 12; i++ {
				_, err := x.Place(ctx, exchange.OrderRequest{
					Symbol: "BTCUSDT", ClientOrderID: fmt.Sprintf("u-%d", i), Side: exchange.Buy, Type: exchange.Limit,
					TimeInForce: exchange.PostOnly, Price: decimal.NewFromInt(int64(50000 + i)), Quantity: decimal.RequireFromString("0.002"),
				})
				if err != nil {
					t.Fatalf("place %d: %v", i, err)
				}
				if clk.Now().Before(window) {
					first++
				}
			}
			if got := srv.RateLimitRefusals(); (got > 0) != tc.refused {
				t.Errorf("429 answers: %d", got)
			}
			if !tc.refused && first != 5 {
				t.Errorf("%d orders placed in the first 10 s, want 5 (295 + 5 = 300)", first)
			}
			if n := len(srv.OpenOrders("BTCUSDT")); n != 12 {
				t.Errorf("%d orders rest on the book, want 12", n)
			}
		})
	}
}

// TestExecutorHonoursRetryAfter: the weight is used up before the first
// request, so the venue answers 429 with Retry-After (the 30 s left in its
// minute) and the usage header; the executor pauses every request until
// then and the retry succeeds, the only 429 of the run.
func TestExecutorHonoursRetryAfter(t *testing.T) {
	clk, srv, x := usageRig(t, nil)
	srv.UseWeight(2400)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, err := x.OpenOrders(ctx, "BTCUSDT"); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if n := srv.RateLimitRefusals(); n != 1 {
		t.Errorf("429 answers: %d, want 1", n)
	}
	if st := x.Stats(); st.RateLimited != 1 {
		t.Errorf("executor saw %d refusals, want 1", st.RateLimited)
	}
	if next := t0.Truncate(time.Minute).Add(time.Minute); clk.Now().Before(next) {
		t.Errorf("clock at %s: the retry went before Retry-After (%s)", clk.Now(), next)
	}
}
