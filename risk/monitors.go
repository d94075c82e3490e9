package risk

import (
	"errors"
	"fmt"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/shopspring/decimal"
)

// pct2 formats a fraction as a percentage with two decimals: 0.10523 → "10.52%".
func pct2(f decimal.Decimal) string { return f.Shift(2).StringFixed(2) + "%" }

func fieldErr(field string, v any, reason string) error {
	return &FieldError{Field: field, Value: fmt.Sprint(v), Reason: reason}
}

// checkFraction reports a field that must lie in (0, 1).
func checkFraction(field string, d decimal.Decimal) error {
	if !d.IsPositive() || d.GreaterThanOrEqual(decimal.NewFromInt(1)) {
		return fieldErr(field, d, "must be a fraction in (0, 1)")
	}
	return nil
}

// checkFractionOrZero reports a field that must lie in [0, 1).
func checkFractionOrZero(field string, d decimal.Decimal) error {
	if d.IsNegative() || d.GreaterThanOrEqual(decimal.NewFromInt(1)) {
		return fieldErr(field, d, "must be a fraction in [0, 1)")
	}
	return nil
}

// priceOf returns the price an observation carries for symbol: a price
// update's price or a candle's close.
func priceOf(o Observation, symbol string) (decimal.Decimal, bool) {
	if o.Symbol != symbol {
		return decimal.Decimal{}, false
	}
	switch o.Kind {
	case KindPrice:
		return o.Price, o.Price.IsPositive()
	case KindKline:
		return o.Kline.Close, o.Kline.Close.IsPositive()
	}
	return decimal.Decimal{}, false
}

// ================================================================= price band

// PriceBandConfig configures a [PriceBand].
type PriceBandConfig struct {
	// Name identifies the monitor; default "price-band".
	Name string
	// Symbol is the symbol whose price is watched.
	Symbol string
	// Interval is the candle interval read from [KindKline] observations
	// ("1m", …); candles of other intervals are ignored, since their
	// extremes did not happen at their close time. Empty reads every
	// candle. Default "1m".
	Interval string
	// Window is how far back a move is measured; default 15 minutes.
	Window time.Duration
	// MaxMove triggers the breaker: a move of more than this fraction within
	// Window, up or down; default 0.05 (5 %).
	MaxMove decimal.Decimal
	// ClearMove clears it: the move within Window back to at most this
	// fraction; default 0.025 (2.5 %). It is at most MaxMove; the gap
	// between the two is the hysteresis.
	ClearMove decimal.Decimal
}

// DefaultPriceBandConfig returns the documented defaults for symbol.
func DefaultPriceBandConfig(symbol string) PriceBandConfig {
	return PriceBandConfig{
		Name:      "price-band",
		Symbol:    symbol,
		Interval:  "1m",
		Window:    15 * time.Minute,
		MaxMove:   decimal.New(5, -2),
		ClearMove: decimal.New(25, -3),
	}
}

// Validate reports every invalid field at once.
func (c PriceBandConfig) Validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, fieldErr("PriceBandConfig.Name", `""`, "must not be empty"))
	}
	if c.Symbol == "" {
		errs = append(errs, fieldErr("PriceBandConfig.Symbol", `""`, "must not be empty"))
	}
	if c.Window <= 0 {
		errs = append(errs, fieldErr("PriceBandConfig.Window", c.Window, "must be positive"))
	}
	if err := checkFraction("PriceBandConfig.MaxMove", c.MaxMove); err != nil {
		errs = append(errs, err)
	}
	if !c.ClearMove.IsPositive() || c.ClearMove.GreaterThan(c.MaxMove) {
		errs = append(errs, fieldErr("PriceBandConfig.ClearMove", c.ClearMove, "must be positive and at most MaxMove "+c.MaxMove.String()))
	}
	return errors.Join(errs...)
}

type sample struct {
	t   time.Time
	p   decimal.Decimal
	seq uint64 // push order, to notice a new extreme without comparing decimals
}

