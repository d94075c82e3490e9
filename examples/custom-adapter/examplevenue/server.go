package examplevenue

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/shopspring/decimal"
)

// This file is the venue itself: the part that, for a real exchange, lives
// on the other side of the network. It speaks its own protocol on purpose —
// numeric order IDs, lower-case sides and states, decimal strings, Unix
// milliseconds, fees reported negative when charged, numbered error codes —
// so that adapter.go has real translating to do. Nothing here knows the
// gridmesh exchange package.

// Instrument is a symbol's trading rules as the venue publishes them. Like
// every message type of the venue below, it is a plain value, safe to copy,
// whose zero value is empty (and, as a request, refused).
type Instrument struct {
	Symbol      string
	TickSz      string // price increment, e.g. "0.1"
	LotSz       string // size increment, e.g. "0.001"
	MinSz       string // smallest order size
	MinNotional string // smallest price × size
}

// PlaceRequest is the venue's "new order" request (a plain value).
type PlaceRequest struct {
	Symbol     string
	ClientID   string // optional; 1 to 36 of [A-Za-z0-9_-]
	Side       string // "buy" or "sell"
	Type       string // "limit", "market", "post_only" or "ioc"
	Px         string // limit price; empty for market orders
	Sz         string // size in the base asset
	ReduceOnly bool
}

// Order states and cancel sources of the venue.
const (
	StateLive            = "live"
	StatePartiallyFilled = "partially_filled"
	StateFilled          = "filled"
	StateCanceled        = "canceled"

	SourceUser       = "user"        // canceled on request
	SourcePostOnly   = "post_only"   // a post-only order would have taken liquidity
	SourceIOC        = "ioc"         // the unfilled rest of an IOC order
	SourceReduceOnly = "reduce_only" // a reduce-only order found nothing to reduce
)

// NativeOrder is an order as the venue reports it (a plain value).
type NativeOrder struct {
	ID           uint64
	Symbol       string
	ClientID     string
	Side         string
	Type         string
	Px           string
	Sz           string
	FilledSz     string
	AvgPx        string // "" until something filled
	State        string
	CancelSource string // with StateCanceled
	ReduceOnly   bool
	UpdatedMs    int64
}

// NativeTrade is one execution as the venue reports it (a plain value).
type NativeTrade struct {
	TradeID   uint64
	OrderID   uint64
	Symbol    string
	ClientID  string
	Side      string
	Px        string
	Sz        string
	Fee       string // negative: charged; positive: a rebate
	FeeCcy    string
	Liquidity string // "maker" or "taker"
	PnL       string // realized by this trade
	Ms        int64
}

// NativeTicker is a last-price update (a plain value).
type NativeTicker struct {
	Symbol string
	Last   string
	Ms     int64
}

// NativeBalance is the account's margin balance (a plain value).
type NativeBalance struct {
	Ccy       string
	Wallet    string // deposits + realized PnL − fees
	Upl       string // unrealized PnL
	Available string // free for new orders
}

// NativePosition is the account's net position in one symbol (a plain value).
type NativePosition struct {
	Symbol string
	Pos    string // signed: positive long, negative short
	AvgPx  string // "" when flat
	MarkPx string
	Upl    string
	Lever  int
}

// Push channels a [Conn] subscribes to.
const (
	ChannelOrders = "orders" // every order change of the account, with the trade that caused it
	ChannelTicker = "ticker" // every price of one symbol
)

// Message is one push of a [Conn] (a plain value; Trade is shared, not
// to be changed).
type Message struct {
	Channel string
	Order   NativeOrder  // ChannelOrders: the order after the change
	Trade   *NativeTrade // ChannelOrders: the trade that changed it, if any
	Ticker  NativeTicker // ChannelTicker
}

// The venue's error codes.
const (
	CodeBadRequest     = 40000 // a malformed parameter
	CodeBadSymbol      = 40001 // no such instrument
	CodeBadPrice       = 40002 // price not positive or not a multiple of the tick
	CodeBadSize        = 40003 // size not a multiple of the lot, or below the minimum size or notional
	CodeDuplicateID    = 40004 // a live order has this client ID
	CodeNoMarket       = 40005 // the instrument has no price yet
	CodeInsufficient   = 41000 // not enough available balance
	CodeReduceOnly     = 41001 // a reduce-only order would not reduce the position
	CodeTooManyOrders  = 41002 // the open-order cap is reached
	CodeOrderNotFound  = 42000 // no such order
	CodeOrderClosed    = 42001 // the order is filled or canceled
	CodeRateLimited    = 42900 // too many order requests; see RetryAfterMs
	CodeServiceStopped = 50300 // the venue is shut down
)

