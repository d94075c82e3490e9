package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
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
// pricefeed.Feed's Run loop) receives the decoded bookTicker.
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
// its connection's buffer and then flushes it with one write (a request
// of a few hundred bytes fits its 4 KiB buffer); the connection stamps
// the write that carries an order placement's request line. The clock
// adds nothing to the measured path: no httptrace of its own (which
// net/http would merge with the adapter's by reflection, on the stack's
// path only) and no copy of the request.
type wireClock struct {
	written chan time.Time
	// split is set when an order placement's request was not written
	// whole in one write: the stamp would then be early.
	split atomic.Bool
	// posted is when the last order placement entered the HTTP client's
	// round tripper (UnixNano): the adapter's (or the floor's) own work
	// ends there and net/http's begins.
	posted atomic.Int64
}

// stampConn is a connection of the adapter's HTTP transport.
type stampConn struct {
	net.Conn
	clock *wireClock
}

// orderLine starts the request of an order placement.
var orderLine = []byte("POST /fapi/v1/order HTTP/1.1\r\n")

func (c *stampConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if bytes.HasPrefix(p, orderLine) {
		now := time.Now()
		if !wholeRequest(p) {
			c.clock.split.Store(true)
		}
		select {
		case c.clock.written <- now:
		default:
		}
	}
	return n, err
}

// wholeRequest reports whether p holds a request's header and all of the
// body its Content-Length announces.
func wholeRequest(p []byte) bool {
	i := bytes.Index(p, []byte("\r\n\r\n"))
	if i < 0 {
		return false
	}
	h := p[:i+2]
	j := bytes.Index(h, []byte("\r\nContent-Length: "))
	if j < 0 {
		return len(p) == i+4
	}
	v := h[j+len("\r\nContent-Length: "):]
	v = v[:bytes.IndexByte(v, '\r')]
	n, err := strconv.Atoi(string(v))
	return err == nil && len(p)-(i+4) == n
}

// stampTripper notes when each order placement enters the HTTP client's
// transport.
type stampTripper struct {
	base http.RoundTripper
	wc   *wireClock
}

func (t stampTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPost && req.URL.Path == "/fapi/v1/order" {
		t.wc.posted.Store(time.Now().UnixNano())
	}
	return t.base.RoundTrip(req)
}

// stampedTransport is an HTTP transport whose connections are stamped
// connections reporting to wc: the write of every order placement is
// timed.
func stampedTransport(wc *wireClock) (*http.Transport, http.RoundTripper) {
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
	return tr, stampTripper{base: tr, wc: wc}
}

// enteredExchange is the adapter as the executor sees it, noting when
// each PlaceOrder call enters it (UnixNano): the stack's path before the
// adapter (feed, runner, engine, worker, executor) ends there. Embedding
// keeps every optional interface of the adapter.
type enteredExchange struct {
	*binance.Client
	placeAt atomic.Int64
}

func (e *enteredExchange) PlaceOrder(ctx context.Context, req exchange.OrderRequest) (exchange.Order, error) {
	e.placeAt.Store(time.Now().UnixNano())
	return e.Client.PlaceOrder(ctx, req)
}

// guard bounds every wait of the latency benchmarks: a stuck path fails
// the benchmark instead of hanging it.
const guard = 10 * time.Second

// stackPath is the whole stack of BenchmarkTickToOrder, started and ready
// for ticks: a local Binance server, the adapter, the price monitor, the
// engine in its runner and the executor.
type stackPath struct {
	b       *testing.B
	srv     *binancetest.Server
	wc      *wireClock
	src     *stampSource
	rules   exchange.Rules
	eng     *grid.Engine
	idle    chan grid.IdleState
	runErr  chan error
	last    grid.IdleState
	stop    func() // ends the runner and the monitor, waits for them, closes everything
	entered *enteredExchange
	lat     []time.Duration
	e2e     []time.Duration
	// toAdapter: price taken → the adapter's PlaceOrder entered;
	// inAdapter: PlaceOrder entered → the HTTP round tripper entered.
	toAdapter, inAdapter []time.Duration
	stopped              bool
}

