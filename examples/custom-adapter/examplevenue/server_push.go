package examplevenue

import (
	"context"
	"sync"
)

func (s *Server) publishOrder(o *order, t *NativeTrade) {
	s.publish(Message{Channel: ChannelOrders, Order: s.native(o), Trade: t})
}

// publish queues m on every connection of its channel. Called with s.mu held.
func (s *Server) publish(m Message) {
	for c := range s.conns {
		if c.channel == m.Channel && (m.Channel != ChannelTicker || c.symbol == m.Ticker.Symbol) {
			c.push(m)
		}
	}
}

// Subscribe opens a push connection to channel (ChannelOrders, or
// ChannelTicker for symbol). A ticker connection starts with the current
// price, if there is one. The venue never waits for a reader: each
// connection queues what it has not read.
func (s *Server) Subscribe(ctx context.Context, channel, symbol string) (*Conn, error) {
	return call(ctx, s, func() (*Conn, error) {
		if channel != ChannelOrders && channel != ChannelTicker {
			return nil, apiErr(CodeBadRequest, "channel %q must be %s or %s", channel, ChannelOrders, ChannelTicker)
		}
		if channel == ChannelTicker && symbol != s.inst.Symbol {
			return nil, apiErr(CodeBadSymbol, "instrument %q does not exist", symbol)
		}
		c := &Conn{srv: s, channel: channel, symbol: symbol, wake: make(chan struct{}, 1), done: make(chan struct{})}
		s.conns[c] = struct{}{}
		if channel == ChannelTicker && s.price.IsPositive() {
			c.push(Message{Channel: ChannelTicker, Ticker: NativeTicker{Symbol: symbol, Last: s.price.String(), Ms: s.clock().UnixMilli()}})
		}
		return c, nil
	})
}

// Conn is one push connection, like a WebSocket: Read returns its messages
// in the order the venue sent them. A Conn is safe for concurrent use.
type Conn struct {
	srv             *Server
	channel, symbol string
	mu              sync.Mutex
	queue           []Message
	wake            chan struct{} // capacity 1: "the queue grew"
	done            chan struct{} // closed by Close or the venue's Close
	once            sync.Once
}

func (c *Conn) push(m Message) {
	c.mu.Lock()
	c.queue = append(c.queue, m)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Read returns the next message; ctx's error if ctx ends first;
// ErrConnClosed once the connection is closed.
func (c *Conn) Read(ctx context.Context) (Message, error) {
	for {
		select {
		case <-c.done:
			return Message{}, ErrConnClosed
		default:
		}
		c.mu.Lock()
		if len(c.queue) > 0 {
			m := c.queue[0]
			c.queue[0] = Message{}
			c.queue = c.queue[1:]
			c.mu.Unlock()
			return m, nil
		}
		c.mu.Unlock()
		select {
		case <-c.wake:
		case <-ctx.Done():
			return Message{}, ctx.Err()
		case <-c.done:
			return Message{}, ErrConnClosed
		}
	}
}

// Close closes the connection. It is idempotent.
func (c *Conn) Close() {
	c.srv.mu.Lock()
	delete(c.srv.conns, c)
	c.srv.mu.Unlock()
	c.shut()
}

func (c *Conn) shut() { c.once.Do(func() { close(c.done) }) }