// PriceBand is a circuit breaker: it triggers when the symbol's price has
// moved more than MaxMove within Window — measured from the highest and the
// lowest price of the window to the latest one — and clears once that move
// is back to at most ClearMove (old extremes age out of the window as time
// passes, timer observations included).
//
// It reads prices from [KindPrice] observations and candles ([KindKline]:
// open → low → high → close for a green or flat candle, open → high → low
// → close for a red one, the common backtest convention, all at the
// observation's time). Memory is bounded by the prices
// within one window (monotonic queues keep only the candidates for the
// extremes).
//
// The zero value is inert (never triggers); build one with [NewPriceBand].
// Not safe for concurrent use.
type PriceBand struct {
	cfg    PriceBandConfig
	ok     bool
	maxQ   []sample // decreasing prices: the window's maximum at the front
	minQ   []sample // increasing prices: the window's minimum at the front
	last   sample
	seq    uint64
	status Status
	// Price limits derived from the current extremes, recomputed only when
	// an extreme changes: a move is then two comparisons, no division.
	hiSeq, loSeq     uint64
	hiKey, loKey     bool // which limits (trigger or clear) the cache holds
	hiLimit, loLimit decimal.Decimal
}

// NewPriceBand returns a price band monitor, or the configuration's errors.
func NewPriceBand(cfg PriceBandConfig) (*PriceBand, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &PriceBand{cfg: cfg, ok: true}, nil
}

// Name returns the configured name.
func (m *PriceBand) Name() string { return m.cfg.Name }

// Observe implements [Monitor].
func (m *PriceBand) Observe(o Observation) Status {
	if !m.ok {
		return Status{}
	}
	if o.Symbol == m.cfg.Symbol && o.Kind == KindKline {
		k := o.Kline
		if m.cfg.Interval != "" && k.Interval != m.cfg.Interval {
			return m.status
		}
		a, b := k.High, k.Low // a red candle went open → high → low → close
		if k.Close.GreaterThanOrEqual(k.Open) {
			a, b = k.Low, k.High // a green or flat one dipped before it rose
		}
		for _, p := range [...]decimal.Decimal{k.Open, a, b, k.Close} {
			if p.IsPositive() {
				m.push(o.Time, p)
			}
		}
		return m.status
	}
	if p, ok := priceOf(o, m.cfg.Symbol); ok {
		m.push(o.Time, p)
		return m.status
	}
	if m.last.p.IsPositive() && m.status.Triggered {
		m.evict(o.Time)
		m.evaluate(o.Time)
	}
	return m.status
}

func (m *PriceBand) push(t time.Time, p decimal.Decimal) {
	for len(m.maxQ) > 0 && m.maxQ[len(m.maxQ)-1].p.LessThanOrEqual(p) {
		m.maxQ = m.maxQ[:len(m.maxQ)-1]
	}
	m.seq++
	m.maxQ = append(m.maxQ, sample{t, p, m.seq})
	for len(m.minQ) > 0 && m.minQ[len(m.minQ)-1].p.GreaterThanOrEqual(p) {
		m.minQ = m.minQ[:len(m.minQ)-1]
	}
	m.minQ = append(m.minQ, sample{t, p, m.seq})
	m.last = sample{t, p, m.seq}
	m.evict(t)
	m.evaluate(t)
}

// evict drops samples older than the window, always keeping the latest.
func (m *PriceBand) evict(now time.Time) {
	cut := now.Add(-m.cfg.Window)
	n := 0
	for n < len(m.maxQ)-1 && m.maxQ[n].t.Before(cut) {
		n++
	}
	if n > 0 {
		m.maxQ = append(m.maxQ[:0], m.maxQ[n:]...)
	}
	n = 0
	for n < len(m.minQ)-1 && m.minQ[n].t.Before(cut) {
		n++
	}
	if n > 0 {
		m.minQ = append(m.minQ[:0], m.minQ[n:]...)
	}
}

