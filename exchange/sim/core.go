package sim

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
)

// Sentinel errors of the simulator, matched with errors.Is.
var (
	// ErrInvalidConfig: a CoreConfig or VenueConfig field is not acceptable.
	// Each joined error names the field and the value.
	ErrInvalidConfig = errors.New("sim: invalid config")
	// ErrNoPrice: an order was placed before the first [Core.Tick], so the
	// core cannot tell whether it crosses.
	ErrNoPrice = errors.New("sim: no price yet")
)

// CoreConfig configures a [Core]. Start from [DefaultCoreConfig]. The zero
// value is not valid (it has no Rules and no Leverage). It is a plain value.
type CoreConfig struct {
	Rules           exchange.Rules
	MakerFee        exchange.Rate // e.g. 20_000 = 0.02 % (negative = rebate)
	TakerFee        exchange.Rate // e.g. 50_000 = 0.05 %
	Leverage        int64         // ≥ 1
	MaintenanceRate exchange.Rate // maintenance margin rate, e.g. 400_000 = 0.4 %
	InitialBalance  exchange.Money
	PositionMode    exchange.PositionMode // OneWay or Hedge
	// TradeThrough is pessimistic matching: a resting order fills only when
	// the price trades at least one tick through it.
	TradeThrough bool
	// PartialFill 0: a touched order fills completely; > 0: at most this
	// many steps fill per touching tick.
	PartialFill exchange.Steps
	// CheckMargin rejects new non-reduce-only orders whose initial margin
	// exceeds the available balance (exchange.ErrInsufficientMargin).
	CheckMargin bool
	// MarginMode is Cross (the zero value: one wallet backs every position,
	// a liquidation closes them all and the wallet ends at zero) or
	// Isolated (each position side is backed by its own margin and a
	// liquidation loses exactly that margin).
	MarginMode exchange.MarginMode
	// Brackets are the symbol's maintenance-margin tiers by notional, as
	// the venue lists them. Empty: one tier at MaintenanceRate for every
	// notional.
	Brackets []Bracket
	// SlippageTicks and SlippageRate move the fill price of a taker order
	// (a market order, or a limit crossing at placement) against it by
	// SlippageTicks + ⌈price × SlippageRate⌉ ticks, never beyond a limit's
	// price. Zero: taker orders fill at the current price.
	SlippageTicks exchange.Ticks
	SlippageRate  exchange.Rate
	// PostOnlyCancelLater models venues that refuse a crossing post-only
	// limit after accepting it (Bitget): Place returns an id and the order
	// ends at once with an EventCanceled, nothing filled, instead of the
	// exchange.ErrPostOnlyRejected error (Binance -5022, the default).
	PostOnlyCancelLater bool
}

// DefaultCoreConfig returns Binance USDⓈ-M defaults for the rules: maker fee
// 0.02 %, taker fee 0.05 %, leverage 1, maintenance margin rate 0.4 %,
// one-way mode, margin not checked, an initial balance of 0.
func DefaultCoreConfig(rules exchange.Rules) CoreConfig {
	return CoreConfig{
		Rules:           rules,
		MakerFee:        20_000,
		TakerFee:        50_000,
		Leverage:        1,
		MaintenanceRate: 400_000,
		PositionMode:    exchange.OneWay,
	}
}

