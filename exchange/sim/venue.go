package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
)

// ErrUnknownSymbol: a request named a symbol the venue does not trade. It
// matches [exchange.ErrInvalidOrder], as the exchange contract asks of an
// unlisted symbol.
var ErrUnknownSymbol = fmt.Errorf("sim: unknown symbol: %w", exchange.ErrInvalidOrder)

// VenueConfig configures a [Venue]. Core.Rules are the one symbol's rules.
// The zero value is not valid (its Core is not). It is a plain value.
type VenueConfig struct {
	// Core is the simulated account and matching; Core.Rules.Symbol is the
	// venue's only symbol.
	Core CoreConfig
	// Name is returned by Name; "sim" when empty.
	Name string
	// Asset is the quote (margin) asset of fees and balances; "USDT" when empty.
	Asset string
	// Logger receives the venue's logs; nil discards them.
	Logger *slog.Logger
	// Clock stamps every event and order; time.Now when nil. Paper trading
	// uses the wall clock, tests a fixed or stepped one.
	Clock func() time.Time
	// Latency delays every request by this long (0: none), honouring its context.
	Latency time.Duration
	// ClosedOrders is how many closed orders QueryOrder remembers; 10000 when 0.
	ClosedOrders int
	// FillHistory is how many fills Fills keeps; 100000 when 0.
	FillHistory int
	// Faults injects failures deterministically by seed; the zero value injects none.
	Faults Faults
}

// Venue is an [exchange.IExchange] for paper trading and tests: one
// symbol and one account simulated by a [Core] behind a mutex. Prices come
// from SetPrice (or Run, from a recorded or live source); orders, fills,
// account and positions are the core's, converted to decimals through the
// symbol's [exchange.Rules]; the streams are served by goroutines the venue
// owns and Close stops.
//
// Create one with [NewVenue]; the zero value is not usable. A Venue is safe
// for concurrent use.
type Venue struct {
	name      string
	asset     string
	rules     exchange.Rules
	log       *slog.Logger
	clock     func() time.Time
	latency   time.Duration
	maxClosed int
	maxFills  int

	mu        sync.Mutex
	core      *Core
	closed    bool
	orders    map[uint64]*venueOrder // live and remembered closed orders, by core id
	byClient  map[string]*venueOrder // latest order of each client order ID
	closedIDs []uint64               // closed orders, oldest first, for forgetting
	fills     []exchange.Fill
	tradeSeq  uint64
	lastPrice exchange.PriceUpdate
	hasPrice  bool
	kline     klineState
	priceSubs map[*priceSub]struct{}
	userSubs  map[*queueSub[exchange.UserEvent]]struct{}
	klineSubs map[*queueSub[exchange.Kline]]struct{}
	faults    *faultState                  // nil when no fault is configured
	settled   []exchange.FundingSettlement // ApplyFunding's settlements, oldest first

	done chan struct{}
	wg   sync.WaitGroup
}

var (
	_ exchange.IExchange     = (*Venue)(nil)
	_ exchange.BatchPlacer   = (*Venue)(nil)
	_ exchange.BatchCanceler = (*Venue)(nil)
	_ exchange.AllCanceler   = (*Venue)(nil)
)

type venueOrder struct {
	ord      exchange.Order
	notional exchange.Money // Σ fill price × qty, for AvgPrice
	filled   exchange.Steps
	ioc      bool // an IOC remainder is reported EXPIRED, not CANCELED
	reason   string
}

