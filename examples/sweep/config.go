package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/examples/internal/cli"
	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/sim"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/grid/backtest"
	"github.com/gridmesh/gridmesh/pricefeed"
)

// parser collects every bad flag, so all are reported at once.
type parser struct{ errs []string }

func (p *parser) fail(format string, a ...any) { p.errs = append(p.errs, fmt.Sprintf(format, a...)) }

// items splits a comma-separated list, dropping blanks.
func items(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (p *parser) dec(name, v string) decimal.Decimal {
	d, err := decimal.NewFromString(strings.TrimSpace(v))
	if err != nil {
		p.fail("-%s %q is not a decimal number", name, v)
	}
	return d
}

func (p *parser) decs(name, v string) []decimal.Decimal {
	var out []decimal.Decimal
	for _, s := range items(v) {
		d := p.dec(name, s)
		if !d.IsPositive() {
			p.fail("-%s %s must be positive", name, s)
		}
		out = append(out, d)
	}
	return out
}

func (p *parser) ints(name, v string, lo, hi int) []int {
	var out []int
	for _, s := range items(v) {
		n, err := strconv.Atoi(s)
		switch {
		case err != nil:
			p.fail("-%s %q is not a whole number", name, s)
		case n < lo || n > hi:
			p.fail("-%s %d must be %d to %d", name, n, lo, hi)
		}
		out = append(out, n)
	}
	return out
}

// config turns the flags into a sweep (without its split, which needs
// the candles), reporting every bad flag at once as a usage error.
func (f flags) config() (backtest.SweepConfig, error) {
	var p parser
	rules := exchange.Rules{
		Symbol: f.symbol, TickSize: p.dec("tick", f.tick), StepSize: p.dec("step", f.step),
		MinQty: p.dec("min-qty", f.minQty), MinNotional: p.dec("min-notional", f.minNotional),
	}
	var sp backtest.Space
	for _, s := range items(f.modes) {
		m, err := grid.ParseMode(s)
		if err != nil {
			p.fail("-modes: %v", err)
		}
		sp.Modes = append(sp.Modes, m)
	}
	for _, s := range items(f.bounds) {
		lo, hi, ok := strings.Cut(s, "-")
		if !ok {
			p.fail("-bounds %q: want lower-upper, such as 90000-115000", s)
			continue
		}
		r := backtest.Range{Lower: p.dec("bounds", lo), Upper: p.dec("bounds", hi)}
		if !r.Lower.LessThan(r.Upper) || !r.Lower.IsPositive() {
			p.fail("-bounds %s: lower must be positive and below upper", s)
		}
		sp.Bounds = append(sp.Bounds, r)
	}
	sp.Levels = p.ints("intervals", f.intervals, 1, 100_000)
	sp.Trailing = p.decs("trailing", f.trailing)
	sp.LayerCaps = p.ints("layers", f.layers, 1, 100_000)
	sp.Amounts = p.decs("amounts", f.amounts)
	sp.Windows = p.ints("windows", f.windows, 1, 100_000)
	sp.Leverages = p.ints("leverages", f.leverages, 1, 125)
	for _, s := range items(f.geometric) {
		g, err := strconv.ParseBool(s)
		if err != nil {
			p.fail("-geometric %q: want true or false", s)
		}
		sp.Geometric = append(sp.Geometric, g)
	}
	metric, err := backtest.ParseMetric(f.metric)
	if err != nil {
		p.fail("-metric: %s", strings.TrimPrefix(err.Error(), "backtest: "))
	}
	if f.top < 1 {
		p.fail("-top %d must be positive", f.top)
	}
	if f.workers < 0 {
		p.fail("-workers %d must not be negative", f.workers)
	}
	maker, taker, balance := p.dec("maker-fee", f.maker), p.dec("taker-fee", f.taker), p.dec("balance", f.balance)
	if len(p.errs) == 0 {
		if err := rules.Validate(); err != nil {
			p.fail("%v", err)
		}
	}
	if len(p.errs) > 0 {
		return backtest.SweepConfig{}, cli.Usage(strings.Join(p.errs, "; "))
	}
	sc := sim.DefaultCoreConfig(rules)
	if sc.MakerFee, err = exchange.RateFromDecimal(maker); err != nil {
		p.fail("-maker-fee: %v", err)
	}
	if sc.TakerFee, err = exchange.RateFromDecimal(taker); err != nil {
		p.fail("-taker-fee: %v", err)
	}
	if !balance.IsPositive() {
		p.fail("-balance %s must be positive", balance)
	} else if sc.InitialBalance, err = rules.DecimalToMoney(balance); err != nil {
		p.fail("-balance: %v", err)
	}
	if _, err := sp.Combinations(); err != nil {
		p.fail("%s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	if len(p.errs) > 0 {
		return backtest.SweepConfig{}, cli.Usage(strings.Join(p.errs, "; "))
	}
	return backtest.SweepConfig{
		Base:  backtest.Config{Rules: rules, Sim: sc, Grid: []grid.Option{grid.WithGridID("sweep")}},
		Space: sp, Metric: metric, Workers: f.workers, Top: f.top,
	}, nil
}

// splitAt reads -split: "none" (or empty), a fraction of the candles' time
// span, a date or an RFC 3339 time inside the data.
func (f flags) splitAt(candles []pricefeed.Candle) (time.Time, error) {
	s := strings.TrimSpace(f.split)
	if s == "" || s == "none" {
		return time.Time{}, nil
	}
	if frac, err := strconv.ParseFloat(s, 64); err == nil {
		t, err := backtest.SplitAt(candles, frac)
		if err != nil {
			return time.Time{}, cli.Usage(fmt.Sprintf("-split %s: must be a fraction between 0 and 1, a date or \"none\"", s))
		}
		return t, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		if t, err = time.Parse(time.RFC3339, s); err != nil {
			return time.Time{}, cli.Usage(fmt.Sprintf("-split %q: want a fraction such as 0.7, a date such as 2025-05-25, an RFC 3339 time or \"none\"", s))
		}
	}
	first, last := time.UnixMilli(candles[0].OpenTime), time.UnixMilli(candles[len(candles)-1].OpenTime)
	if !t.After(first) || !t.Before(last) {
		return time.Time{}, cli.Usage(fmt.Sprintf("-split %s is outside the data (%s to %s UTC)", s,
			first.UTC().Format("2006-01-02 15:04"), last.UTC().Format("2006-01-02 15:04")))
	}
	return t, nil
}
