package grid

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"time"

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

type initialOrder struct {
	gen     uint32
	live    bool
	filled  exchange.Steps
	targets []int64 // levels to receive the position, nearest the price first
	next    int
	req     request
}

// Books are the engine's integer books, in the symbol's units: money in
// ticks × steps ([exchange.Money]), quantities in steps. [Engine.Stats]
// gives the same in decimals.
type Books struct {
	RoundTrips int
	Realized   exchange.Money // gross realized PnL of exits (per slot, against its own entry)
	Fees       exchange.Money // every fee the grid's orders paid (signed)
	Position   exchange.Steps // signed: Σ long held − Σ short held
	LongHeld   exchange.Steps
	LongCost   exchange.Money
	ShortHeld  exchange.Steps
	ShortCost  exchange.Money
	// Funding is the funding the host booked (signed: positive paid), see
	// [Engine.BookFunding].
	Funding    exchange.Money
	OpenOrders int // orders sent and not ended
	Placed     int
	Canceled   int
	Rejected   int
	NotSent    int // placements the host dropped before sending them (OrderNotSent)
	Fills      int
	Stale      int // updates ignored as stale or duplicate
	Illegal    int // updates that contradicted the engine's view
	// CancelsDeferred counts the times the cancel budget held a window
	// cancel back (an order held back on several sweeps counts each time).
	CancelsDeferred int
}

// Unrealized is the open position's PnL at mark.
func (b Books) Unrealized(mark exchange.Ticks) exchange.Money {
	return exchange.Notional(mark, b.LongHeld) - b.LongCost + b.ShortCost - exchange.Notional(mark, b.ShortHeld)
}

// ErrIllegalUpdate is matched by the error [Engine.Apply] returns when an
// update contradicts the engine's view; the host should reconcile.
var ErrIllegalUpdate = errors.New("grid: update contradicts the engine's view")

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
	e.reduceOnly = c.posMode == exchange.OneWay && c.mode != Neutral
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

// rejectBackoff is how long a slot waits after a refusal before it places
// again; it doubles with each refusal in a row, up to 64 times (about a
// minute), and resets when an order is accepted.
const rejectBackoff = time.Second

// exitLevel is the level a slot's exit rests on.
func exitLevel(kind slot.Kind, i int64) int64 {
	if kind == slot.Short {
		return i - 1
	}
	return i + 1
}

// OnPrice moves the grid to a new price, given in ticks. A price that
// stays between the same two levels as the last one does nothing and costs
// two comparisons; crossing a level moves the windows: entries and exits
// that come into reach are placed and those that leave it by more than the
// hysteresis are canceled.
func (e *Engine) OnPrice(now time.Time, p exchange.Ticks) []Intent {
	if e.ctl.watch {
		return e.watched(now, p) // a control acts on prices or time
	}
	if p >= e.bandLo && p <= e.bandHi {
		e.price = p
		return nil
	}
	return e.moved(now, p)
}

// OnPriceDecimal is OnPrice for a decimal price, rounded to the tick.
func (e *Engine) OnPriceDecimal(now time.Time, p decimal.Decimal) ([]Intent, error) {
	if !p.IsPositive() {
		return nil, fmt.Errorf("grid: price %s must be positive", p)
	}
	t, err := e.rules.PriceToTicks(e.rules.RoundPrice(p))
	if err != nil {
		return nil, err
	}
	return e.OnPrice(now, t), nil
}

func (e *Engine) moved(now time.Time, p exchange.Ticks) []Intent {
	e.out = e.out[:0]
	if p <= 0 {
		return nil
	}
	e.move(now, p)
	return e.out
}

// move is moved appending to e.out.
func (e *Engine) move(now time.Time, p exchange.Ticks) {
	e.price, e.havePrice = p, true
	oldBelow, oldAbove := e.below(), e.above()
	e.locate(p)
	if !e.started {
		if e.ready {
			e.begin(now)
		}
		return
	}
	e.sweep(now, oldBelow, oldAbove)
}

