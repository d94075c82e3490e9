package binancetest

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
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
	hedge       bool
	listenKey   string
	keyExpiry   time.Time
	rng         *rand.Rand
	conns       map[*wsConn]struct{}
	stallGate   chan struct{} // non-nil while stalled: closed on resume
	weightMin   int64
	weightUsed  int
	ord10Win    int64
	ord10       int
	ord1mWin    int64
	ord1m       int
	faults      []Fault
	countdowns  map[string]*time.Timer
	requests    map[string]int
	closed      bool

	pongs atomic.Int64
	wg    sync.WaitGroup
}

type posKey struct{ symbol, side string }

type position struct {
	amt      decimal.Decimal // signed
	entry    decimal.Decimal
	realized decimal.Decimal
}

type book struct {
	spec     Symbol
	price    decimal.Decimal
	open     []*order
	byID     map[int64]*order
	byClient map[string]*order
	trades   []trade
	klines   []kline
	aggID    int64
}

type order struct {
	id                           int64
	clientID, symbol, side, ps   string
	typ, tif                     string
	price, qty, filled, cumQuote decimal.Decimal
	status                       string
	reduceOnly                   bool
	created, updated             int64
}

type trade struct {
	id, orderID               int64
	symbol, side, ps          string
	price, qty, fee, realized decimal.Decimal
	maker                     bool
	time                      int64
}

type kline struct {
	open          int64
	o, h, l, c, v decimal.Decimal
	trades        int64
}

// NewServer starts a server on 127.0.0.1. It listens BTCUSDT unless
// WithSymbol says otherwise.
func NewServer(opts ...Option) *Server {
	o := defaultOptions()
	for _, op := range opts {
		op.apply(&o)
	}
	if len(o.symbols) == 0 {
		o.symbols = []Symbol{BTCUSDT()}
	}
	if o.fillParts < 1 {
		o.fillParts = 1
	}
	s := &Server{
		o: o, books: map[string]*book{}, nextOrderID: 4000000000, nextTradeID: 900000,
		wallet: o.balance, positions: map[posKey]*position{}, leverage: map[string]int{}, hedge: o.hedge,
		rng: rand.New(rand.NewPCG(o.listenKeySeed, 7)), conns: map[*wsConn]struct{}{},
		countdowns: map[string]*time.Timer{}, requests: map[string]int{},
	}
	for _, sym := range o.symbols {
		sym.fillDefaults()
		s.books[sym.Name] = &book{spec: sym, price: sym.Price, byID: map[int64]*order{}, byClient: map[string]*order{}}
		s.leverage[sym.Name] = o.defaultLeverage
	}
	s.upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	s.hs = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
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

// apiErr is a Binance error answer.
type apiErr struct {
	status int
	code   int
	msg    string
}

func errf(status, code int, format string, a ...any) *apiErr {
	return &apiErr{status: status, code: code, msg: fmt.Sprintf(format, a...)}
}

// endpoint describes one REST route.
type endpoint struct {
	signed bool // TRADE / USER_DATA
	apiKey bool // USER_STREAM
	weight func(p url.Values) int
	handle func(s *Server, p url.Values) (any, *apiErr)
	// handleH is handle for endpoints that set response headers.
	handleH func(s *Server, p url.Values, hdr http.Header) (any, *apiErr)
}

func w(n int) func(url.Values) int { return func(url.Values) int { return n } }

var routes = map[string]endpoint{
	"GET /fapi/v1/ping":                {weight: w(1), handle: func(*Server, url.Values) (any, *apiErr) { return struct{}{}, nil }},
	"GET /fapi/v1/time":                {weight: w(1), handle: (*Server).handleTime},
	"GET /fapi/v1/exchangeInfo":        {weight: w(1), handle: (*Server).handleExchangeInfo},
	"GET /fapi/v1/klines":              {weight: klineWeight, handle: (*Server).handleKlines},
	"POST /fapi/v1/order":              {signed: true, weight: w(0), handleH: (*Server).handlePlace},
	"POST /fapi/v1/batchOrders":        {signed: true, weight: w(5), handleH: (*Server).handleBatchPlace},
	"DELETE /fapi/v1/order":            {signed: true, weight: w(1), handle: (*Server).handleCancel},
	"DELETE /fapi/v1/batchOrders":      {signed: true, weight: w(1), handle: (*Server).handleBatchCancel},
	"DELETE /fapi/v1/allOpenOrders":    {signed: true, weight: w(1), handle: (*Server).handleCancelAll},
	"POST /fapi/v1/countdownCancelAll": {signed: true, weight: w(10), handle: (*Server).handleCountdown},
	"GET /fapi/v1/order":               {signed: true, weight: w(1), handle: (*Server).handleQuery},
	"GET /fapi/v1/openOrders":          {signed: true, weight: openOrdersWeight, handle: (*Server).handleOpenOrders},
	"GET /fapi/v1/userTrades":          {signed: true, weight: w(5), handle: (*Server).handleUserTrades},
	"GET /fapi/v3/account":             {signed: true, weight: w(5), handle: (*Server).handleAccount},
	"GET /fapi/v1/accountConfig":       {signed: true, weight: w(5), handle: (*Server).handleAccountConfig},
	"GET /fapi/v3/positionRisk":        {signed: true, weight: w(5), handle: (*Server).handlePositionRisk},
	"GET /fapi/v1/symbolConfig":        {signed: true, weight: w(5), handle: (*Server).handleSymbolConfig},
	"POST /fapi/v1/leverage":           {signed: true, weight: w(1), handle: (*Server).handleLeverage},
	"POST /fapi/v1/positionSide/dual":  {signed: true, weight: w(1), handle: (*Server).handlePositionMode},
	"POST /fapi/v1/listenKey":          {apiKey: true, weight: w(1), handle: (*Server).handleListenKeyPost},
	"PUT /fapi/v1/listenKey":           {apiKey: true, weight: w(1), handle: (*Server).handleListenKeyPut},
	"DELETE /fapi/v1/listenKey":        {apiKey: true, weight: w(1), handle: (*Server).handleListenKeyDelete},
}

func klineWeight(p url.Values) int {
	n, err := strconv.Atoi(p.Get("limit"))
	if err != nil || n == 0 {
		n = 500
	}
	switch {
	case n < 100:
		return 1
	case n < 500:
		return 2
	case n <= 1000:
		return 5
	}
	return 10
}

func openOrdersWeight(p url.Values) int {
	if p.Get("symbol") == "" {
		return 40
	}
	return 1
}

func (s *Server) serveHTTP(rw http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/public/"), strings.HasPrefix(r.URL.Path, "/market/"), strings.HasPrefix(r.URL.Path, "/private/"):
		s.serveWS(rw, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeErr(rw, errf(400, -1102, "unreadable body"))
		return
	}
	key := r.Method + " " + r.URL.Path
	s.mu.Lock()
	s.requests[key]++
	fault, hasFault := s.takeFault(r.Method, r.URL.Path)
	s.mu.Unlock()
	if hasFault && !fault.AfterProcessing {
		s.answerFault(rw, r, fault)
		return
	}
	ep, ok := routes[key]
	if !ok {
		writeErr(rw, errf(404, -1000, "unknown endpoint %s", key))
		return
	}
	params, aerr := s.parseParams(r, body)
	if aerr != nil {
		writeErr(rw, aerr)
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		writeErr(rw, errf(503, -1001, "Internal error; unable to process your request. Please try again."))
		return
	}
	hdr := rw.Header()
	res, aerr := s.admit(r, ep, params, string(body), hdr)
	if aerr == nil {
		if ep.handleH != nil {
			res, aerr = ep.handleH(s, params, hdr)
		} else {
			res, aerr = ep.handle(s, params)
		}
	}
	s.mu.Unlock()
	if hasFault {
		s.answerFault(rw, r, fault)
		return
	}
	if aerr != nil {
		writeErr(rw, aerr)
		return
	}
	hdr.Set("Content-Type", "application/json")
	b, _ := json.Marshal(res)
	_, _ = rw.Write(b)
}

func (s *Server) answerFault(rw http.ResponseWriter, r *http.Request, f Fault) {
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	for k, vs := range f.Header {
		for _, v := range vs {
			rw.Header().Add(k, v)
		}
	}
	if f.Status == 0 {
		f.Status = 500
	}
	if f.Code == 0 {
		rw.WriteHeader(f.Status)
		_, _ = io.WriteString(rw, f.Msg)
		return
	}
	writeErr(rw, &apiErr{status: f.Status, code: f.Code, msg: f.Msg})
}

func writeErr(rw http.ResponseWriter, e *apiErr) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(e.status)
	b, _ := json.Marshal(struct {
		Code int    `json:"code"`
		Msg  string `json:"msg"`
	}{e.code, e.msg})
	_, _ = rw.Write(b)
}

