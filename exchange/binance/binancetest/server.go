package binancetest

// This file: the Server, its lifecycle, clock and fault injection.

import (
	"errors"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/shopspring/decimal"
)

// Server is a local Binance USDⓈ-M futures venue for tests: an httptest
// server speaking the REST API and the routed WebSocket streams as the
// protocol sheet describes them. It verifies HMAC signatures, timestamps
// and recvWindow, enforces request weight and order-count limits (429),
// keeps resting orders per symbol and fills them when [Server.SetPrice]
// moves the market through them, tracks positions (one-way and hedge) and
// the USDT wallet, and pushes ORDER_TRADE_UPDATE and ACCOUNT_UPDATE events
// shaped like the sheet's examples. Commands inject faults: errors, clock
// drift, expired listen keys, dropped and stalled connections.
//
// Build one with [NewServer]; the zero value is not usable. A Server is
// safe for concurrent use. Close stops it and waits for its goroutines.
type Server struct {
	o        options
	hs       *httptest.Server
	upgrader websocket.Upgrader

	mu          sync.Mutex
	offset      time.Duration
	books       map[string]*book
	nextOrderID int64
	nextTradeID int64
	wallet      decimal.Decimal
	positions   map[posKey]*position
	leverage    map[string]int
	marginType  map[string]string // CROSSED or ISOLATED
	funding     []fundingRecord
	incomes     []income
	// marginCalled is set once MARGIN_CALL went out, until the margin
	// ratio falls back below the threshold.
	marginCalled bool
	stop         chan struct{} // closed by Close: ends the periodic pushes
	hedge        bool
	listenKey    string
	keyExpiry    time.Time
	rng          *rand.Rand
	conns        map[*wsConn]struct{}
	stallGate    chan struct{} // non-nil while stalled: closed on resume
	weightMin    int64
	weightUsed   int
	ord10Win     int64
	ord10        int
	ord1mWin     int64
	ord1m        int
	refusals     int // 429 answers for weight or order count
	faults       []Fault
	countdowns   map[string]*time.Timer
	requests     map[string]int
	closed       bool

	pongs atomic.Int64
	wg    sync.WaitGroup
}

// New starts a server on 127.0.0.1 listing BTCUSDT unless WithSymbol
// says otherwise. It reports every bad option at once (errors.Join), a
// malformed seeded kline file among them.
func New(opts ...Option) (*Server, error) {
	o := defaultOptions()
	for _, op := range opts {
		op.apply(&o)
	}
	if len(o.symbols) == 0 {
		o.symbols = []Symbol{BTCUSDT()}
	}
	optErr := o.validate() // reported with the seeds' problems
	s := &Server{
		o: o, books: map[string]*book{}, nextOrderID: 4000000000, nextTradeID: 900000,
		wallet: o.balance, positions: map[posKey]*position{}, leverage: map[string]int{}, marginType: map[string]string{},
		hedge: o.hedge, rng: rand.New(rand.NewPCG(o.listenKeySeed, 7)), conns: map[*wsConn]struct{}{},
		countdowns: map[string]*time.Timer{}, requests: map[string]int{}, stop: make(chan struct{}),
	}
	unpriced := map[string]bool{}
	for _, sym := range o.symbols {
		unpriced[sym.Name] = sym.Price.IsZero()
		sym.fillDefaults()
		s.books[sym.Name] = &book{spec: sym, price: sym.Price, byID: map[int64]*order{}, byClient: map[string]*order{},
			fundingRate: decimal.RequireFromString("0.0001"), base: intervals[0], seq: 1_000_000,
			klineOpen: map[string]int64{}}
		s.leverage[sym.Name] = o.defaultLeverage
		s.marginType[sym.Name] = "CROSSED"
	}
	if err := errors.Join(optErr, s.applySeeds(o.seeds)); err != nil {
		return nil, err
	}
	for name, b := range s.books {
		if n := len(b.candles); n > 0 && unpriced[name] {
			b.price = b.candles[n-1].c
		}
		for _, k := range b.candles {
			b.aggID += k.trades // trade IDs continue the seeded history
		}
		b.setDepth(s.levels(b)) // the book as it starts: the first diff is a real change
	}
	s.upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	s.hs = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	if o.periodic {
		s.wg.Add(1)
		go s.periodic()
	}
	return s, nil
}

// NewServer is [New] for tests whose options are known to be valid: it
// panics on the error New would return, as httptest.NewServer panics when
// it cannot listen.
func NewServer(opts ...Option) *Server {
	s, err := New(opts...)
	if err != nil {
		panic(err)
	}
	return s
}

// URL is the REST base URL (Config.RESTURL).
func (s *Server) URL() string { return s.hs.URL }

// WSURL is the WebSocket base URL without a path (Config.WSURL).
func (s *Server) WSURL() string { return "ws" + strings.TrimPrefix(s.hs.URL, "http") }

// Close closes every connection, stops the server and waits for its
// goroutines.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.stop)
	for _, t := range s.countdowns {
		t.Stop()
	}
	if s.stallGate != nil {
		close(s.stallGate)
		s.stallGate = nil
	}
	conns := s.connList("")
	s.mu.Unlock()
	for _, c := range conns {
		c.kill()
	}
	s.hs.Close()
	s.wg.Wait()
}

func (s *Server) now() time.Time { return s.o.clock().Add(s.offset) }

func (s *Server) nowMs() int64 { return s.now().UnixMilli() }

// SetClockOffset shifts the server's clock by d (positive: the server is
// ahead of its clients), to provoke -1021.
func (s *Server) SetClockOffset(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset = d
}

// Requests returns how many requests "METHOD /path" the server received.
func (s *Server) Requests(method, path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[method+" "+path]
}

// Fault is a one-shot answer injected by [Server.InjectFault]: the next
// request matching Method and Path is answered with Status and the error
// body {"code":Code,"msg":Msg} (Msg alone as the body when Code is 0).
// With AfterProcessing the request takes effect first (an order is
// placed) and the client still sees the fault — an unknown outcome.
// Delay holds the answer back (until the client gives up, if it does).
type Fault struct {
	Method          string // empty matches any method
	Path            string
	Status          int
	Code            int
	Msg             string
	Header          http.Header
	AfterProcessing bool
	Delay           time.Duration
}

// InjectFault queues f; faults for the same request apply in order.
func (s *Server) InjectFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

func (s *Server) takeFault(method, path string) (Fault, bool) {
	for i, f := range s.faults {
		if (f.Method == "" || f.Method == method) && f.Path == path {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
			return f, true
		}
	}
	return Fault{}, false
}