// Validate reports every problem of the config at once, each naming the
// field and its value; every error matches [ErrInvalidConfig].
func (cfg CoreConfig) Validate() error {
	var errs []error
	bad := func(field string, v any, reason string) {
		errs = append(errs, fmt.Errorf("%w: CoreConfig.%s = %v: %s", ErrInvalidConfig, field, v, reason))
	}
	if err := cfg.Rules.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("%w: CoreConfig.Rules: %w", ErrInvalidConfig, err))
	} else {
		if _, err := cfg.Rules.TickParser(); err != nil {
			errs = append(errs, fmt.Errorf("%w: CoreConfig.Rules.TickSize: %w", ErrInvalidConfig, err))
		}
		if _, err := cfg.Rules.StepParser(); err != nil {
			errs = append(errs, fmt.Errorf("%w: CoreConfig.Rules.StepSize: %w", ErrInvalidConfig, err))
		}
	}
	if cfg.MakerFee < -exchange.RateScale || cfg.MakerFee > exchange.RateScale {
		bad("MakerFee", int64(cfg.MakerFee), "must lie within ±100 % (±100_000_000)")
	}
	if cfg.TakerFee < -exchange.RateScale || cfg.TakerFee > exchange.RateScale {
		bad("TakerFee", int64(cfg.TakerFee), "must lie within ±100 % (±100_000_000)")
	}
	if cfg.Leverage < 1 {
		bad("Leverage", cfg.Leverage, "must be at least 1")
	}
	if cfg.MaintenanceRate < 0 || cfg.MaintenanceRate >= exchange.RateScale {
		bad("MaintenanceRate", int64(cfg.MaintenanceRate), "must lie in [0, 100 %)")
	}
	if cfg.InitialBalance < 0 {
		bad("InitialBalance", int64(cfg.InitialBalance), "must not be negative")
	}
	if cfg.PositionMode != exchange.OneWay && cfg.PositionMode != exchange.Hedge {
		bad("PositionMode", int(cfg.PositionMode), "must be OneWay or Hedge")
	}
	if cfg.PartialFill < 0 {
		bad("PartialFill", int64(cfg.PartialFill), "must not be negative")
	}
	if cfg.MarginMode != exchange.Cross && cfg.MarginMode != exchange.Isolated {
		bad("MarginMode", int(cfg.MarginMode), "must be Cross or Isolated")
	}
	validateBrackets(cfg.Brackets, bad)
	if cfg.SlippageTicks < 0 {
		bad("SlippageTicks", int64(cfg.SlippageTicks), "must not be negative")
	}
	if cfg.SlippageRate < 0 || cfg.SlippageRate >= exchange.RateScale {
		bad("SlippageRate", int64(cfg.SlippageRate), "must lie in [0, 100 %)")
	}
	return errors.Join(errs...)
}

// Core is the deterministic simulated venue: one symbol, one account,
// integer prices (ticks), quantities (steps) and money. The caller drives
// it with [Core.Tick] (market prices along a continuous path),
// [Core.Place], [Core.Cancel] and [Core.ApplyFunding], each stamped with
// the caller's time, and drains the outcomes with [Core.Events]. The same
// inputs always give the same events.
//
// Create one with [NewCore]; the zero value is not usable. A Core is not
// safe for concurrent use: one goroutine owns it ([Venue] wraps one behind
// a mutex).
type Core struct {
	cfg         CoreConfig
	tt          exchange.Ticks // 1 with TradeThrough, else 0
	minQty      exchange.Steps
	minNotional exchange.Money

	now      time.Time
	price    exchange.Ticks
	hasPrice bool

	// The quiet-tick test: a Tick to p with lowGuard < p < highGuard
	// touches no order and cannot liquidate.
	lowGuard, highGuard exchange.Ticks

	bids   []order // resting buys, price descending, then placement order
	asks   []order // resting sells, price ascending, then placement order
	nextID uint64

	pos    [3]position // indexed by exchange.PositionSide
	wallet exchange.Money

	// [safeLo, safeHi] is a price interval (positive prices) where the
	// current positions and wallet cannot be liquidated. Empty when
	// safeLo > safeHi. bandDirty means positions or wallet changed since.
	safeLo, safeHi exchange.Ticks
	bandDirty      bool
	bandInexact    bool // the positions were too large for computeBand's bound

	lines []line // maintenance tiers as lines
	unit  decimal.Decimal
	// exact totals of fees and funding, and the exact adjustments of
	// liquidations; the wallet books them in whole Money (see [charge])
	fees, funding, adjust fine

	ev      [2][]Event
	cur     int
	stats   CoreStats
	scratch []order
}

type order struct {
	id         uint64
	tag        uint64
	price      exchange.Ticks
	qty        exchange.Steps
	filled     exchange.Steps
	side       exchange.Side
	ps         exchange.PositionSide
	postOnly   bool
	reduceOnly bool // as requested
	closing    bool // reduce-only, or a hedge-mode closing order: never opens
}

type position struct {
	qty    exchange.Steps // signed
	cost   exchange.Money // signed: Σ entry price × qty of the open part
	margin exchange.Money // initial margin of the open part (what isolated margin can lose)
}

