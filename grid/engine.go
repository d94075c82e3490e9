package grid

import (
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/risk"
	"github.com/gridmesh/gridmesh/slot"
)

// Engine is a grid: the slots of every level and the rules that move them.
// It is a pure state machine: events and the time come in through its
// methods, and each method returns the intents (place, cancel, query) the
// host must carry out, in order. It starts no goroutine, reads no clock and
// does no I/O, so the same engine runs live (see [Runner]), in paper trading
// and in backtests, and a backtest replays to the last digit.
//
// The slice of intents a method returns is owned by the engine and valid
// until the next call on the engine; copy what you keep.
//
// Nothing is placed before [Engine.OnStreamReady] has been called and a
// price is known: a fill on a stream that is not yet listening would be
// lost. An Engine is not safe for concurrent use: one goroutine owns it.
type Engine struct {
	cfg   config
	rules exchange.Rules
	log   *slog.Logger
	obs   Observer
	lad   *ladder

	levels     []level
	base       int64 // level index of levels[0]
	minL, maxL int64 // level indices that may exist
	start      exchange.Ticks
	amount     exchange.Money // fixed-amount sizing, in money units
	fixedQty   exchange.Steps // fixed-quantity sizing
	minQty     exchange.Steps
	mktMax     exchange.Steps // the venue's market-order maximum (0: none known)
	limMax     exchange.Steps // the venue's limit-order maximum (0: none known)
	minNotion  exchange.Money
	mktMin     exchange.Steps // the venue's market-order minimum (0: none known)
	maxNotion  exchange.Money // the largest order a level may carry (see maxLevelNotional)
	longSlots  bool
	shortSlots bool
	reduceOnly bool

	// Where the price is: k is the highest level at or below it (minL-1
	// when below every level), on whether it sits exactly on level k. The
	// band is the range of prices that leaves both unchanged.
	price          exchange.Ticks
	havePrice      bool
	k              int64
	on             bool
	bandLo, bandHi exchange.Ticks
	belowEnd       bool // below a trailing geometric ladder's end (logged once per fall)

	ready, started bool
	paused, halted bool
	pauseCancels   bool         // some pause cancels entries
	pauses         []pauseEntry // who holds entries, and why (see PauseFor)
	sideHeld       [3]bool      // by exchange.Side: a one-sided pause holds the entries of that side (PauseSide)
	sideCancel     [3]bool      // by exchange.Side: … and cancels them
	refusal        string       // the last escalated refusal (see refused)
	sideRetryAt    [3]int64     // by exchange.Side: Unix ns before which the side places nothing
	haltReason     string
	needReconcile  bool

	initial   initialOrder
	layers    int            // slots not Free: the layer cap counts them
	recovered bool           // rebuilt from the venue: no initial position
	baseline  exchange.Steps // position found at start that the grid does not own
	drift     exchange.Steps // last reconciliation's unexplained position
	repairs   int

	guard *risk.Guard       // nil without monitors
	trend *risk.TrendFilter // nil without WithTrendFilter (trend.go)
	maker makerBooks        // maker-only re-pricing counts (reprice.go)

	cancelBudget int    // window cancels left (see WithCancelBudget)
	genFloor     uint32 // every generation of this run is above it (see generations.go)
	reserving    bool   // generation reservations are on (UseReservations)
	genLimit     uint32 // last confirmed reserved generation
	genAsked     uint32 // last generation asked for (≥ genLimit)
	genStalled   bool   // a slot waited for a generation past genLimit
	closing      closer // a hard stop's closing orders
	ctl          ctl    // the grid controls: trigger, stops, time limit (controls.go)

	bOffs, aOffs []int64 // window thresholds, as offsets (see edgeOffsets)
	offLo, offHi int64

	trades    map[string]struct{}         // trade IDs whose fees are booked (see fees.go)
	tradeRing []string                    // the same, oldest first, to forget the oldest
	feeless   map[OrderRef]exchange.Steps // quantity booked without its fee, by order
	unbooked  map[string]decimal.Decimal  // fees in another asset than the quote

	out   []Intent
	books Books
}