// parseParams merges query and form body; the query wins (sheet §2.1).
func (s *Server) parseParams(r *http.Request, body []byte) (url.Values, *apiErr) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, errf(400, -1100, "Illegal characters found in a parameter.")
	}
	if len(body) > 0 {
		if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
			return nil, errf(400, -1102, "JSON bodies are not accepted")
		}
		f, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, errf(400, -1100, "Illegal characters found in a parameter.")
		}
		for k, vs := range f {
			if _, ok := q[k]; !ok {
				q[k] = vs
			}
		}
	}
	return q, nil
}

// admit checks weight, key, signature and timestamp. Called with s.mu held.
func (s *Server) admit(r *http.Request, ep endpoint, p url.Values, body string, hdr http.Header) (any, *apiErr) {
	now := s.now()
	minute := now.Unix() / 60
	if minute != s.weightMin {
		s.weightMin, s.weightUsed = minute, 0
	}
	wgt := ep.weight(p)
	if s.weightUsed+wgt > s.o.weightLimit {
		if s.o.retryAfter {
			hdr.Set("Retry-After", strconv.FormatInt(60-now.Unix()%60, 10))
		}
		hdr.Set("X-MBX-USED-WEIGHT-1M", strconv.Itoa(s.weightUsed))
		return nil, errf(429, -1003, "Too many requests; current limit is %d requests per minute. Please use the websocket for live updates to avoid polling the API.", s.o.weightLimit)
	}
	s.weightUsed += wgt
	hdr.Set("X-MBX-USED-WEIGHT-1M", strconv.Itoa(s.weightUsed))
	if ep.signed || ep.apiKey {
		if r.Header.Get("X-MBX-APIKEY") != s.o.apiKey {
			return nil, errf(401, -2015, "Invalid API-key, IP, or permissions for action.")
		}
	}
	if !ep.signed {
		return nil, nil
	}
	if aerr := s.verifySignature(r.URL.RawQuery, body); aerr != nil {
		return nil, aerr
	}
	ts, err := strconv.ParseInt(p.Get("timestamp"), 10, 64)
	if err != nil {
		return nil, errf(400, -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")
	}
	recv := int64(5000)
	if v := p.Get("recvWindow"); v != "" {
		recv, err = strconv.ParseInt(v, 10, 64)
		if err != nil || recv <= 0 || recv > 60000 {
			return nil, errf(400, -1131, "recvWindow must be less than 60000")
		}
	}
	serverMs := now.UnixMilli()
	if ts >= serverMs+1000 {
		return nil, errf(400, -1021, "Timestamp for this request was 1000ms ahead of the server's time.")
	}
	if serverMs-ts > recv {
		return nil, errf(400, -1021, "Timestamp for this request is outside of the recvWindow.")
	}
	return nil, nil
}

// verifySignature checks signature (the last parameter, in the query or
// the body) against HMAC-SHA256(secret, query ‖ body without it).
func (s *Server) verifySignature(query, body string) *apiErr {
	var sig, payload string
	split := func(v string) (rest, sig string, ok bool) {
		if strings.HasPrefix(v, "signature=") {
			return "", v[len("signature="):], true
		}
		i := strings.LastIndex(v, "&signature=")
		if i < 0 {
			return v, "", false
		}
		return v[:i], v[i+len("&signature="):], true
	}
	if rest, sg, ok := split(query); ok {
		sig, payload = sg, rest+body
	} else if rest, sg, ok := split(body); ok {
		sig, payload = sg, query+rest
	} else {
		return errf(400, -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
	}
	if strings.Contains(sig, "&") {
		return errf(400, -1022, "Signature for this request is not valid.")
	}
	mac := hmac.New(sha256.New, []byte(s.o.secret))
	mac.Write([]byte(payload))
	want := hex.EncodeToString(mac.Sum(nil))
	if !strings.EqualFold(sig, want) {
		return errf(400, -1022, "Signature for this request is not valid.")
	}
	return nil
}

// orderCount charges n units on the ORDERS limiters. Called with s.mu held.
func (s *Server) orderCount(per10s, per1m int, hdr http.Header) *apiErr {
	now := s.now()
	if w := now.Unix() / 10; w != s.ord10Win {
		s.ord10Win, s.ord10 = w, 0
	}
	if w := now.Unix() / 60; w != s.ord1mWin {
		s.ord1mWin, s.ord1m = w, 0
	}
	if s.ord10+per10s > s.o.orders10s {
		if s.o.retryAfter {
			hdr.Set("Retry-After", strconv.FormatInt(10-now.Unix()%10, 10))
		}
		return errf(429, -1015, "Too many new orders; current limit is %d orders per 10 SECOND.", s.o.orders10s)
	}
	if s.ord1m+per1m > s.o.orders1m {
		if s.o.retryAfter {
			hdr.Set("Retry-After", strconv.FormatInt(60-now.Unix()%60, 10))
		}
		return errf(429, -1015, "Too many new orders; current limit is %d orders per 1 MINUTE.", s.o.orders1m)
	}
	s.ord10 += per10s
	s.ord1m += per1m
	hdr.Set("X-MBX-ORDER-COUNT-10S", strconv.Itoa(s.ord10))
	hdr.Set("X-MBX-ORDER-COUNT-1M", strconv.Itoa(s.ord1m))
	return nil
}

func (s *Server) handleTime(url.Values) (any, *apiErr) {
	return map[string]int64{"serverTime": s.nowMs()}, nil
}

type jsonFilter map[string]any

func (s *Server) handleExchangeInfo(url.Values) (any, *apiErr) {
	type sym struct {
		Symbol            string       `json:"symbol"`
		Pair              string       `json:"pair"`
		ContractType      string       `json:"contractType"`
		DeliveryDate      int64        `json:"deliveryDate"`
		OnboardDate       int64        `json:"onboardDate"`
		Status            string       `json:"status"`
		MaintMarginPct    string       `json:"maintMarginPercent"`
		RequiredMarginPct string       `json:"requiredMarginPercent"`
		BaseAsset         string       `json:"baseAsset"`
		QuoteAsset        string       `json:"quoteAsset"`
		MarginAsset       string       `json:"marginAsset"`
		PricePrecision    int          `json:"pricePrecision"`
		QuantityPrecision int          `json:"quantityPrecision"`
		BaseAssetPrec     int          `json:"baseAssetPrecision"`
		QuotePrecision    int          `json:"quotePrecision"`
		UnderlyingType    string       `json:"underlyingType"`
		TriggerProtect    string       `json:"triggerProtect"`
		LiquidationFee    string       `json:"liquidationFee"`
		MarketTakeBound   string       `json:"marketTakeBound"`
		Filters           []jsonFilter `json:"filters"`
		OrderTypes        []string     `json:"orderTypes"`
		TimeInForce       []string     `json:"timeInForce"`
	}
	var syms []sym
	names := make([]string, 0, len(s.books))
	for n := range s.books {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		sp := s.books[n].spec
		base := strings.TrimSuffix(sp.Name, "USDT")
		syms = append(syms, sym{
			Symbol: sp.Name, Pair: sp.Name, ContractType: "PERPETUAL", DeliveryDate: 4133404800000, OnboardDate: 1567965300000,
			Status: "TRADING", MaintMarginPct: "2.5000", RequiredMarginPct: "5.0000", BaseAsset: base, QuoteAsset: "USDT",
			MarginAsset: "USDT", PricePrecision: sp.PricePrecision, QuantityPrecision: sp.QuantityPrecision, BaseAssetPrec: 8,
			QuotePrecision: 8, UnderlyingType: "COIN", TriggerProtect: "0.0500", LiquidationFee: "0.012500", MarketTakeBound: "0.05",
			Filters: []jsonFilter{
				{"filterType": "PRICE_FILTER", "minPrice": sp.MinPrice.String(), "maxPrice": sp.MaxPrice.String(), "tickSize": sp.TickSize.String()},
				{"filterType": "LOT_SIZE", "minQty": sp.MinQty.String(), "stepSize": sp.StepSize.String(), "maxQty": sp.MaxQty.String()},
				{"stepSize": sp.StepSize.String(), "filterType": "MARKET_LOT_SIZE", "minQty": sp.MinQty.String(), "maxQty": sp.MaxQty.String()},
				{"limit": s.o.maxOpenOrders, "filterType": "MAX_NUM_ORDERS"},
				{"filterType": "MIN_NOTIONAL", "notional": sp.MinNotional.String()},
				{"multiplierUp": "1.0500", "multiplierDecimal": "4", "filterType": "PERCENT_PRICE", "multiplierDown": "0.9500"},
				{"positionControlSide": "NONE", "filterType": "POSITION_RISK_CONTROL"},
			},
			OrderTypes:  []string{"LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"},
			TimeInForce: []string{"GTC", "IOC", "FOK", "GTX", "GTD"},
		})
	}
	return map[string]any{
		"timezone": "UTC", "serverTime": s.nowMs(), "futuresType": "U_MARGINED", "exchangeFilters": []any{},
		"rateLimits": []map[string]any{
			{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": s.o.weightLimit},
			{"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": s.o.orders1m},
			{"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": s.o.orders10s},
		},
		"assets":  []map[string]any{{"asset": "USDT", "marginAvailable": true, "autoAssetExchange": "0"}},
		"symbols": syms,
	}, nil
}

func (s *Server) bookOf(p url.Values) (*book, *apiErr) {
	b, ok := s.books[p.Get("symbol")]
	if !ok {
		return nil, errf(400, -1121, "Invalid symbol.")
	}
	return b, nil
}

func (s *Server) handleKlines(p url.Values) (any, *apiErr) {
	b, aerr := s.bookOf(p)
	if aerr != nil {
		return nil, aerr
	}
	if p.Get("interval") != "1m" {
		return nil, errf(400, -1120, "Invalid interval.")
	}
	limit, _ := strconv.Atoi(p.Get("limit"))
	if limit <= 0 {
		limit = 500
	}
	start, _ := strconv.ParseInt(p.Get("startTime"), 10, 64)
	out := [][]any{}
	for _, k := range b.klines {
		if k.open < start || len(out) >= limit {
			continue
		}
		f := func(d decimal.Decimal) string { return d.StringFixed(int32(b.spec.PricePrecision)) }
		out = append(out, []any{k.open, f(k.o), f(k.h), f(k.l), f(k.c), k.v.StringFixed(int32(b.spec.QuantityPrecision)),
			k.open + 59999, "0", k.trades, "0", "0", "0"})
	}
	return out, nil
}

// wireOrder is the REST order object (sheet §4.4).
type wireOrder struct {
	ClientOrderID string `json:"clientOrderId"`
	CumQty        string `json:"cumQty"`
	CumQuote      string `json:"cumQuote"`
	ExecutedQty   string `json:"executedQty"`
	OrderID       int64  `json:"orderId"`
	AvgPrice      string `json:"avgPrice"`
	OrigQty       string `json:"origQty"`
	Price         string `json:"price"`
	ReduceOnly    bool   `json:"reduceOnly"`
	Side          string `json:"side"`
	PositionSide  string `json:"positionSide"`
	Status        string `json:"status"`
	StopPrice     string `json:"stopPrice"`
	ClosePosition bool   `json:"closePosition"`
	Symbol        string `json:"symbol"`
	Time          int64  `json:"time,omitempty"`
	TimeInForce   string `json:"timeInForce"`
	Type          string `json:"type"`
	OrigType      string `json:"origType"`
	UpdateTime    int64  `json:"updateTime"`
	WorkingType   string `json:"workingType"`
	PriceProtect  bool   `json:"priceProtect"`
	PriceMatch    string `json:"priceMatch"`
	STPMode       string `json:"selfTradePreventionMode"`
	GoodTillDate  int64  `json:"goodTillDate"`
}

func (s *Server) wire(o *order, withTime bool) wireOrder {
	sp := s.books[o.symbol].spec
	pf := func(d decimal.Decimal) string { return d.StringFixed(int32(sp.PricePrecision)) }
	qf := func(d decimal.Decimal) string { return d.StringFixed(int32(sp.QuantityPrecision)) }
	avg := decimal.Zero
	if o.filled.IsPositive() {
		avg = o.cumQuote.Div(o.filled)
	}
	w := wireOrder{
		ClientOrderID: o.clientID, CumQty: qf(o.filled), CumQuote: o.cumQuote.StringFixed(int32(sp.PricePrecision + sp.QuantityPrecision)),
		ExecutedQty: qf(o.filled), OrderID: o.id, AvgPrice: avg.StringFixed(int32(sp.PricePrecision + 3)), OrigQty: qf(o.qty),
		Price: pf(o.price), ReduceOnly: o.reduceOnly, Side: o.side, PositionSide: o.ps, Status: o.status, StopPrice: "0",
		Symbol: o.symbol, TimeInForce: o.tif, Type: o.typ, OrigType: o.typ, UpdateTime: o.updated,
		WorkingType: "CONTRACT_PRICE", PriceMatch: "NONE", STPMode: "EXPIRE_MAKER",
	}
	if withTime {
		w.Time = o.created
	}
	return w
}

var clientIDRe = regexp.MustCompile(`^[\.A-Z\:/a-z0-9_-]{1,36}$`)

// orderSpec is a new order's parameters (one POST or one batch element).
type orderSpec map[string]string

func fromValues(p url.Values) orderSpec {
	o := orderSpec{}
	for k := range p {
		o[k] = p.Get(k)
	}
	return o
}

func (s *Server) handlePlace(p url.Values, hdr http.Header) (any, *apiErr) {
	if aerr := s.orderCount(1, 1, hdr); aerr != nil {
		return nil, aerr
	}
	o, aerr := s.place(fromValues(p))
	if aerr != nil {
		return nil, aerr
	}
	ack := s.wire(o, false) // newOrderRespType ACK: the snapshot at acceptance
	s.afterPlace(o)
	if p.Get("newOrderRespType") == "RESULT" {
		ack = s.wire(o, false)
	}
	return ack, nil
}

func (s *Server) handleBatchPlace(p url.Values, hdr http.Header) (any, *apiErr) {
	var elems []map[string]any
	if err := json.Unmarshal([]byte(p.Get("batchOrders")), &elems); err != nil {
		return nil, errf(400, -1102, "Mandatory parameter 'batchOrders' was not sent, was empty/null, or malformed.")
	}
	if len(elems) == 0 || len(elems) > 5 {
		return nil, errf(400, -4082, "Invalid number of batch place orders.")
	}
	if aerr := s.orderCount(5, 1, hdr); aerr != nil {
		return nil, aerr
	}
	out := make([]any, 0, len(elems))
	for _, e := range elems {
		spec := orderSpec{}
		for k, v := range e {
			switch v := v.(type) {
			case string:
				spec[k] = v
			case bool:
				spec[k] = strconv.FormatBool(v)
			default:
				spec[k] = fmt.Sprint(v)
			}
		}
		o, aerr := s.place(spec)
		if aerr != nil {
			out = append(out, map[string]any{"code": aerr.code, "msg": aerr.msg})
			continue
		}
		out = append(out, s.wire(o, false))
		s.afterPlace(o)
	}
	return out, nil
}

func fracDigits(s string) int {
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return len(s) - i - 1
	}
	return 0
}

// place validates and creates one order. Called with s.mu held.
func (s *Server) place(sp orderSpec) (*order, *apiErr) {
	b, ok := s.books[sp["symbol"]]
	if !ok {
		return nil, errf(400, -1121, "Invalid symbol.")
	}
	spec := b.spec
	side, typ := sp["side"], sp["type"]
	if side != "BUY" && side != "SELL" {
		return nil, errf(400, -1117, "Invalid side.")
	}
	switch typ {
	case "LIMIT", "MARKET":
	case "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET":
		return nil, errf(400, -4120, "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.")
	default:
		return nil, errf(400, -1116, "Invalid orderType.")
	}
	tif := sp["timeInForce"]
	if typ == "LIMIT" {
		switch tif {
		case "GTC", "IOC", "FOK", "GTX":
		case "":
			return nil, errf(400, -1102, "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.")
		default:
			return nil, errf(400, -1115, "Invalid timeInForce.")
		}
	}
	ps := sp["positionSide"]
	if s.hedge {
		if ps != "LONG" && ps != "SHORT" {
			return nil, errf(400, -4061, "Order's position side does not match user's setting.")
		}
		if _, sent := sp["reduceOnly"]; sent {
			return nil, errf(400, -1106, "Parameter 'reduceOnly' sent when not required.")
		}
	} else {
		if ps == "" {
			ps = "BOTH"
		}
		if ps != "BOTH" {
			return nil, errf(400, -4061, "Order's position side does not match user's setting.")
		}
	}
	reduceOnly := sp["reduceOnly"] == "true"
	cid := sp["newClientOrderId"]
	if cid == "" {
		cid = s.randomID(22)
	} else if !clientIDRe.MatchString(cid) {
		if len(cid) > 36 {
			return nil, errf(400, -4015, "Client order id length should not be more than 36 chars")
		}
		return nil, errf(400, -4015, "Client order id is not valid.")
	}
	if prev, ok := b.byClient[cid]; ok && (prev.status == "NEW" || prev.status == "PARTIALLY_FILLED") {
		return nil, errf(400, -4116, "clientOrderId is duplicated")
	}
	qs := sp["quantity"]
	if qs == "" {
		return nil, errf(400, -1102, "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.")
	}
	qty, err := decimal.NewFromString(qs)
	if err != nil || strings.ContainsAny(qs, "eE") {
		return nil, errf(400, -1100, "Illegal characters found in parameter 'quantity'; legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'.")
	}
	if fracDigits(qs) > spec.QuantityPrecision && !qty.Equal(qty.Truncate(int32(spec.QuantityPrecision))) {
		return nil, errf(400, -1111, "Precision is over the maximum defined for this asset.")
	}
	if !qty.IsPositive() {
		return nil, errf(400, -4003, "Quantity less than or equal to zero.")
	}
	if qty.LessThan(spec.MinQty) {
		return nil, errf(400, -4004, "Quantity less than min quantity.")
	}
	if qty.GreaterThan(spec.MaxQty) {
		return nil, errf(400, -4005, "Quantity greater than max quantity.")
	}
	if !qty.Sub(spec.MinQty).Mod(spec.StepSize).IsZero() {
		return nil, errf(400, -4023, "Qty not increased by step size.")
	}
	price := decimal.Zero
	if typ == "LIMIT" {
		ps := sp["price"]
		if ps == "" {
			return nil, errf(400, -1102, "Mandatory parameter 'price' was not sent, was empty/null, or malformed.")
		}
		price, err = decimal.NewFromString(ps)
		if err != nil || strings.ContainsAny(ps, "eE") {
			return nil, errf(400, -1100, "Illegal characters found in parameter 'price'; legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'.")
		}
		if fracDigits(ps) > spec.PricePrecision && !price.Equal(price.Truncate(int32(spec.PricePrecision))) {
			return nil, errf(400, -1111, "Precision is over the maximum defined for this asset.")
		}
		if price.LessThan(spec.MinPrice) {
			return nil, errf(400, -4013, "Price less than min price.")
		}
		if price.GreaterThan(spec.MaxPrice) {
			return nil, errf(400, -4002, "Price greater than max price.")
		}
		if !price.Sub(spec.MinPrice).Mod(spec.TickSize).IsZero() {
			return nil, errf(400, -4014, "Price not increased by tick size.")
		}
	}
	notionalPrice := price
	if typ == "MARKET" {
		notionalPrice = b.price
	}
	if !reduceOnly && notionalPrice.Mul(qty).LessThan(spec.MinNotional) {
		return nil, errf(400, -4164, "Order's notional must be no smaller than %s (unless you choose reduce only).", spec.MinNotional)
	}
	if reduceOnly {
		pos := s.pos(spec.Name, "BOTH")
		if pos.amt.IsZero() || (side == "BUY" && pos.amt.IsPositive()) || (side == "SELL" && pos.amt.IsNegative()) {
			return nil, errf(400, -2022, "ReduceOnly Order is rejected.")
		}
	}
	if len(b.open) >= s.o.maxOpenOrders {
		return nil, errf(400, -2025, "Reach max open order limit.")
	}
	bid, ask := b.bidAsk()
	crosses := typ == "MARKET" || (side == "BUY" && price.GreaterThanOrEqual(ask)) || (side == "SELL" && price.LessThanOrEqual(bid))
	if tif == "GTX" && crosses {
		return nil, errf(400, -5022, "Due to the order could not be executed as maker, the Post Only order will be rejected. The order will not be recorded in the order history")
	}
	if tif == "FOK" && !crosses {
		return nil, errf(400, -5021, "Due to the order could not be filled immediately, the FOK order has been rejected. The order will not be recorded in the order history")
	}
	now := s.nowMs()
	s.nextOrderID++
	o := &order{id: s.nextOrderID, clientID: cid, symbol: spec.Name, side: side, ps: ps, typ: typ, tif: tif,
		price: price, qty: qty, filled: decimal.Zero, cumQuote: decimal.Zero, status: "NEW", reduceOnly: reduceOnly, created: now, updated: now}
	if typ == "MARKET" {
		o.tif = "GTC"
	}
	b.byID[o.id] = o
	b.byClient[cid] = o
	b.open = append(b.open, o)
	s.emitOrder(o, "NEW", nil)
	return o, nil
}

// afterPlace executes what a new order takes at once (crossing GTC/IOC/FOK,
// MARKET) and expires an IOC remainder. Called with s.mu held.
func (s *Server) afterPlace(o *order) {
	b := s.books[o.symbol]
	bid, ask := b.bidAsk()
	switch {
	case o.side == "BUY" && (o.typ == "MARKET" || o.price.GreaterThanOrEqual(ask)):
		s.fill(o, o.qty, ask, false)
	case o.side == "SELL" && (o.typ == "MARKET" || o.price.LessThanOrEqual(bid)):
		s.fill(o, o.qty, bid, false)
	}
	if o.tif == "IOC" && (o.status == "NEW" || o.status == "PARTIALLY_FILLED") {
		s.close(o, "EXPIRED", "2")
	}
}

func (b *book) bidAsk() (decimal.Decimal, decimal.Decimal) {
	return b.price.Sub(b.spec.TickSize), b.price.Add(b.spec.TickSize)
}

func (s *Server) randomID(n int) string {
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alnum[s.rng.IntN(len(alnum))]
	}
	return string(b)
}

func (s *Server) pos(symbol, side string) *position {
	k := posKey{symbol, side}
	p, ok := s.positions[k]
	if !ok {
		p = &position{amt: decimal.Zero, entry: decimal.Zero, realized: decimal.Zero}
		s.positions[k] = p
	}
	return p
}

// fill executes qty of o at price. Called with s.mu held.
func (s *Server) fill(o *order, qty, price decimal.Decimal, maker bool) {
	b := s.books[o.symbol]
	now := s.nowMs()
	o.filled = o.filled.Add(qty)
	o.cumQuote = o.cumQuote.Add(qty.Mul(price))
	o.updated = now
	if o.filled.Equal(o.qty) {
		o.status = "FILLED"
		b.removeOpen(o)
	} else {
		o.status = "PARTIALLY_FILLED"
	}
	rate := s.o.takerFee
	if maker {
		rate = s.o.makerFee
	}
	fee := qty.Mul(price).Mul(rate).Round(8)
	signed := qty
	if o.side == "SELL" {
		signed = qty.Neg()
	}
	p := s.pos(o.symbol, o.ps)
	realized := p.apply(signed, price)
	s.wallet = s.wallet.Add(realized).Sub(fee)
	s.nextTradeID++
	t := trade{id: s.nextTradeID, orderID: o.id, symbol: o.symbol, side: o.side, ps: o.ps, price: price, qty: qty,
		fee: fee, realized: realized, maker: maker, time: now}
	b.trades = append(b.trades, t)
	s.emitOrder(o, "TRADE", &t)
	s.emitAccount(o.symbol, o.ps)
}

// apply adds a signed quantity at price and returns the realized PnL.
func (p *position) apply(d, price decimal.Decimal) decimal.Decimal {
	realized := decimal.Zero
	if p.amt.IsZero() || p.amt.Sign() == d.Sign() {
		total := p.amt.Add(d)
		p.entry = p.amt.Abs().Mul(p.entry).Add(d.Abs().Mul(price)).Div(total.Abs())
		p.amt = total
		return realized
	}
	closing := decimal.Min(p.amt.Abs(), d.Abs())
	dir := decimal.NewFromInt(int64(p.amt.Sign()))
	realized = closing.Mul(price.Sub(p.entry)).Mul(dir)
	p.realized = p.realized.Add(realized)
	rest := p.amt.Add(d)
	switch {
	case rest.IsZero():
		p.entry = decimal.Zero
	case rest.Sign() != p.amt.Sign():
		p.entry = price
	}
	p.amt = rest
	return realized
}

func (b *book) removeOpen(o *order) {
	for i, x := range b.open {
		if x == o {
			b.open = append(b.open[:i], b.open[i+1:]...)
			return
		}
	}
}

// close ends a live order with status (CANCELED, EXPIRED). Called with s.mu held.
func (s *Server) close(o *order, status, reason string) {
	o.status = status
	o.updated = s.nowMs()
	s.books[o.symbol].removeOpen(o)
	s.emitOrderReason(o, status, nil, reason)
}

func (s *Server) lookup(b *book, p url.Values) (*order, *apiErr) {
	if v := p.Get("orderId"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, errf(400, -1102, "Mandatory parameter 'orderId' was not sent, was empty/null, or malformed.")
		}
		if o, ok := b.byID[id]; ok {
			return o, nil
		}
		return nil, nil
	}
	if v := p.Get("origClientOrderId"); v != "" {
		return b.byClient[v], nil
	}
	return nil, errf(400, -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
}

func (s *Server) handleCancel(p url.Values) (any, *apiErr) {
	b, aerr := s.bookOf(p)
	if aerr != nil {
		return nil, aerr
	}
	o, aerr := s.lookup(b, p)
	if aerr != nil {
		return nil, aerr
	}
	if o == nil || (o.status != "NEW" && o.status != "PARTIALLY_FILLED") {
		return nil, errf(400, -2011, "Unknown order sent.")
	}
	s.close(o, "CANCELED", "0")
	return s.wire(o, false), nil
}

func (s *Server) handleBatchCancel(p url.Values) (any, *apiErr) {
	b, aerr := s.bookOf(p)
	if aerr != nil {
		return nil, aerr
	}
	var out []any
	one := func(q url.Values) {
		o, aerr := s.lookup(b, q)
		switch {
		case aerr != nil:
			out = append(out, map[string]any{"code": aerr.code, "msg": aerr.msg})
		case o == nil || (o.status != "NEW" && o.status != "PARTIALLY_FILLED"):
			out = append(out, map[string]any{"code": -2011, "msg": "Unknown order sent."})
		default:
			s.close(o, "CANCELED", "0")
			out = append(out, s.wire(o, false))
		}
	}
	if v := p.Get("orderIdList"); v != "" {
		var ids []int64
		if err := json.Unmarshal([]byte(v), &ids); err != nil || len(ids) == 0 || len(ids) > 10 {
			return nil, errf(400, -1102, "Mandatory parameter 'orderIdList' was not sent, was empty/null, or malformed.")
		}
		for _, id := range ids {
			one(url.Values{"orderId": {strconv.FormatInt(id, 10)}})
		}
		return out, nil
	}
	var cids []string
	if err := json.Unmarshal([]byte(p.Get("origClientOrderIdList")), &cids); err != nil || len(cids) == 0 || len(cids) > 10 {
		return nil, errf(400, -1102, "Mandatory parameter 'origClientOrderIdList' was not sent, was empty/null, or malformed.")
	}
	for _, id := range cids {
		one(url.Values{"origClientOrderId": {id}})
	}
	return out, nil
}

func (s *Server) handleCancelAll(p url.Values) (any, *apiErr) {
	b, aerr := s.bookOf(p)
	if aerr != nil {
		return nil, aerr
	}
	s.cancelAllLocked(b)
	return map[string]any{"code": 200, "msg": "The operation of cancel all open order is done."}, nil
}

func (s *Server) cancelAllLocked(b *book) {
	for len(b.open) > 0 {
		s.close(b.open[0], "CANCELED", "0")
	}
}

func (s *Server) handleCountdown(p url.Values) (any, *apiErr) {
	b, aerr := s.bookOf(p)
	if aerr != nil {
		return nil, aerr
	}
	ms, err := strconv.ParseInt(p.Get("countdownTime"), 10, 64)
	if err != nil || ms < 0 {
		return nil, errf(400, -1102, "Mandatory parameter 'countdownTime' was not sent, was empty/null, or malformed.")
	}
	sym := b.spec.Name
	if t, ok := s.countdowns[sym]; ok {
		t.Stop()
		delete(s.countdowns, sym)
	}
	if ms > 0 {
		s.countdowns[sym] = time.AfterFunc(time.Duration(ms)*time.Millisecond, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if !s.closed {
				s.cancelAllLocked(b)
			}
		})
	}
	return map[string]string{"symbol": sym, "countdownTime": strconv.FormatInt(ms, 10)}, nil
}

