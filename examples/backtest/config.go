package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/examples/internal/cli"
	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/sim"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/grid/backtest"
	"github.com/gridmesh/gridmesh/pricefeed"
	"github.com/gridmesh/gridmesh/risk"
)

// setup is the flags turned into a backtest and what the report and the
// warnings need to know of it.
type setup struct {
	cfg                  backtest.Config
	mode                 grid.Mode
	amount, lower, upper decimal.Decimal
	maker, taker         decimal.Decimal
	spike                decimal.Decimal
	trailing             decimal.Decimal
	from, to             time.Time // zero: unbounded
	slippage             backtest.Slippage
	funding              string // what funding is charged, for the report
}

// setup checks every flag, reporting every bad one at once, each in the
// flag's own units.
func (f flags) setup() (setup, error) {
	var s setup
	var errs []string
	dec := func(name, v string) decimal.Decimal {
		d, err := decimal.NewFromString(v)
		if err != nil {
			errs = append(errs, fmt.Sprintf("-%s %q is not a decimal number", name, v))
		}
		return d
	}
	rules := exchange.Rules{
		Symbol: f.symbol, TickSize: dec("tick", f.tick), StepSize: dec("step", f.step),
		MinQty: dec("min-qty", f.minQty), MinNotional: dec("min-notional", f.minNotional),
	}
	mode, err := grid.ParseMode(f.mode)
	if err != nil {
		errs = append(errs, "-mode: "+err.Error())
	}
	s.mode = mode
	s.amount = dec("amount", f.amount)
	s.lower, s.upper = dec("lower", f.lower), dec("upper", f.upper)
	opts := []grid.Option{
		grid.WithGridID("bt"), grid.WithMode(mode), grid.WithAmount(s.amount),
		grid.WithWindows(f.window, f.window, 2),
	}
	if f.trailing != "" {
		s.trailing = dec("trailing", f.trailing)
		opts = append(opts, grid.WithTrailing(s.trailing, f.layers))
	} else {
		opts = append(opts, grid.WithBounds(s.lower, s.upper, f.intervals))
		if f.noInitial {
			opts = append(opts, grid.WithInitialPosition(false))
		}
	}
	if f.geometric {
		opts = append(opts, grid.WithGeometric())
	}
	switch f.rounding {
	case "down":
	case "nearest":
		opts = append(opts, grid.WithAmountRounding(grid.RoundNearest))
	case "up":
		opts = append(opts, grid.WithAmountRounding(grid.RoundUp))
	default:
		errs = append(errs, fmt.Sprintf("-rounding %q: want down, nearest or up", f.rounding))
	}
	if f.takeProfit != "" {
		opts = append(opts, grid.WithTakeProfit(grid.AtPnL(dec("take-profit", f.takeProfit))))
	}
	if f.stopLoss != "" {
		opts = append(opts, grid.WithStopLoss(grid.AtPnL(dec("stop-loss", f.stopLoss))))
	}
	if f.timeLimit != 0 {
		opts = append(opts, grid.WithTimeLimit(f.timeLimit, true))
	}
	if f.trend {
		opts = append(opts, grid.WithTrendFilter(risk.DefaultTrendConfig(f.symbol), true))
	}
	switch {
	case f.triggerAbove != "" && f.triggerBelow != "":
		errs = append(errs, "-trigger-above and -trigger-below exclude each other")
	case f.triggerAbove != "":
		opts = append(opts, grid.WithStartTrigger(grid.TriggerAbove(dec("trigger-above", f.triggerAbove))))
	case f.triggerBelow != "":
		opts = append(opts, grid.WithStartTrigger(grid.TriggerBelow(dec("trigger-below", f.triggerBelow))))
	}
	s.maker, s.taker = dec("maker-fee", f.maker), dec("taker-fee", f.tk)
	balance := dec("balance", f.balance)
	slip := dec("slippage", f.slippageBps)
	s.spike = dec("spike", f.spike)
	if len(errs) > 0 {
		return s, cli.Usage(strings.Join(errs, "; "))
	}
	if err := rules.Validate(); err != nil {
		return s, cli.Usage(err.Error())
	}
	sc := sim.DefaultCoreConfig(rules)
	fee := func(name string, d decimal.Decimal) exchange.Rate {
		r, err := exchange.RateFromDecimal(d)
		switch {
		case err != nil:
			errs = append(errs, fmt.Sprintf("-%s %s: %v", name, d, err))
		case d.Abs().GreaterThanOrEqual(decimal.NewFromInt(1)):
			errs = append(errs, fmt.Sprintf("-%s %s must lie between -1 and 1 (0.0002 is 0.02 %%)", name, d))
		}
		return r
	}
	sc.MakerFee, sc.TakerFee = fee("maker-fee", s.maker), fee("taker-fee", s.taker)
	if !balance.IsPositive() {
		errs = append(errs, fmt.Sprintf("-balance %s must be positive", balance))
	} else if sc.InitialBalance, err = rules.DecimalToMoney(balance); err != nil || sc.InitialBalance <= 0 {
		errs = append(errs, fmt.Sprintf("-balance %s is not a positive amount in units of %s (tick × step)", balance, rules.MoneyUnit()))
	}
	if f.leverage < 1 || f.leverage > 125 {
		errs = append(errs, fmt.Sprintf("-leverage %d must be 1 to 125", f.leverage))
	}
	sc.Leverage = int64(f.leverage)
	sc.TradeThrough = f.tradeThrough
	switch f.marginMode {
	case "cross":
		sc.MarginMode = exchange.Cross
	case "isolated":
		sc.MarginMode = exchange.Isolated
	default:
		errs = append(errs, fmt.Sprintf("-margin-mode %q: want cross or isolated", f.marginMode))
	}
	if mode == grid.Neutral {
		sc.PositionMode = exchange.Hedge
		opts = append(opts, grid.WithPositionMode(exchange.Hedge))
	}
	if slip.IsNegative() || slip.GreaterThanOrEqual(decimal.NewFromInt(10_000)) || !slip.Equal(slip.Truncate(4)) {
		errs = append(errs, fmt.Sprintf("-slippage %s must be from 0 to 10000 basis points, with at most 4 decimals", slip))
	}
	if f.slippageTicks < 0 {
		errs = append(errs, fmt.Sprintf("-slippage-ticks %d must not be negative", f.slippageTicks))
	}
	s.slippage = backtest.Slippage{Ticks: int64(f.slippageTicks), Bps: slip}
	if s.spike.IsNegative() {
		errs = append(errs, fmt.Sprintf("-spike %s must not be negative", s.spike))
	}
	if s.from, err = when("from", f.from, false); err != nil {
		errs = append(errs, err.Error())
	}
	if s.to, err = when("to", f.to, true); err != nil {
		errs = append(errs, err.Error())
	}
	if !s.from.IsZero() && !s.to.IsZero() && !s.to.After(s.from) {
		errs = append(errs, fmt.Sprintf("-to %s must be after -from %s", f.to, f.from))
	}
	if f.fundingHours < 1 || f.fundingHours > 24 {
		errs = append(errs, fmt.Sprintf("-funding-interval %d must be 1 to 24 hours", f.fundingHours))
	}
	if f.fundingRate != "" && f.funding != "" && f.funding != "none" {
		errs = append(errs, "give -funding or -funding-rate, not both")
	}
	if len(errs) > 0 {
		return s, cli.Usage(strings.Join(errs, "; "))
	}
	s.cfg = backtest.Config{Rules: rules, Sim: sc, Grid: opts, SkipMarginCheck: f.noMarginCheck, Slippage: &s.slippage}
	return s, nil
}

