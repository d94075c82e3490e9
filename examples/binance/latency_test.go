package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptrace"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/binance"
	"github.com/gridmesh/gridmesh/exchange/binance/binancetest"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/pricefeed"
)

// stampSource is the price feed's source with a clock on it: it notes when
// each price was taken from the adapter's price stream. That is the start
// of the measured path: the moment the runner's feed (the
// pricefeed.Monitor's Run loop) receives the decoded bookTicker.
type stampSource struct {
	src  pricefeed.Source
	mu   sync.Mutex
	last exchange.Ticks
	at   time.Time
}

func (s *stampSource) Next(ctx context.Context) (pricefeed.Price, error) {
	p, err := s.src.Next(ctx)
	if err == nil {
		now := time.Now()
		s.mu.Lock()
		s.last, s.at = p.Ticks, now
		s.mu.Unlock()
	}
	return p, err
}

func (s *stampSource) stamp() (exchange.Ticks, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last, s.at
}

// wireClock times the end of the measured path: the moment the write
// system call that hands a new order's request (POST /fapi/v1/order) to
// the loopback socket returns. The HTTP transport writes a request into
// its connection's buffer and then flushes it with one write; the round
// tripper below arms the connection when the request has been written
// into the buffer (httptrace WroteRequest), and the connection stamps the
// write that follows — the flush.
type wireClock struct {
	written chan time.Time
}

// stampConn is a connection of the adapter's HTTP transport.
type stampConn struct {
	net.Conn
	armed atomic.Bool
	clock *wireClock
}

func (c *stampConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if c.armed.CompareAndSwap(true, false) {
		select {
		case c.clock.written <- time.Now():
		default:
		}
	}
	return n, err
}

// stampTripper arms the connection of every order placement.
type stampTripper struct{ base http.RoundTripper }

func (t stampTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPost && req.URL.Path == "/fapi/v1/order" {
		var conn *stampConn
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) { conn, _ = i.Conn.(*stampConn) },
			WroteRequest: func(httptrace.WroteRequestInfo) {
				if conn != nil {
					conn.armed.Store(true)
				}
			},
		}))
	}
	return t.base.RoundTrip(req)
}