// New builds an engine for a symbol with the given options, validating all
// of them and every level against the symbol's rules and against what the
// engine's int64 books can hold exactly (a level's notional within
// [exchange.MaxNotional] and the grid's share of a quarter of the int64
// range, in units of TickSize × StepSize). All problems are
// reported at once (errors.Join), each naming the option or level and the
// values.
func New(rules exchange.Rules, opts ...Option) (*Engine, error) {
	c := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	if err := rules.Validate(); err != nil {
		c.errs = append(c.errs, fmt.Errorf("grid: rules: %w", err))
	}
	c.validate()
	if len(c.errs) > 0 {
		return nil, errors.Join(c.errs...)
	}
	e := &Engine{cfg: c, rules: rules, log: c.logger, obs: c.observer}
	if e.log == nil {
		e.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if e.obs == nil {
		e.obs = NopObserver{}
	}
	if len(c.monitors) > 0 {
		e.guard = risk.NewGuard(c.riskCooldown, c.monitors...)
	}
	var err error
	if e.start, err = rules.PriceToTicks(rules.RoundPrice(c.start)); err != nil {
		return nil, err
	}
	if e.lad, err = newLadder(&c, rules, e.start); err != nil {
		return nil, err
	}
	e.minQty, e.minNotion = rules.MinQtySteps(), rules.MinNotionalMoney()
	if lo, _ := rules.MarketQtyBounds(); lo.IsPositive() && rules.StepSize.IsPositive() {
		e.mktMin = exchange.Steps(lo.Div(rules.StepSize).Ceil().IntPart())
	}
	if _, hi := rules.MarketQtyBounds(); hi.IsPositive() {
		if e.mktMax, err = rules.QtyToSteps(rules.FloorQty(hi)); err != nil || e.mktMax <= 0 {
			return nil, fmt.Errorf("grid: rules: market maximum quantity %s: below the step size %s", hi, rules.StepSize)
		}
	}
	e.maxNotion = maxLevelNotional(&c)
	if !c.amount.IsZero() {
		if e.amount, err = rules.DecimalToMoney(c.amount); err != nil {
			return nil, err
		}
	} else if e.fixedQty, err = checkQuantity(rules, c.quantity); err != nil {
		return nil, err
	}
	if rules.MaxQty.IsPositive() {
		e.limMax, _ = rules.QtyToSteps(rules.FloorQty(rules.MaxQty))
	}
	e.longSlots = c.mode != Short
	e.shortSlots = c.mode != Long
	e.reduceOnly = c.posMode == exchange.OneWay && c.mode != Neutral && !c.shared
	e.edgeOffsets()
	e.cancelBudget = c.cancelBurst
	e.minL, e.maxL = e.lad.span()
	e.k = e.minL - 1 // below a bounded grid; a trailing grid's walk starts at its anchor
	if e.cfg.trailing {
		e.k = 0
	}
	e.bandLo, e.bandHi = 1, 0 // empty: the first price is never quiet
	if err := e.checkLevels(); err != nil {
		return nil, err
	}
	if err := e.initControls(); err != nil {
		return nil, err
	}
	if err := e.initTrend(); err != nil {
		return nil, err
	}
	return e, nil
}

// Rules returns the symbol's rules the engine was built with.
func (e *Engine) Rules() exchange.Rules { return e.rules }

// GridID returns the grid's ID.
func (e *Engine) GridID() string { return e.cfg.gridID }

// checkLevels makes the bounded grid's levels (or a trailing grid's first
// window down to its floor) and checks every one against the sizing rule
// and the symbol's rules.
func (e *Engine) checkLevels() error {
	var errs []error
	lo, hi := e.minL, e.maxL
	if !e.lad.bounded {
		w := int64(max(e.cfg.buyWindow, e.cfg.sellWindow) + e.cfg.hysteresis + 2)
		reach := int64(e.cfg.layerCap) + w
		lo, hi = max(e.minL, -reach), reach
		if !e.cfg.floor.IsZero() {
			floor, _ := e.rules.PriceToTicks(e.rules.RoundPrice(e.cfg.floor))
			for lo > e.minL {
				if p, ok := e.lad.price(lo - 1); !ok || p < floor {
					break
				}
				lo--
			}
		}
	}
	e.ensure(lo, hi)
	for i := lo; i <= hi; i++ {
		lv := e.lv(i)
		if lv.s.Kind != 0 && lv.bad != "" {
			if len(errs) < 20 {
				errs = append(errs, fmt.Errorf("grid: level %d at %s: %s", i, e.rules.TicksToPrice(lv.price), lv.bad))
			} else {
				errs = append(errs, fmt.Errorf("grid: and more levels like these"))
				break
			}
		}
	}
	return errors.Join(errs...)
}

// ensure makes storage for levels lo..hi (clamped to the ladder).
func (e *Engine) ensure(lo, hi int64) {
	lo, hi = max(lo, e.minL), min(hi, e.maxL)
	if lo > hi {
		return
	}
	if len(e.levels) == 0 {
		e.base = lo
		e.levels = make([]level, 0, hi-lo+1)
		for i := lo; i <= hi; i++ {
			e.levels = append(e.levels, e.makeLevel(i))
		}
		return
	}
	if lo < e.base {
		n := e.base - lo
		grown := make([]level, n, int64(len(e.levels))+n+n)
		for i := lo; i < e.base; i++ {
			grown[i-lo] = e.makeLevel(i)
		}
		e.levels = append(grown, e.levels...)
		e.base = lo
	}
	for top := e.base + int64(len(e.levels)) - 1; top < hi; top++ {
		e.levels = append(e.levels, e.makeLevel(top+1))
	}
}

// lv returns level i, which ensure must have made.
func (e *Engine) lv(i int64) *level { return &e.levels[i-e.base] }

// has reports whether level i has storage.
func (e *Engine) has(i int64) bool { return i >= e.base && i < e.base+int64(len(e.levels)) }

func (e *Engine) makeLevel(i int64) level {
	p, ok := e.lad.price(i)
	lv := level{price: p, exists: ok}
	if !ok {
		return lv
	}
	var kind slot.Kind
	var exit exchange.Ticks
	switch {
	case e.longSlots && (!e.shortSlots || p < e.start):
		kind = slot.Long
		exit, ok = e.lad.price(i + 1)
	case e.shortSlots && (!e.longSlots || p > e.start):
		kind = slot.Short
		exit, ok = e.lad.price(i - 1)
	default:
		return lv // the neutral grid's start level: no slot
	}
	if !ok {
		return lv // an edge level whose exit would be outside the ladder
	}
	lv.s.Kind = kind
	lv.s.Gen = e.genFloor
	lv.exit = exit
	lv.qty = e.fixedQty
	if e.amount > 0 {
		lv.qty = qtyFor(e.amount, p, e.cfg.rounding)
	}
	switch {
	case lv.qty < max(e.minQty, 1):
		lv.bad = fmt.Sprintf("quantity %s is below the minimum %s", e.rules.StepsToQty(lv.qty), e.rules.StepsToQty(max(e.minQty, 1)))
	case !e.fitsBooks(p, lv.qty):
		lv.bad = e.beyondBooks("entry", p, lv.qty)
	case !e.fitsBooks(exit, lv.qty):
		lv.bad = e.beyondBooks("exit", exit, lv.qty)
	case exchange.Notional(p, lv.qty) < e.minNotion:
		lv.bad = fmt.Sprintf("entry notional %s is below the minimum %s", e.rules.MoneyToDecimal(exchange.Notional(p, lv.qty)), e.rules.MinNotional)
	case exchange.Notional(exit, lv.qty) < e.minNotion:
		lv.bad = fmt.Sprintf("exit notional %s at %s is below the minimum %s", e.rules.MoneyToDecimal(exchange.Notional(exit, lv.qty)), e.rules.TicksToPrice(exit), e.rules.MinNotional)
	}
	return lv
}