func startStack(b *testing.B) *stackPath {
	srv := binancetest.NewServer(binancetest.WithOrderLimits(1<<30, 1<<30), binancetest.WithWeightLimit(1<<30))
	wc := &wireClock{written: make(chan time.Time, 16)}
	tr, rt := stampedTransport(wc)
	c, err := binance.New(binance.Config{RESTURL: srv.URL(), WSURL: srv.WSURL(),
		APIKey: binance.NewSecret(binancetest.APIKey), APISecret: binance.NewSecret(binancetest.APISecret),
		HTTPClient: &http.Client{Transport: rt}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mon *pricefeed.Feed
	closeAll := func() {
		cancel()
		wg.Wait()
		if mon != nil {
			mon.Close()
		}
		c.Close()
		tr.CloseIdleConnections()
		srv.Close()
	}
	fail := func(err error) *stackPath {
		closeAll()
		b.Fatal(err)
		return nil
	}
	rules, err := c.Rules(ctx, "BTCUSDT")
	if err != nil {
		return fail(err)
	}
	if err := c.SyncTime(ctx); err != nil {
		return fail(err)
	}
	d := decimal.RequireFromString
	eng, err := grid.New(rules, grid.WithGridID("lat"), grid.WithStartPrice(d("60000")),
		grid.WithTrailing(d("10"), 4), grid.WithQuantity(d("0.001")), grid.WithWindows(1, 1, 0))
	if err != nil {
		return fail(err)
	}
	mon, err = pricefeed.NewFeed("BTCUSDT", pricefeed.WithInterval(0))
	if err != nil {
		return fail(err)
	}
	es, err := pricefeed.NewExchangeSource(c, "BTCUSDT", rules)
	if err != nil {
		return fail(err)
	}
	src := &stampSource{src: es}
	entered := &enteredExchange{Client: c}
	x, err := exchange.NewExecutor(entered, exchange.WithRateLimits(
		exchange.RateLimit{Scope: exchange.ScopeOrder, Interval: time.Second, Limit: 1 << 30},
		exchange.RateLimit{Scope: exchange.ScopeRequest, Interval: time.Second, Limit: 1 << 30}))
	if err != nil {
		return fail(err)
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
		return fail(err)
	}
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
	sp := &stackPath{b: b, srv: srv, wc: wc, src: src, rules: rules, eng: eng, idle: idle, runErr: runErr, entered: entered}
	sp.stop = func() {
		if !sp.stopped {
			sp.stopped = true
			closeAll()
		}
	}

	// Start: the first price places the entry at 60000.
	if err := srv.WaitConns(ctx, "public", 1); err != nil {
		sp.stop()
		b.Fatal(err)
	}
	if err := srv.SetPrice(ctx, "BTCUSDT", sp.price(0)); err != nil {
		sp.stop()
		b.Fatal(err)
	}
	sp.settle(1, 1)
	select {
	case <-wc.written:
	case <-time.After(guard):
		sp.stop()
		b.Fatal("the first entry was not placed")
	}
	return sp
}

func (sp *stackPath) price(i int) decimal.Decimal {
	return decimal.RequireFromString("60005").Add(decimal.NewFromInt(int64(10 * i)))
}

// settle waits until the runner is idle having taken prices prices and
// events order events.
func (sp *stackPath) settle(prices, events uint64) {
	for sp.last.Prices < prices || sp.last.OrderEvents < events {
		select {
		case sp.last = <-sp.idle:
		case err := <-sp.runErr:
			sp.stop()
			sp.b.Fatalf("runner ended: %v", err)
		case <-time.After(guard):
			sp.stop()
			sp.b.Fatalf("runner did not settle: took %+v, want %d prices and %d order events", sp.last, prices, events)
		}
	}
}

// tick moves the price across level i and records the latencies of the
// order it causes.
func (sp *stackPath) tick(i int) {
	p := sp.price(i)
	want, err := sp.rules.PriceToTicks(p)
	if err != nil {
		sp.stop()
		sp.b.Fatal(err)
	}
	asked := time.Now()
	if err := sp.srv.SetPrice(context.Background(), "BTCUSDT", p); err != nil {
		sp.stop()
		sp.b.Fatal(err)
	}
	var wrote time.Time
	select {
	case wrote = <-sp.wc.written:
		if sp.wc.split.Load() {
			sp.stop()
			sp.b.Fatal("an order's request was written in more than one write: the stamp would be early")
		}
	case <-time.After(guard):
		sp.stop()
		sp.b.Fatalf("no order written for the tick to %s", p)
	}
	got, taken := sp.src.stamp()
	if got != want {
		sp.stop()
		sp.b.Fatalf("the order followed price %d, want %d", got, want)
	}
	sp.lat = append(sp.lat, wrote.Sub(taken))
	sp.e2e = append(sp.e2e, wrote.Sub(asked))
	placeAt, posted := time.Unix(0, sp.entered.placeAt.Load()), time.Unix(0, sp.wc.posted.Load())
	sp.toAdapter = append(sp.toAdapter, placeAt.Sub(taken))
	sp.inAdapter = append(sp.inAdapter, posted.Sub(placeAt))
	sp.settle(uint64(i)+1, uint64(2*i)+1)
}

// finish stops the stack and checks the engine's books.
func (sp *stackPath) finish() {
	sp.stop() // the runner has ended: the engine may be read
	if n := sp.eng.Books().OpenOrders; n != 1 {
		sp.b.Errorf("%d orders open at the end, want the one entry", n)
	}
}

// floorPath is the loopback floor: the least a program can do between a
// bookTicker and the order it causes — read the message off a WebSocket
// (gorilla), take the bid out of it with a byte scan, build and sign
// (HMAC-SHA256) the POST /fapi/v1/order of an IOC buy at that bid, and
// send it with net/http over a kept-alive loopback connection. No
// decimal, no channel, no engine, no executor, no adapter.
//
// The order is IOC so that it expires at once (a buy at the bid does not
// cross): the floor's server stays as small as the stack's, which keeps
// one entry open. A resting order per tick (GTX) made the server's every
// price move walk all of them in decimals — garbage and CPU that grew
// with b.N and fell on both paths' GC and cores, the stack's included.
type floorPath struct {
	b    *testing.B
	srv  *binancetest.Server
	wc   *wireClock
	tr   *http.Transport
	hc   *http.Client
	conn *websocket.Conn
	mac  hash.Hash
	buf  []byte
	lat  []time.Duration
	e2e  []time.Duration
	// built: the bookTicker read → the HTTP round tripper entered (scan,
	// build, sign, request).
	built []time.Duration
	next  int
}

func startFloor(b *testing.B) *floorPath {
	srv := binancetest.NewServer(binancetest.WithOrderLimits(1<<30, 1<<30), binancetest.WithWeightLimit(1<<30))
	wc := &wireClock{written: make(chan time.Time, 16)}
	tr, rt := stampedTransport(wc)
	conn, resp, err := websocket.DefaultDialer.Dial(srv.WSURL()+"/public/ws/btcusdt@bookTicker", nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		srv.Close()
		b.Fatal(err)
	}
	fp := &floorPath{b: b, srv: srv, wc: wc, tr: tr, hc: &http.Client{Transport: rt}, conn: conn,
		mac: hmac.New(sha256.New, []byte(binancetest.APISecret)), buf: make([]byte, 0, 512)}
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := srv.WaitConns(ctx, "public", 1); err != nil {
		fp.stop()
		b.Fatal(err)
	}
	// Warm the connection: one price, one order.
	fp.tick(-1)
	fp.lat, fp.e2e, fp.built = fp.lat[:0], fp.e2e[:0], fp.built[:0]
	return fp
}

func (fp *floorPath) stop() {
	fp.conn.Close()
	fp.tr.CloseIdleConnections()
	fp.srv.Close()
}

// bidOf returns the value of "b" in a bookTicker message.
func bidOf(msg []byte) []byte {
	i := bytes.Index(msg, []byte(`"b":"`))
	if i < 0 {
		return nil
	}
	v := msg[i+5:]
	j := bytes.IndexByte(v, '"')
	if j < 0 {
		return nil
	}
	return v[:j]
}

// tick moves the server's price and takes the bookTicker it pushes to a
// signed order.
func (fp *floorPath) tick(i int) {
	p := decimal.NewFromInt(int64(70005 + 10*i))
	asked := time.Now()
	if err := fp.srv.SetPrice(context.Background(), "BTCUSDT", p); err != nil {
		fp.stop()
		fp.b.Fatal(err)
	}
	_ = fp.conn.SetReadDeadline(time.Now().Add(guard))
	_, msg, err := fp.conn.ReadMessage()
	if err != nil {
		fp.stop()
		fp.b.Fatal(err)
	}
	taken := time.Now()
	bid := bidOf(msg)
	if bid == nil {
		fp.stop()
		fp.b.Fatalf("no bid in %s", msg)
	}
	fp.next++
	q := fp.buf[:0]
	q = append(q, "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=IOC&quantity=0.001&price="...)
	q = append(q, bid...)
	q = append(q, "&newClientOrderId=floor-"...)
	q = strconv.AppendInt(q, int64(fp.next), 10)
	q = append(q, "&recvWindow=5000&timestamp="...)
	q = strconv.AppendInt(q, time.Now().UnixMilli(), 10)
	fp.mac.Reset()
	_, _ = fp.mac.Write(q)
	var sum [sha256.Size]byte
	q = append(q, "&signature="...)
	q = hex.AppendEncode(q, fp.mac.Sum(sum[:0]))
	fp.buf = q
	req, err := http.NewRequest(http.MethodPost, fp.srv.URL()+"/fapi/v1/order", bytes.NewReader(q))
	if err != nil {
		fp.stop()
		fp.b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-MBX-APIKEY", binancetest.APIKey)
	resp, err := fp.hc.Do(req)
	if err != nil {
		fp.stop()
		fp.b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	var wrote time.Time
	select {
	case wrote = <-fp.wc.written:
		if fp.wc.split.Load() {
			fp.stop()
			fp.b.Fatal("an order's request was written in more than one write: the stamp would be early")
		}
	case <-time.After(guard):
		fp.stop()
		fp.b.Fatal("the floor's order write was not seen")
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusBadRequest {
		fp.stop()
		fp.b.Fatalf("the floor's order got HTTP %d", resp.StatusCode)
	}
	fp.lat = append(fp.lat, wrote.Sub(taken))
	fp.e2e = append(fp.e2e, wrote.Sub(asked))
	fp.built = append(fp.built, time.Unix(0, fp.wc.posted.Load()).Sub(taken))
}

// quantile returns the q-quantile (0 < q < 1) of ds, which it sorts.
func quantile(ds []time.Duration, q float64) time.Duration {
	slices.Sort(ds)
	return ds[int(float64(len(ds))*q)]
}

func reportLatency(b *testing.B, name string, ds []time.Duration) (p50, p99 time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	p50, p99 = quantile(ds, 0.5), quantile(ds, 0.99)
	b.ReportMetric(float64(p50)/1e3, name+"p50-µs")
	b.ReportMetric(float64(p99)/1e3, name+"p99-µs")
	return p50, p99
}

// BenchmarkTickToOrder measures the live path of a tick through the whole
// stack on loopback, and beside it, in the same run and interleaved tick
// by tick so that both see the same machine, the loopback floor
// ([floorPath]); it reports both and their ratio.
//
// The stack: the local Binance server (binancetest) pushes a bookTicker;
// the adapter (exchange/binance) reads and decodes it off its WebSocket;
// the single price source (pricefeed.Feed, interval 0) takes it and
// hands it to grid.Runner's owner goroutine; the engine moves its window
// and answers with intents; a runner worker takes the place intent
// through exchange.Executor (rate limits, deadline) to the adapter, which
// signs it (HMAC-SHA256) and POSTs it.
//
// p50-µs and p99-µs are the median and 99th percentile of
//
//	price taken by the feed from the adapter's price stream (the Monitor's
//	source returns it)  →  the write(2) carrying the order request to the
//	loopback socket returns
//
// and e2e-p50-µs, e2e-p99-µs the same ending from the moment the test
// asks the server to move its price (server-side JSON encoding, the
// WebSocket hop and the adapter's decoding included). floor-p50-µs and
// floor-p99-µs are the floor's, from the moment its ReadMessage returns
// the bookTicker; floor-e2e-* from the moment it asks its own server to
// move the price. ratio-p50 and ratio-p99 divide the stack's figures by
// the floor's; e2e-ratio-* the end-to-end ones (the fairer comparison:
// both then include the WebSocket read and the decoding).
//
// Where the stack's time goes: to-adapter-* is price taken → the
// adapter's PlaceOrder entered (the feed's hand-over, the runner's owner
// goroutine and engine, its hand-over to a worker, the executor);
// in-adapter-* is PlaceOrder entered → the HTTP client's round tripper
// entered (rules, encoding, signing, building the request); the rest of
// p50-µs is net/http up to the write. floor-build-* is the floor's own
// share up to its round tripper (scan, encode, sign, build).
//
// The grid is a trailing long grid with one-level windows and no
// hysteresis; each iteration moves the price up across one level, so
// each tick causes exactly one order — the entry on the level just
// crossed — and one cancel, of the entry that left the window (its
// DELETE runs on another worker beside the POST, as a window move does
// live). Nothing fills. An iteration then waits until the runner is idle
// with both updates (NEW, CANCELED) taken from the order stream, so the
// ticks never queue behind each other; then it runs one floor tick on a
// server of its own. ns/op is the whole iteration, both paths. The
// servers' and the executor's rate limits are lifted: the benchmark sends
// far more orders than Binance allows.
func BenchmarkTickToOrder(b *testing.B) {
	sp := startStack(b)
	fp := startFloor(b)
	defer fp.stop()
	for i := 1; b.Loop(); i++ {
		sp.tick(i)
		fp.tick(i)
	}
	b.StopTimer()
	sp.finish()
	p50, p99 := reportLatency(b, "", sp.lat)
	e50, e99 := reportLatency(b, "e2e-", sp.e2e)
	f50, f99 := reportLatency(b, "floor-", fp.lat)
	g50, g99 := reportLatency(b, "floor-e2e-", fp.e2e)
	reportLatency(b, "to-adapter-", sp.toAdapter)
	reportLatency(b, "in-adapter-", sp.inAdapter)
	reportLatency(b, "floor-build-", fp.built)
	if f50 > 0 && f99 > 0 && g50 > 0 && g99 > 0 {
		b.ReportMetric(float64(p50)/float64(f50), "ratio-p50")
		b.ReportMetric(float64(p99)/float64(f99), "ratio-p99")
		b.ReportMetric(float64(e50)/float64(g50), "e2e-ratio-p50")
		b.ReportMetric(float64(e99)/float64(g99), "e2e-ratio-p99")
	}
}

// BenchmarkLoopbackFloor is the floor of BenchmarkTickToOrder alone.
func BenchmarkLoopbackFloor(b *testing.B) {
	fp := startFloor(b)
	defer fp.stop()
	for i := 0; b.Loop(); i++ {
		fp.tick(i)
	}
	b.StopTimer()
	reportLatency(b, "floor-", fp.lat)
	reportLatency(b, "floor-e2e-", fp.e2e)
}
