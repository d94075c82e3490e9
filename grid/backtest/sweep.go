package backtest

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/grid"
)

// Params is one combination of a sweep: the settings that differ from run
// to run. A bounded grid has Lower, Upper and Levels; a trailing grid has
// Trailing and LayerCap (and zero bounds). It is a plain value.
type Params struct {
	Mode         grid.Mode
	Lower, Upper decimal.Decimal // a bounded grid's range
	Levels       int             // a bounded grid's number of intervals
	Trailing     decimal.Decimal // a trailing grid's interval: a price step, or a fraction with Geometric
	LayerCap     int             // a trailing grid's layer cap
	Amount       decimal.Decimal // every order's notional (quote)
	Window       int             // levels kept live on each side
	Leverage     int
	Geometric    bool
}

// Bounded reports whether p is a bounded grid (not a trailing one).
func (p Params) Bounded() bool { return p.Trailing.IsZero() }

// String describes the combination in one line, such as
// "long 90000-115000/50 amount 200 window 10 leverage 5".
func (p Params) String() string {
	var b strings.Builder
	b.WriteString(p.Mode.String() + " " + p.Grid())
	if p.Geometric {
		b.WriteString(" geometric")
	}
	fmt.Fprintf(&b, " amount %s window %d leverage %d", p.Amount, p.Window, p.Leverage)
	return b.String()
}

// Grid describes the levels: "lower-upper/intervals" for a bounded grid,
// "trailing interval×cap" for a trailing one.
func (p Params) Grid() string {
	if p.Bounded() {
		return p.Lower.String() + "-" + p.Upper.String() + "/" + strconv.Itoa(p.Levels)
	}
	return "trailing " + p.Trailing.String() + "×" + strconv.Itoa(p.LayerCap)
}

// Config is base with the combination applied: base.Grid's options first,
// then the combination's mode, levels, amount, windows (hysteresis 2) and,
// for a neutral grid, hedge mode on the engine and the venue; the venue's
// leverage is Leverage.
func (p Params) Config(base Config) Config {
	cfg := base
	opts := slices.Clip(base.Grid)
	opts = append(opts, grid.WithMode(p.Mode), grid.WithAmount(p.Amount), grid.WithWindows(p.Window, p.Window, 2))
	if p.Bounded() {
		opts = append(opts, grid.WithBounds(p.Lower, p.Upper, p.Levels))
	} else {
		opts = append(opts, grid.WithTrailing(p.Trailing, p.LayerCap))
	}
	if p.Geometric {
		opts = append(opts, grid.WithGeometric())
	}
	if p.Mode == grid.Neutral {
		cfg.Sim.PositionMode = exchange.Hedge
		opts = append(opts, grid.WithPositionMode(exchange.Hedge))
	}
	cfg.Sim.Leverage = int64(p.Leverage)
	cfg.Grid = opts
	return cfg
}

// Range is a bounded grid's price range.
type Range struct{ Lower, Upper decimal.Decimal }

// Space is the parameter ranges of a sweep: it tries every combination of
// its lists. Bounded grids combine each of Bounds with each of Levels;
// trailing grids each of Trailing with each of LayerCaps; either kind (or
// both) may be given. Modes, Amounts, Windows and Leverages must not be
// empty; Geometric defaults to {false}. The zero value is an empty space.
type Space struct {
	Modes     []grid.Mode
	Bounds    []Range
	Levels    []int
	Trailing  []decimal.Decimal
	LayerCaps []int
	Amounts   []decimal.Decimal
	Windows   []int
	Leverages []int
	Geometric []bool
}

// MaxCombinations is the most combinations a Space may name.
const MaxCombinations = 100_000

// ErrSpace is matched by the error of a Space that names no combination.
var ErrSpace = errors.New("backtest: sweep space")