// NewCore validates cfg and returns a core with no price, no orders, no
// position and InitialBalance in the wallet. Every problem of cfg is
// reported at once (errors.Join), each naming the field and the value.
func NewCore(cfg CoreConfig) (*Core, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Core{
		cfg:         cfg,
		minQty:      cfg.Rules.MinQtySteps(),
		minNotional: cfg.Rules.MinNotionalMoney(),
		wallet:      cfg.InitialBalance,
		lowGuard:    math.MaxInt64,
		highGuard:   math.MinInt64,
		bids:        make([]order, 0, 64),
		asks:        make([]order, 0, 64),
		scratch:     make([]order, 0, 128),
		safeLo:      math.MinInt64,
		safeHi:      math.MaxInt64,
		lines:       linesOf(cfg),
		unit:        cfg.Rules.MoneyUnit(),
	}
	cfg.Brackets = slices.Clone(cfg.Brackets)
	c.cfg = cfg
	if cfg.TradeThrough {
		c.tt = 1
	}
	c.ev[0] = make([]Event, 0, 64)
	c.ev[1] = make([]Event, 0, 64)
	return c, nil
}

// Config returns the configuration the core was built with.
func (c *Core) Config() CoreConfig { return c.cfg }

// Now returns the time of the latest accepted input (Tick, Place, Cancel or
// ApplyFunding); the zero time before any.
func (c *Core) Now() time.Time { return c.now }

// Price returns the latest market price, 0 before the first Tick.
func (c *Core) Price() exchange.Ticks { return c.price }

// HasPrice reports whether a Tick has set a price.
func (c *Core) HasPrice() bool { return c.hasPrice }

// Events drains the events produced since the previous call, in order. It
// is double-buffered: the returned slice stays valid, and is not appended
// to, until the next call to Events, even while the caller places or
// cancels orders in reaction to it (those new events go to the other
// buffer). The caller must not keep it longer, and should drain regularly:
// undrained events accumulate.
func (c *Core) Events() []Event {
	out := c.ev[c.cur]
	c.cur ^= 1
	c.ev[c.cur] = c.ev[c.cur][:0]
	return out[:len(out):len(out)]
}

// Pending is the number of events waiting for the next [Core.Events], so a
// caller can skip draining when there is nothing to drain.
func (c *Core) Pending() int { return len(c.ev[c.cur]) }

func (c *Core) emit(e Event) { c.ev[c.cur] = append(c.ev[c.cur], e) }

// Stats returns the running totals.
func (c *Core) Stats() CoreStats { return c.stats }

