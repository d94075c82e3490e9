// Command backtest runs a grid backtest on recorded 1-minute candles and
// prints a summary. With no flags it backtests a bounded long grid on the
// real BTCUSDT perpetual data this repository ships (May–June 2025):
//
//	go run ./examples/backtest
//	go run ./examples/backtest -mode neutral -lower 100000 -upper 110000 -levels 40
//	go run ./examples/backtest -report out.html -trades t.csv -equity e.csv -json r.json
//	go run ./examples/backtest -h
//
// Bad flags print the problem and exit with status 2.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/examples/internal/cli"
	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/sim"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/grid/backtest"
	"github.com/gridmesh/gridmesh/pricefeed"
)

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	cli.Exit("backtest", err)
}

// flags are the command line, as decimals where they are money.
type flags struct {
	data, symbol, mode                       string
	tick, step, minQty, minNotional          string
	lower, upper, amount, balance, maker, tk string
	trailing                                 string
	levels, window, layers, leverage         int
	geometric, noInitial, tradeThrough       bool
	out                                      outputs
}

func parseFlags(args []string, stderr io.Writer) (flags, error) {
	var f flags
	fs := flag.NewFlagSet("backtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.data, "data", cli.DefaultData, "kline CSV (OHLCV with header, or Binance's 12-column dump), gzip or plain")
	fs.StringVar(&f.symbol, "symbol", "BTCUSDT", "symbol name")
	fs.StringVar(&f.tick, "tick", "0.1", "tick size")
	fs.StringVar(&f.step, "step", "0.001", "step size")
	fs.StringVar(&f.minQty, "min-qty", "0.001", "minimum order quantity")
	fs.StringVar(&f.minNotional, "min-notional", "100", "minimum order notional")
	fs.StringVar(&f.mode, "mode", "long", "grid mode: long, short or neutral")
	fs.StringVar(&f.lower, "lower", "90000", "lower bound of a bounded grid")
	fs.StringVar(&f.upper, "upper", "115000", "upper bound of a bounded grid")
	fs.IntVar(&f.levels, "levels", 50, "number of grid intervals of a bounded grid")
	fs.StringVar(&f.trailing, "trailing", "", "make a trailing grid with this interval (a price step; a fraction with -geometric) instead of a bounded one")
	fs.IntVar(&f.layers, "layers", 40, "layer cap of a trailing grid")
	fs.BoolVar(&f.geometric, "geometric", false, "geometric (equal-ratio) levels")
	fs.StringVar(&f.amount, "amount", "200", "notional of every order, in quote currency")
	fs.IntVar(&f.window, "window", 10, "levels kept live on each side (buy and sell windows)")
	fs.BoolVar(&f.noInitial, "no-initial", false, "do not buy (sell) the initial position of a bounded long (short) grid")
	fs.StringVar(&f.balance, "balance", "10000", "initial balance, in quote currency")
	fs.IntVar(&f.leverage, "leverage", 5, "leverage")
	fs.StringVar(&f.maker, "maker-fee", "0.0002", "maker fee rate (negative for a rebate)")
	fs.StringVar(&f.tk, "taker-fee", "0.0005", "taker fee rate")
	fs.BoolVar(&f.tradeThrough, "trade-through", false, "pessimistic fills: the price must trade one tick through a resting order")
	f.out.register(fs)
	if err := cli.Parse(fs, args); err != nil {
		return f, err
	}
	return f, nil
}

// config turns the flags into a backtest configuration, reporting every
// bad flag at once.
func (f flags) config() (backtest.Config, error) {
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
	opts := []grid.Option{
		grid.WithGridID("bt"), grid.WithMode(mode), grid.WithAmount(dec("amount", f.amount)),
		grid.WithWindows(f.window, f.window, 2),
	}
	if f.trailing != "" {
		opts = append(opts, grid.WithTrailing(dec("trailing", f.trailing), f.layers))
	} else {
		opts = append(opts, grid.WithBounds(dec("lower", f.lower), dec("upper", f.upper), f.levels))
		if f.noInitial {
			opts = append(opts, grid.WithInitialPosition(false))
		}
	}
	if f.geometric {
		opts = append(opts, grid.WithGeometric())
	}
	maker, tk := dec("maker-fee", f.maker), dec("taker-fee", f.tk)
	balance := dec("balance", f.balance)
	if len(errs) > 0 {
		return backtest.Config{}, cli.Usage(strings.Join(errs, "; "))
	}
	if err := rules.Validate(); err != nil {
		return backtest.Config{}, cli.Usage(err.Error())
	}
	sc := sim.DefaultCoreConfig(rules)
	if sc.MakerFee, err = exchange.RateFromDecimal(maker); err != nil {
		errs = append(errs, "-maker-fee: "+err.Error())
	}
	if sc.TakerFee, err = exchange.RateFromDecimal(tk); err != nil {
		errs = append(errs, "-taker-fee: "+err.Error())
	}
	if !balance.IsPositive() {
		errs = append(errs, fmt.Sprintf("-balance %s must be positive", balance))
	} else if sc.InitialBalance, err = rules.DecimalToMoney(balance); err != nil {
		errs = append(errs, "-balance: "+err.Error())
	}
	if f.leverage < 1 || f.leverage > 125 {
		errs = append(errs, fmt.Sprintf("-leverage %d must be 1 to 125", f.leverage))
	}
	sc.Leverage = int64(f.leverage)
	sc.TradeThrough = f.tradeThrough
	if mode == grid.Neutral {
		sc.PositionMode = exchange.Hedge
		opts = append(opts, grid.WithPositionMode(exchange.Hedge))
	}
	if len(errs) > 0 {
		return backtest.Config{}, cli.Usage(strings.Join(errs, "; "))
	}
	return backtest.Config{Rules: rules, Sim: sc, Grid: opts}, nil
}

func run(args []string, stdout, stderr io.Writer) error {
	f, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	cfg, err := f.config()
	if err != nil {
		return err
	}
	path, err := cli.FindData(f.data)
	if err != nil {
		return cli.Usage(err.Error())
	}
	candles, err := pricefeed.ReadCandlesFile(path, cfg.Rules)
	if err != nil {
		return err
	}
	var done func()
	cfg.Progress, done = f.out.progress()
	res, err := backtest.Run(candles, cfg)
	done()
	if err != nil {
		var oe *grid.OptionError
		if errors.As(err, &oe) {
			return cli.Usage(err.Error())
		}
		return err
	}
	report(stdout, f, path, res)
	return f.out.write(stdout, res)
}

func report(w io.Writer, f flags, path string, r backtest.Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k string, v any) { fmt.Fprintf(tw, "%s\t%v\n", k, v) }
	money := func(d decimal.Decimal) string { return d.StringFixed(2) }
	kind := "bounded " + f.lower + "–" + f.upper + fmt.Sprintf(", %d intervals", f.levels)
	if f.trailing != "" {
		kind = "trailing, interval " + f.trailing + fmt.Sprintf(", layer cap %d", f.layers)
	}
	if f.geometric {
		kind += ", geometric"
	}
	fmt.Fprintf(w, "gridmesh backtest — %s %s grid (%s), %s per order, window %d\n", f.symbol, f.mode, kind, f.amount, f.window)
	fmt.Fprintf(w, "data: %s\n\n", filepath.Base(path))
	row("period", r.Start.UTC().Format("2006-01-02 15:04")+" → "+r.End.UTC().Format("2006-01-02 15:04")+" UTC")
	row("candles", r.Candles)
	row("price", r.OpenPrice.String()+" → "+r.ClosePrice.String())
	row("round trips", r.RoundTrips)
	row("fills (maker / taker)", fmt.Sprintf("%d (%d / %d)", r.Fills, r.MakerFills, r.TakerFills))
	row("orders / cancels / rejections", fmt.Sprintf("%d / %d / %d", r.Orders, r.Cancels, r.Rejections))
	row("realized (gross)", money(r.Realized))
	row("fees", money(r.Fees))
	row("realized net of fees", money(r.NetRealized))
	row("unrealized at close", money(r.Unrealized))
	row("position at close", r.Position.String())
	row("initial balance", money(r.InitialBalance))
	row("final equity", money(r.FinalEquity))
	row("PnL", money(r.PnL)+fmt.Sprintf(" (%s%%)", r.PnL.Mul(decimal.NewFromInt(100)).Div(r.InitialBalance).StringFixed(2)))
	row("buy and hold (1×, same balance)", money(r.BuyAndHold.Sub(r.InitialBalance)))
	row("max drawdown", money(r.MaxDrawdown)+" ("+r.MaxDrawdownPct.StringFixed(2)+"%)")
	row("max position", r.MaxPosition.String()+" (notional "+money(r.MaxNotional)+")")
	if r.Liquidations > 0 {
		row("LIQUIDATED", r.LiquidatedAt.UTC().Format("2006-01-02 15:04")+": "+r.Halted)
	} else {
		row("liquidations", 0)
	}
	tw.Flush()
}