func (s *Server) handleQuery(p url.Values) (any, *apiErr) {
	b, aerr := s.bookOf(p)
	if aerr != nil {
		return nil, aerr
	}
	o, aerr := s.lookup(b, p)
	if aerr != nil {
		return nil, aerr
	}
	if o == nil {
		return nil, errf(400, -2013, "Order does not exist.")
	}
	return s.wire(o, true), nil
}

func (s *Server) handleOpenOrders(p url.Values) (any, *apiErr) {
	out := []wireOrder{}
	for name, b := range s.books {
		if sym := p.Get("symbol"); sym != "" && sym != name {
			continue
		}
		for _, o := range b.open {
			out = append(out, s.wire(o, true))
		}
	}
	if sym := p.Get("symbol"); sym != "" {
		if _, ok := s.books[sym]; !ok {
			return nil, errf(400, -1121, "Invalid symbol.")
		}
	}
	return out, nil
}

func (s *Server) handleUserTrades(p url.Values) (any, *apiErr) {
	b, aerr := s.bookOf(p)
	if aerr != nil {
		return nil, aerr
	}
	start, _ := strconv.ParseInt(p.Get("startTime"), 10, 64)
	end, _ := strconv.ParseInt(p.Get("endTime"), 10, 64)
	if end == 0 {
		end = s.nowMs()
	}
	if start == 0 {
		start = end - 7*24*3600*1000
	}
	if end-start > 7*24*3600*1000 {
		return nil, errf(400, -4166, "Search window is restricted to recent 7 days only.")
	}
	limit, _ := strconv.Atoi(p.Get("limit"))
	if limit <= 0 || limit > 1000 {
		limit = 500
	}
	type wt struct {
		Buyer           bool   `json:"buyer"`
		Commission      string `json:"commission"`
		CommissionAsset string `json:"commissionAsset"`
		ID              int64  `json:"id"`
		Maker           bool   `json:"maker"`
		OrderID         int64  `json:"orderId"`
		Price           string `json:"price"`
		Qty             string `json:"qty"`
		QuoteQty        string `json:"quoteQty"`
		RealizedPnl     string `json:"realizedPnl"`
		Side            string `json:"side"`
		PositionSide    string `json:"positionSide"`
		Symbol          string `json:"symbol"`
		Time            int64  `json:"time"`
	}
	out := []wt{}
	for _, t := range b.trades {
		if t.time < start || t.time > end || len(out) >= limit {
			continue
		}
		out = append(out, wt{Buyer: t.side == "BUY", Commission: t.fee.StringFixed(8), CommissionAsset: "USDT", ID: t.id, Maker: t.maker,
			OrderID: t.orderID, Price: t.price.StringFixed(int32(b.spec.PricePrecision)), Qty: t.qty.StringFixed(int32(b.spec.QuantityPrecision)),
			QuoteQty: t.price.Mul(t.qty).StringFixed(int32(b.spec.PricePrecision + b.spec.QuantityPrecision)), RealizedPnl: t.realized.StringFixed(8),
			Side: t.side, PositionSide: t.ps, Symbol: t.symbol, Time: t.time})
	}
	return out, nil
}

