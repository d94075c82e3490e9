package grid

import (
	"fmt"
	"math"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/slot"
)

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

// exitLevel is the level a slot's exit rests on.
func exitLevel(kind slot.Kind, i int64) int64 {
	if kind == slot.Short {
		return i - 1
	}
	return i + 1
}

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