// Place submits an order at time now and returns its id (ids count up from
// 1 and are never reused). Before the first [Core.Tick] there is no price to
// tell whether the order crosses, so Place fails with [ErrNoPrice].
//
// A market order, or a limit that crosses the current price (a buy at or
// above it, a sell at or below it), fills at once and completely as taker
// at the current price (never worse than its limit) and does not rest; a
// crossing PostOnly limit is rejected with exchange.ErrPostOnlyRejected
// (or, with CoreConfig.PostOnlyCancelLater, accepted and ended at once by
// an EventCanceled with nothing filled). Any other limit rests until the
// price reaches it, cancel or liquidation.
//
// Every field is checked: a bad one gives an error naming it and its value
// (matching exchange.ErrInvalidOrder, exchange.ErrPositionMode,
// exchange.ErrReduceOnlyRejected or exchange.ErrInsufficientMargin), and a
// rejected order leaves no trace: no id, no event, no state change.
func (c *Core) Place(now time.Time, o OrderSpec) (uint64, error) {
	if err := c.check(o); err != nil {
		return 0, err
	}
	crossing := o.Market || (o.Side == exchange.Buy && o.Price >= c.price) || (o.Side == exchange.Sell && o.Price <= c.price)
	if crossing && o.PostOnly {
		if c.cfg.PostOnlyCancelLater {
			return c.placeCanceled(now, o), nil
		}
		return 0, fmt.Errorf("sim: post-only %s at %d ticks crosses the price %d: %w", o.Side, o.Price, c.price, exchange.ErrPostOnlyRejected)
	}
	closing := o.ReduceOnly || c.closes(o.Side, o.PositionSide)
	if closing && c.reducible(o.Side, o.PositionSide) <= 0 {
		return 0, fmt.Errorf("sim: %s %s order of %d steps would not reduce the %s position %d: %w",
			o.Side, o.PositionSide, o.Qty, o.PositionSide, c.pos[o.PositionSide].qty, exchange.ErrReduceOnlyRejected)
	}
	px := o.Price
	if crossing {
		px = c.takerPrice(o.Side, o.Price, o.Market)
	}
	if c.cfg.CheckMargin && !closing {
		need := ceilDiv(int64(exchange.Notional(px, o.Qty)), c.cfg.Leverage)
		if avail := c.Available(); int64(need) > int64(avail) {
			m := c.cfg.Rules.MoneyToDecimal
			return 0, fmt.Errorf("sim: %s of %s at %s needs initial margin %s, available %s: %w", o.Side,
				c.cfg.Rules.StepsToQty(o.Qty), c.cfg.Rules.TicksToPrice(px), m(need), m(avail), exchange.ErrInsufficientMargin)
		}
	}
	c.now = now
	c.nextID++
	c.stats.Orders++
	ord := order{
		id: c.nextID, tag: o.Tag, price: o.Price, qty: o.Qty, side: o.Side, ps: o.PositionSide,
		postOnly: o.PostOnly, reduceOnly: o.ReduceOnly, closing: closing,
	}
	if o.Market {
		ord.price = px
	}
	if crossing {
		q := ord.qty
		if closing {
			q = min(q, c.reducible(ord.side, ord.ps))
		}
		if px != c.price {
			c.stats.Slippage += exchange.Notional(max(px-c.price, c.price-px), q)
		}
		c.fill(EventFill, &ord, q, px, false)
		if ord.filled < ord.qty {
			c.remove(EventExpired, &ord)
		}
	} else {
		c.insert(ord)
	}
	c.recomputeGuards()
	return ord.id, nil
}

