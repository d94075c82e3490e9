package risk

import (
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"
)

// Trend is the direction a [TrendFilter] judges strong. The zero value,
// [TrendNone], is no strong trend.
type Trend int8

const (
	// TrendNone: no strong trend (or not enough candles yet).
	TrendNone Trend = iota
	// TrendUp: the fast average is above the slow one by at least Enter.
	TrendUp
	// TrendDown: the fast average is below the slow one by at least Enter.
	TrendDown
)

// String returns "none", "up" or "down".
func (t Trend) String() string {
	switch t {
	case TrendNone:
		return "none"
	case TrendUp:
		return "up"
	case TrendDown:
		return "down"
	}
	return fmt.Sprintf("Trend(%d)", int8(t))
}

// TrendConfig configures a [TrendFilter].
type TrendConfig struct {
	// Name identifies the filter; default "trend".
	Name string
	// Symbol is the symbol whose candles are read.
	Symbol string
	// Interval is the candle interval read from [KindKline] observations
	// ("1m", …); candles of other intervals are ignored. Empty reads every
	// candle. Default "1m".
	Interval string
	// Fast and Slow are the periods, in closed candles, of the two
	// exponential moving averages of the close (smoothing 2/(n+1)); Fast <
	// Slow. Defaults 20 and 60: on 1-minute candles, the last twenty
	// minutes against the last hour.
	Fast, Slow int
	// Enter is the gap (fast − slow) / slow, as a fraction, at which a
	// trend counts as strong: a down-trend at gap ≤ −Enter, an up-trend at
	// gap ≥ Enter. Default 0.01 (1 %).
	Enter decimal.Decimal
	// Exit is the gap at which a strong trend has faded: a down-trend ends
	// once gap > −Exit, an up-trend once gap < Exit. 0 ≤ Exit < Enter; the
	// gap between the two is the hysteresis that keeps the filter from
	// flapping. Default 0.004 (0.4 %).
	Exit decimal.Decimal
}

// DefaultTrendConfig returns the documented defaults for symbol.
func DefaultTrendConfig(symbol string) TrendConfig {
	return TrendConfig{
		Name: "trend", Symbol: symbol, Interval: "1m", Fast: 20, Slow: 60,
		Enter: decimal.New(1, -2), Exit: decimal.New(4, -3),
	}
}

// Validate reports every invalid field at once, each naming the field and
// its value.
func (c TrendConfig) Validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, fieldErr("TrendConfig.Name", `""`, "must not be empty"))
	}
	if c.Symbol == "" {
		errs = append(errs, fieldErr("TrendConfig.Symbol", `""`, "must not be empty"))
	}
	if c.Fast < 1 {
		errs = append(errs, fieldErr("TrendConfig.Fast", c.Fast, "must be at least 1 candle"))
	}
	if c.Slow <= c.Fast || c.Slow > 10_000 {
		errs = append(errs, fieldErr("TrendConfig.Slow", c.Slow, fmt.Sprintf("must be above Fast (%d) and at most 10000 candles", c.Fast)))
	}
	if err := checkFraction("TrendConfig.Enter", c.Enter); err != nil {
		errs = append(errs, err)
	}
	if c.Exit.IsNegative() || c.Exit.GreaterThanOrEqual(c.Enter) {
		errs = append(errs, fieldErr("TrendConfig.Exit", c.Exit, "must be at least 0 and below Enter "+c.Enter.String()))
	}
	return errors.Join(errs...)
}

// emaPlaces is the precision of the averages: far below any tick (1e-8)
// and rounding the same way every time, so a replay gives the same state.
const emaPlaces = 18

// TrendFilter is a trend filter over candles: a fast and a slow
// exponential moving average of the closes of one symbol's closed candles,
// and their gap (fast − slow) / slow. A gap at or beyond ±Enter is a
// strong trend (up or down); the trend holds until the gap is back within
// ±Exit. Before Slow closed candles have been seen there is no trend.
//
// A grid uses it one-sided (grid.WithTrendFilter): a down-trend pauses the
// entries that buy (long slots), an up-trend those that sell (short
// slots), and exits keep working. As a plain [Monitor] (Observe) it
// reports Triggered while either trend is strong, which pauses both sides.
//
// Unclosed candles, other symbols, other intervals and candles not after
// the last one read are ignored. The zero value is inert (never
// triggers); build one with [NewTrendFilter]. Not safe for concurrent use.
type TrendFilter struct {
	cfg        TrendConfig
	ok         bool
	n          int // closed candles read
	last       time.Time
	fast, slow decimal.Decimal
	kFast      decimal.Decimal // 2 / (Fast + 1)
	kSlow      decimal.Decimal
	gap        decimal.Decimal
	trend      Trend
	status     Status
}