// unrealized returns the unrealized PnL of every position at the books' prices.
func (s *Server) unrealized() decimal.Decimal {
	u := decimal.Zero
	for k, p := range s.positions {
		u = u.Add(p.amt.Mul(s.books[k.symbol].price.Sub(p.entry)))
	}
	return u
}

func f8(d decimal.Decimal) string { return d.StringFixed(8) }

func (s *Server) handleAccount(url.Values) (any, *apiErr) {
	up := s.unrealized()
	margin := s.wallet.Add(up)
	type wpos struct {
		Symbol           string `json:"symbol"`
		PositionSide     string `json:"positionSide"`
		PositionAmt      string `json:"positionAmt"`
		UnrealizedProfit string `json:"unrealizedProfit"`
		IsolatedMargin   string `json:"isolatedMargin"`
		Notional         string `json:"notional"`
		IsolatedWallet   string `json:"isolatedWallet"`
		InitialMargin    string `json:"initialMargin"`
		MaintMargin      string `json:"maintMargin"`
		UpdateTime       int64  `json:"updateTime"`
	}
	poss := []wpos{}
	for _, k := range s.sortedPositions() {
		p := s.positions[k]
		if p.amt.IsZero() {
			continue
		}
		mark := s.books[k.symbol].price
		poss = append(poss, wpos{Symbol: k.symbol, PositionSide: k.side, PositionAmt: p.amt.String(),
			UnrealizedProfit: f8(p.amt.Mul(mark.Sub(p.entry))), IsolatedMargin: "0.00000000", Notional: p.amt.Mul(mark).String(),
			IsolatedWallet: "0", InitialMargin: "0", MaintMargin: "0"})
	}
	return map[string]any{
		"totalInitialMargin": "0.00000000", "totalMaintMargin": "0.00000000", "totalWalletBalance": f8(s.wallet),
		"totalUnrealizedProfit": f8(up), "totalMarginBalance": f8(margin), "totalPositionInitialMargin": "0.00000000",
		"totalOpenOrderInitialMargin": "0.00000000", "totalCrossWalletBalance": f8(s.wallet), "totalCrossUnPnl": f8(up),
		"availableBalance": f8(margin), "maxWithdrawAmount": f8(s.wallet),
		"assets": []map[string]any{{
			"asset": "USDT", "walletBalance": f8(s.wallet), "unrealizedProfit": f8(up), "marginBalance": f8(margin),
			"maintMargin": "0.00000000", "initialMargin": "0.00000000", "positionInitialMargin": "0.00000000",
			"openOrderInitialMargin": "0.00000000", "crossWalletBalance": f8(s.wallet), "crossUnPnl": f8(up),
			"availableBalance": f8(margin), "maxWithdrawAmount": f8(s.wallet), "updateTime": s.nowMs(),
		}},
		"positions": poss,
	}, nil
}

