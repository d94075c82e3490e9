package grid

import (
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/risk"
)

// WithTrendFilter pauses entries against a strong trend: a
// [risk.TrendFilter] built from cfg (a fast and a slow moving average of
// the closes of cfg.Symbol's cfg.Interval candles, with hysteresis; see
// [risk.DefaultTrendConfig]) reads the candles the host feeds
// [Engine.ObserveRisk]. In a down-trend the entries that buy (long slots')
// are paused, in an up-trend those that sell (short slots'); the other
// side's entries and every exit keep working, and the side resumes when
// the trend fades. With cancelEntries the paused side's live entries are
// canceled too (default: they stay, but no new ones are placed).
//
// The pause is [Engine.PauseSide] as [PauseTrend]; Stats shows the trend,
// the gap and which side is held, and the observer gets a [RiskNote] for
// each change (Monitor "trend" or cfg.Name). cfg.Symbol must be the grid's
// symbol. The runner feeds candles when its kline interval is set
// ([WithRiskKlines]); the backtest feeds its own. The filter starts cold
// (it needs cfg.Slow candles) and is not part of the stored state: a
// restarted engine warms it up again.
//
// Default: no trend filter. Example:
//
//	grid.WithTrendFilter(risk.DefaultTrendConfig("NEARUSDT"), false)
func WithTrendFilter(cfg risk.TrendConfig, cancelEntries bool) Option {
	return optionFunc(func(c *config) { c.trend, c.trendCancels = &cfg, cancelEntries })
}

func (c *config) validateTrend() {
	if c.trend == nil {
		return
	}
	if err := c.trend.Validate(); err != nil {
		c.fail("WithTrendFilter", fmt.Sprintf("%+v", *c.trend), "%v", err)
	}
}

// initTrend builds the trend filter for the engine's symbol.
func (e *Engine) initTrend() error {
	if e.cfg.trend == nil {
		return nil
	}
	if e.cfg.trend.Symbol != e.rules.Symbol {
		return &OptionError{Option: "WithTrendFilter", Value: e.cfg.trend.Symbol,
			Reason: fmt.Sprintf("the trend filter's symbol must be the grid's, %s", e.rules.Symbol)}
	}
	f, err := risk.NewTrendFilter(*e.cfg.trend)
	if err != nil {
		return &OptionError{Option: "WithTrendFilter", Value: e.cfg.trend.Symbol, Reason: err.Error()}
	}
	e.trend = f
	return nil
}

// observeTrend feeds the trend filter a candle and applies a change of the
// trend: a one-sided pause as PauseTrend, or its resume. It appends to e.out.
func (e *Engine) observeTrend(o risk.Observation) {
	if e.trend == nil || o.Kind != risk.KindKline {
		return
	}
	before := e.trend.Trend()
	st := e.trend.Observe(o)
	after := e.trend.Trend()
	if after == before {
		return
	}
	e.log.Warn("grid: trend filter", "trend", after.String(), "gap", e.trend.Gap().String(), "reason", st.Reason)
	side := trendSide(after)
	held := side == exchange.Buy && e.longSlots || side == exchange.Sell && e.shortSlots
	e.obs.Risk(RiskNote{Time: o.Time, Paused: e.paused || held, Monitor: e.trend.Name(), Triggered: after != risk.TrendNone, Reason: st.Reason})
	if !held {
		e.resume(o.Time, PauseTrend) // nothing of the grid goes against this trend
		return
	}
	e.pause(o.Time, pauseEntry{owner: PauseTrend, reason: st.Reason, side: side, cancel: e.cfg.trendCancels})
}

// trendSide is the entry side a trend goes against: buys in a down-trend,
// sells in an up-trend.
func trendSide(t risk.Trend) exchange.Side {
	switch t {
	case risk.TrendDown:
		return exchange.Buy
	case risk.TrendUp:
		return exchange.Sell
	}
	return 0
}

// Trend returns the trend filter's judgement ([risk.TrendNone] without
// [WithTrendFilter]) and its gap, (fast − slow) / slow.
func (e *Engine) Trend() (risk.Trend, decimal.Decimal) {
	if e.trend == nil {
		return risk.TrendNone, decimal.Zero
	}
	return e.trend.Trend(), e.trend.Gap()
}

// trendStats fills the Stats of the trend filter, the sides' pauses and
// the maker-only counts.
func (e *Engine) trendStats(st *Stats) {
	if e.trend != nil {
		st.Trend, st.TrendGap = e.trend.Trend().String(), e.trend.Gap()
	}
	st.BuysPaused, st.SellsPaused = e.EntriesPaused(exchange.Buy), e.EntriesPaused(exchange.Sell)
	st.PostOnlyRejects, st.Repriced, st.MakerFallbacks = e.maker.rejects, e.maker.repriced, e.maker.fallbacks
}