// locate finds the price's position among the levels, walking from the
// previous one (so a move costs what it crosses), and the band around it.
func (e *Engine) locate(p exchange.Ticks) {
	k := e.k
	if k < e.minL-1 {
		k = e.minL - 1
	}
	for k < e.maxL {
		next, ok := e.levelPrice(k + 1)
		if !ok || next > p {
			break
		}
		k++
	}
	for k >= e.minL {
		cur, ok := e.levelPrice(k)
		if ok && cur <= p {
			break
		}
		k--
	}
	e.k = k
	if below := k < e.minL && e.lad.geometric && !e.lad.bounded; below != e.belowEnd {
		e.belowEnd = below
		if below {
			e.log.Warn("grid: the price is below the ladder end: no level, no entry there", "price", e.rules.TicksToPrice(p).String(), "end", e.LadderEnd())
		}
	}
	lo, okLo := e.levelPrice(k)
	hi, okHi := e.levelPrice(k + 1)
	if !okLo {
		lo = 0
	}
	if !okHi {
		hi = math.MaxInt64
	}
	e.on = okLo && lo == p
	if e.on {
		e.bandLo, e.bandHi = p, p
	} else {
		e.bandLo, e.bandHi = lo+1, hi-1
	}
}

// levelPrice is level i's price, making the level if needed.
func (e *Engine) levelPrice(i int64) (exchange.Ticks, bool) {
	if i < e.minL || i > e.maxL {
		return 0, false
	}
	if !e.has(i) {
		e.ensure(i-1, i+1)
	}
	lv := e.lv(i)
	return lv.price, lv.exists
}

// below is the highest level strictly below the price; above the lowest
// strictly above it.
func (e *Engine) below() int64 {
	if e.on {
		return e.k - 1
	}
	return e.k
}

func (e *Engine) above() int64 { return e.k + 1 }

// The window rules. Each is a threshold on the level index, so a move of
// the price changes them only for the levels its edges sweep (see sweep).
func (e *Engine) wantEntry(kind slot.Kind, i int64) bool {
	if kind == slot.Long {
		b := e.below()
		return i <= b && i > b-int64(e.cfg.buyWindow)
	}
	a := e.above()
	return i >= a && i < a+int64(e.cfg.buyWindow)
}

func (e *Engine) keepEntry(kind slot.Kind, i int64) bool {
	if e.halted || e.entryCancelled(kind) {
		return false
	}
	if kind == slot.Long {
		return i > e.below()-int64(e.cfg.buyWindow+e.cfg.hysteresis)
	}
	return i < e.above()+int64(e.cfg.buyWindow+e.cfg.hysteresis)
}

func (e *Engine) wantExit(kind slot.Kind, i int64) bool {
	x := exitLevel(kind, i)
	if kind == slot.Long {
		return x < e.above()+int64(e.cfg.sellWindow)
	}
	return x > e.below()-int64(e.cfg.sellWindow)
}

func (e *Engine) keepExit(kind slot.Kind, i int64) bool {
	if e.halted {
		return false
	}
	x := exitLevel(kind, i)
	if kind == slot.Long {
		return x < e.above()+int64(e.cfg.sellWindow+e.cfg.hysteresis)
	}
	return x > e.below()-int64(e.cfg.sellWindow+e.cfg.hysteresis)
}

// The window rules are thresholds on the level index, at fixed offsets
// from the highest level below the price (b) and the lowest above it (a):
//
//	long entries   want b−bw < i ≤ b, keep i > b−bw−h  → offsets of b: −bw+1, −bw−h+1, 0
//	long exits     exit level i+1: want < a+sw, keep < a+sw+h → offsets of a: sw−2, sw+h−2
//	short entries  want a ≤ i < a+bw, keep i < a+bw+h  → offsets of a: 0, bw−1, bw+h−1
//	short exits    exit level i−1: want > b−sw, keep > b−sw−h → offsets of b: −sw+2, −sw−h+2
//
// edgeOffsets lists the offsets the grid's slot kinds need.
func (e *Engine) edgeOffsets() {
	bw, sw, h := int64(e.cfg.buyWindow), int64(e.cfg.sellWindow), int64(e.cfg.hysteresis)
	e.bOffs, e.aOffs = e.bOffs[:0], e.aOffs[:0]
	if e.longSlots {
		e.bOffs = append(e.bOffs, -bw+1, -bw-h+1, 0)
		e.aOffs = append(e.aOffs, sw-2, sw+h-2)
	}
	if e.shortSlots {
		e.aOffs = append(e.aOffs, 0, bw-1, bw+h-1)
		e.bOffs = append(e.bOffs, -sw+2, -sw-h+2)
	}
	e.offLo, e.offHi = 0, 0
	for _, o := range append(append([]int64(nil), e.bOffs...), e.aOffs...) {
		e.offLo, e.offHi = min(e.offLo, o), max(e.offHi, o)
	}
}