func (s *Server) sortedPositions() []posKey {
	keys := make([]posKey, 0, len(s.positions))
	for k := range s.positions {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].symbol != keys[j].symbol {
			return keys[i].symbol < keys[j].symbol
		}
		return keys[i].side < keys[j].side
	})
	return keys
}

func (s *Server) handleAccountConfig(url.Values) (any, *apiErr) {
	return map[string]any{"feeTier": 0, "canTrade": true, "canDeposit": true, "canWithdraw": true,
		"dualSidePosition": s.hedge, "updateTime": 0, "multiAssetsMargin": false, "tradeGroupId": -1}, nil
}

func (s *Server) handlePositionRisk(p url.Values) (any, *apiErr) {
	sym := p.Get("symbol")
	if sym != "" {
		if _, ok := s.books[sym]; !ok {
			return nil, errf(400, -1121, "Invalid symbol.")
		}
	}
	out := []map[string]any{}
	for name, b := range s.books {
		if sym != "" && name != sym {
			continue
		}
		sides := []string{"BOTH"}
		if s.hedge {
			sides = []string{"LONG", "SHORT"}
		}
		for _, side := range sides {
			pp, ok := s.positions[posKey{name, side}]
			if (!ok || pp.amt.IsZero()) && len(b.open) == 0 {
				continue // v3 lists only positions or symbols with open orders
			}
			if !ok {
				pp = &position{amt: decimal.Zero, entry: decimal.Zero, realized: decimal.Zero}
			}
			mark := b.price
			out = append(out, map[string]any{
				"symbol": name, "positionSide": side, "positionAmt": pp.amt.StringFixed(int32(b.spec.QuantityPrecision)),
				"entryPrice": pp.entry.String(), "breakEvenPrice": pp.entry.String(), "markPrice": f8(mark),
				"unRealizedProfit": f8(pp.amt.Mul(mark.Sub(pp.entry))), "liquidationPrice": "0", "isolatedMargin": "0",
				"notional": f8(pp.amt.Mul(mark)), "marginAsset": "USDT", "isolatedWallet": "0", "initialMargin": "0",
				"maintMargin": "0", "positionInitialMargin": "0", "openOrderInitialMargin": "0", "adl": 0,
				"bidNotional": "0", "askNotional": "0", "updateTime": s.nowMs(),
			})
		}
	}
	return out, nil
}

