// Command backtest runs a grid backtest on recorded 1-minute candles and
// prints a summary. With no flags it backtests a bounded long grid on the
// real BTCUSDT perpetual data this repository ships (May–June 2025),
// charged the month's real funding settlements, as the venue would book
// it: margin checked (an order the account cannot margin is refused),
// liquidation by margin mode, market orders slipping 1 bp, fees and funding
// exact.
//
//	go run ./examples/backtest
//	go run ./examples/backtest -mode neutral -lower 90000 -upper 110000 -intervals 20
//	go run ./examples/backtest -from 2025-05-20 -to 2025-05-31 -margin-mode isolated
//	go run ./examples/backtest -report out.html -trades t.csv -equity e.csv -json r.json
//	go run ./examples/backtest -h
//
// Input a trader can get wrong is said plainly: warnings on standard error
// (a bad print in the data, a tick so coarse it moves levels, a negative
// taker fee, a range the price never enters, fixed-amount sizing that
// floors orders far from the amount, no funding), and every bad flag
// prints the problem in the flag's units and exits with status 2.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/gridmesh/gridmesh/examples/internal/cli"
	"github.com/gridmesh/gridmesh/grid/backtest"
	"github.com/gridmesh/gridmesh/pricefeed"
)

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	cli.Exit("backtest", err)
}

// flags are the command line, as decimals where they are money.
type flags struct {
	data, funding, fundingRate, symbol, mode string
	tick, step, minQty, minNotional          string
	lower, upper, amount, balance, maker, tk string
	trailing, marginMode, slippageBps        string
	brackets                                 string
	from, to, spike                          string
	rounding, takeProfit, stopLoss           string
	triggerAbove, triggerBelow               string
	timeLimit                                time.Duration
	intervals, window, layers, leverage      int
	fundingHours, slippageTicks              int
	geometric, noInitial, tradeThrough       bool
	trend                                    bool
	noMarginCheck                            bool
	out                                      outputs
}

