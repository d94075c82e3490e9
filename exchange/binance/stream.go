package binance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
	"github.com/gridmesh/gridmesh/exchange"
)

// A stream is one logical subscription kept alive across connections by
// one owner goroutine: it dials, serves the connection until it ends, and
// redials with exponential backoff and jitter. Each connection has one
// reader goroutine, started and awaited by the owner. The owner pings
// every PingInterval, drops a connection silent for StaleAfter, replaces
// it after MaxConnAge (Binance cuts at 24 h) and, for the user stream,
// keeps the listen key alive.
type stream struct {
	name string
	// url returns the address to dial (the user stream creates its listen
	// key here).
	url func(ctx context.Context) (string, error)
	// handle processes one message in the reader goroutine. It returns
	// false to end the connection (listen key expired, context done).
	// msg is the connection's read buffer, overwritten by the next
	// message: handle must not keep it, or any slice of it, after it
	// returns (the decoders copy what they keep).
	handle func(ctx context.Context, msg []byte) bool
	// up is called after each successful dial, before any message is
	// read; down after each connection ends while ctx is live. Either
	// returns false when ctx ended.
	up   func(ctx context.Context, reconnected bool) bool
	down func(ctx context.Context) bool
	// keepAlive runs every keepEvery on a live connection; an error ends
	// the connection.
	keepAlive func(ctx context.Context) error
	keepEvery time.Duration
}

// errConnEnded is why serve returned when the connection ended by itself.
var errConnEnded = errors.New("connection ended")

// startStream runs s in a goroutine owned by the client until ctx ends or
// the client closes; done runs when it stops (to close the channel).
func (c *Client) startStream(ctx context.Context, s stream, done func()) error {
	sctx, cancel := context.WithCancel(ctx)
	stopAfter := context.AfterFunc(c.root, cancel)
	err := c.goroutine(func() {
		defer done()
		defer cancel()
		defer stopAfter()
		c.runStream(sctx, s)
	})
	if err != nil {
		stopAfter()
		cancel()
	}
	return err
}

func (c *Client) runStream(ctx context.Context, s stream) {
	attempt := 0
	connected := false
	for ctx.Err() == nil {
		target, err := s.url(ctx)
		var conn *websocket.Conn
		if err == nil {
			conn, err = c.dial(ctx, target)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			wait := c.backoff(attempt)
			attempt++
			c.log.LogAttrs(ctx, slog.LevelWarn, "binance: stream connect failed", slog.String("stream", s.name),
				slog.Int("attempt", attempt), slog.Duration("retry_in", wait), slog.String("error", err.Error()))
			if !sleepCtx(ctx, wait) {
				return
			}
			continue
		}
		attempt = 0
		if s.up != nil && !s.up(ctx, connected) {
			conn.Close()
			return
		}
		connected = true
		why := c.serve(ctx, conn, s)
		if ctx.Err() != nil {
			return
		}
		c.log.LogAttrs(ctx, slog.LevelInfo, "binance: stream reconnecting", slog.String("stream", s.name), slog.String("reason", why.Error()))
		if s.down != nil && !s.down(ctx) {
			return
		}
		if !errors.Is(why, errRollover) {
			if !sleepCtx(ctx, c.backoff(0)) {
				return
			}
		}
	}
}

var errRollover = errors.New("connection age limit reached")

// serve runs one connection until it ends, ctx ends, or a keepalive fails.
func (c *Client) serve(ctx context.Context, conn *websocket.Conn, s stream) error {
	readerDone := make(chan error, 1)
	go func() { readerDone <- c.readLoop(ctx, conn, s.handle) }()
	ping := time.NewTicker(c.cfg.PingInterval)
	defer ping.Stop()
	roll := time.NewTimer(c.cfg.MaxConnAge)
	defer roll.Stop()
	var keep <-chan time.Time
	if s.keepAlive != nil {
		t := time.NewTicker(s.keepEvery)
		defer t.Stop()
		keep = t.C
	}
	end := func(why error) error {
		conn.Close()
		<-readerDone
		return why
	}
	for {
		select {
		case <-ctx.Done():
			_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			return end(ctx.Err())
		case err := <-readerDone:
			conn.Close()
			if err == nil {
				err = errConnEnded
			}
			return err
		case <-ping.C:
			if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.cfg.PingInterval)); err != nil {
				return end(fmt.Errorf("ping: %w", err))
			}
		case <-roll.C:
			return end(errRollover)
		case <-keep:
			if err := s.keepAlive(ctx); err != nil {
				return end(fmt.Errorf("keepalive: %w", err))
			}
		}
	}
}