// NewTrendFilter returns a trend filter, or the configuration's errors.
func NewTrendFilter(cfg TrendConfig) (*TrendFilter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	two := decimal.NewFromInt(2)
	return &TrendFilter{
		cfg: cfg, ok: true,
		kFast: two.DivRound(decimal.NewFromInt(int64(cfg.Fast+1)), emaPlaces),
		kSlow: two.DivRound(decimal.NewFromInt(int64(cfg.Slow+1)), emaPlaces),
	}, nil
}

// Name returns the configured name.
func (f *TrendFilter) Name() string { return f.cfg.Name }

// Config returns the filter's configuration.
func (f *TrendFilter) Config() TrendConfig { return f.cfg }

// Trend returns the trend judged after the last candle.
func (f *TrendFilter) Trend() Trend { return f.trend }

// Gap returns (fast − slow) / slow after the last candle, a fraction
// (−0.012 = the fast average 1.2 % below the slow one); zero until Slow
// candles have been read.
func (f *TrendFilter) Gap() decimal.Decimal { return f.gap }

// Observe implements [Monitor]: it reads a closed candle of the symbol and
// returns Triggered while a trend is strong, either way.
func (f *TrendFilter) Observe(o Observation) Status {
	if !f.ok || o.Kind != KindKline {
		return f.status
	}
	k := o.Kline
	sym := o.Symbol
	if sym == "" {
		sym = k.Symbol
	}
	if sym != f.cfg.Symbol || !k.Closed || !k.Close.IsPositive() ||
		(f.cfg.Interval != "" && k.Interval != f.cfg.Interval) || (f.n > 0 && !k.OpenTime.After(f.last)) {
		return f.status
	}
	f.last = k.OpenTime
	f.n++
	if f.n == 1 {
		f.fast, f.slow = k.Close, k.Close
	} else {
		f.fast = f.fast.Add(k.Close.Sub(f.fast).Mul(f.kFast)).Round(emaPlaces)
		f.slow = f.slow.Add(k.Close.Sub(f.slow).Mul(f.kSlow)).Round(emaPlaces)
	}
	if f.n < f.cfg.Slow {
		return f.status
	}
	f.gap = f.fast.Sub(f.slow).DivRound(f.slow, emaPlaces)
	next := f.judge()
	if next == f.trend {
		return f.status
	}
	f.trend = next
	what := "trend faded"
	if next != TrendNone {
		what = next.String() + "-trend"
	}
	f.status = Status{Triggered: next != TrendNone, Reason: fmt.Sprintf("%s on the %s candle of %s: EMA%d %s is %s from EMA%d %s (enter ±%s, exit ±%s)",
		what, f.interval(), fmtTime(k.OpenTime), f.cfg.Fast, f.fast.Round(8), signedPct(f.gap), f.cfg.Slow, f.slow.Round(8),
		pct2(f.cfg.Enter), pct2(f.cfg.Exit))}
	return f.status
}

// judge applies the thresholds with hysteresis to the current gap.
func (f *TrendFilter) judge() Trend {
	neg := f.gap.Neg()
	switch {
	case f.gap.GreaterThanOrEqual(f.cfg.Enter):
		return TrendUp
	case neg.GreaterThanOrEqual(f.cfg.Enter):
		return TrendDown
	case f.trend == TrendUp && f.gap.GreaterThanOrEqual(f.cfg.Exit):
		return TrendUp
	case f.trend == TrendDown && neg.GreaterThanOrEqual(f.cfg.Exit):
		return TrendDown
	}
	return TrendNone
}

func (f *TrendFilter) interval() string {
	if f.cfg.Interval == "" {
		return "latest"
	}
	return f.cfg.Interval
}

// signedPct formats a fraction as a signed percentage: −0.0123 → "-1.23%".
func signedPct(d decimal.Decimal) string {
	if d.IsNegative() {
		return "-" + pct2(d.Neg())
	}
	return "+" + pct2(d)
}