func (s *Server) handleSymbolConfig(p url.Values) (any, *apiErr) {
	out := []map[string]any{}
	for name := range s.books {
		if sym := p.Get("symbol"); sym != "" && sym != name {
			continue
		}
		out = append(out, map[string]any{"symbol": name, "marginType": "CROSSED", "isAutoAddMargin": false,
			"leverage": s.leverage[name], "maxNotionalValue": "1000000"})
	}
	return out, nil
}

func (s *Server) handleLeverage(p url.Values) (any, *apiErr) {
	b, aerr := s.bookOf(p)
	if aerr != nil {
		return nil, aerr
	}
	l, err := strconv.Atoi(p.Get("leverage"))
	if err != nil || l < 1 || l > 125 {
		return nil, errf(400, -4028, "Leverage %s is not valid", p.Get("leverage"))
	}
	s.leverage[b.spec.Name] = l
	s.emitUser(map[string]any{"e": "ACCOUNT_CONFIG_UPDATE", "E": s.nowMs(), "T": s.nowMs(), "ac": map[string]any{"s": b.spec.Name, "l": l}})
	return map[string]any{"leverage": l, "maxNotionalValue": "1000000", "symbol": b.spec.Name}, nil
}

func (s *Server) handlePositionMode(p url.Values) (any, *apiErr) {
	want := p.Get("dualSidePosition") == "true"
	if want == s.hedge {
		return nil, errf(400, -4059, "No need to change position side.")
	}
	for _, b := range s.books {
		if len(b.open) > 0 {
			return nil, errf(400, -4067, "Position side cannot be changed if there exists open orders.")
		}
	}
	for _, pp := range s.positions {
		if !pp.amt.IsZero() {
			return nil, errf(400, -4068, "Position side cannot be changed if there exists position.")
		}
	}
	s.hedge = want
	return map[string]any{"code": 200, "msg": "success"}, nil
}