// when parses a -from or -to time: a date (for -to, the end of that day)
// or a date and time, in UTC.
func when(name, v string, end bool) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse("2006-01-02", v); err == nil {
		if end {
			t = t.Add(24 * time.Hour)
		}
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("-%s %q is not a date (2025-05-20) or a time (2025-05-20T12:00, UTC)", name, v)
}

// selectRange keeps the candles within -from and -to.
func (f flags) selectRange(candles []pricefeed.Candle, path string, s setup) ([]pricefeed.Candle, error) {
	if s.from.IsZero() && s.to.IsZero() {
		return candles, nil
	}
	lo, hi := 0, len(candles)
	for lo < hi && !s.from.IsZero() && candles[lo].OpenTime < s.from.UnixMilli() {
		lo++
	}
	for hi > lo && !s.to.IsZero() && candles[hi-1].OpenTime >= s.to.UnixMilli() {
		hi--
	}
	if lo == hi {
		span := "no candles"
		if len(candles) > 0 {
			span = "candles from " + stamp(time.UnixMilli(candles[0].OpenTime)) + " to " + stamp(time.UnixMilli(candles[len(candles)-1].OpenTime))
		}
		return nil, cli.Usage(fmt.Sprintf("-from %q -to %q select no candle: %s has %s UTC", f.from, f.to, filepath.Base(path), span))
	}
	return candles[lo:hi], nil
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04") }

// loadFunding sets the funding: the -funding file, the -funding-rate, or
// by default the shipped settlements when the data is the shipped month.
func (f flags) loadFunding(s *setup) error {
	switch {
	case f.fundingRate != "":
		r, err := decimal.NewFromString(f.fundingRate)
		if err != nil {
			return cli.Usage(fmt.Sprintf("-funding-rate %q is not a decimal number", f.fundingRate))
		}
		if _, err := exchange.RateFromDecimal(r); err != nil || r.Abs().GreaterThanOrEqual(decimal.NewFromInt(1)) {
			return cli.Usage(fmt.Sprintf("-funding-rate %s must lie between -1 and 1 with at most 8 decimals (0.0001 is 0.01 %%)", r))
		}
		s.cfg.Funding = backtest.Funding{Rate: r, Interval: time.Duration(f.fundingHours) * time.Hour}
		s.funding = fmt.Sprintf("constant %s every %d h, marked at the close", r, f.fundingHours)
		return nil
	case f.funding == "none":
		s.funding = "none"
		return nil
	}
	path := f.funding
	if path == "" {
		if f.data != cli.DefaultData {
			s.funding = "none"
			return nil
		}
		path = cli.DefaultFunding
	}
	found, err := cli.FindFile("funding", path)
	if err != nil {
		return err
	}
	ss, err := backtest.ReadFundingFile(found)
	if err != nil {
		return cli.Usage("-funding: " + strings.ReplaceAll(err.Error(), "backtest: ", ""))
	}
	s.cfg.Funding = backtest.Funding{Settlements: ss}
	mark := "the close of the candle containing each settlement"
	if !ss[0].MarkPrice.IsZero() {
		mark = "the settlements' markPrice"
	}
	s.funding = "real settlements of " + filepath.Base(found) + ", marked at " + mark
	return nil
}