// NewVenue validates cfg (every problem at once, each naming the field and
// value) and returns a venue with no price yet. It starts no goroutine.
func NewVenue(cfg VenueConfig) (*Venue, error) {
	var errs []error
	if err := cfg.Core.Validate(); err != nil {
		errs = append(errs, err)
	}
	if cfg.Latency < 0 {
		errs = append(errs, fmt.Errorf("%w: VenueConfig.Latency = %s: must not be negative", ErrInvalidConfig, cfg.Latency))
	}
	if cfg.ClosedOrders < 0 {
		errs = append(errs, fmt.Errorf("%w: VenueConfig.ClosedOrders = %d: must not be negative", ErrInvalidConfig, cfg.ClosedOrders))
	}
	if cfg.FillHistory < 0 {
		errs = append(errs, fmt.Errorf("%w: VenueConfig.FillHistory = %d: must not be negative", ErrInvalidConfig, cfg.FillHistory))
	}
	if err := cfg.Faults.validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	core, err := NewCore(cfg.Core)
	if err != nil {
		return nil, err
	}
	v := &Venue{
		name:      orDefault(cfg.Name, "sim"),
		asset:     orDefault(cfg.Asset, "USDT"),
		rules:     cfg.Core.Rules,
		log:       cfg.Logger,
		clock:     cfg.Clock,
		latency:   cfg.Latency,
		maxClosed: cfg.ClosedOrders,
		maxFills:  cfg.FillHistory,
		core:      core,
		orders:    make(map[uint64]*venueOrder),
		byClient:  make(map[string]*venueOrder),
		priceSubs: make(map[*priceSub]struct{}),
		userSubs:  make(map[*queueSub[exchange.UserEvent]]struct{}),
		klineSubs: make(map[*queueSub[exchange.Kline]]struct{}),
		faults:    newFaultState(cfg.Faults),
		done:      make(chan struct{}),
	}
	if v.log == nil {
		v.log = slog.New(slog.DiscardHandler)
	}
	if v.clock == nil {
		v.clock = time.Now
	}
	if v.maxClosed == 0 {
		v.maxClosed = 10_000
	}
	if v.maxFills == 0 {
		v.maxFills = 100_000
	}
	return v, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Name returns the configured name ("sim" by default).
func (v *Venue) Name() string { return v.name }

// Close stops every stream goroutine and waits for them; their channels
// close. Later calls return exchange.ErrClosed from every method but Close,
// which returns nil.
func (v *Venue) Close() error {
	v.mu.Lock()
	if !v.closed {
		v.closed = true
		close(v.done)
	}
	v.mu.Unlock()
	v.wg.Wait()
	return nil
}

func (v *Venue) checkSymbol(symbol string) error {
	if symbol != v.rules.Symbol {
		return fmt.Errorf("symbol %q (the venue trades %q): %w", symbol, v.rules.Symbol, ErrUnknownSymbol)
	}
	return nil
}

// begin waits for the configured latency and checks ctx; every request
// starts with it.
func (v *Venue) begin(ctx context.Context) error {
	if v.latency > 0 {
		t := time.NewTimer(v.latency)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		case <-v.done:
			return exchange.ErrClosed
		}
	}
	return ctx.Err()
}

// Rules returns the symbol's rules.
func (v *Venue) Rules(ctx context.Context, symbol string) (exchange.Rules, error) {
	if err := v.checkSymbol(symbol); err != nil {
		return exchange.Rules{}, err
	}
	if err := v.begin(ctx); err != nil {
		return exchange.Rules{}, err
	}
	return v.rules, nil
}

// SetPrice is the feed hook: the market trades to price now (the venue's
// clock), resting orders fill, a liquidation may follow, and the resulting
// order updates go to the user-data subscribers before it returns; the
// price goes to the price and kline subscribers. The price must lie on the
// tick grid.
func (v *Venue) SetPrice(ctx context.Context, price decimal.Decimal) error {
	t, err := v.rules.PriceToTicks(price)
	if err != nil {
		return fmt.Errorf("sim: set price: %w", err)
	}
	return v.SetPriceTicks(ctx, t)
}

// SetPriceTicks is [Venue.SetPrice] with the price already in ticks.
func (v *Venue) SetPriceTicks(ctx context.Context, price exchange.Ticks) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return exchange.ErrClosed
	}
	now := v.clock()
	v.faults.beforeTick(v, now)
	v.core.Tick(now, price)
	v.drain(now)
	v.lastPrice = exchange.PriceUpdate{Symbol: v.rules.Symbol, Price: v.rules.TicksToPrice(price), Time: now}
	v.hasPrice = true
	for s := range v.priceSubs {
		s.offer(v.lastPrice)
	}
	v.updateKline(now, price)
	return nil
}

// Run feeds the venue from a price source (a recorded file replayed, or
// another venue's stream) until prices closes (nil), ctx ends (its error)
// or the venue closes (exchange.ErrClosed). Updates for another symbol are
// an error; an update's Time is not used: the venue's clock stamps it.
func (v *Venue) Run(ctx context.Context, prices <-chan exchange.PriceUpdate) error {
	for {
		select {
		case u, ok := <-prices:
			if !ok {
				return nil
			}
			if u.Symbol != "" {
				if err := v.checkSymbol(u.Symbol); err != nil {
					return fmt.Errorf("sim: run: %w", err)
				}
			}
			if err := v.SetPrice(ctx, u.Price); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		case <-v.done:
			return exchange.ErrClosed
		}
	}
}