func (s *Server) keyValid() bool {
	return s.listenKey != "" && s.now().Before(s.keyExpiry)
}

func (s *Server) handleListenKeyPost(url.Values) (any, *apiErr) {
	if !s.keyValid() {
		s.listenKey = s.randomID(64)
	}
	s.keyExpiry = s.now().Add(s.o.listenKeyTTL)
	return map[string]string{"listenKey": s.listenKey}, nil
}

func (s *Server) handleListenKeyPut(url.Values) (any, *apiErr) {
	if !s.keyValid() {
		return nil, errf(400, -1125, "This listenKey does not exist.")
	}
	s.keyExpiry = s.now().Add(s.o.listenKeyTTL)
	return map[string]string{"listenKey": s.listenKey}, nil
}

func (s *Server) handleListenKeyDelete(url.Values) (any, *apiErr) {
	s.listenKey = ""
	return struct{}{}, nil
}

// ExpireListenKey ends the current listen key: connections using it get
// listenKeyExpired (their sockets stay open, as Binance's may), keepalive
// answers -1125 and POST creates a new key.
func (s *Server) ExpireListenKey() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listenKey == "" {
		return
	}
	key := s.listenKey
	msg, _ := json.Marshal(map[string]any{"e": "listenKeyExpired", "E": s.nowMs(), "listenKey": key})
	for c := range s.conns {
		if c.route == "private" && c.key == key {
			c.send(msg)
		}
	}
	s.listenKey = ""
}

// ListenKey returns the current listen key ("" when none is valid).
func (s *Server) ListenKey() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.keyValid() {
		return ""
	}
	return s.listenKey
}

// Order is a snapshot of one order the server holds, for test assertions.
type Order struct {
	OrderID       int64
	ClientOrderID string
	Side          string
	PositionSide  string
	Status        string
	Price         decimal.Decimal
	Quantity      decimal.Decimal
	Filled        decimal.Decimal
}

// OpenOrders returns the symbol's resting orders, oldest first.
func (s *Server) OpenOrders(symbol string) []Order {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.books[symbol]
	if !ok {
		return nil
	}
	out := make([]Order, 0, len(b.open))
	for _, o := range b.open {
		out = append(out, Order{OrderID: o.id, ClientOrderID: o.clientID, Side: o.side, PositionSide: o.ps, Status: o.status,
			Price: o.price, Quantity: o.qty, Filled: o.filled})
	}
	return out
}

// Position returns the signed position of a symbol's side ("BOTH",
// "LONG" or "SHORT").
func (s *Server) Position(symbol, side string) decimal.Decimal {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.positions[posKey{symbol, side}]; ok {
		return p.amt
	}
	return decimal.Zero
}

// Wallet returns the USDT wallet balance (realized PnL net of fees).
func (s *Server) Wallet() decimal.Decimal {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wallet
}

// Price returns the symbol's market price.
func (s *Server) Price(symbol string) decimal.Decimal {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.books[symbol]; ok {
		return b.price
	}
	return decimal.Zero
}

// SetPrice moves the symbol's market price to price (best bid one tick
// below, best ask one tick above): resting buys at or above it and sells
// at or below it fill as makers at their own price, best price first, each
// in WithFillParts trades; then bookTicker, aggTrade, markPrice and kline
// updates go out on the market streams.
func (s *Server) SetPrice(ctx context.Context, symbol string, price decimal.Decimal) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.books[symbol]
	if !ok {
		return fmt.Errorf("binancetest: SetPrice: symbol %q is not listed", symbol)
	}
	if !price.IsPositive() || !price.Mod(b.spec.TickSize).IsZero() {
		return fmt.Errorf("binancetest: SetPrice: price %s is not a positive multiple of the tick %s", price, b.spec.TickSize)
	}
	b.price = price
	var hit []*order
	for _, o := range b.open {
		if (o.side == "BUY" && o.price.GreaterThanOrEqual(price)) || (o.side == "SELL" && o.price.LessThanOrEqual(price)) {
			hit = append(hit, o)
		}
	}
	sort.SliceStable(hit, func(i, j int) bool {
		if hit[i].side != hit[j].side {
			return hit[i].side == "BUY"
		}
		if hit[i].side == "BUY" {
			return hit[i].price.GreaterThan(hit[j].price)
		}
		return hit[i].price.LessThan(hit[j].price)
	})
	for _, o := range hit {
		s.fillParts(o)
	}
	s.publishMarket(b)
	return nil
}