// sweep tends every level whose window rules may have changed between two
// positions. Between a threshold's old and new value lie exactly the
// levels whose answer flipped; a threshold that did not move flips none.
func (e *Engine) sweep(now time.Time, oldB, oldA int64) {
	newB, newA := e.below(), e.above()
	if oldB == newB && oldA == newA {
		return
	}
	lo := min(oldB, newB, oldA, newA) + e.offLo
	hi := max(oldB, newB, oldA, newA) + e.offHi
	if !e.has(max(lo, e.minL)) || !e.has(min(hi, e.maxL)) {
		e.ensure(lo, hi)
	}
	if oldB != newB {
		e.sweepEdges(now, min(oldB, newB), max(oldB, newB), e.bOffs)
	}
	if oldA != newA {
		e.sweepEdges(now, min(oldA, newA), max(oldA, newA), e.aOffs)
	}
}

func (e *Engine) sweepEdges(now time.Time, from, to int64, offs []int64) {
	for _, o := range offs {
		a, b := max(from+o, e.minL), min(to+o, e.maxL)
		for i := a; i <= b; i++ {
			e.tend(now, i)
		}
	}
}

// tendAll tends the whole window around the price.
func (e *Engine) tendAll(now time.Time) {
	r := int64(max(e.cfg.buyWindow, e.cfg.sellWindow) + e.cfg.hysteresis + 2)
	e.tendRange(now, e.below()-r, e.above()+r)
}

func (e *Engine) tendRange(now time.Time, lo, hi int64) {
	lo, hi = max(lo, e.minL), min(hi, e.maxL)
	if lo > hi {
		return
	}
	if !e.has(lo) || !e.has(hi) {
		e.ensure(lo, hi)
	}
	for i := lo; i <= hi; i++ {
		e.tend(now, i)
	}
}

// tend brings one slot's order in line with the window rules: place what
// is wanted and missing, cancel what is live and no longer kept.
func (e *Engine) tend(now time.Time, i int64) {
	lv := e.lv(i)
	s := &lv.s
	if s.Kind == 0 || lv.reserved || !e.started || !e.ready {
		return
	}
	switch s.State {
	case slot.Free:
		if !lv.reserved && e.entriesAllowedFor(s.Kind) && lv.bad == "" && e.wantEntry(s.Kind, i) && e.layerRoom() && now.UnixNano() >= lv.retryAt &&
			e.sideReady(e.sideOf(s.Kind, slot.RoleEntry), now.UnixNano()) {
			e.placeEntry(now, i, lv)
		}
	case slot.Holding:
		if !e.exitable(lv) {
			e.applyQuiet(now, i, lv, slot.Event{Type: slot.Dust})
			if e.entriesAllowedFor(s.Kind) && lv.bad == "" && e.wantEntry(s.Kind, i) && e.layerRoom() {
				e.placeEntry(now, i, lv)
			}
			return
		}
		if !e.halted && e.wantExit(s.Kind, i) && now.UnixNano() >= lv.retryAt && e.sideReady(e.sideOf(s.Kind, slot.RoleExit), now.UnixNano()) {
			e.placeExit(now, i, lv)
		}
	case slot.EntryOpen:
		if !s.Unknown && !e.keepEntry(s.Kind, i) && e.mayCancel(e.halted || e.entryCancelled(s.Kind)) {
			e.cancel(now, i, lv)
		}
	case slot.ExitOpen:
		if !s.Unknown && !e.keepExit(s.Kind, i) && e.mayCancel(e.halted) {
			e.cancel(now, i, lv)
		}
	}
}

// mayCancel spends the cancel budget on a window cancel. A cancel the grid
// must make (a halt, a pause that cancels entries) is always allowed; a
// window cancel is deferred when the budget is spent, and the order stays
// live: venues police cancel-to-fill ratios (Binance's quantitative rules),
// and an order left a little outside the window costs only margin.
func (e *Engine) mayCancel(must bool) bool {
	if must || e.cfg.cancelBurst == 0 {
		return true
	}
	if e.cancelBudget > 0 {
		e.cancelBudget--
		return true
	}
	e.books.CancelsDeferred++
	return false
}

func (e *Engine) layerRoom() bool { return !e.cfg.trailing || e.layers < e.cfg.layerCap }

// exitable reports whether a held quantity can be sent as an order.
func (e *Engine) exitable(lv *level) bool {
	return lv.s.Held >= int64(max(e.minQty, 1)) && exchange.Notional(lv.exit, exchange.Steps(lv.s.Held)) >= e.minNotion
}

func (e *Engine) sideOf(kind slot.Kind, role slot.Role) exchange.Side {
	if (kind == slot.Long) == (role == slot.RoleEntry) {
		return exchange.Buy
	}
	return exchange.Sell
}