func (m *PriceBand) evaluate(now time.Time) {
	hi, lo, p := m.maxQ[0], m.minQ[0], m.last.p
	// Triggered, the limits are the clear level's; else the trigger's.
	level, trig := m.cfg.MaxMove, !m.status.Triggered
	if !trig {
		level = m.cfg.ClearMove
	}
	one := decimal.NewFromInt(1)
	if hi.seq != m.hiSeq || m.hiKey != trig || m.hiLimit.IsZero() {
		m.hiSeq, m.hiKey, m.hiLimit = hi.seq, trig, hi.p.Mul(one.Sub(level))
	}
	if lo.seq != m.loSeq || m.loKey != trig || m.loLimit.IsZero() {
		m.loSeq, m.loKey, m.loLimit = lo.seq, trig, lo.p.Mul(one.Add(level))
	}
	// A fall beyond the level from the high is p below hi × (1 − level);
	// a rise beyond it from the low is p above lo × (1 + level).
	beyond := p.LessThan(m.hiLimit) || p.GreaterThan(m.loLimit)
	if trig != beyond {
		return
	}
	down := hi.p.Sub(p).Div(hi.p)
	up := p.Sub(lo.p).Div(lo.p)
	move, from, verb := down, hi.p, "fell"
	if up.GreaterThan(down) {
		move, from, verb = up, lo.p, "rose"
	}
	if trig {
		m.status = Status{Triggered: true, Reason: fmt.Sprintf("%s %s %s within %s at %s: from %s to %s (limit %s)",
			m.cfg.Symbol, verb, pct2(move), m.cfg.Window, fmtTime(now), from, p, pct2(m.cfg.MaxMove))}
		return
	}
	m.status = Status{Reason: fmt.Sprintf("%s moved at most %s within %s at %s (high %s, low %s, last %s; clear level %s)",
		m.cfg.Symbol, pct2(move), m.cfg.Window, fmtTime(now), hi.p, lo.p, p, pct2(m.cfg.ClearMove))}
}

// ================================================================= exposure

// ExposureConfig configures an [Exposure] monitor. At least one of MaxQty
// and MaxNotional must be set (positive); a zero one is not checked.
type ExposureConfig struct {
	// Name identifies the monitor; default "exposure".
	Name string
	// Symbol is the symbol whose position is watched.
	Symbol string
	// MaxQty triggers when the gross position (Σ |quantity| over its
	// position sides) exceeds it.
	MaxQty decimal.Decimal
	// MaxNotional triggers when the gross position × price exceeds it, the
	// price being the last mark price seen, else the last price.
	MaxNotional decimal.Decimal
	// ClearRatio clears when every measure is back to at most this fraction
	// of its maximum; default 0.9.
	ClearRatio decimal.Decimal
}

// DefaultExposureConfig returns the defaults for symbol with the given
// maximum notional (there is no sensible default size).
func DefaultExposureConfig(symbol string, maxNotional decimal.Decimal) ExposureConfig {
	return ExposureConfig{Name: "exposure", Symbol: symbol, MaxNotional: maxNotional, ClearRatio: decimal.New(9, -1)}
}

// Validate reports every invalid field at once.
func (c ExposureConfig) Validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, fieldErr("ExposureConfig.Name", `""`, "must not be empty"))
	}
	if c.Symbol == "" {
		errs = append(errs, fieldErr("ExposureConfig.Symbol", `""`, "must not be empty"))
	}
	if c.MaxQty.IsNegative() {
		errs = append(errs, fieldErr("ExposureConfig.MaxQty", c.MaxQty, "must not be negative"))
	}
	if c.MaxNotional.IsNegative() {
		errs = append(errs, fieldErr("ExposureConfig.MaxNotional", c.MaxNotional, "must not be negative"))
	}
	if !c.MaxQty.IsPositive() && !c.MaxNotional.IsPositive() {
		errs = append(errs, fieldErr("ExposureConfig.MaxQty", c.MaxQty, "or MaxNotional must be positive"))
	}
	if !c.ClearRatio.IsPositive() || c.ClearRatio.GreaterThan(decimal.NewFromInt(1)) {
		errs = append(errs, fieldErr("ExposureConfig.ClearRatio", c.ClearRatio, "must be a fraction in (0, 1]"))
	}
	return errors.Join(errs...)
}

// Exposure caps the symbol's position: it triggers when the gross position
// exceeds MaxQty or its notional exceeds MaxNotional, and clears when both
// are back to at most ClearRatio of their maximum. Positions come from
// [KindAccount] observations (a position side absent from an update keeps
// its last quantity); prices from [KindMark] (preferred once seen),
// [KindPrice] and [KindKline] observations.
//
// The zero value is inert; build one with [NewExposure]. Not safe for
// concurrent use.
type Exposure struct {
	cfg    ExposureConfig
	ok     bool
	watch  positionWatch
	status Status
}

// NewExposure returns an exposure monitor, or the configuration's errors.
func NewExposure(cfg ExposureConfig) (*Exposure, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Exposure{cfg: cfg, ok: true}, nil
}

