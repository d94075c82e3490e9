package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/examples/internal/cli"
	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/binance"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/pricefeed"
	"github.com/gridmesh/gridmesh/risk"
)

// Environment variables holding the API credentials.
const (
	envAPIKey    = "BINANCE_API_KEY"
	envAPISecret = "BINANCE_API_SECRET"
)

// defaultSpan is how far either side of the price a grid without -lower
// and -upper reaches: 2.5 %.
var defaultSpan = decimal.RequireFromString("0.025")

// flags are the command line, as text where they are money.
type flags struct {
	live, local, testnet, keepOrders, verbose, geometric, noInitial bool

	symbol, mode, gridID                         string
	lower, upper, trailing, amount               string
	makerFee, takerFee, maintRate                string
	intervals, layers, window, hysteresis, lever int
	duration, coalesce                           time.Duration
	speed                                        float64
}

func parseFlags(args []string, stderr io.Writer) (flags, error) {
	var f flags
	fs := flag.NewFlagSet("binance", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&f.live, "live", false, "place orders (default: a dry run that prints the orders the grid would place)")
	fs.BoolVar(&f.local, "local", false, "use an in-process local venue (binancetest) replaying recorded BTCUSDT prices: no network, no keys")
	fs.BoolVar(&f.testnet, "testnet", false, "use Binance's testnet (demo) endpoints")
	fs.StringVar(&f.symbol, "symbol", "BTCUSDT", "symbol")
	fs.StringVar(&f.mode, "mode", "long", "grid mode: long, short or neutral")
	fs.StringVar(&f.lower, "lower", "", "lower bound of a bounded grid (default: 2.5 % below the current price)")
	fs.StringVar(&f.upper, "upper", "", "upper bound of a bounded grid (default: 2.5 % above the current price)")
	fs.IntVar(&f.intervals, "intervals", 20, "number of grid intervals of a bounded grid (it has intervals+1 price levels)")
	fs.IntVar(&f.intervals, "levels", 20, "deprecated: the old name of -intervals")
	fs.StringVar(&f.trailing, "trailing", "", "make a trailing grid with this interval (a price step; a fraction with -geometric) instead of a bounded one")
	fs.IntVar(&f.layers, "layers", 20, "layer cap of a trailing grid: the most levels held or entering at once")
	fs.BoolVar(&f.geometric, "geometric", false, "geometric (equal-ratio) levels")
	fs.StringVar(&f.amount, "amount", "200", "notional of every order, in quote currency (USDT)")
	fs.IntVar(&f.window, "window", 10, "levels kept live on each side (buy and sell windows)")
	fs.IntVar(&f.hysteresis, "hysteresis", 2, "levels an order may stray outside its window before it is canceled")
	fs.BoolVar(&f.noInitial, "no-initial", false, "do not buy (sell) the initial position of a bounded long (short) grid")
	fs.StringVar(&f.gridID, "grid-id", "bn", "grid ID: prefixes the grid's client order IDs (1 to 9 letters or digits); a restart with the same ID carries on")
	fs.IntVar(&f.lever, "leverage", 5, "leverage the pre-start checks plan with (-local sets the local account to it)")
	fs.StringVar(&f.makerFee, "maker-fee", "0.0002", "maker fee rate, for the pre-start checks (negative for a rebate)")
	fs.StringVar(&f.takerFee, "taker-fee", "0.0005", "taker fee rate, for the pre-start checks")
	fs.StringVar(&f.maintRate, "maint-rate", "0.004", "maintenance margin rate, for the pre-start checks")
	fs.BoolVar(&f.keepOrders, "keep-orders", false, "on exit, leave the grid's entries on the book (default: cancel them)")
	fs.DurationVar(&f.duration, "duration", 0, "with -live, how long to trade (0: until interrupted)")
	fs.DurationVar(&f.coalesce, "coalesce", pricefeed.DefaultInterval, "price coalescing interval of the grid's feed (0: every tick)")
	fs.Float64Var(&f.speed, "speed", 3000, "with -local -live, replay speed: recorded time per wall-clock time (3000: a 1-minute candle every 20 ms)")
	fs.BoolVar(&f.verbose, "v", false, "log debug messages")
	if err := cli.Parse(fs, args); err != nil {
		return f, err
	}
	return f, nil
}