func parseFlags(args []string, stderr io.Writer) (flags, error) {
	var f flags
	fs := flag.NewFlagSet("backtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.data, "data", cli.DefaultData, "kline CSV (OHLCV with header, or Binance's 12-column dump), gzip or plain")
	fs.StringVar(&f.funding, "funding", "", "funding settlements: Binance's public-data CSV (calc_time,funding_interval_hours,last_funding_rate) or GET /fapi/v1/fundingRate JSON, gzip or plain; \"none\" for none (default: the shipped month's settlements with the shipped data)")
	fs.StringVar(&f.fundingRate, "funding-rate", "", "a constant funding rate per settlement instead of -funding (0.0001 is 0.01 %)")
	fs.IntVar(&f.fundingHours, "funding-interval", 8, "hours between settlements of -funding-rate")
	fs.StringVar(&f.symbol, "symbol", "BTCUSDT", "symbol name")
	fs.StringVar(&f.tick, "tick", "0.1", "tick size")
	fs.StringVar(&f.step, "step", "0.001", "step size")
	fs.StringVar(&f.minQty, "min-qty", "0.001", "minimum order quantity")
	fs.StringVar(&f.minNotional, "min-notional", "100", "minimum order notional")
	fs.StringVar(&f.mode, "mode", "long", "grid mode: long, short or neutral")
	fs.StringVar(&f.lower, "lower", "90000", "lower bound of a bounded grid")
	fs.StringVar(&f.upper, "upper", "115000", "upper bound of a bounded grid")
	fs.IntVar(&f.intervals, "intervals", 25, "number of grid intervals of a bounded grid (it has intervals+1 price levels)")
	fs.IntVar(&f.intervals, "levels", 25, "deprecated: the old name of -intervals")
	fs.StringVar(&f.trailing, "trailing", "", "make a trailing grid with this interval (a price step; a fraction with -geometric) instead of a bounded one")
	fs.IntVar(&f.layers, "layers", 40, "layer cap of a trailing grid")
	fs.BoolVar(&f.geometric, "geometric", false, "geometric (equal-ratio) levels")
	fs.StringVar(&f.amount, "amount", "1200", "notional of every order, in quote currency")
	fs.StringVar(&f.rounding, "rounding", "down", "how -amount / price is rounded to the step: down (never above the amount), nearest, or up (never below it)")
	fs.StringVar(&f.takeProfit, "take-profit", "", "stop the grid and close its position when its PnL reaches this (quote currency)")
	fs.StringVar(&f.stopLoss, "stop-loss", "", "stop the grid and close its position when its loss reaches this (quote currency, positive)")
	fs.DurationVar(&f.timeLimit, "time-limit", 0, "stop the grid and close its position this long after it started (e.g. 168h)")
	fs.StringVar(&f.triggerAbove, "trigger-above", "", "stay idle until the price reaches this or above")
	fs.StringVar(&f.triggerBelow, "trigger-below", "", "stay idle until the price reaches this or below")
	fs.BoolVar(&f.trend, "trend", false, "pause the entries against a strong trend: the default trend filter (EMA20 against EMA60 of the 1m closes, ±1 % to enter, ±0.4 % to leave)")
	fs.IntVar(&f.window, "window", 10, "levels kept live on each side (buy and sell windows)")
	fs.BoolVar(&f.noInitial, "no-initial", false, "do not buy (sell) the initial position of a bounded long (short) grid")
	fs.StringVar(&f.balance, "balance", "10000", "initial balance, in quote currency")
	fs.IntVar(&f.leverage, "leverage", 5, "leverage")
	fs.StringVar(&f.marginMode, "margin-mode", "cross", "margin mode: cross (a liquidation loses the whole balance) or isolated (it loses the position's margin)")
	fs.StringVar(&f.brackets, "brackets", "", "maintenance-margin brackets by notional: the JSON of Binance's GET /fapi/v1/leverageBracket (default: one tier at 0.4 %)")
	fs.BoolVar(&f.noMarginCheck, "no-margin-check", false, "do not refuse orders the account cannot margin (the venue would)")
	fs.StringVar(&f.maker, "maker-fee", "0.0002", "maker fee rate (negative for a rebate)")
	fs.StringVar(&f.tk, "taker-fee", "0.0005", "taker fee rate")
	fs.StringVar(&f.slippageBps, "slippage", "1", "slippage of market orders (initial position, hard stop), in basis points of the price")
	fs.IntVar(&f.slippageTicks, "slippage-ticks", 0, "slippage of market orders in ticks, added to -slippage")
	fs.BoolVar(&f.tradeThrough, "trade-through", false, "pessimistic fills: the price must trade one tick through a resting order")
	fs.StringVar(&f.from, "from", "", "replay candles from this time (2025-05-20 or 2025-05-20T12:00, UTC)")
	fs.StringVar(&f.to, "to", "", "replay candles up to this time (a date: to the end of that day; a time: up to it, excluded)")
	fs.StringVar(&f.spike, "spike", "3", "warn of a candle whose high or low is more than this many times its neighbours' closes (0: never)")
	f.out.register(fs)
	if err := cli.Parse(fs, args); err != nil {
		return f, err
	}
	return f, nil
}

func run(args []string, stdout, stderr io.Writer) error {
	f, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	s, err := f.setup()
	if err != nil {
		return err
	}
	path, err := cli.FindData(f.data)
	if err != nil {
		return cli.Usage(err.Error())
	}
	candles, err := pricefeed.ReadCandlesFile(path, s.cfg.Rules)
	if err != nil {
		return err
	}
	if candles, err = f.selectRange(candles, path, s); err != nil {
		return err
	}
	if err := f.loadFunding(&s); err != nil {
		return err
	}
	if f.brackets != "" {
		found, err := cli.FindFile("brackets", f.brackets)
		if err != nil {
			return err
		}
		if s.cfg.Sim.Brackets, err = backtest.ReadBracketsFile(found, s.cfg.Rules); err != nil {
			return cli.Usage("-brackets: " + strings.ReplaceAll(err.Error(), "backtest: ", ""))
		}
	}
	warn := func(msg string) { fmt.Fprintln(stderr, "backtest: warning: "+msg) }
	f.warnings(s, candles, warn)
	var done func()
	s.cfg.Progress, done = f.out.progress()
	res, err := backtest.Run(candles, s.cfg)
	done()
	if err != nil {
		var ce *backtest.ConfigError
		if errors.As(err, &ce) {
			return cli.Usage(f.explain(ce, s.cfg.Rules.TicksToPrice(candles[0].Open).String()))
		}
		return err
	}
	f.afterRun(s, res, warn)
	report(stdout, f, s, path, res)
	return f.out.write(stdout, res)
}

// explain turns a configuration the backtest refused into one message in
// the flags' terms: the grid's level errors (one per level) become the
// first with a count of the rest and the flag that caused them.
func (f flags) explain(ce *backtest.ConfigError, open string) string {
	lines := strings.Split(ce.Error(), "\n")
	msg := strings.TrimPrefix(lines[0], "backtest: ")
	if n := len(lines) - 1; n > 0 {
		msg += fmt.Sprintf(" (and %d more like it)", n)
	}
	if strings.Contains(msg, "CoreConfig.Brackets") {
		return "-brackets " + f.brackets + ": " + msg
	}
	if strings.Contains(msg, "Funding.Settlements") {
		return "-funding: " + msg
	}
	if strings.Contains(msg, "must start inside") {
		return fmt.Sprintf("-lower %s -upper %s: the price opens at %s, outside the range, and a %s grid must start inside it (%s)", f.lower, f.upper, open, f.mode, msg)
	}
	if strings.Contains(msg, "grid: level ") && strings.Contains(msg, "below the minimum") {
		return fmt.Sprintf("-amount %s is too small for the symbol's rules (-min-qty %s, -min-notional %s): %s", f.amount, f.minQty, f.minNotional, msg)
	}
	return msg
}