// APIError is an error answer of the venue: its code, its message and,
// for CodeRateLimited, how long to wait. The adapter maps it (errors.go).
type APIError struct {
	Code         int
	Msg          string
	RetryAfterMs int64 // with CodeRateLimited
}

// Error formats the code and the message.
func (e *APIError) Error() string { return fmt.Sprintf("examplevenue: code %d: %s", e.Code, e.Msg) }

func apiErr(code int, format string, a ...any) *APIError {
	return &APIError{Code: code, Msg: fmt.Sprintf(format, a...)}
}

// ErrConnClosed is returned by [Conn.Read] once the connection is closed.
var ErrConnClosed = errors.New("examplevenue: connection closed")

// ServerConfig configures a [Server]. The zero value is not valid:
// Instrument, Balance and Leverage are required.
type ServerConfig struct {
	Instrument Instrument
	Balance    string // the account's initial USDT balance
	Leverage   int    // 1 to 125
	MakerFee   string // fraction of the notional, e.g. "0.0002"; "" means 0.0002
	TakerFee   string // "" means 0.0005
	// OrderRate is how many order requests (place and cancel) the venue
	// accepts per second; 0 is no limit.
	OrderRate int
	// MaxOpenOrders caps the live orders; 0 means 200.
	MaxOpenOrders int
	// Latency delays each request, half on the way in and half on the way
	// out, like a network: a context that ends on the way out leaves a
	// request executed that the caller never hears about.
	Latency time.Duration
	// Clock stamps orders and trades; nil means time.Now.
	Clock func() time.Time
}

// Server is the example venue: an in-memory perpetual-futures exchange
// with one account and one instrument, a tiny matching engine against a
// market price set by [Server.SetPrice], and push connections.
//
// Resting orders fill at their price, as maker, when the market price
// reaches them, in two trades (half, then the rest) when they are at least
// two lots, so that partial fills are the rule rather than the exception.
// An order that crosses when placed fills at once at the market price as
// taker, except a post-only order, which is accepted and then canceled
// (source "post_only"). The account is one-way (one net position) and
// cross-margined: an order that can open a position needs its notional
// divided by the leverage out of the available balance.
//
// Build one with [NewServer]; the zero value is not usable. A Server is
// safe for concurrent use and starts no goroutine.
type Server struct {
	inst                     Instrument
	tick, lot, minSz, minNtl decimal.Decimal
	maker, taker             decimal.Decimal
	leverage                 decimal.Decimal
	orderRate                int
	maxOpen                  int
	latency                  time.Duration
	clock                    func() time.Time

	mu        sync.Mutex
	closed    bool
	price     decimal.Decimal // zero until the first SetPrice
	nextOrder uint64
	nextTrade uint64
	orders    map[uint64]*order
	byClient  map[string]*order // latest order of each client ID
	resting   []*order          // live orders in placement order
	trades    []NativeTrade
	wallet    decimal.Decimal
	pos, cost decimal.Decimal // signed position and its signed entry cost
	rateSec   int64           // the current rate-limit second (Unix)
	rateUsed  int
	conns     map[*Conn]struct{}
}

// order is the venue's record of one order.
type order struct {
	id                       uint64
	symbol, clientID         string
	side, typ                string
	buy, isMarket            bool
	px, sz, filled, notional decimal.Decimal
	reduceOnly               bool
	state, source            string
	updated                  time.Time
}