// setup is what the flags describe, checked; the bounds may still be
// unset (taken from the price once it is known).
type setup struct {
	mode                   grid.Mode
	lower, upper, trailing decimal.Decimal
	amount                 decimal.Decimal
	base                   risk.Plan // leverage, margin mode, fees, maintenance rate
	apiKey, apiSecret      binance.Secret
	bounded                bool
}

// check turns the flags into a setup, reporting every bad flag at once.
func (f flags) check(getenv func(string) string) (setup, error) {
	var errs []string
	bad := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	dec := func(name, v string) decimal.Decimal {
		d, err := decimal.NewFromString(v)
		if err != nil {
			bad("-%s %q is not a decimal number", name, v)
		}
		return d
	}
	var s setup
	var err error
	if s.amount, err = decimal.NewFromString(f.amount); err != nil {
		bad("-amount %q is not a decimal number", f.amount)
	} else if !s.amount.IsPositive() {
		bad("-amount %s must be positive", f.amount)
	}
	if s.mode, err = grid.ParseMode(f.mode); err != nil {
		bad("-mode: %v", err)
	}
	if f.symbol == "" || strings.ToUpper(f.symbol) != f.symbol {
		bad("-symbol %q must be an upper-case symbol such as BTCUSDT", f.symbol)
	}
	if err := grid.ValidGridID(f.gridID); err != nil {
		bad("-grid-id: %v", err)
	}
	switch {
	case f.trailing != "":
		if f.lower != "" || f.upper != "" {
			bad("-trailing makes an unbounded grid: drop -lower and -upper")
		}
		s.trailing = dec("trailing", f.trailing)
	default:
		s.bounded = true
		if (f.lower == "") != (f.upper == "") {
			bad("set both -lower and -upper, or neither (2.5 %% either side of the price)")
		} else if f.lower != "" {
			s.lower, s.upper = dec("lower", f.lower), dec("upper", f.upper)
		}
	}
	if f.window < 1 {
		bad("-window %d must be at least 1", f.window)
	}
	if f.hysteresis < 0 {
		bad("-hysteresis %d must not be negative", f.hysteresis)
	}
	if f.lever < 1 || f.lever > 125 {
		bad("-leverage %d must be 1 to 125", f.lever)
	}
	s.base = risk.Plan{Leverage: f.lever, MarginMode: exchange.Cross,
		MakerFee: dec("maker-fee", f.makerFee), TakerFee: dec("taker-fee", f.takerFee), MaintenanceRate: dec("maint-rate", f.maintRate)}
	if f.coalesce < 0 {
		bad("-coalesce %s must not be negative", f.coalesce)
	}
	if f.duration < 0 {
		bad("-duration %s must not be negative", f.duration)
	}
	if !(f.speed > 0) || f.speed > 1e6 { // also refuses NaN
		bad("-speed %v must be above 0 and at most 1e6", f.speed)
	}
	if f.local && f.testnet {
		bad("-local and -testnet exclude each other")
	}
	if f.local && f.symbol != "BTCUSDT" {
		bad("-local lists BTCUSDT only (it replays recorded BTCUSDT prices), not %q", f.symbol)
	}
	if !f.local {
		key, secret := getenv(envAPIKey), getenv(envAPISecret)
		switch {
		case (key == "") != (secret == ""):
			bad("set both %s and %s, or neither", envAPIKey, envAPISecret)
		case key == "" && f.live:
			bad("-live needs %s and %s in the environment (or -local)", envAPIKey, envAPISecret)
		}
		s.apiKey, s.apiSecret = binance.NewSecret(key), binance.NewSecret(secret)
	}
	if len(errs) > 0 {
		return setup{}, cli.Usage(strings.Join(errs, "; "))
	}
	return s, nil
}