// Name returns the configured name.
func (m *Exposure) Name() string { return m.cfg.Name }

// Observe implements [Monitor].
func (m *Exposure) Observe(o Observation) Status {
	if !m.ok {
		return Status{}
	}
	if !m.watch.observe(o, m.cfg.Symbol) {
		return m.status
	}
	price, _ := m.watch.price()
	qty := m.watch.legs[0].Quantity.Abs().Add(m.watch.legs[1].Quantity.Abs()).Add(m.watch.legs[2].Quantity.Abs())
	notional := qty.Mul(price)
	overQty := m.cfg.MaxQty.IsPositive() && qty.GreaterThan(m.cfg.MaxQty)
	overNotional := m.cfg.MaxNotional.IsPositive() && price.IsPositive() && notional.GreaterThan(m.cfg.MaxNotional)
	switch {
	case !m.status.Triggered && overQty:
		m.status = Status{Triggered: true, Reason: fmt.Sprintf("%s position %s exceeds the maximum %s at %s",
			m.cfg.Symbol, qty, m.cfg.MaxQty, fmtTime(o.Time))}
	case !m.status.Triggered && overNotional:
		m.status = Status{Triggered: true, Reason: fmt.Sprintf("%s position %s × price %s = notional %s exceeds the maximum %s at %s",
			m.cfg.Symbol, qty, price, notional, m.cfg.MaxNotional, fmtTime(o.Time))}
	case m.status.Triggered:
		qtyOK := !m.cfg.MaxQty.IsPositive() || qty.LessThanOrEqual(m.cfg.MaxQty.Mul(m.cfg.ClearRatio))
		notOK := !m.cfg.MaxNotional.IsPositive() || notional.LessThanOrEqual(m.cfg.MaxNotional.Mul(m.cfg.ClearRatio))
		if qtyOK && notOK {
			m.status = Status{Reason: fmt.Sprintf("%s position %s (notional %s) back within %s of the maximum at %s",
				m.cfg.Symbol, qty, notional, pct2(m.cfg.ClearRatio), fmtTime(o.Time))}
		}
	}
	return m.status
}

// positionWatch follows one symbol's positions (by position side) and its
// price (the mark price once seen, else the last price), for the monitors
// that measure the position against the price.
type positionWatch struct {
	legs [3]exchange.Position // by exchange.PositionSide
	last decimal.Decimal
	mark decimal.Decimal
}

// observe takes what o says about symbol and reports whether it changed
// anything: an account update with one of its positions (a side absent
// from the update keeps its last state), a mark price, or a price.
func (w *positionWatch) observe(o Observation, symbol string) bool {
	switch {
	case o.Kind == KindAccount:
		seen := false
		for _, p := range o.Positions {
			if p.Symbol == symbol && int(p.PositionSide) < len(w.legs) {
				w.legs[p.PositionSide] = p
				seen = true
			}
		}
		return seen
	case o.Kind == KindMark && o.Symbol == symbol && o.Mark.MarkPrice.IsPositive():
		w.mark = o.Mark.MarkPrice
		return true
	default:
		p, ok := priceOf(o, symbol)
		if ok {
			w.last = p
		}
		return ok
	}
}

// price is the mark price if one was seen, else the last price, with which.
func (w *positionWatch) price() (decimal.Decimal, string) {
	if w.mark.IsZero() {
		return w.last, "price"
	}
	return w.mark, "mark price"
}

// ================================================================= liquidation distance

// LiquidationDistanceConfig configures a [LiquidationDistance] monitor.
type LiquidationDistanceConfig struct {
	// Name identifies the monitor; default "liquidation-distance".
	Name string
	// Symbol is the symbol whose positions are watched.
	Symbol string
	// MinDistance triggers when the price is closer than this fraction of
	// itself to a position's liquidation price; default 0.05 (5 %).
	MinDistance decimal.Decimal
	// ClearDistance clears when every position is at least this far;
	// default 0.08 (8 %). At least MinDistance.
	ClearDistance decimal.Decimal
}

// DefaultLiquidationDistanceConfig returns the documented defaults for symbol.
func DefaultLiquidationDistanceConfig(symbol string) LiquidationDistanceConfig {
	return LiquidationDistanceConfig{Name: "liquidation-distance", Symbol: symbol,
		MinDistance: decimal.New(5, -2), ClearDistance: decimal.New(8, -2)}
}

