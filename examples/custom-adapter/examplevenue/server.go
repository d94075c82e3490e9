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

// This file and the server_*.go files beside it (protocol: the venue's
// messages and error codes; orders: placing, matching and booking; push:
// the connections) are the venue itself: the part that, for a real
// exchange, lives on the other side of the network. It speaks its own
// protocol on purpose — numeric order IDs, lower-case sides and states,
// decimal strings, Unix milliseconds, fees reported negative when charged,
// numbered error codes — so that adapter.go has real translating to do.
// Nothing here knows the gridmesh exchange package.

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