// ApplyFunding books a funding payment at rate (a decimal fraction, 0.0001
// for 0.01 %) and mark price on every open position (longs pay a positive
// rate) and sends an EventAccount with reason "FUNDING_FEE". The mark may
// be finer than the tick (a venue's mark price has 8 decimals): the
// payment is exact either way. The settlement, stamped with the venue's
// clock, joins the funding history ([Venue.FundingHistory]).
func (v *Venue) ApplyFunding(ctx context.Context, rate, mark decimal.Decimal) error {
	r, err := exchange.RateFromDecimal(rate)
	if err != nil {
		return fmt.Errorf("sim: funding: %w", err)
	}
	if !mark.IsPositive() {
		return fmt.Errorf("sim: funding: mark price %s must be positive", mark)
	}
	m, err := v.rules.PriceToTicks(mark)
	fineMark := err != nil // off the tick grid: charge at the exact mark
	if err := ctx.Err(); err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return exchange.ErrClosed
	}
	now := v.clock()
	v.settled = append(v.settled, exchange.FundingSettlement{Symbol: v.rules.Symbol, Time: now, Rate: rate, MarkPrice: mark})
	if fineMark {
		v.core.ApplyFundingAtMark(now, r, mark)
	} else {
		v.core.ApplyFunding(now, r, m)
	}
	v.drain(now)
	return nil
}

// QueryOrder looks an order up by client order ID, live or closed (the
// venue remembers the last ClosedOrders closed orders); otherwise
// exchange.ErrOrderNotFound.
func (v *Venue) QueryOrder(ctx context.Context, symbol, clientOrderID string) (exchange.Order, error) {
	unlock, err := v.enterQuery(ctx, symbol)
	if err != nil {
		return exchange.Order{}, err
	}
	defer unlock()
	vo, ok := v.byClient[clientOrderID]
	if !ok {
		return exchange.Order{}, fmt.Errorf("sim: query client order id %q: %w", clientOrderID, exchange.ErrOrderNotFound)
	}
	return vo.ord, nil
}

// enterQuery starts a read-only call: the symbol, the context and the
// configured latency, the venue's lock, a closed venue and an injected
// request fault. On success the caller holds the lock and must call unlock.
func (v *Venue) enterQuery(ctx context.Context, symbol string) (unlock func(), err error) {
	if err := v.checkSymbol(symbol); err != nil {
		return nil, err
	}
	if err := v.begin(ctx); err != nil {
		return nil, err
	}
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return nil, exchange.ErrClosed
	}
	if err := v.faults.request(opQuery, time.Time{}).err; err != nil {
		v.mu.Unlock()
		return nil, err
	}
	return v.mu.Unlock, nil
}

// OpenOrders lists the live orders, oldest first.
func (v *Venue) OpenOrders(ctx context.Context, symbol string) ([]exchange.Order, error) {
	unlock, err := v.enterQuery(ctx, symbol)
	if err != nil {
		return nil, err
	}
	defer unlock()
	views := v.core.OpenOrders()
	out := make([]exchange.Order, 0, len(views))
	for _, o := range views {
		out = append(out, v.orders[o.ID].ord)
	}
	return out, nil
}

// Fills lists the executions at or after since, oldest first (the venue
// keeps the last FillHistory).
func (v *Venue) Fills(ctx context.Context, symbol string, since time.Time) ([]exchange.Fill, error) {
	unlock, err := v.enterQuery(ctx, symbol)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var out []exchange.Fill
	for _, f := range v.fills { // a linear scan: a wall clock may step back
		if !f.Time.Before(since) {
			out = append(out, f)
		}
	}
	return out, nil
}

// Account returns the wallet, unrealized PnL and margins at the current price.
func (v *Venue) Account(ctx context.Context) (exchange.Account, error) {
	unlock, err := v.enterQuery(ctx, v.rules.Symbol)
	if err != nil {
		return exchange.Account{}, err
	}
	defer unlock()
	return v.accountLocked(), nil
}

func (v *Venue) accountLocked() exchange.Account {
	c, r := v.core, v.rules
	p := c.Price()
	wallet := r.MoneyToDecimal(c.Wallet())
	equity := r.MoneyToDecimal(c.Equity(p))
	avail := r.MoneyToDecimal(c.Available())
	return exchange.Account{
		Balances: []exchange.Balance{{
			Asset: v.asset, WalletBalance: wallet, AvailableBalance: avail, UnrealizedPnL: equity.Sub(wallet),
		}},
		TotalWallet:      wallet,
		TotalMargin:      equity,
		AvailableBalance: avail,
		MaintMargin:      r.MoneyToDecimal(c.MaintenanceMargin(p)),
		PositionMode:     c.cfg.PositionMode,
		CanTrade:         true,
	}
}

// Positions returns the symbol's positions: one PositionBoth entry in
// one-way mode, a PositionLong and a PositionShort entry in hedge mode,
// flat ones included. LiquidationPrice is the price at which the account
// is liquidated (cross margin: the same for every entry), zero when none.
func (v *Venue) Positions(ctx context.Context, symbol string) ([]exchange.Position, error) {
	unlock, err := v.enterQuery(ctx, symbol)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return v.positionsLocked(), nil
}

func (v *Venue) positionsLocked() []exchange.Position {
	return v.core.ExchangePositions(v.core.Price())
}

// Stats returns the core's running totals.
func (v *Venue) Stats() CoreStats {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.core.Stats()
}