// NewServer checks cfg, reporting every problem at once with the field and
// its value, and returns a venue with no market price yet.
func NewServer(cfg ServerConfig) (*Server, error) {
	var errs []error
	num := func(field, v, def string, positive bool) decimal.Decimal {
		if v == "" {
			v = def
		}
		d, err := decimal.NewFromString(v)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("examplevenue: ServerConfig.%s = %q: not a decimal number", field, v))
		case positive && !d.IsPositive():
			errs = append(errs, fmt.Errorf("examplevenue: ServerConfig.%s = %s: must be positive", field, v))
		case d.IsNegative():
			errs = append(errs, fmt.Errorf("examplevenue: ServerConfig.%s = %s: must not be negative", field, v))
		}
		return d
	}
	s := &Server{
		inst:      cfg.Instrument,
		tick:      num("Instrument.TickSz", cfg.Instrument.TickSz, "", true),
		lot:       num("Instrument.LotSz", cfg.Instrument.LotSz, "", true),
		minSz:     num("Instrument.MinSz", cfg.Instrument.MinSz, "0", false),
		minNtl:    num("Instrument.MinNotional", cfg.Instrument.MinNotional, "0", false),
		maker:     num("MakerFee", cfg.MakerFee, "0.0002", false),
		taker:     num("TakerFee", cfg.TakerFee, "0.0005", false),
		wallet:    num("Balance", cfg.Balance, "", true),
		leverage:  decimal.NewFromInt(int64(cfg.Leverage)),
		orderRate: cfg.OrderRate,
		maxOpen:   cfg.MaxOpenOrders,
		latency:   cfg.Latency,
		clock:     cfg.Clock,
		nextOrder: 1_000_000,
		orders:    map[uint64]*order{},
		byClient:  map[string]*order{},
		conns:     map[*Conn]struct{}{},
	}
	if cfg.Instrument.Symbol == "" {
		errs = append(errs, errors.New("examplevenue: ServerConfig.Instrument.Symbol is empty"))
	}
	if cfg.Leverage < 1 || cfg.Leverage > 125 {
		errs = append(errs, fmt.Errorf("examplevenue: ServerConfig.Leverage = %d: must be 1 to 125", cfg.Leverage))
	}
	if cfg.OrderRate < 0 || cfg.MaxOpenOrders < 0 || cfg.Latency < 0 {
		errs = append(errs, fmt.Errorf("examplevenue: ServerConfig.OrderRate %d, MaxOpenOrders %d, Latency %s: must not be negative",
			cfg.OrderRate, cfg.MaxOpenOrders, cfg.Latency))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if s.maxOpen == 0 {
		s.maxOpen = 200
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	return s, nil
}

// Close shuts the venue down: every connection closes and every request
// fails with CodeServiceStopped. It is idempotent.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for c := range s.conns {
		c.shut()
	}
	clear(s.conns)
}

// call runs one request as a network round trip: the way in (the request
// may not arrive), fn under the lock, the way out (the answer may not).
func call[T any](ctx context.Context, s *Server, fn func() (T, error)) (T, error) {
	var zero T
	if err := s.travel(ctx); err != nil {
		return zero, err
	}
	s.mu.Lock()
	var v T
	var err error
	if s.closed {
		err = apiErr(CodeServiceStopped, "service stopped")
	} else {
		v, err = fn()
	}
	s.mu.Unlock()
	if terr := s.travel(ctx); terr != nil {
		return zero, terr
	}
	return v, err
}