// readLoop reads messages until the connection fails or handle says stop.
// A connection silent (no message, ping or pong) for StaleAfter fails.
func (c *Client) readLoop(ctx context.Context, conn *websocket.Conn, handle func(context.Context, []byte) bool) error {
	stale := c.cfg.StaleAfter
	_ = conn.SetReadDeadline(time.Now().Add(stale))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(stale)) })
	conn.SetPingHandler(func(data string) error {
		_ = conn.SetReadDeadline(time.Now().Add(stale))
		err := conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(10*time.Second))
		if err != nil && !errors.Is(err, websocket.ErrCloseSent) {
			return err
		}
		return nil
	})
	var buf []byte
	for {
		_, r, err := conn.NextReader()
		if err != nil {
			return err
		}
		if buf, err = readMessageInto(buf[:0], r); err != nil {
			return err
		}
		_ = conn.SetReadDeadline(time.Now().Add(stale))
		if !handle(ctx, buf) {
			return nil
		}
		if cap(buf) > readBufKeep {
			buf = nil // a rare large message: do not hold its buffer
		}
	}
}

// readBufStart is the first size of a connection's read buffer: a
// bookTicker is about 170 bytes, an ORDER_TRADE_UPDATE about 600.
const readBufStart = 1 << 10

// readBufKeep is the largest read buffer a connection keeps between
// messages.
const readBufKeep = 64 << 10

// readMessageInto appends the rest of r (one WebSocket message) to buf,
// growing it as needed, and returns it. Unlike websocket.ReadMessage,
// which allocates a new buffer (and grows it from 512 bytes) for every
// message, a connection's reader reuses one buffer: the stream's hot path
// then allocates nothing per message here. The connection's read limit
// bounds the message.
func readMessageInto(buf []byte, r io.Reader) ([]byte, error) {
	if cap(buf) == 0 {
		buf = make([]byte, 0, readBufStart)
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)] // grow
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

func (c *Client) dial(ctx context.Context, target string) (*websocket.Conn, error) {
	conn, resp, err := c.dialer.DialContext(ctx, target, http.Header{})
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		secrets := append(listenKeysIn(target), target)
		return nil, fmt.Errorf("binance: dial %s: %w", redactURL(target), scrubErr(err, secrets))
	}
	conn.SetReadLimit(8 << 20)
	return conn, nil
}