// Validate reports every invalid field at once.
func (c LiquidationDistanceConfig) Validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, fieldErr("LiquidationDistanceConfig.Name", `""`, "must not be empty"))
	}
	if c.Symbol == "" {
		errs = append(errs, fieldErr("LiquidationDistanceConfig.Symbol", `""`, "must not be empty"))
	}
	if err := checkFraction("LiquidationDistanceConfig.MinDistance", c.MinDistance); err != nil {
		errs = append(errs, err)
	}
	if c.ClearDistance.LessThan(c.MinDistance) || c.ClearDistance.GreaterThanOrEqual(decimal.NewFromInt(1)) {
		errs = append(errs, fieldErr("LiquidationDistanceConfig.ClearDistance", c.ClearDistance, "must be in [MinDistance "+c.MinDistance.String()+", 1)"))
	}
	return errors.Join(errs...)
}

// LiquidationDistance triggers when the price comes within MinDistance of
// the liquidation price of any of the symbol's open positions, and clears
// when every one is at least ClearDistance away (or closed). Distance is
// |price − liquidation| / price, the price being the mark price once a
// [KindMark] observation has been seen (venues liquidate on it), else the
// last price ([KindPrice], [KindKline]). Positions and their liquidation
// prices come from [KindAccount] observations, as the venue (or the
// simulator) reports them; a position without one is not measured.
//
// The zero value is inert; build one with [NewLiquidationDistance]. Not
// safe for concurrent use.
type LiquidationDistance struct {
	cfg    LiquidationDistanceConfig
	ok     bool
	watch  positionWatch
	status Status
}

// NewLiquidationDistance returns a liquidation-distance monitor, or the
// configuration's errors.
func NewLiquidationDistance(cfg LiquidationDistanceConfig) (*LiquidationDistance, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &LiquidationDistance{cfg: cfg, ok: true}, nil
}

// Name returns the configured name.
func (m *LiquidationDistance) Name() string { return m.cfg.Name }

// Observe implements [Monitor].
func (m *LiquidationDistance) Observe(o Observation) Status {
	if !m.ok {
		return Status{}
	}
	if !m.watch.observe(o, m.cfg.Symbol) {
		return m.status
	}
	price, what := m.watch.price()
	if price.IsZero() {
		return m.status
	}
	// The nearest leg has the smallest |price − liquidation|; its distance
	// is compared as diff against level × price, dividing only for reasons.
	var diff decimal.Decimal
	var leg exchange.Position
	found := false
	for _, p := range m.watch.legs {
		if p.Quantity.IsZero() || !p.LiquidationPrice.IsPositive() {
			continue
		}
		dd := price.Sub(p.LiquidationPrice).Abs()
		if !found || dd.LessThan(diff) {
			diff, leg, found = dd, p, true
		}
	}
	level := m.cfg.MinDistance
	if m.status.Triggered {
		level = m.cfg.ClearDistance
	}
	near := found && diff.LessThan(price.Mul(level))
	var nearest decimal.Decimal
	if found && near != m.status.Triggered {
		nearest = diff.Div(price)
	}
	side := func(p exchange.Position) string {
		if p.PositionSide != exchange.PositionBoth {
			return p.PositionSide.String()
		}
		if p.Quantity.IsNegative() {
			return "short"
		}
		return "long"
	}
	switch {
	case !m.status.Triggered && near:
		m.status = Status{Triggered: true, Reason: fmt.Sprintf("%s %s %s is %s from the %s position's liquidation price %s at %s (limit %s)",
			m.cfg.Symbol, what, price, pct2(nearest), side(leg), leg.LiquidationPrice, fmtTime(o.Time), pct2(m.cfg.MinDistance))}
	case m.status.Triggered && !found:
		m.status = Status{Reason: fmt.Sprintf("%s has no open position with a liquidation price at %s", m.cfg.Symbol, fmtTime(o.Time))}
	case m.status.Triggered && !near:
		m.status = Status{Reason: fmt.Sprintf("%s %s %s is %s from the nearest liquidation price %s at %s (clear level %s)",
			m.cfg.Symbol, what, price, pct2(nearest), leg.LiquidationPrice, fmtTime(o.Time), pct2(m.cfg.ClearDistance))}
	}
	return m.status
}