func (s *Server) travel(ctx context.Context) error {
	if s.latency <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(s.latency / 2)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// GetInstrument returns the rules of symbol.
func (s *Server) GetInstrument(ctx context.Context, symbol string) (Instrument, error) {
	return call(ctx, s, func() (Instrument, error) {
		if symbol != s.inst.Symbol {
			return Instrument{}, apiErr(CodeBadSymbol, "instrument %q does not exist", symbol)
		}
		return s.inst, nil
	})
}

// SetPrice moves the market to price: resting orders the move reaches
// fill, and every ticker connection receives the price.
func (s *Server) SetPrice(price string) error {
	p, err := decimal.NewFromString(price)
	if err != nil || !p.IsPositive() || !p.Mod(s.tick).IsZero() {
		return apiErr(CodeBadPrice, "price %q must be a positive multiple of %s", price, s.tick)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return apiErr(CodeServiceStopped, "service stopped")
	}
	old := s.price
	s.price = p
	now := s.clock()
	// Fill what the move reached, nearest the old price first.
	var hit []*order
	for _, o := range s.resting {
		if (o.buy && o.px.GreaterThanOrEqual(p)) || (!o.buy && o.px.LessThanOrEqual(p)) {
			hit = append(hit, o)
		}
	}
	slices.SortStableFunc(hit, func(a, b *order) int { return a.px.Sub(old).Abs().Cmp(b.px.Sub(old).Abs()) })
	for _, o := range hit {
		rest := o.sz.Sub(o.filled)
		if half := rest.Div(s.lot).Div(decimal.NewFromInt(2)).Floor().Mul(s.lot); half.IsPositive() {
			s.fill(now, o, half, o.px, true)
			rest = rest.Sub(half)
		}
		if o.state != StateCanceled {
			s.fill(now, o, rest, o.px, true)
		}
	}
	s.publish(Message{Channel: ChannelTicker, Ticker: NativeTicker{Symbol: s.inst.Symbol, Last: p.String(), Ms: now.UnixMilli()}})
	return nil
}

// Place places an order and returns it as it stands after any immediate fill.
func (s *Server) Place(ctx context.Context, req PlaceRequest) (NativeOrder, error) {
	return call(ctx, s, func() (NativeOrder, error) {
		if err := s.spendRate(); err != nil {
			return NativeOrder{}, err
		}
		o, err := s.check(req)
		if err != nil {
			return NativeOrder{}, err
		}
		now := s.clock()
		s.nextOrder++
		o.id, o.state, o.updated = s.nextOrder, StateLive, now
		s.orders[o.id] = o
		if o.clientID != "" {
			s.byClient[o.clientID] = o
		}
		s.publishOrder(o, nil) // "live" first, always
		crosses := o.isMarket || (o.buy && o.px.GreaterThanOrEqual(s.price)) || (!o.buy && o.px.LessThanOrEqual(s.price))
		switch {
		case crosses && o.typ == "post_only":
			s.cancel(now, o, SourcePostOnly)
		case crosses:
			s.fill(now, o, o.sz, s.price, false)
		case o.typ == "ioc":
			s.cancel(now, o, SourceIOC)
		default:
			s.resting = append(s.resting, o)
		}
		return s.native(o), nil
	})
}

// check validates a new order against the instrument and the account.
func (s *Server) check(req PlaceRequest) (*order, error) {
	if req.Symbol != s.inst.Symbol {
		return nil, apiErr(CodeBadSymbol, "instrument %q does not exist", req.Symbol)
	}
	if req.Side != "buy" && req.Side != "sell" {
		return nil, apiErr(CodeBadRequest, "side %q must be buy or sell", req.Side)
	}
	if !slices.Contains([]string{"limit", "market", "post_only", "ioc"}, req.Type) {
		return nil, apiErr(CodeBadRequest, "type %q must be limit, market, post_only or ioc", req.Type)
	}
	if !validClientID(req.ClientID) {
		return nil, apiErr(CodeBadRequest, "client id %q must be 1 to 36 of [A-Za-z0-9_-]", req.ClientID)
	}
	if prev := s.byClient[req.ClientID]; req.ClientID != "" && prev != nil && (prev.state == StateLive || prev.state == StatePartiallyFilled) {
		return nil, apiErr(CodeDuplicateID, "client id %q is live on order %d", req.ClientID, prev.id)
	}
	if s.price.IsZero() {
		return nil, apiErr(CodeNoMarket, "%s has no price yet", s.inst.Symbol)
	}
	o := &order{symbol: req.Symbol, clientID: req.ClientID, side: req.Side, typ: req.Type, reduceOnly: req.ReduceOnly,
		buy: req.Side == "buy", isMarket: req.Type == "market", filled: decimal.Zero, notional: decimal.Zero}
	px := s.price
	if !o.isMarket {
		p, err := decimal.NewFromString(req.Px)
		if err != nil || !p.IsPositive() || !p.Mod(s.tick).IsZero() {
			return nil, apiErr(CodeBadPrice, "price %q must be a positive multiple of %s", req.Px, s.tick)
		}
		o.px, px = p, p
	}
	sz, err := decimal.NewFromString(req.Sz)
	if err != nil || !sz.IsPositive() || !sz.Mod(s.lot).IsZero() || sz.LessThan(s.minSz) {
		return nil, apiErr(CodeBadSize, "size %q must be a multiple of %s of at least %s", req.Sz, s.lot, s.minSz)
	}
	if n := px.Mul(sz); n.LessThan(s.minNtl) {
		return nil, apiErr(CodeBadSize, "notional %s is below %s", n, s.minNtl)
	}
	o.sz = sz
	if len(s.resting) >= s.maxOpen {
		return nil, apiErr(CodeTooManyOrders, "%d open orders is the most", s.maxOpen)
	}
	if o.reduceOnly {
		if s.pos.IsZero() || (o.buy == s.pos.IsPositive()) {
			return nil, apiErr(CodeReduceOnly, "a reduce-only %s would not reduce position %s", o.side, s.pos)
		}
		return o, nil
	}
	if need, free := px.Mul(sz).Div(s.leverage), s.available(); need.GreaterThan(free) {
		return nil, apiErr(CodeInsufficient, "order margin %s exceeds available %s", need.Round(2), free.Round(2))
	}
	return o, nil
}

func validClientID(id string) bool {
	if len(id) > 36 {
		return false
	}
	for _, c := range []byte(id) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// spendRate counts an order request against the per-second limit.
func (s *Server) spendRate() error {
	if s.orderRate == 0 {
		return nil
	}
	now := s.clock()
	if sec := now.Unix(); sec != s.rateSec {
		s.rateSec, s.rateUsed = sec, 0
	}
	if s.rateUsed >= s.orderRate {
		e := apiErr(CodeRateLimited, "more than %d order requests per second", s.orderRate)
		e.RetryAfterMs = time.Unix(s.rateSec+1, 0).Sub(now).Milliseconds() + 1
		return e
	}
	s.rateUsed++
	return nil
}

// Cancel cancels a live order by its ID, or by client ID when id is 0.
func (s *Server) Cancel(ctx context.Context, symbol string, id uint64, clientID string) (NativeOrder, error) {
	return call(ctx, s, func() (NativeOrder, error) {
		if err := s.spendRate(); err != nil {
			return NativeOrder{}, err
		}
		o, err := s.lookup(symbol, id, clientID)
		if err != nil {
			return NativeOrder{}, err
		}
		if o.state != StateLive && o.state != StatePartiallyFilled {
			return NativeOrder{}, apiErr(CodeOrderClosed, "order %d is %s", o.id, o.state)
		}
		s.cancel(s.clock(), o, SourceUser)
		return s.native(o), nil
	})
}

// GetOrder returns an order, live or closed, by its ID or, when id is 0,
// by client ID (the latest order with it).
func (s *Server) GetOrder(ctx context.Context, symbol string, id uint64, clientID string) (NativeOrder, error) {
	return call(ctx, s, func() (NativeOrder, error) {
		o, err := s.lookup(symbol, id, clientID)
		if err != nil {
			return NativeOrder{}, err
		}
		return s.native(o), nil
	})
}

func (s *Server) lookup(symbol string, id uint64, clientID string) (*order, error) {
	if symbol != s.inst.Symbol {
		return nil, apiErr(CodeBadSymbol, "instrument %q does not exist", symbol)
	}
	o := s.orders[id]
	if id == 0 {
		o = s.byClient[clientID]
	}
	if o == nil {
		return nil, apiErr(CodeOrderNotFound, "order %d (client id %q) does not exist", id, clientID)
	}
	return o, nil
}

// PendingOrders lists the live orders, oldest first.
func (s *Server) PendingOrders(ctx context.Context, symbol string) ([]NativeOrder, error) {
	return call(ctx, s, func() ([]NativeOrder, error) {
		if symbol != s.inst.Symbol {
			return nil, apiErr(CodeBadSymbol, "instrument %q does not exist", symbol)
		}
		out := make([]NativeOrder, 0, len(s.resting))
		for _, o := range s.resting {
			out = append(out, s.native(o))
		}
		return out, nil
	})
}

// Trades lists the account's trades of symbol at or after sinceMs, oldest first.
func (s *Server) Trades(ctx context.Context, symbol string, sinceMs int64) ([]NativeTrade, error) {
	return call(ctx, s, func() ([]NativeTrade, error) {
		if symbol != s.inst.Symbol {
			return nil, apiErr(CodeBadSymbol, "instrument %q does not exist", symbol)
		}
		var out []NativeTrade
		for _, t := range s.trades { // a scan: a wall clock may step back
			if t.Ms >= sinceMs {
				out = append(out, t)
			}
		}
		return out, nil
	})
}

// Balance returns the account's USDT balance.
func (s *Server) Balance(ctx context.Context) (NativeBalance, error) {
	return call(ctx, s, func() (NativeBalance, error) {
		return NativeBalance{Ccy: "USDT", Wallet: s.wallet.Round(8).String(), Upl: s.upl().Round(8).String(), Available: s.available().Round(8).String()}, nil
	})
}

// Position returns the account's net position in symbol.
func (s *Server) Position(ctx context.Context, symbol string) (NativePosition, error) {
	return call(ctx, s, func() (NativePosition, error) {
		if symbol != s.inst.Symbol {
			return NativePosition{}, apiErr(CodeBadSymbol, "instrument %q does not exist", symbol)
		}
		p := NativePosition{Symbol: symbol, Pos: s.pos.String(), MarkPx: s.price.String(), Upl: s.upl().Round(8).String(), Lever: int(s.leverage.IntPart())}
		if !s.pos.IsZero() {
			p.AvgPx = s.cost.Div(s.pos).Round(8).String()
		}
		return p, nil
	})
}

func (s *Server) upl() decimal.Decimal { return s.pos.Mul(s.price).Sub(s.cost) }

// available is the equity less the margin of the position and of the
// open orders that can open one.
func (s *Server) available() decimal.Decimal {
	used := s.pos.Abs().Mul(s.price)
	for _, o := range s.resting {
		if !o.reduceOnly {
			used = used.Add(o.px.Mul(o.sz.Sub(o.filled)))
		}
	}
	return s.wallet.Add(s.upl()).Sub(used.Div(s.leverage))
}

// fill executes qty of o at px (capped, for reduce-only orders, to the
// position) and books the position, the fee and the trade.
func (s *Server) fill(now time.Time, o *order, qty, px decimal.Decimal, maker bool) {
	if o.reduceOnly {
		qty = decimal.Min(qty, s.pos.Abs())
		if s.pos.IsZero() || o.buy == s.pos.IsPositive() {
			qty = decimal.Zero
		}
		if !qty.IsPositive() {
			s.cancel(now, o, SourceReduceOnly)
			return
		}
	}
	signed := qty
	if !o.buy {
		signed = qty.Neg()
	}
	pnl := s.book(signed, px)
	rate := s.taker
	liquidity := "taker"
	if maker {
		rate, liquidity = s.maker, "maker"
	}
	fee := px.Mul(qty).Mul(rate).Round(8)
	s.wallet = s.wallet.Add(pnl).Sub(fee)
	o.filled = o.filled.Add(qty)
	o.notional = o.notional.Add(px.Mul(qty))
	o.updated = now
	o.state = StatePartiallyFilled
	if o.filled.Equal(o.sz) {
		o.state = StateFilled
		s.unrest(o)
	}
	s.nextTrade++
	t := NativeTrade{TradeID: s.nextTrade, OrderID: o.id, Symbol: o.symbol, ClientID: o.clientID, Side: o.side,
		Px: px.String(), Sz: qty.String(), Fee: fee.Neg().String(), FeeCcy: "USDT", Liquidity: liquidity,
		PnL: pnl.Round(8).String(), Ms: now.UnixMilli()}
	s.trades = append(s.trades, t)
	s.publishOrder(o, &t)
	if o.reduceOnly && o.state == StatePartiallyFilled && s.pos.IsZero() {
		s.cancel(now, o, SourceReduceOnly) // nothing left to reduce
	}
}

// book applies a signed fill to the net position and returns the PnL it
// realizes: a fill against the position closes part of its cost basis.
func (s *Server) book(qty, px decimal.Decimal) decimal.Decimal {
	realized := decimal.Zero
	if !s.pos.IsZero() && s.pos.Sign() != qty.Sign() {
		closing := qty
		if qty.Abs().GreaterThan(s.pos.Abs()) {
			closing = s.pos.Neg()
		}
		removed := s.cost // the whole basis when the position closes
		if !closing.Equal(s.pos.Neg()) {
			removed = s.cost.Mul(closing.Neg()).Div(s.pos)
		}
		realized = closing.Neg().Mul(px).Sub(removed)
		s.cost = s.cost.Sub(removed)
		s.pos = s.pos.Add(closing)
		qty = qty.Sub(closing)
	}
	s.cost = s.cost.Add(qty.Mul(px))
	s.pos = s.pos.Add(qty)
	return realized
}

func (s *Server) cancel(now time.Time, o *order, source string) {
	o.state, o.source, o.updated = StateCanceled, source, now
	s.unrest(o)
	s.publishOrder(o, nil)
}

func (s *Server) unrest(o *order) {
	s.resting = slices.DeleteFunc(s.resting, func(x *order) bool { return x == o })
}

func (s *Server) native(o *order) NativeOrder {
	n := NativeOrder{ID: o.id, Symbol: o.symbol, ClientID: o.clientID, Side: o.side, Type: o.typ, Px: o.px.String(),
		Sz: o.sz.String(), FilledSz: o.filled.String(), State: o.state, CancelSource: o.source, ReduceOnly: o.reduceOnly,
		UpdatedMs: o.updated.UnixMilli()}
	if o.isMarket {
		n.Px = ""
	}
	if o.filled.IsPositive() {
		n.AvgPx = o.notional.Div(o.filled).Round(8).String()
	}
	return n
}

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