// fillParts fills o's remainder as maker in up to WithFillParts trades of
// whole steps. Called with s.mu held.
func (s *Server) fillParts(o *order) {
	step := s.books[o.symbol].spec.StepSize
	rest := o.qty.Sub(o.filled)
	steps := rest.Div(step).IntPart()
	parts := int64(s.o.fillParts)
	if parts > steps {
		parts = steps
	}
	if parts < 1 {
		parts = 1
	}
	for i := int64(0); i < parts; i++ {
		q := step.Mul(decimal.NewFromInt(steps / parts))
		if i == parts-1 {
			q = o.qty.Sub(o.filled)
		}
		s.fill(o, q, o.price, true)
	}
}

// publishMarket sends the book's price on every market stream. Called
// with s.mu held.
func (s *Server) publishMarket(b *book) {
	now := s.nowMs()
	sp := b.spec
	pf := func(d decimal.Decimal) string { return d.StringFixed(int32(sp.PricePrecision)) }
	lower := strings.ToLower(sp.Name)
	bid, ask := b.bidAsk()
	b.aggID++
	s.publish("public", lower+"@bookTicker", map[string]any{"e": "bookTicker", "u": b.aggID, "E": now, "T": now, "s": sp.Name,
		"b": pf(bid), "B": "1.000", "a": pf(ask), "A": "1.000"})
	s.publish("market", lower+"@aggTrade", map[string]any{"e": "aggTrade", "E": now, "s": sp.Name, "a": b.aggID, "p": pf(b.price),
		"q": "0.001", "nq": "0.001", "f": b.aggID, "l": b.aggID, "T": now, "m": true})
	mark := map[string]any{"e": "markPriceUpdate", "E": now, "s": sp.Name, "p": f8(b.price), "ap": f8(b.price), "i": f8(b.price),
		"P": f8(b.price), "r": "0.00010000", "T": (now/28800000 + 1) * 28800000}
	s.publish("market", lower+"@markPrice", mark)
	s.publish("market", lower+"@markPrice@1s", mark)
	open := now / 60000 * 60000
	if n := len(b.klines); n == 0 || b.klines[n-1].open != open {
		b.klines = append(b.klines, kline{open: open, o: b.price, h: b.price, l: b.price, c: b.price, v: decimal.Zero})
	}
	k := &b.klines[len(b.klines)-1]
	k.h, k.l, k.c = decimal.Max(k.h, b.price), decimal.Min(k.l, b.price), b.price
	k.trades++
	s.publish("market", lower+"@kline_1m", map[string]any{"e": "kline", "E": now, "s": sp.Name, "k": map[string]any{
		"t": k.open, "T": k.open + 59999, "s": sp.Name, "i": "1m", "f": 100, "L": 200, "o": pf(k.o), "c": pf(k.c), "h": pf(k.h),
		"l": pf(k.l), "v": k.v.String(), "n": k.trades, "x": false, "q": "0", "V": "0", "Q": "0", "B": "0"}})
}

// otuFields is the o object of ORDER_TRADE_UPDATE with the sheet's field set.
type otuFields struct {
	S   string `json:"s"`
	C   string `json:"c"`
	Sd  string `json:"S"`
	O   string `json:"o"`
	F   string `json:"f"`
	Q   string `json:"q"`
	P   string `json:"p"`
	AP  string `json:"ap"`
	SP  string `json:"sp"`
	X   string `json:"x"`
	XS  string `json:"X"`
	I   int64  `json:"i"`
	L   string `json:"l"`
	Z   string `json:"z"`
	LP  string `json:"L"`
	N   string `json:"N,omitempty"`
	Fee string `json:"n,omitempty"`
	T   int64  `json:"T"`
	Tid int64  `json:"t"`
	B   string `json:"b"`
	A   string `json:"a"`
	M   bool   `json:"m"`
	R   bool   `json:"R"`
	WT  string `json:"wt"`
	OT  string `json:"ot"`
	PS  string `json:"ps"`
	CP  bool   `json:"cp"`
	RP  string `json:"rp"`
	PP  bool   `json:"pP"`
	SI  int    `json:"si"`
	SS  int    `json:"ss"`
	V   string `json:"V"`
	PM  string `json:"pm"`
	GTD int64  `json:"gtd"`
	ER  string `json:"er"`
}

func (s *Server) emitOrder(o *order, exec string, t *trade) { s.emitOrderReason(o, exec, t, "0") }

// emitOrderReason pushes ORDER_TRADE_UPDATE. Called with s.mu held.
func (s *Server) emitOrderReason(o *order, exec string, t *trade, er string) {
	sp := s.books[o.symbol].spec
	pf := func(d decimal.Decimal) string { return d.StringFixed(int32(sp.PricePrecision)) }
	qf := func(d decimal.Decimal) string { return d.StringFixed(int32(sp.QuantityPrecision)) }
	avg := decimal.Zero
	if o.filled.IsPositive() {
		avg = o.cumQuote.Div(o.filled)
	}
	now := s.nowMs()
	f := otuFields{S: o.symbol, C: o.clientID, Sd: o.side, O: o.typ, F: o.tif, Q: qf(o.qty), P: pf(o.price), AP: avg.StringFixed(int32(sp.PricePrecision + 3)),
		SP: "0", X: exec, XS: o.status, I: o.id, L: "0", Z: qf(o.filled), LP: "0", T: now, B: "0", A: "0", R: o.reduceOnly,
		WT: "CONTRACT_PRICE", OT: o.typ, PS: o.ps, RP: "0", V: "EXPIRE_MAKER", PM: "NONE", ER: er}
	if t != nil {
		f.L, f.LP, f.N, f.Fee, f.T, f.Tid, f.M, f.RP = qf(t.qty), pf(t.price), "USDT", f8(t.fee), t.time, t.id, t.maker, f8(t.realized)
	}
	s.emitUser(map[string]any{"e": "ORDER_TRADE_UPDATE", "E": now + 5, "T": now, "o": f})
}

// emitAccount pushes ACCOUNT_UPDATE for a fill. Called with s.mu held.
func (s *Server) emitAccount(symbol, side string) {
	p := s.pos(symbol, side)
	mark := s.books[symbol].price
	now := s.nowMs()
	s.emitUser(map[string]any{"e": "ACCOUNT_UPDATE", "E": now + 5, "T": now, "a": map[string]any{
		"m": "ORDER",
		"B": []map[string]string{{"a": "USDT", "wb": f8(s.wallet), "cw": f8(s.wallet), "bc": "0"}},
		"P": []map[string]string{{"s": symbol, "pa": p.amt.String(), "ep": p.entry.String(), "bep": p.entry.String(),
			"cr": f8(p.realized), "up": f8(p.amt.Mul(mark.Sub(p.entry))), "mt": "cross", "iw": "0", "ps": side, "ma": "USDT"}},
	}})
}

// PushUserEvent sends a raw user-data message (for example the sheet's
// MARGIN_CALL example) to every connection on the current listen key.
func (s *Server) PushUserEvent(raw []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.emitUserRaw(raw)
}

func (s *Server) emitUser(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("binancetest: marshal event: %v", err)) // our own value: a bug
	}
	s.emitUserRaw(b)
}

func (s *Server) emitUserRaw(b []byte) {
	if !s.keyValid() {
		return
	}
	for c := range s.conns {
		if c.route == "private" && c.key == s.listenKey {
			c.send(b)
		}
	}
}