// backoff returns the jittered wait before reconnect attempt n (0-based).
func (c *Client) backoff(n int) time.Duration {
	d := c.cfg.ReconnectMin
	for i := 0; i < n && d < c.cfg.ReconnectMax; i++ {
		d *= 2
	}
	if d > c.cfg.ReconnectMax {
		d = c.cfg.ReconnectMax
	}
	return c.jitter(d)
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// sendLatest delivers v without blocking, dropping the oldest buffered
// value when the channel is full. Only the stream's one sender calls it.
func sendLatest[T any](ch chan T, v T) {
	for {
		select {
		case ch <- v:
			return
		default:
		}
		select {
		case <-ch:
		default:
		}
	}
}

func (c *Client) marketURL(route, streamName string) func(context.Context) (string, error) {
	u := c.cfg.WSURL + "/" + route + "/ws/" + streamName
	return func(context.Context) (string, error) { return u, nil }
}

func (c *Client) malformed(ctx context.Context, stream string, err error) {
	c.streamDrops.Add(1)
	c.log.LogAttrs(ctx, slog.LevelWarn, "binance: malformed stream message skipped", slog.String("stream", stream), slog.String("error", err.Error()))
}

// SubscribePrices streams the symbol's price: the bookTicker midpoint with
// bid and ask (Config.PriceSource PriceBookTicker, on /public) or the last
// aggregate trade (PriceAggTrade, on /market). A slow consumer gets the
// newest price, never a backlog.
func (c *Client) SubscribePrices(ctx context.Context, symbol string) (<-chan exchange.PriceUpdate, error) {
	if symbol == "" {
		return nil, fmt.Errorf("binance: SubscribePrices symbol is empty")
	}
	out := make(chan exchange.PriceUpdate, 1)
	book := bookDecoder{cache: new(streamCache)} // owned by the stream's reader
	route, name, decode := "public", lowerSymbol(symbol)+"@bookTicker", book.decode
	if c.cfg.PriceSource == PriceAggTrade {
		route, name, decode = "market", lowerSymbol(symbol)+"@aggTrade", DecodeAggTrade
	}
	s := stream{
		name: name,
		url:  c.marketURL(route, name),
		handle: func(ctx context.Context, msg []byte) bool {
			u, err := decode(msg)
			if err != nil {
				c.malformed(ctx, name, err)
				return true
			}
			sendLatest(out, u)
			return true
		},
	}
	if err := c.startStream(ctx, s, func() { close(out) }); err != nil {
		return nil, err
	}
	return out, nil
}

// SubscribeKlines streams the symbol's candles of one interval
// (<symbol>@kline_<interval> on /market); the same open candle arrives
// repeatedly until Closed. A slow consumer loses the oldest of 64
// buffered candles.
func (c *Client) SubscribeKlines(ctx context.Context, symbol, interval string) (<-chan exchange.Kline, error) {
	if !validInterval(interval) {
		return nil, fmt.Errorf("binance: kline interval %q is not one of 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w 1M: %w", interval, exchange.ErrUnsupported)
	}
	out := make(chan exchange.Kline, 64)
	name := lowerSymbol(symbol) + "@kline_" + interval
	s := stream{
		name: name,
		url:  c.marketURL("market", name),
		handle: func(ctx context.Context, msg []byte) bool {
			k, err := DecodeKline(msg)
			if err != nil {
				c.malformed(ctx, name, err)
				return true
			}
			sendLatest(out, k)
			return true
		},
	}
	if err := c.startStream(ctx, s, func() { close(out) }); err != nil {
		return nil, err
	}
	return out, nil
}

// SubscribeMarkPrice streams mark price, index price and funding
// (<symbol>@markPrice@1s on /market), newest first.
func (c *Client) SubscribeMarkPrice(ctx context.Context, symbol string) (<-chan exchange.MarkPriceUpdate, error) {
	out := make(chan exchange.MarkPriceUpdate, 1)
	name := lowerSymbol(symbol) + "@markPrice@1s"
	s := stream{
		name: name,
		url:  c.marketURL("market", name),
		handle: func(ctx context.Context, msg []byte) bool {
			m, err := DecodeMarkPrice(msg)
			if err != nil {
				c.malformed(ctx, name, err)
				return true
			}
			sendLatest(out, m)
			return true
		},
	}
	if err := c.startStream(ctx, s, func() { close(out) }); err != nil {
		return nil, err
	}
	return out, nil
}

// SubscribeUserData streams order and account events from the /private
// user-data stream. It creates the listen key, keeps it alive every
// Config.KeepAlive, and on a dropped or stale socket, an expired key
// (listenKeyExpired or -1125 on keepalive) or the 24 h rollover it sends
// EventDisconnected, reconnects with backoff (a new key when needed) and
// sends EventReady{Reconnected: true}, after which the consumer must
// reconcile over REST: events are not replayed. The first event is
// EventReady{Reconnected: false}. Events are never dropped: the stream
// waits for a slow consumer.
func (c *Client) SubscribeUserData(ctx context.Context) (<-chan exchange.UserEvent, error) {
	if c.cfg.APIKey.IsZero() {
		return nil, errNotSigned
	}
	if c.isClosed() {
		return nil, exchange.ErrClosed
	}
	out := make(chan exchange.UserEvent, 256)
	var cache streamCache // owned by the stream's reader
	send := func(ctx context.Context, ev exchange.UserEvent) bool {
		select {
		case out <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	s := stream{
		name: "userData",
		url: func(ctx context.Context) (string, error) {
			key, err := c.listenKey(ctx, http.MethodPost)
			if err != nil {
				return "", err
			}
			return c.cfg.WSURL + "/private/ws/" + key, nil
		},
		handle: func(ctx context.Context, msg []byte) bool {
			m, err := decodeUserMessageWith(msg, &cache)
			if err != nil {
				c.malformed(ctx, "userData", err)
				return true
			}
			if m.keyExpired {
				c.log.LogAttrs(ctx, slog.LevelWarn, "binance: listen key expired; reconnecting with a new key")
				return false
			}
			if m.deliver {
				if m.event.Kind == exchange.EventOrder {
					c.remember(m.event.Order.OrderID, m.event.Order.ClientOrderID)
				}
				return send(ctx, m.event)
			}
			return true
		},
		up: func(ctx context.Context, reconnected bool) bool {
			return send(ctx, exchange.UserEvent{Kind: exchange.EventReady, Time: c.now(), Reconnected: reconnected})
		},
		down: func(ctx context.Context) bool {
			return send(ctx, exchange.UserEvent{Kind: exchange.EventDisconnected, Time: c.now()})
		},
		keepAlive: func(ctx context.Context) error {
			_, err := c.listenKey(ctx, http.MethodPut)
			if err != nil && !isCode(err, -1125) && !errors.Is(err, exchange.ErrAuth) {
				// A transient failure: the key lives 60 minutes, the next
				// keepalive may succeed.
				c.log.LogAttrs(ctx, slog.LevelWarn, "binance: listen key keepalive failed", slog.String("error", err.Error()))
				return nil
			}
			return err
		},
		keepEvery: c.cfg.KeepAlive,
	}
	if err := c.startStream(ctx, s, func() { close(out) }); err != nil {
		return nil, err
	}
	return out, nil
}