// check validates an order spec against the mode, the rules and the price.
// It allocates only when it fails.
func (c *Core) check(o OrderSpec) error {
	if !c.hasPrice {
		return fmt.Errorf("sim: place before the first tick: %w", ErrNoPrice)
	}
	var errs []error
	if o.Side != exchange.Buy && o.Side != exchange.Sell {
		errs = append(errs, specErr("Side", o.Side.String(), "must be Buy or Sell", exchange.ErrInvalidOrder))
	}
	if o.Qty <= 0 {
		errs = append(errs, specErr("Qty", fmt.Sprint(int64(o.Qty)), "must be positive", exchange.ErrInvalidOrder))
	}
	if !o.Market && o.Price <= 0 {
		errs = append(errs, specErr("Price", fmt.Sprint(int64(o.Price)), "must be positive for a limit order", exchange.ErrInvalidOrder))
	}
	if o.Market && o.PostOnly {
		errs = append(errs, specErr("PostOnly", "true", "is not allowed on a market order", exchange.ErrInvalidOrder))
	}
	switch c.cfg.PositionMode {
	case exchange.Hedge:
		if o.PositionSide != exchange.PositionLong && o.PositionSide != exchange.PositionShort {
			errs = append(errs, specErr("PositionSide", o.PositionSide.String(), "must be LONG or SHORT in hedge mode", exchange.ErrPositionMode))
		}
		if o.ReduceOnly {
			errs = append(errs, specErr("ReduceOnly", "true", "is not allowed in hedge mode (closing orders reduce by themselves)", exchange.ErrPositionMode))
		}
	default:
		if o.PositionSide != exchange.PositionBoth {
			errs = append(errs, specErr("PositionSide", o.PositionSide.String(), "must be BOTH in one-way mode", exchange.ErrPositionMode))
		}
	}
	if len(errs) == 0 {
		px := o.Price
		if o.Market {
			px = c.price
		}
		// the highest price it can fill at: a crossing sell fills at the
		// current price, above its limit
		top := px
		if o.Side == exchange.Sell {
			top = max(px, c.price)
		}
		if n, err := exchange.CheckedNotional(max(top, 0), o.Qty); err != nil || n > exchange.MaxNotional {
			return specErr("Qty", fmt.Sprint(int64(o.Qty)), fmt.Sprintf("at price %d ticks is a notional beyond %d Money units", top, int64(exchange.MaxNotional)), exchange.ErrInvalidOrder)
		}
		if o.Qty < c.minQty || exchange.Notional(px, o.Qty) < c.minNotional {
			if err := c.cfg.Rules.CheckTicks(px, o.Qty); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// SpecError reports an [OrderSpec] field that is not acceptable. It names
// the field and the value, and unwraps to the exchange sentinel callers
// branch on (exchange.ErrInvalidOrder or exchange.ErrPositionMode). The
// zero value is not meaningful; a SpecError is immutable once returned.
type SpecError struct {
	Field  string
	Value  string
	Reason string
	Err    error
}

func specErr(field, value, reason string, err error) error {
	return &SpecError{Field: field, Value: value, Reason: reason, Err: err}
}

// Error names the field, the value and the reason.
func (e *SpecError) Error() string {
	return "sim: OrderSpec." + e.Field + " " + e.Value + " " + e.Reason + ": " + e.Err.Error()
}

// Unwrap returns the exchange sentinel.
func (e *SpecError) Unwrap() error { return e.Err }

// Cancel cancels the live order id at time now and emits EventCanceled. It
// fails with exchange.ErrOrderNotFound when no live order has that id.
func (c *Core) Cancel(now time.Time, id uint64) error {
	book := &c.bids
	i := indexOf(*book, id)
	if i < 0 {
		book = &c.asks
		i = indexOf(*book, id)
	}
	if i < 0 {
		return fmt.Errorf("sim: cancel order %d: %w", id, exchange.ErrOrderNotFound)
	}
	c.now = now
	o := (*book)[i]
	*book = slices.Delete(*book, i, i+1)
	c.remove(EventCanceled, &o)
	c.recomputeGuards()
	return nil
}

func indexOf(book []order, id uint64) int {
	for i := range book {
		if book[i].id == id {
			return i
		}
	}
	return -1
}

// remove emits the end of an order that is not (or no longer) in the book.
func (c *Core) remove(kind EventKind, o *order) {
	if kind == EventCanceled {
		c.stats.Canceled++
	} else {
		c.stats.Expired++
	}
	c.emit(Event{
		Kind: kind, Time: c.now, OrderID: o.id, Tag: o.tag, Side: o.side, PositionSide: o.ps,
		Price: o.price, Qty: o.qty - o.filled, CumQty: o.filled, OrderQty: o.qty,
	})
}

// insert adds a resting order behind every order of the same price.
func (c *Core) insert(o order) {
	if o.side == exchange.Buy {
		i := 0
		for i < len(c.bids) && c.bids[i].price >= o.price {
			i++
		}
		c.bids = slices.Insert(c.bids, i, o)
		return
	}
	i := 0
	for i < len(c.asks) && c.asks[i].price <= o.price {
		i++
	}
	c.asks = slices.Insert(c.asks, i, o)
}

// OpenOrders returns the live orders in id (placement) order.
func (c *Core) OpenOrders() []OrderView {
	return c.AppendOpenOrders(make([]OrderView, 0, len(c.bids)+len(c.asks)))
}

// AppendOpenOrders appends the live orders in id order to dst and returns it.
func (c *Core) AppendOpenOrders(dst []OrderView) []OrderView {
	n := len(dst)
	for i := range c.bids {
		dst = append(dst, c.bids[i].view())
	}
	for i := range c.asks {
		dst = append(dst, c.asks[i].view())
	}
	slices.SortFunc(dst[n:], func(a, b OrderView) int { return cmpID(a.ID, b.ID) })
	return dst
}

func cmpID(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Order returns the live order id. Closed orders are not kept: their end is
// reported by events.
func (c *Core) Order(id uint64) (OrderView, bool) {
	if i := indexOf(c.bids, id); i >= 0 {
		return c.bids[i].view(), true
	}
	if i := indexOf(c.asks, id); i >= 0 {
		return c.asks[i].view(), true
	}
	return OrderView{}, false
}

func (o *order) view() OrderView {
	st := exchange.StatusNew
	if o.filled > 0 {
		st = exchange.StatusPartiallyFilled
	}
	return OrderView{
		ID: o.id, Tag: o.tag, Side: o.side, PositionSide: o.ps, Price: o.price, Qty: o.qty,
		Filled: o.filled, Status: st, PostOnly: o.postOnly, ReduceOnly: o.reduceOnly,
	}
}

// Tick moves the market at time now from the previous price to price along
// a continuous path, fills the resting orders the path reaches, then checks
// for liquidation at price. The first Tick only sets the price.
//
// A resting buy at b fills at b as maker when the path reaches b (a price
// ≤ b; with TradeThrough, < b); a sell mirrors it. Within one Tick orders
// fill in path order: on a fall the highest buy first, on a rise the lowest
// sell first, ties in placement order. Orders the previous price already
// reached (left resting by PartialFill) are at the start of the path and
// fill first. When no resting order lies on the path and no liquidation is
// possible, Tick is two comparisons.
func (c *Core) Tick(now time.Time, price exchange.Ticks) {
	c.now = now
	if price > c.lowGuard && price < c.highGuard {
		c.price = price
		return
	}
	c.tickSlow(price)
}

func (c *Core) tickSlow(p exchange.Ticks) {
	if !c.hasPrice {
		c.hasPrice = true
		c.price = p
		c.recomputeGuards()
		return
	}
	prev := c.price
	c.price = p
	if p < prev {
		c.matchAsks(prev)
		c.matchBids(p)
	} else {
		c.matchBids(prev)
		c.matchAsks(p)
	}
	c.checkLiquidation(p)
	c.recomputeGuards()
}

// matchBids fills every buy the path down to lo reaches, highest first.
func (c *Core) matchBids(lo exchange.Ticks) {
	n := 0
	for n < len(c.bids) && c.bids[n].price-c.tt >= lo {
		n++
	}
	if n == 0 {
		return
	}
	c.bids = c.matchTouched(c.bids, n)
}

// matchAsks fills every sell the path up to hi reaches, lowest first.
func (c *Core) matchAsks(hi exchange.Ticks) {
	n := 0
	for n < len(c.asks) && c.asks[n].price+c.tt <= hi {
		n++
	}
	if n == 0 {
		return
	}
	c.asks = c.matchTouched(c.asks, n)
}

// matchTouched fills book[:n] in order and drops the orders that closed.
func (c *Core) matchTouched(book []order, n int) []order {
	j := 0
	for i := 0; i < n; i++ {
		if !c.fillResting(&book[i]) {
			book[j] = book[i]
			j++
		}
	}
	if j == n {
		return book
	}
	k := copy(book[j:], book[n:])
	return book[:j+k]
}

// fillResting fills a touched resting order as maker and reports whether
// it closed (filled, or its rest expired).
func (c *Core) fillResting(o *order) bool {
	want := o.qty - o.filled
	if c.cfg.PartialFill > 0 && want > c.cfg.PartialFill {
		want = c.cfg.PartialFill
	}
	clipped := false
	if o.closing {
		r := c.reducible(o.side, o.ps)
		if r <= 0 {
			c.remove(EventExpired, o)
			return true
		}
		if want > r {
			want, clipped = r, true
		}
	}
	c.fill(EventFill, o, want, o.price, true)
	if o.filled == o.qty {
		return true
	}
	if clipped {
		c.remove(EventExpired, o)
		return true
	}
	return false
}

// recomputeGuards sets the quiet-tick interval from the best resting
// prices and the liquidation band.
func (c *Core) recomputeGuards() {
	lo, hi := exchange.Ticks(math.MinInt64), exchange.Ticks(math.MaxInt64)
	if len(c.bids) > 0 {
		lo = c.bids[0].price - c.tt
	}
	if len(c.asks) > 0 {
		hi = c.asks[0].price + c.tt
	}
	if !c.hasPrice || c.price <= lo || c.price >= hi {
		// orders already reached (partial fills) or no price: every tick is slow
		c.lowGuard, c.highGuard = math.MaxInt64, math.MinInt64
		return
	}
	if c.bandDirty {
		c.computeBand()
	}
	if c.safeLo > c.safeHi {
		c.lowGuard, c.highGuard = math.MaxInt64, math.MinInt64
		return
	}
	if c.safeLo != math.MinInt64 {
		lo = max(lo, c.safeLo-1)
	}
	if c.safeHi != math.MaxInt64 {
		hi = min(hi, c.safeHi+1)
	}
	c.lowGuard, c.highGuard = lo, hi
}