// Combinations lists every combination of the space, in a fixed order:
// mode, then the bounded grids (bounds, levels), then the trailing ones
// (interval, layer cap), then geometric, amount, window and leverage.
func (s Space) Combinations() ([]Params, error) {
	var errs []error
	need := func(name string, n int) {
		if n == 0 {
			errs = append(errs, fmt.Errorf("%w: %s is empty", ErrSpace, name))
		}
	}
	need("Modes", len(s.Modes))
	need("Amounts", len(s.Amounts))
	need("Windows", len(s.Windows))
	need("Leverages", len(s.Leverages))
	if (len(s.Bounds) == 0 || len(s.Levels) == 0) && (len(s.Trailing) == 0 || len(s.LayerCaps) == 0) {
		errs = append(errs, fmt.Errorf("%w: give Bounds and Levels (bounded grids) or Trailing and LayerCaps (trailing grids)", ErrSpace))
	}
	for _, t := range s.Trailing {
		if !t.IsPositive() {
			errs = append(errs, fmt.Errorf("%w: Trailing interval %s must be positive", ErrSpace, t))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	geo := s.Geometric
	if len(geo) == 0 {
		geo = []bool{false}
	}
	n := 1
	for _, k := range []int{len(s.Modes), len(s.Bounds)*len(s.Levels) + len(s.Trailing)*len(s.LayerCaps), len(geo), len(s.Amounts), len(s.Windows), len(s.Leverages)} {
		if n > MaxCombinations/k {
			return nil, fmt.Errorf("%w: more than %d combinations", ErrSpace, MaxCombinations)
		}
		n *= k
	}
	type shape struct {
		lower, upper, trailing decimal.Decimal
		levels, cap            int
	}
	var shapes []shape
	for _, b := range s.Bounds {
		for _, n := range s.Levels {
			shapes = append(shapes, shape{lower: b.Lower, upper: b.Upper, levels: n})
		}
	}
	for _, t := range s.Trailing {
		for _, c := range s.LayerCaps {
			shapes = append(shapes, shape{trailing: t, cap: c})
		}
	}
	var out []Params
	for _, m := range s.Modes {
		for _, sh := range shapes {
			for _, g := range geo {
				for _, a := range s.Amounts {
					for _, w := range s.Windows {
						for _, l := range s.Leverages {
							out = append(out, Params{Mode: m, Lower: sh.lower, Upper: sh.upper, Levels: sh.levels,
								Trailing: sh.trailing, LayerCap: sh.cap, Amount: a, Window: w, Leverage: l, Geometric: g})
						}
					}
				}
			}
		}
	}
	return out, nil
}

// Metric is what a sweep ranks by. The zero value is not a metric.
type Metric uint8

const (
	// MetricReturn is the total return (PnL over the initial balance).
	MetricReturn Metric = iota + 1
	// MetricSharpe is the Sharpe ratio of daily returns.
	MetricSharpe
	// MetricSortino is the Sortino ratio of daily returns.
	MetricSortino
	// MetricCalmar is the total return over the largest drawdown (both in
	// percent).
	MetricCalmar
	// MetricDrawdown is the largest drawdown in percent: lower ranks higher.
	MetricDrawdown
	// MetricRoundTrips is the number of completed round trips.
	MetricRoundTrips
)

var metricNames = [...]string{MetricReturn: "return", MetricSharpe: "sharpe", MetricSortino: "sortino",
	MetricCalmar: "calmar", MetricDrawdown: "drawdown", MetricRoundTrips: "roundtrips"}

// String returns the metric's name as ParseMetric reads it.
func (m Metric) String() string {
	if m > 0 && int(m) < len(metricNames) {
		return metricNames[m]
	}
	return "Metric(" + strconv.Itoa(int(m)) + ")"
}

// ParseMetric parses "return", "sharpe", "sortino", "calmar", "drawdown"
// or "roundtrips".
func ParseMetric(s string) (Metric, error) {
	for m := MetricReturn; int(m) < len(metricNames); m++ {
		if metricNames[m] == s {
			return m, nil
		}
	}
	return 0, fmt.Errorf("backtest: metric %q: want %s", s, strings.Join(metricNames[1:], ", "))
}

// Of is the metric's value for an outcome.
func (m Metric) Of(o Outcome) float64 {
	switch m {
	case MetricReturn:
		return o.ReturnPct.InexactFloat64()
	case MetricSharpe:
		return o.Sharpe
	case MetricSortino:
		return o.Sortino
	case MetricCalmar:
		ret, dd := o.ReturnPct.InexactFloat64(), o.MaxDrawdownPct.InexactFloat64()
		switch {
		case dd > 0:
			return ret / dd
		case ret > 0:
			return math.Inf(1)
		case ret < 0:
			return math.Inf(-1)
		}
		return 0
	case MetricDrawdown:
		return o.MaxDrawdownPct.InexactFloat64()
	case MetricRoundTrips:
		return float64(o.RoundTrips)
	}
	return math.NaN()
}

// better reports whether a ranks above b: higher is better except for
// drawdown; a NaN ranks below every number.
func (m Metric) better(a, b float64) bool {
	switch {
	case math.IsNaN(a):
		return false
	case math.IsNaN(b):
		return true
	case m == MetricDrawdown:
		return a < b
	}
	return a > b
}

// Outcome is one run's figures in a sweep. It is a plain value.
type Outcome struct {
	Value          float64 // the sweep's metric
	PnL            decimal.Decimal
	ReturnPct      decimal.Decimal // PnL over the initial balance, percent (4 decimals)
	MaxDrawdownPct decimal.Decimal
	Sharpe         float64
	Sortino        float64
	RoundTrips     int
	Fills          int64
	Fees           decimal.Decimal
	Liquidations   int64
}

func outcomeOf(r Result, m Metric) Outcome {
	mt := r.Metrics()
	o := Outcome{PnL: r.PnL, ReturnPct: mt.ReturnPct, MaxDrawdownPct: r.MaxDrawdownPct, Sharpe: mt.Sharpe, Sortino: mt.Sortino,
		RoundTrips: r.RoundTrips, Fills: r.Fills, Fees: r.Fees, Liquidations: r.Liquidations}
	o.Value = m.Of(o)
	return o
}
