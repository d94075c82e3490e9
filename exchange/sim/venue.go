package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
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

// PlaceOrder places one order. LIMIT orders take GTC, GTX (post-only:
// rejected with exchange.ErrPostOnlyRejected when it would cross) or IOC
// (what does not fill at once expires); MARKET orders fill at once at the
// current price. A live order with the same ClientOrderID fails with
// exchange.ErrDuplicateClientOrderID; an empty one gets "sim-<id>". The
// returned Order is the state after any immediate fill. Before the first
// SetPrice orders fail with [ErrNoPrice].
func (v *Venue) PlaceOrder(ctx context.Context, req exchange.OrderRequest) (exchange.Order, error) {
	if err := v.begin(ctx); err != nil {
		return exchange.Order{}, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.placeLocked(req)
}

func (v *Venue) placeLocked(req exchange.OrderRequest) (exchange.Order, error) {
	if v.closed {
		return exchange.Order{}, exchange.ErrClosed
	}
	now := v.clock()
	spec, err := v.spec(req)
	if err != nil {
		return exchange.Order{}, err
	}
	if vo, ok := v.byClient[req.ClientOrderID]; ok && req.ClientOrderID != "" && vo.ord.Status.Live() {
		return exchange.Order{}, fmt.Errorf("sim: client order id %q is live (order %s): %w", req.ClientOrderID, vo.ord.OrderID, exchange.ErrDuplicateClientOrderID)
	}
	fault := v.faults.request(opPlace, now)
	if fault.err != nil && !fault.afterEffect {
		return exchange.Order{}, fault.err
	}
	id, err := v.core.Place(now, spec)
	if err != nil {
		v.log.Debug("sim: order rejected", "clientOrderId", req.ClientOrderID, "err", err)
		return exchange.Order{}, err
	}
	vo := &venueOrder{ord: exchange.Order{
		Symbol: v.rules.Symbol, OrderID: strconv.FormatUint(id, 10), ClientOrderID: req.ClientOrderID,
		Side: req.Side, PositionSide: req.PositionSide, Type: req.Type, TimeInForce: req.TimeInForce,
		Price: v.rules.TicksToPrice(spec.Price), Quantity: v.rules.StepsToQty(spec.Qty), FilledQty: decimal.Zero, AvgPrice: decimal.Zero,
		Status: exchange.StatusNew, ReduceOnly: req.ReduceOnly, UpdateTime: now,
	}, ioc: req.TimeInForce == exchange.IOC && req.Type == exchange.Limit}
	if req.Type == exchange.Market {
		vo.ord.Price = decimal.Zero
		vo.ord.TimeInForce = exchange.GTC
	}
	if vo.ord.ClientOrderID == "" {
		vo.ord.ClientOrderID = "sim-" + vo.ord.OrderID
	}
	v.orders[id] = vo
	v.byClient[vo.ord.ClientOrderID] = vo
	v.sendOrder(vo, now, nil)
	if _, live := v.core.Order(id); live && vo.ioc {
		if err := v.core.Cancel(now, id); err != nil {
			return exchange.Order{}, fmt.Errorf("sim: expire IOC remainder: %w", err)
		}
	}
	v.drain(now)
	v.log.Debug("sim: order placed", "orderId", vo.ord.OrderID, "clientOrderId", vo.ord.ClientOrderID, "status", vo.ord.Status)
	if fault.err != nil {
		return exchange.Order{}, fault.err
	}
	return vo.ord, nil
}

// clientIDOK is Binance's rule for client order IDs: 1–36 characters of
// [.A-Z:/a-z0-9_-].
func clientIDOK(s string) bool {
	if len(s) > 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == ':' || c == '/' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// spec converts a request to an OrderSpec; errors name the field and value.
func (v *Venue) spec(req exchange.OrderRequest) (OrderSpec, error) {
	var errs []error
	if err := v.checkSymbol(req.Symbol); err != nil {
		errs = append(errs, fmt.Errorf("sim: order: %w: %w", err, exchange.ErrInvalidOrder))
	}
	if !clientIDOK(req.ClientOrderID) {
		errs = append(errs, &exchange.RuleError{Symbol: v.rules.Symbol, Field: "clientOrderId", Value: strconv.Quote(req.ClientOrderID), Reason: "must be at most 36 characters of [.A-Z:/a-z0-9_-]"})
	}
	spec := OrderSpec{Side: req.Side, PositionSide: req.PositionSide, ReduceOnly: req.ReduceOnly}
	switch req.Type {
	case exchange.Market:
		spec.Market = true
	case exchange.Limit:
		switch req.TimeInForce {
		case exchange.GTC, exchange.IOC:
		case exchange.PostOnly:
			spec.PostOnly = true
		default:
			errs = append(errs, &exchange.RuleError{Symbol: v.rules.Symbol, Field: "timeInForce", Value: req.TimeInForce.String(), Reason: "is not supported"})
		}
		if !req.Price.IsPositive() {
			errs = append(errs, &exchange.RuleError{Symbol: v.rules.Symbol, Field: "price", Value: req.Price.String(), Reason: "must be positive"})
		} else if p, err := v.rules.PriceToTicks(req.Price); err != nil {
			errs = append(errs, err)
		} else {
			spec.Price = p
		}
	default:
		errs = append(errs, &exchange.RuleError{Symbol: v.rules.Symbol, Field: "type", Value: req.Type.String(), Reason: "is not supported"})
	}
	if !req.Quantity.IsPositive() {
		errs = append(errs, &exchange.RuleError{Symbol: v.rules.Symbol, Field: "quantity", Value: req.Quantity.String(), Reason: "must be positive"})
	} else if q, err := v.rules.QtyToSteps(req.Quantity); err != nil {
		errs = append(errs, err)
	} else {
		spec.Qty = q
	}
	return spec, errors.Join(errs...)
}

// CancelOrder cancels a live order by OrderID, or by ClientOrderID when
// OrderID is empty. An unknown or closed order fails with
// exchange.ErrOrderNotFound. It returns the canceled order.
func (v *Venue) CancelOrder(ctx context.Context, req exchange.CancelRequest) (exchange.Order, error) {
	if err := v.begin(ctx); err != nil {
		return exchange.Order{}, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.cancelLocked(req)
}

func (v *Venue) cancelLocked(req exchange.CancelRequest) (exchange.Order, error) {
	if v.closed {
		return exchange.Order{}, exchange.ErrClosed
	}
	if err := v.checkSymbol(req.Symbol); err != nil {
		return exchange.Order{}, fmt.Errorf("sim: cancel: %w", err)
	}
	now := v.clock()
	vo := v.find(req)
	if vo == nil || !vo.ord.Status.Live() {
		return exchange.Order{}, fmt.Errorf("sim: cancel order id %q client id %q: %w", req.OrderID, req.ClientOrderID, exchange.ErrOrderNotFound)
	}
	fault := v.faults.request(opCancel, now)
	if fault.err != nil && !fault.afterEffect {
		return exchange.Order{}, fault.err
	}
	id, _ := strconv.ParseUint(vo.ord.OrderID, 10, 64)
	if err := v.core.Cancel(now, id); err != nil {
		return exchange.Order{}, err
	}
	v.drain(now)
	if fault.err != nil {
		return exchange.Order{}, fault.err
	}
	return vo.ord, nil
}

func (v *Venue) find(req exchange.CancelRequest) *venueOrder {
	if req.OrderID != "" {
		id, err := strconv.ParseUint(req.OrderID, 10, 64)
		if err != nil {
			return nil
		}
		return v.orders[id]
	}
	if req.ClientOrderID == "" {
		return nil
	}
	return v.byClient[req.ClientOrderID]
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

// MaxBatch is the largest batch PlaceOrders and CancelOrders take: 5, as Binance.
func (v *Venue) MaxBatch() int { return 5 }

// PlaceOrders places up to MaxBatch orders in one request, in order, and
// returns one result per request. A batch that is empty or too large fails
// as a whole with exchange.ErrInvalidOrder.
func (v *Venue) PlaceOrders(ctx context.Context, reqs []exchange.OrderRequest) ([]exchange.BatchResult, error) {
	return batch(v, ctx, "orders", reqs, v.placeLocked)
}

// CancelOrders cancels up to MaxBatch orders in one request and returns one
// result per request. A batch that is empty or too large fails as a whole
// with exchange.ErrInvalidOrder.
func (v *Venue) CancelOrders(ctx context.Context, reqs []exchange.CancelRequest) ([]exchange.BatchResult, error) {
	return batch(v, ctx, "cancels", reqs, v.cancelLocked)
}

// batch runs one request of up to MaxBatch items under the venue's lock,
// one result per item; an empty or too large batch fails as a whole.
func batch[R any](v *Venue, ctx context.Context, what string, reqs []R, one func(R) (exchange.Order, error)) ([]exchange.BatchResult, error) {
	if len(reqs) == 0 || len(reqs) > v.MaxBatch() {
		return nil, fmt.Errorf("sim: batch of %d %s (1 to %d): %w", len(reqs), what, v.MaxBatch(), exchange.ErrInvalidOrder)
	}
	if err := v.begin(ctx); err != nil {
		return nil, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]exchange.BatchResult, len(reqs))
	for i, r := range reqs {
		out[i].Order, out[i].Err = one(r)
	}
	return out, nil
}

// CancelAllOrders cancels every live order of the symbol.
func (v *Venue) CancelAllOrders(ctx context.Context, symbol string) error {
	if err := v.checkSymbol(symbol); err != nil {
		return err
	}
	if err := v.begin(ctx); err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return exchange.ErrClosed
	}
	now := v.clock()
	for _, o := range v.core.OpenOrders() {
		if err := v.core.Cancel(now, o.ID); err != nil {
			return err
		}
	}
	v.drain(now)
	return nil
}

// drain turns the core's events into order states, fills and user events.
// Called with v.mu held.
func (v *Venue) drain(now time.Time) {
	account := ""
	evs := v.core.Events()
	liquidation := slices.ContainsFunc(evs, func(e Event) bool { return e.Kind == EventLiquidation })
	for _, e := range evs {
		switch e.Kind {
		case EventFill, EventLiquidation:
			vo := v.orders[e.OrderID]
			if vo == nil { // a liquidation order
				vo = v.liquidationOrder(e)
			}
			v.applyFill(vo, e)
			if account == "" {
				account = "ORDER"
			}
			if e.Kind == EventLiquidation {
				account = "LIQUIDATION"
				v.log.Warn("sim: liquidation", "side", e.Side, "positionSide", e.PositionSide, "price", v.rules.TicksToPrice(e.Price), "qty", v.rules.StepsToQty(e.Qty))
			}
		case EventCanceled, EventExpired:
			vo := v.orders[e.OrderID]
			if vo == nil {
				continue
			}
			vo.ord.Status = exchange.StatusCanceled
			if e.Kind == EventExpired || vo.ioc {
				vo.ord.Status = exchange.StatusExpired
			}
			if liquidation && e.Kind == EventCanceled {
				vo.reason = "LIQUIDATION"
			}
			vo.ord.UpdateTime = e.Time
			v.sendOrder(vo, e.Time, nil)
			v.closeOrder(e.OrderID)
		case EventFunding:
			account = "FUNDING_FEE"
		}
	}
	if account != "" {
		v.sendUser(exchange.UserEvent{Kind: exchange.EventAccount, Time: now, Reason: account,
			Balances: v.accountLocked().Balances, Positions: v.positionsLocked()})
	}
}

func (v *Venue) liquidationOrder(e Event) *venueOrder {
	id := strconv.FormatUint(e.OrderID, 10)
	vo := &venueOrder{ord: exchange.Order{
		Symbol: v.rules.Symbol, OrderID: id, ClientOrderID: "autoclose-" + id, Side: e.Side, PositionSide: e.PositionSide,
		Type: exchange.Market, Price: decimal.Zero, Quantity: v.rules.StepsToQty(e.OrderQty),
		FilledQty: decimal.Zero, AvgPrice: decimal.Zero, Status: exchange.StatusNew, ReduceOnly: true, UpdateTime: e.Time,
	}, reason: "LIQUIDATION"}
	v.orders[e.OrderID] = vo
	v.byClient[vo.ord.ClientOrderID] = vo
	return vo
}

func (v *Venue) applyFill(vo *venueOrder, e Event) {
	r := v.rules
	v.tradeSeq++
	kind := exchange.ExecNormal
	if e.Kind == EventLiquidation {
		kind = exchange.ExecLiquidation
	}
	vo.filled = e.CumQty
	vo.notional += exchange.Notional(e.Price, e.Qty)
	vo.ord.FilledQty = r.StepsToQty(e.CumQty)
	vo.ord.AvgPrice = r.MoneyToDecimal(vo.notional).Div(vo.ord.FilledQty)
	vo.ord.Status = exchange.StatusPartiallyFilled
	if e.CumQty == e.OrderQty {
		vo.ord.Status = exchange.StatusFilled
	}
	vo.ord.UpdateTime = e.Time
	f := exchange.Fill{
		Symbol: r.Symbol, OrderID: vo.ord.OrderID, ClientOrderID: vo.ord.ClientOrderID,
		TradeID: strconv.FormatUint(v.tradeSeq, 10), Side: e.Side, PositionSide: e.PositionSide,
		Price: r.TicksToPrice(e.Price), Quantity: r.StepsToQty(e.Qty), Fee: r.MoneyToDecimal(e.Fee), FeeAsset: v.asset,
		Maker: e.Maker, RealizedPnL: r.MoneyToDecimal(e.RealizedPnL), Kind: kind, Time: e.Time,
	}
	if len(v.fills) >= v.maxFills {
		n := copy(v.fills, v.fills[len(v.fills)-v.maxFills+1:])
		v.fills = v.fills[:n]
	}
	v.fills = append(v.fills, f)
	v.sendOrder(vo, e.Time, &f)
	if vo.ord.Status == exchange.StatusFilled {
		v.closeOrder(e.OrderID)
	}
}

// closeOrder remembers a closed order and forgets the oldest beyond ClosedOrders.
func (v *Venue) closeOrder(id uint64) {
	v.closedIDs = append(v.closedIDs, id)
	for len(v.closedIDs) > v.maxClosed {
		old := v.closedIDs[0]
		v.closedIDs = v.closedIDs[1:]
		if vo := v.orders[old]; vo != nil {
			if v.byClient[vo.ord.ClientOrderID] == vo {
				delete(v.byClient, vo.ord.ClientOrderID)
			}
			delete(v.orders, old)
		}
	}
}

// sendOrder publishes the order's current state (with the fill, if any).
func (v *Venue) sendOrder(vo *venueOrder, now time.Time, f *exchange.Fill) {
	o := vo.ord
	u := exchange.OrderUpdate{
		Symbol: o.Symbol, OrderID: o.OrderID, ClientOrderID: o.ClientOrderID, Side: o.Side, PositionSide: o.PositionSide,
		Status: o.Status, Price: o.Price, Quantity: o.Quantity, FilledQty: o.FilledQty, AvgPrice: o.AvgPrice,
		LastFillQty: decimal.Zero, LastFillPrice: decimal.Zero, Fee: decimal.Zero,
		ReduceOnly: o.ReduceOnly, Reason: vo.reason, Time: now,
	}
	if f != nil {
		u.LastFillQty, u.LastFillPrice, u.Fee, u.FeeAsset = f.Quantity, f.Price, f.Fee, f.FeeAsset
		u.Maker, u.TradeID, u.Kind = f.Maker, f.TradeID, f.Kind
	}
	if o.Status == exchange.StatusExpired && u.Reason == "" {
		u.Reason = "EXPIRED"
		if vo.ioc {
			u.Reason = "IOC"
		} else if o.ReduceOnly || closingSide(o.Side, o.PositionSide) {
			u.Reason = "REDUCE_ONLY"
		}
	}
	v.sendUser(exchange.UserEvent{Kind: exchange.EventOrder, Time: now, Order: u})
}

func closingSide(side exchange.Side, ps exchange.PositionSide) bool {
	return (ps == exchange.PositionLong && side == exchange.Sell) || (ps == exchange.PositionShort && side == exchange.Buy)
}

// sendUser passes a user event through the fault injector to every subscriber.
func (v *Venue) sendUser(e exchange.UserEvent) {
	if v.faults != nil {
		v.faults.stream(v, e)
		return
	}
	v.fanOut(e)
}

func (v *Venue) fanOut(e exchange.UserEvent) {
	for s := range v.userSubs {
		s.push(e)
	}
}