// BenchmarkTickToOrder measures the live path of a tick through the whole
// stack on loopback: the local Binance server (binancetest) pushes a
// bookTicker; the adapter (exchange/binance) reads and decodes it off its
// WebSocket; the single price source (pricefeed.Monitor, interval 0)
// takes it and hands it to grid.Runner's owner goroutine; the engine
// moves its window and answers with intents; a runner worker takes the
// place intent through exchange.Executor (rate limits, deadline) to the
// adapter, which signs it (HMAC-SHA256) and POSTs it.
//
// p50-µs and p99-µs are the median and 99th percentile of
//
//	price taken by the feed from the adapter's price stream (the Monitor's
//	source returns it)  →  the write(2) carrying the order request to the
//	loopback socket returns
//
// and e2e-p50-µs, e2e-p99-µs the same ending from the moment the test
// asks the server to move its price (server-side JSON encoding, the
// WebSocket hop and the adapter's decoding included).
//
// The grid is a trailing long grid with one-level windows and no
// hysteresis; each iteration moves the price up across one level, so
// each tick causes exactly one order — the entry on the level just
// crossed — and one cancel, of the entry that left the window (its
// DELETE runs on another worker beside the POST, as a window move does
// live). Nothing fills. An iteration then waits until the runner is idle
// with both updates (NEW, CANCELED) taken from the order stream, so the
// ticks never queue behind each other; ns/op is the whole iteration. The
// server's and the executor's rate limits are lifted: the benchmark sends
// far more orders than Binance allows.
func BenchmarkTickToOrder(b *testing.B) {
	srv := binancetest.NewServer(binancetest.WithOrderLimits(1<<30, 1<<30), binancetest.WithWeightLimit(1<<30))
	defer srv.Close()
	wc := &wireClock{written: make(chan time.Time, 16)}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 16
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &stampConn{Conn: c, clock: wc}, nil
	}
	defer tr.CloseIdleConnections()
	c, err := binance.New(binance.Config{RESTURL: srv.URL(), WSURL: srv.WSURL(),
		APIKey: binance.NewSecret(binancetest.APIKey), APISecret: binance.NewSecret(binancetest.APISecret),
		HTTPClient: &http.Client{Transport: stampTripper{base: tr}}})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rules, err := c.Rules(ctx, "BTCUSDT")
	if err != nil {
		b.Fatal(err)
	}
	if err := c.SyncTime(ctx); err != nil {
		b.Fatal(err)
	}

	d := decimal.RequireFromString
	eng, err := grid.New(rules, grid.WithGridID("lat"), grid.WithStartPrice(d("60000")),
		grid.WithTrailing(d("10"), 4), grid.WithQuantity(d("0.001")), grid.WithWindows(1, 1, 0))
	if err != nil {
		b.Fatal(err)
	}
	mon, err := pricefeed.NewMonitor("BTCUSDT", pricefeed.WithInterval(0))
	if err != nil {
		b.Fatal(err)
	}
	defer mon.Close()
	es, err := pricefeed.NewExchangeSource(c, "BTCUSDT", rules)
	if err != nil {
		b.Fatal(err)
	}
	src := &stampSource{src: es}
	x, err := exchange.NewExecutor(c, exchange.WithRateLimits(
		exchange.RateLimit{Scope: exchange.ScopeOrder, Interval: time.Second, Limit: 1 << 30},
		exchange.RateLimit{Scope: exchange.ScopeRequest, Interval: time.Second, Limit: 1 << 30}))
	if err != nil {
		b.Fatal(err)
	}
	idle := make(chan grid.IdleState, 1)
	runner, err := grid.NewRunner(eng, c, grid.WithExecutor(x), grid.WithPriceFeed(mon), grid.WithCancelOnStop(false),
		grid.WithTimerInterval(time.Hour), grid.WithReconcileInterval(time.Hour),
		grid.WithIdleHook(func(s grid.IdleState) {
			select {
			case <-idle: // keep only the newest
			default:
			}
			idle <- s
		}))
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Add(2)
	go func() {
		defer wg.Done()
		_ = mon.Run(ctx, src)
	}()
	runErr := make(chan error, 1)
	go func() {
		defer wg.Done()
		runErr <- runner.Run(ctx)
	}()

	// guard bounds every wait: a stuck stack fails the benchmark instead
	// of hanging it.
	const guard = 10 * time.Second
	var last grid.IdleState
	settle := func(prices, events uint64) {
		for last.Prices < prices || last.OrderEvents < events {
			select {
			case last = <-idle:
			case err := <-runErr:
				b.Fatalf("runner ended: %v", err)
			case <-time.After(guard):
				b.Fatalf("runner did not settle: took %+v, want %d prices and %d order events", last, prices, events)
			}
		}
	}
	price := func(i int) decimal.Decimal { return d("60005").Add(decimal.NewFromInt(int64(10 * i))) }

	// Start: the first price places the entry at 60000.
	if err := srv.WaitConns(ctx, "public", 1); err != nil {
		b.Fatal(err)
	}
	if err := srv.SetPrice(ctx, "BTCUSDT", price(0)); err != nil {
		b.Fatal(err)
	}
	settle(1, 1)
	select {
	case <-wc.written:
	case <-time.After(guard):
		b.Fatal("the first entry was not placed")
	}

	var lat, e2e []time.Duration
	for i := 1; b.Loop(); i++ {
		p := price(i)
		want, err := rules.PriceToTicks(p)
		if err != nil {
			b.Fatal(err)
		}
		asked := time.Now()
		if err := srv.SetPrice(ctx, "BTCUSDT", p); err != nil {
			b.Fatal(err)
		}
		var wrote time.Time
		select {
		case wrote = <-wc.written:
		case <-time.After(guard):
			b.Fatalf("no order written for the tick to %s", p)
		}
		got, taken := src.stamp()
		if got != want {
			b.Fatalf("the order followed price %d, want %d", got, want)
		}
		lat = append(lat, wrote.Sub(taken))
		e2e = append(e2e, wrote.Sub(asked))
		settle(uint64(i)+1, uint64(2*i)+1)
	}
	b.StopTimer()
	cancel()
	wg.Wait() // the runner has ended: the engine may be read
	if n := eng.Books().OpenOrders; n != 1 {
		b.Errorf("%d orders open at the end, want the one entry", n)
	}
	report := func(name string, ds []time.Duration) {
		if len(ds) == 0 {
			return
		}
		slices.Sort(ds)
		b.ReportMetric(float64(ds[len(ds)/2])/1e3, name+"p50-µs")
		b.ReportMetric(float64(ds[len(ds)*99/100])/1e3, name+"p99-µs")
	}
	report("", lat)
	report("e2e-", e2e)
}
