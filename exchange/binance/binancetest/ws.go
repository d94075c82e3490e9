package binancetest

// This file: WebSocket connections, heartbeats and control messages.

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// wsConn is one WebSocket client of the server: the handler goroutine
// reads it (answering pings and control messages), a writer goroutine
// drains its queue.
type wsConn struct {
	mu       sync.Mutex // guards c, set once the handshake is done
	c        *websocket.Conn
	route    string // "public", "market", "private", or "" (legacy /ws, /stream)
	combined bool   // /stream mode: payloads wrapped as {"stream","data"}
	streams  map[string]bool
	// users maps the listen keys the connection follows to their events=
	// filter (nil: every event).
	users map[string]map[string]bool
	out   chan []byte
	done  chan struct{}
	once  sync.Once
}

// send queues a message; a connection whose queue overflows is dropped, as
// Binance drops clients that cannot keep up.
func (c *wsConn) send(b []byte) {
	select {
	case <-c.done:
	case c.out <- b:
	default:
		c.kill()
	}
}

// kill closes the connection abruptly (no close frame).
func (c *wsConn) kill() {
	c.once.Do(func() { close(c.done) })
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c != nil {
		_ = c.c.UnderlyingConn().Close()
	}
}

// attach sets the upgraded connection; false when the connection was
// killed meanwhile (then conn is closed).
func (c *wsConn) attach(conn *websocket.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.c = conn
	select {
	case <-c.done:
		_ = conn.UnderlyingConn().Close()
		return false
	default:
		return true
	}
}

// connList returns the connections of a route ("" for all). Called with s.mu held.
func (s *Server) connList(route string) []*wsConn {
	var out []*wsConn
	for c := range s.conns {
		if route == "" || c.route == route {
			out = append(out, c)
		}
	}
	return out
}

// DropStreams closes every WebSocket of a route ("public", "market",
// "private", or "" for all) without a close frame, as a network failure
// would. Events sent meanwhile are lost, as on Binance.
func (s *Server) DropStreams(route string) {
	s.mu.Lock()
	conns := s.connList(route)
	s.mu.Unlock()
	for _, c := range conns {
		c.kill()
	}
}

// Stall stops every WebSocket from sending anything, data or pong, until
// Resume; connections stay open, so clients notice only by silence.
func (s *Server) Stall() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stallGate == nil {
		s.stallGate = make(chan struct{})
	}
}

// Resume ends a Stall; queued messages go out.
func (s *Server) Resume() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stallGate != nil {
		close(s.stallGate)
		s.stallGate = nil
	}
}

// Pongs counts the pongs clients sent back to the server's pings, with
// the ping's payload.
func (s *Server) Pongs() int64 { return s.pongs.Load() }

// Conns returns how many WebSockets of a route ("" for all) are open and
// subscribed to at least one stream or listen key.
func (s *Server) Conns(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.conns {
		if (route == "" || c.route == route) && (len(c.streams) > 0 || len(c.users) > 0) {
			n++
		}
	}
	return n
}

// WaitConns waits until Conns(route) is at least n or ctx ends.
func (s *Server) WaitConns(ctx context.Context, route string, n int) error {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for s.Conns(route) < n {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// serveWS upgrades the routed stream paths of sheet §1.1: /public, /market
// and /private, each as /ws/<name>/<name>… (raw) or
// /stream?streams=<name>/<name>… (combined), and the legacy unrouted
// /ws and /stream (decision: they still carry every stream, market and
// user data, since clients still use them; the sheet, §12.1, cannot say
// what the venue now does). A private connection names its listen keys in
// the path (/private/ws/<key>), as listenKey= parameters each followed by
// an optional events=A/B filter, or later by a JSON SUBSCRIBE; a key
// that is not the valid one refuses the handshake with -1125.
func (s *Server) serveWS(rw http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/")
	route, mode, names := "", "", ""
	switch {
	case path == "ws" || path == "stream" || strings.HasPrefix(path, "ws/"):
		mode, names, _ = strings.Cut(path, "/")
	default:
		var rest string
		route, rest, _ = strings.Cut(path, "/")
		mode, names, _ = strings.Cut(rest, "/")
	}
	c := &wsConn{route: route, streams: map[string]bool{}, users: map[string]map[string]bool{},
		out: make(chan []byte, 4096), done: make(chan struct{})}
	switch mode {
	case "ws":
	case "stream":
		c.combined = true
		names = r.URL.Query().Get("streams")
	default:
		writeErr(rw, errf(404, -1000, "unknown stream path %s", r.URL.Path))
		return
	}
	keys := keyParams(r.URL.RawQuery)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		writeErr(rw, errf(503, -1001, "server closed"))
		return
	}
	if names != "" {
		for _, n := range strings.Split(names, "/") {
			if route == "private" {
				// /private/ws/<key>?events=A/B filters the key of the path.
				keys = append(keys, keyParam{key: n, events: pathEvents(r.URL.RawQuery)})
			} else if route == "" && n == s.listenKey && s.keyValid() {
				c.users[n] = nil
			} else {
				c.streams[n] = true
				s.followDepth(n)
			}
		}
	}
	for _, k := range keys {
		if k.key != s.listenKey || !s.keyValid() {
			s.mu.Unlock()
			writeErr(rw, errf(400, -1125, "This listenKey does not exist."))
			return
		}
		c.users[k.key] = k.events
	}
	// Register before the handshake answer goes out, so that a client that
	// has connected misses no event: what is sent meanwhile is queued.
	s.conns[c] = struct{}{}
	s.wg.Add(1) // this handler: hijacked, httptest no longer waits for it
	s.mu.Unlock()
	defer s.wg.Done()
	defer func() {
		c.kill()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	conn, err := s.upgrader.Upgrade(rw, r, nil)
	if err != nil || !c.attach(conn) {
		return
	}
	s.wg.Add(1)
	go s.writeLoop(c)
	s.readLoop(c)
}

func (s *Server) stalled() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stallGate
}

func (s *Server) writeLoop(c *wsConn) {
	defer s.wg.Done()
	var ping <-chan time.Time
	if s.o.pingEvery > 0 {
		t := time.NewTicker(s.o.pingEvery)
		defer t.Stop()
		ping = t.C
	}
	for {
		select {
		case <-c.done:
			return
		case <-ping:
			if s.stalled() != nil {
				continue
			}
			if err := c.c.WriteControl(websocket.PingMessage, []byte("gm"), time.Now().Add(5*time.Second)); err != nil {
				c.kill()
				return
			}
		case m := <-c.out:
			if g := s.stalled(); g != nil {
				select {
				case <-g:
				case <-c.done:
					return
				}
			}
			_ = c.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if err := c.c.WriteMessage(websocket.TextMessage, m); err != nil {
				c.kill()
				return
			}
		}
	}
}

// readLoop answers pings (unless stalled) and the JSON control messages of
// sheet §5.2 until the connection fails.
func (s *Server) readLoop(c *wsConn) {
	c.c.SetPongHandler(func(data string) error {
		if data == "gm" {
			s.pongs.Add(1)
		}
		return nil
	})
	c.c.SetPingHandler(func(data string) error {
		if s.stalled() != nil {
			return nil
		}
		err := c.c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(5*time.Second))
		if err == websocket.ErrCloseSent {
			return nil
		}
		return err
	})
	for {
		_, msg, err := c.c.ReadMessage()
		if err != nil {
			return
		}
		c.send(s.control(c, msg))
	}
}