func (e *Engine) posSide(kind slot.Kind) exchange.PositionSide {
	if e.cfg.posMode != exchange.Hedge {
		return exchange.PositionBoth
	}
	if kind == slot.Short {
		return exchange.PositionShort
	}
	return exchange.PositionLong
}

func (e *Engine) placeEntry(now time.Time, i int64, lv *level) {
	s := &lv.s
	e.resize(lv)
	gen, ok := e.nextGen(s.Gen)
	if !ok {
		return // waiting for the host to reserve generations
	}
	in := Intent{
		Kind: IntentPlace, Ref: OrderRef{Level: i, Gen: gen}, Role: slot.RoleEntry,
		Side: e.sideOf(s.Kind, slot.RoleEntry), PositionSide: e.posSide(s.Kind),
		Price: lv.price, Qty: lv.qty, PostOnly: true,
	}
	in.Price, in.PostOnly = e.entryPrice(lv, in.Side) // re-priced after post-only rejections (reprice.go)
	e.submit(now, i, lv, in)
}

func (e *Engine) placeExit(now time.Time, i int64, lv *level) {
	s := &lv.s
	px := lv.exit
	gen, ok := e.nextGen(s.Gen)
	if !ok {
		return // waiting for the host to reserve generations
	}
	in := Intent{
		Kind: IntentPlace, Ref: OrderRef{Level: i, Gen: gen}, Role: slot.RoleExit,
		Side: e.sideOf(s.Kind, slot.RoleExit), PositionSide: e.posSide(s.Kind),
		Price: px, Qty: exchange.Steps(s.Held), ReduceOnly: e.reduceOnly,
	}
	// An exit on the right side of the price rests as a maker; one the
	// price has already passed (a gap) is sent as a plain limit and takes
	// the better market price.
	if s.Kind == slot.Long {
		in.PostOnly = px > e.price
	} else {
		in.PostOnly = px < e.price
	}
	e.submit(now, i, lv, in)
}

func (e *Engine) submit(now time.Time, i int64, lv *level, in Intent) {
	ev := slot.Event{Type: slot.Submit, Role: in.Role, Gen: in.Ref.Gen, Qty: int64(in.Qty)}
	if _, err := e.applySlot(now, i, lv, ev); err != nil {
		e.log.Error("grid: submit refused by the slot", "level", i, "err", err)
		return
	}
	in.SendBy = lv.req.placed(now, e.cfg.sendTimeout)
	e.books.Placed++
	e.out = append(e.out, in)
}

func (e *Engine) cancel(now time.Time, i int64, lv *level) {
	ref := OrderRef{Level: i, Gen: lv.s.Gen}
	if _, err := e.applySlot(now, i, lv, slot.Event{Type: slot.CancelSent, Gen: ref.Gen}); err != nil {
		e.log.Error("grid: cancel refused by the slot", "level", i, "err", err)
		return
	}
	lv.req.askedAt = now.UnixNano()
	e.books.Canceled++
	e.out = append(e.out, Intent{Kind: IntentCancel, Ref: ref, Role: lv.s.Role})
}

// applyQuiet applies an event the engine itself generates and expects to be legal.
func (e *Engine) applyQuiet(now time.Time, i int64, lv *level, ev slot.Event) {
	if _, err := e.applySlot(now, i, lv, ev); err != nil {
		e.log.Error("grid: internal slot event refused", "level", i, "event", ev.Type, "err", err)
	}
}

// applySlot applies one event to a slot and keeps the engine's aggregate
// books (position, cost, layers, open orders) in step with the change.
func (e *Engine) applySlot(now time.Time, i int64, lv *level, ev slot.Event) (slot.Effect, error) {
	s := &lv.s
	held, cost, wasLayer, wasLive := s.Held, s.Cost, s.State != slot.Free, s.Live()
	eff, err := s.Apply(ev)
	if err != nil || eff.Ignored {
		return eff, err
	}
	dh, dc := exchange.Steps(s.Held-held), exchange.Money(s.Cost-cost)
	if s.Kind == slot.Long {
		e.books.LongHeld += dh
		e.books.LongCost += dc
		e.books.Position += dh
	} else {
		e.books.ShortHeld += dh
		e.books.ShortCost += dc
		e.books.Position -= dh
	}
	if isLayer := s.State != slot.Free; isLayer != wasLayer {
		if isLayer {
			e.layers++
		} else {
			e.layers--
		}
	}
	if isLive := s.Live(); isLive != wasLive {
		if isLive {
			e.books.OpenOrders++
		} else {
			e.books.OpenOrders--
		}
	}
	return eff, nil
}
