// Command binance runs a grid on Binance USDⓈ-M perpetual futures.
//
// It is a dry run by default: it connects to the symbol's market data
// stream, loads the symbol's rules, reads the account when API keys are
// set, builds the grid at the current price and prints the orders the grid
// would place now, with the verdict of the pre-start risk checks. It places
// nothing. Only -live trades:
//
//	go run ./examples/binance -local                                # dry run against an in-process local venue
//	go run ./examples/binance -local -live -duration 20s            # trade on it; its price replays recorded candles
//	go run ./examples/binance -testnet                              # dry run on Binance's testnet (market data only without keys)
//	BINANCE_API_KEY=… BINANCE_API_SECRET=… go run ./examples/binance -testnet -live
//	BINANCE_API_KEY=… BINANCE_API_SECRET=… go run ./examples/binance -lower 95000 -upper 105000 -intervals 40
//	go run ./examples/binance -h
//
// # The local venue (-local)
//
// -local needs no network and no keys. It starts a binancetest server in
// the process — the protocol-faithful local Binance of package
// exchange/binance/binancetest: signed REST, the routed WebSocket streams,
// listen keys, a USDT account of 10,000 — lists BTCUSDT on it at the first
// price of the BTCUSDT month this repository ships
// (examples/data/binance-um_BTCUSDT_1m_2025-05-04_2025-06-03.csv.gz,
// 95,505.4 on 2025-05-04 15:33 UTC) and points the adapter at it, exactly
// as it would point at Binance. A dry run stops there. With -live the
// local market then moves along the recorded candles (each as its
// open → low → high → close path, -speed times faster than recorded: the
// default 3000 is one candle every 20 ms), the server fills the grid's
// resting orders the path reaches, and the grid trades as it would live.
// The local account is set to the grid's -leverage and, for a neutral
// grid, to hedge mode.
//
// # Keys
//
// BINANCE_API_KEY and BINANCE_API_SECRET are read from the environment
// into binance.Secret values, which print as "[REDACTED]" in every form:
// no key reaches a log line, an error or the output. Without keys a dry
// run uses public market data only; -live refuses to start. -testnet uses
// Binance's testnet (demo) endpoints and needs testnet keys.
//
// # Live
//
// -live runs grid.Runner: it opens the order stream first, rebuilds the
// grid from the venue's open orders and position (a restart with the same
// -grid-id carries on), runs the pre-start checks (a failure refuses to
// start, saying what is short), then places orders. Fills and round trips
// are printed as they happen; a summary is printed at the end. It runs for
// -duration (0: until interrupted). Ctrl-C (or SIGTERM) stops it cleanly:
// the runner cancels the grid's entries by their IDs — never anything that
// is not the grid's — unless -keep-orders; exits stay, since they close
// positions the grid holds. A second Ctrl-C kills the process.
//
// Without -lower and -upper a bounded grid spans 2.5 % either side of the
// current price, so that the defaults follow the market: a fixed range
// could lie wholly above the price, and a long grid would then buy the
// position of every level at once.
//
// Logs go to stderr through log/slog (-v for debug). Bad flags print the
// problem and exit with status 2; other failures exit with status 1.
//
// The wiring is what any live host does:
//
//	adapter's bookTicker stream ─► pricefeed.Feed ─┬─► grid.Runner (WithPriceFeed)
//	                                                  └─► the dry run's start price
//	adapter's user-data stream ───────────────────────────► grid.Runner (fills, cancels)
//	grid.Runner ─► exchange.Executor ─► adapter (signed REST) ─► Binance or the local server
//
// Every goroutine run starts has ended before it returns.
//
// BenchmarkTickToOrder (latency_test.go) times this path on loopback
// against the local server, from a price taken by the feed to the order
// request written to the socket:
//
//	go test -run '^$' -bench TickToOrder -benchtime 5000x ./examples/binance
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/examples/internal/cli"
	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/binance"
	"github.com/gridmesh/gridmesh/exchange/binance/binancetest"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/pricefeed"
	"github.com/gridmesh/gridmesh/risk"
)

// Environment variables holding the API credentials.
const (
	envAPIKey    = "BINANCE_API_KEY"
	envAPISecret = "BINANCE_API_SECRET"
)

// priceWait is how long the start waits for the first price of the stream.
const priceWait = 15 * time.Second

// defaultSpan is how far either side of the price a grid without -lower
// and -upper reaches: 2.5 %.
var defaultSpan = decimal.RequireFromString("0.025")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first Ctrl-C, let a second one kill the process outright.
	context.AfterFunc(ctx, stop)
	_, err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, env{getenv: os.Getenv})
	stop()
	cli.Exit("binance", err)
}

// env is what run takes from its surroundings. main passes the process
// environment; tests replace the hooks. The zero value of every hook is
// "none".
type env struct {
	// getenv reads an environment variable (os.Getenv).
	getenv func(string) string
	// onLocal is called with the -local server as soon as it runs, before
	// anything connects to it.
	onLocal func(*binancetest.Server)
	// market, when set, replaces the candle replay of -local -live: it is
	// called once the runner has started, on a goroutine of its own, with
	// the local server whose price it moves; it must return when ctx ends.
	market func(ctx context.Context, srv *binancetest.Server) error
	// idle is called on the runner's owner goroutine whenever it has caught
	// up (grid.WithIdleHook); it may read the engine there.
	idle func(*grid.Engine, grid.IdleState)
}

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

// Summary is what a run did, as run reports it to its caller.
type Summary struct {
	Live        bool
	StartPrice  decimal.Decimal
	Orders      []exchange.OrderRequest // dry run: the orders the grid would place now
	Checked     bool                    // the pre-start checks ran (the account was read)
	ChecksErr   error                   // their verdict: nil passed
	Engine      grid.Stats              // live: the engine's books at the end
	VenueOrders []exchange.Order        // live: the grid's orders left on the venue
	VenuePos    decimal.Decimal         // live: the venue's position of the symbol (net)
	Interrupted bool                    // the parent context ended the run (Ctrl-C)
	ReplayEnded bool                    // -local -live: the recorded candles ran out
}

// run is the command: it checks the flags, connects, builds the grid and
// either prints what it would do or trades until ctx ends or -duration
// has passed.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, e env) (Summary, error) {
	f, err := parseFlags(args, stderr)
	if err != nil {
		return Summary{}, err
	}
	if e.getenv == nil {
		e.getenv = func(string) string { return "" }
	}
	s, err := f.check(e.getenv)
	if err != nil {
		return Summary{}, err
	}
	level := slog.LevelInfo
	if f.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	stdout = &lockedWriter{w: stdout} // the runner's observer and the local market both print

	// Every goroutine below is started on wg with ctx and has ended before
	// run returns: cancel, then wait, then close what they used.
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var closers []func()
	defer func() {
		cancel()
		wg.Wait()
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}()

	v, err := openVenue(ctx, f, s, e, log)
	if err != nil {
		return Summary{}, err
	}
	closers = append(closers, v.close)
	rules, err := v.c.Rules(ctx, f.symbol)
	if err != nil {
		return Summary{}, fmt.Errorf("rules of %s: %w", f.symbol, err)
	}

	// The single price source of the symbol.
	mon, err := pricefeed.NewFeed(f.symbol, pricefeed.WithInterval(f.coalesce), pricefeed.WithLogger(log))
	if err != nil {
		return Summary{}, err
	}
	closers = append(closers, mon.Close)
	src, err := pricefeed.NewExchangeSource(v.c, f.symbol, rules)
	if err != nil {
		return Summary{}, err
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := mon.Run(ctx, src); err != nil && ctx.Err() == nil {
			log.Error("price feed ended", "err", err)
		}
	}()
	started := make(chan struct{}) // closed once the live runner has started
	replayEnded := make(chan struct{})
	marketErr := make(chan error, 1) // the local market's failure, which ends the run
	if v.srv != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := v.market(ctx, f, e, rules, started, replayEnded, stdout, log); err != nil && ctx.Err() == nil {
				marketErr <- fmt.Errorf("local market: %w", err)
				cancel()
			}
		}()
	}

	// failure prefers the local market's error, which ended the run, to
	// what that ending made of the caller's.
	failure := func(err error) error {
		select {
		case m := <-marketErr:
			return m
		default:
			return err
		}
	}
	start, err := firstPrice(ctx, mon, rules)
	if err != nil {
		return Summary{Interrupted: ctx.Err() != nil}, failure(err)
	}
	sum := Summary{Live: f.live, StartPrice: rules.TicksToPrice(start)}
	signed := f.local || !s.apiKey.IsZero()
	acct, positions, err := readAccount(ctx, v, f.symbol, signed)
	if err != nil {
		return sum, err
	}
	if s.bounded && f.lower == "" {
		p := sum.StartPrice
		s.lower = rules.RoundPrice(p.Sub(p.Mul(defaultSpan)))
		s.upper = rules.RoundPrice(p.Add(p.Mul(defaultSpan)))
	}
	posMode := exchange.OneWay
	switch {
	case signed:
		posMode = acct.PositionMode
	case s.mode == grid.Neutral:
		posMode = exchange.Hedge
	}
	out := &printer{w: stdout, rules: rules}
	eng, err := grid.New(rules, gridOptions(f, s, sum.StartPrice, posMode, out, log)...)
	if err != nil { // the grid is all flags: a level that breaks the rules is a bad flag too
		return sum, cli.Usage(err.Error())
	}

	header(stdout, f, s, v, rules, sum.StartPrice, acct, positions, signed, posMode)
	if !f.live {
		return dryRun(stdout, eng, rules, start, acct, positions, signed, sum)
	}

	// Live.
	x, err := exchange.NewExecutor(v.c, exchange.WithExecutorLogger(log))
	if err != nil {
		return sum, err
	}
	var once sync.Once
	runner, err := grid.NewRunner(eng, v.c, grid.WithExecutor(x), grid.WithPriceFeed(mon),
		grid.WithCancelOnStop(!f.keepOrders), grid.WithRunnerLogger(log),
		grid.WithIdleHook(func(st grid.IdleState) {
			once.Do(func() { close(started) })
			if e.idle != nil {
				e.idle(eng, st)
			}
		}))
	if err != nil {
		return sum, err
	}
	runCtx, stopRun := ctx, context.CancelFunc(func() {})
	if f.duration > 0 {
		runCtx, stopRun = context.WithTimeout(ctx, f.duration)
	}
	defer stopRun()
	began := time.Now()
	runErr := runner.Run(runCtx) // returns once every goroutine it started has ended
	select {
	case err := <-marketErr:
		return sum, err
	default:
	}
	sum.Interrupted = ctx.Err() != nil
	select {
	case <-replayEnded:
		sum.ReplayEnded = true
	default:
	}
	if runErr != nil {
		return sum, runErr
	}
	// The runner has ended: the engine may be read, and the venue once more.
	sum.Engine = eng.Stats()
	if err := venueView(v, f.gridID, rules, &sum); err != nil {
		return sum, err
	}
	report(stdout, sum, time.Since(began), f.keepOrders)
	return sum, nil
}

// lockedWriter serialises the writes of several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// venue is the adapter and, with -local, the server behind it.
type venue struct {
	c       *binance.Client
	srv     *binancetest.Server // nil unless -local
	name    string
	candles []pricefeed.Candle // -local: the recording the market replays
}

func (v *venue) close() {
	_ = v.c.Close()
	if v.srv != nil {
		v.srv.Close()
	}
}

// openVenue builds the adapter: against the local server, the testnet or
// production.
func openVenue(ctx context.Context, f flags, s setup, e env, log *slog.Logger) (*venue, error) {
	cfg := binance.Config{APIKey: s.apiKey, APISecret: s.apiSecret, Logger: log}
	v := &venue{name: "Binance USDⓈ-M (" + binance.ProductionRESTURL + ")"}
	switch {
	case f.local:
		path, err := cli.FindData(cli.DefaultData)
		if err != nil {
			return nil, err
		}
		sym := binancetest.BTCUSDT()
		v.candles, err = pricefeed.ReadCandlesFile(path, exchange.Rules{Symbol: sym.Name, TickSize: sym.TickSize,
			StepSize: sym.StepSize, MinQty: sym.MinQty, MinNotional: sym.MinNotional})
		if err != nil {
			return nil, err
		}
		if len(v.candles) == 0 {
			return nil, fmt.Errorf("%s holds no candles", path)
		}
		sym.Price = decimal.NewFromInt(int64(v.candles[0].Open)).Mul(sym.TickSize)
		opts := []binancetest.Option{binancetest.WithSymbol(sym)}
		if s.mode == grid.Neutral {
			opts = append(opts, binancetest.WithHedgeMode())
		}
		v.srv = binancetest.NewServer(opts...)
		if e.onLocal != nil {
			e.onLocal(v.srv)
		}
		cfg.RESTURL, cfg.WSURL = v.srv.URL(), v.srv.WSURL()
		cfg.APIKey, cfg.APISecret = binance.NewSecret(binancetest.APIKey), binance.NewSecret(binancetest.APISecret)
		v.name = "local binancetest server (in-process; recorded BTCUSDT prices)"
		log.Info("local venue started", "rest", cfg.RESTURL)
	case f.testnet:
		cfg.RESTURL, cfg.WSURL = binance.TestnetRESTURL, binance.TestnetWSURL
		v.name = "Binance USDⓈ-M testnet (" + binance.TestnetRESTURL + ")"
	}
	c, err := binance.New(cfg)
	if err != nil {
		if v.srv != nil {
			v.srv.Close()
		}
		return nil, err
	}
	v.c = c
	if v.srv != nil {
		// Our own local account: give it the leverage the grid plans with.
		if _, err := c.SetLeverage(ctx, f.symbol, f.lever); err != nil {
			v.close()
			return nil, fmt.Errorf("local venue: %w", err)
		}
	}
	return v, nil
}

// market drives the local venue: it publishes the recording's first price
// once the price stream has a subscriber; with -live it then replays the
// candles (or runs env.market) once the runner has started.
func (v *venue) market(ctx context.Context, f flags, e env, rules exchange.Rules, started <-chan struct{},
	ended chan<- struct{}, stdout io.Writer, log *slog.Logger) error {
	if err := v.srv.WaitConns(ctx, "public", 1); err != nil {
		return err
	}
	if err := v.srv.SetPrice(ctx, f.symbol, rules.TicksToPrice(v.candles[0].Open)); err != nil {
		return err
	}
	if !f.live {
		return nil
	}
	select {
	case <-started:
	case <-ctx.Done():
		return nil
	}
	if e.market != nil {
		return e.market(ctx, v.srv)
	}
	replay, err := pricefeed.NewCandleReplay(v.candles, pricefeed.WithSpeed(f.speed))
	if err != nil {
		return err
	}
	log.Info("local market replaying", "candles", len(v.candles), "speed", f.speed)
	for {
		p, err := replay.Next(ctx)
		switch {
		case errors.Is(err, io.EOF):
			close(ended)
			fmt.Fprintln(stdout, "— the recording ended; the local market stays at its last price")
			return nil
		case err != nil:
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if err := v.srv.SetPrice(ctx, f.symbol, rules.TicksToPrice(p.Ticks)); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// firstPrice waits for the first price of the monitor.
func firstPrice(ctx context.Context, mon *pricefeed.Feed, rules exchange.Rules) (exchange.Ticks, error) {
	wait, cancel := context.WithTimeout(ctx, priceWait)
	defer cancel()
	p, ok := <-mon.Subscribe(wait) // the channel closes when wait ends
	if !ok {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, fmt.Errorf("no %s price from the market stream within %s", rules.Symbol, priceWait)
	}
	return p.Ticks, nil
}

// readAccount reads the account and the symbol's positions when the
// adapter has keys (signed); without keys it reads nothing.
func readAccount(ctx context.Context, v *venue, symbol string, signed bool) (exchange.Account, []exchange.Position, error) {
	if !signed {
		return exchange.Account{}, nil, nil
	}
	acct, err := v.c.Account(ctx)
	if err != nil {
		return acct, nil, fmt.Errorf("account: %w", err)
	}
	pos, err := v.c.Positions(ctx, symbol)
	if err != nil {
		return acct, nil, fmt.Errorf("positions of %s: %w", symbol, err)
	}
	return acct, pos, nil
}

// gridOptions are the engine's options for the flags at the start price.
func gridOptions(f flags, s setup, start decimal.Decimal, posMode exchange.PositionMode, obs grid.Observer, log *slog.Logger) []grid.Option {
	opts := []grid.Option{
		grid.WithGridID(f.gridID), grid.WithMode(s.mode), grid.WithStartPrice(start), grid.WithAmount(s.amount),
		grid.WithWindows(f.window, f.window, f.hysteresis), grid.WithPositionMode(posMode),
		grid.WithObserver(obs), grid.WithEngineLogger(log),
		grid.WithRiskChecks(s.base, preStartChecks()...),
	}
	if s.bounded {
		opts = append(opts, grid.WithBounds(s.lower, s.upper, f.intervals))
		if f.noInitial {
			opts = append(opts, grid.WithInitialPosition(false))
		}
	} else {
		opts = append(opts, grid.WithTrailing(s.trailing, f.layers))
	}
	if f.geometric {
		opts = append(opts, grid.WithGeometric())
	}
	return opts
}

// preStartChecks are the built-in checks, except that a symbol the venue
// reports no position entry for (Binance lists only symbols with a
// position or open orders) passes the account-configuration check's
// leverage and margin-mode comparison instead of failing it.
func preStartChecks() []risk.Check {
	checks := risk.DefaultChecks()
	for i, c := range checks {
		if _, ok := c.(risk.AccountConfigCheck); ok {
			checks[i] = risk.AccountConfigCheck{AllowUnreported: true}
		}
	}
	return checks
}

// header prints what the run is about to act on.
func header(w io.Writer, f flags, s setup, v *venue, rules exchange.Rules, price decimal.Decimal,
	acct exchange.Account, positions []exchange.Position, signed bool, posMode exchange.PositionMode) {
	if f.live {
		fmt.Fprintln(w, "gridmesh binance — LIVE: the grid places orders")
	} else {
		fmt.Fprintln(w, "gridmesh binance — dry run: nothing is placed (-live places orders)")
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s\t%s\n", k, fmt.Sprintf(format, a...)) }
	row("venue", "%s", v.name)
	row("symbol", "%s: tick %s, step %s, min qty %s, min notional %s", rules.Symbol, rules.TickSize, rules.StepSize, rules.MinQty, rules.MinNotional)
	row("price", "%s (bookTicker midpoint)", fixed(price, rules.TickSize))
	if signed {
		held := "no " + rules.Symbol + " position"
		for _, p := range positions {
			if !p.Quantity.IsZero() {
				held = fmt.Sprintf("%s %s position %s", rules.Symbol, p.PositionSide, p.Quantity)
			}
		}
		row("account", "wallet %s, available %s, %s mode, %s", acct.TotalWallet.StringFixed(2), acct.AvailableBalance.StringFixed(2), acct.PositionMode, held)
	} else {
		row("account", "not read (no %s and %s: market data only)", envAPIKey, envAPISecret)
	}
	shape := fmt.Sprintf("bounded %s–%s in %d intervals", fixed(s.lower, rules.TickSize), fixed(s.upper, rules.TickSize), f.intervals)
	if !s.bounded {
		shape = fmt.Sprintf("trailing, interval %s, layer cap %d", s.trailing, f.layers)
	}
	if f.geometric {
		shape += ", geometric"
	}
	if s.bounded && f.lower == "" {
		shape += " (2.5 % either side of the price)"
	}
	row("grid", "%s, %s, notional %s per order, window %d, %s mode, grid ID %s", s.mode, shape, s.amount, f.window, posMode, f.gridID)
	tw.Flush()
	fmt.Fprintln(w)
}

// dryRun feeds the engine the price and the order stream's readiness, as
// the runner would, and prints the orders it asks for instead of placing
// them, with the pre-start checks' verdict.
func dryRun(w io.Writer, eng *grid.Engine, rules exchange.Rules, price exchange.Ticks, acct exchange.Account,
	positions []exchange.Position, signed bool, sum Summary) (Summary, error) {
	now := time.Now()
	eng.OnPrice(now, price) // nothing is placed before the order stream is ready
	if signed {
		sum.Checked = true
		sum.ChecksErr = eng.CheckStart(acct, positions)
	}
	for _, in := range eng.OnStreamReady(now) {
		if in.Kind == grid.IntentPlace {
			sum.Orders = append(sum.Orders, in.OrderRequest(rules, eng.GridID()))
		}
	}
	plural := "s"
	if len(sum.Orders) == 1 {
		plural = ""
	}
	fmt.Fprintf(w, "The grid would place %d order%s now:\n", len(sum.Orders), plural)
	printOrders(w, sum.Orders, rules)
	for _, r := range sum.Orders {
		if r.Type == exchange.Market {
			way, dir := "buys", "above"
			if r.Side == exchange.Sell {
				way, dir = "sells", "below"
			}
			fmt.Fprintf(w, "The MARKET order %s at once the position of the levels %s the price; their exits rest one level further.\n", way, dir)
			break
		}
	}
	fmt.Fprintln(w, "Each entry's exit is placed once the entry fills: one level up for a BUY, one level down for a SELL.")
	fmt.Fprintln(w)
	switch {
	case !sum.Checked:
		fmt.Fprintln(w, "pre-start checks: not run (no API keys: the account cannot be read)")
	case sum.ChecksErr == nil:
		names := make([]string, 0, 7)
		for _, c := range preStartChecks() {
			names = append(names, c.Name())
		}
		fmt.Fprintf(w, "pre-start checks: passed (%s)\n", strings.Join(names, ", "))
	default:
		fmt.Fprintln(w, "pre-start checks: FAILED — -live would refuse to start:")
		for _, ce := range checkErrors(sum.ChecksErr) {
			fmt.Fprintf(w, "  %s\n", ce.Error())
		}
	}
	return sum, nil
}

// printOrders prints one order request a line, in columns:
//
//	BUY   LIMIT GTX  95500.0  0.002  gmbn_2_1
func printOrders(w io.Writer, orders []exchange.OrderRequest, rules exchange.Rules) {
	kw, pw, qw := 0, 0, 0
	for _, r := range orders {
		kw, pw, qw = max(kw, len(orderKind(r))), max(pw, len(priceText(r, rules))), max(qw, len(fixed(r.Quantity, rules.StepSize)))
	}
	for _, r := range orders {
		fmt.Fprintf(w, "  %-4s  %-*s  %*s  %*s  %s\n", r.Side, kw, orderKind(r), pw, priceText(r, rules), qw, fixed(r.Quantity, rules.StepSize), r.ClientOrderID)
	}
}

// checkErrors lists the *risk.CheckError values in an error tree.
func checkErrors(err error) []*risk.CheckError {
	var ce *risk.CheckError
	if errors.As(err, &ce) && ce == err {
		return []*risk.CheckError{ce}
	}
	var out []*risk.CheckError
	switch u := err.(type) {
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			out = append(out, checkErrors(e)...)
		}
	case interface{ Unwrap() error }:
		out = append(out, checkErrors(u.Unwrap())...)
	}
	return out
}

// orderKind names the order's type, time in force and flags, e.g.
// "LIMIT GTX reduce-only".
func orderKind(r exchange.OrderRequest) string {
	k := r.Type.String()
	if r.Type == exchange.Limit {
		k += " " + r.TimeInForce.String()
	}
	if r.ReduceOnly {
		k += " reduce-only"
	}
	if r.PositionSide != exchange.PositionBoth {
		k += " " + r.PositionSide.String()
	}
	return k
}

func priceText(r exchange.OrderRequest, rules exchange.Rules) string {
	if r.Type == exchange.Market {
		return "at market"
	}
	return fixed(r.Price, rules.TickSize)
}

// fixed formats d with as many decimals as unit has (without its trailing
// zeros: a tick of 0.10 prints prices with one decimal).
func fixed(d, unit decimal.Decimal) string {
	places := int32(0)
	for places < 18 && !unit.Shift(places).IsInteger() {
		places++
	}
	return d.StringFixed(places)
}

// venueView reads the venue's view of the grid after the run.
func venueView(v *venue, gridID string, rules exchange.Rules, sum *Summary) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	orders, err := v.c.OpenOrders(ctx, rules.Symbol)
	if err != nil {
		return fmt.Errorf("open orders after the run: %w", err)
	}
	for _, o := range orders {
		if id, _, err := grid.ParseClientOrderID(o.ClientOrderID); err == nil && id == gridID {
			sum.VenueOrders = append(sum.VenueOrders, o)
		}
	}
	positions, err := v.c.Positions(ctx, rules.Symbol)
	if err != nil {
		return fmt.Errorf("positions after the run: %w", err)
	}
	sum.VenuePos = decimal.Zero
	for _, p := range positions {
		if p.Symbol == rules.Symbol {
			sum.VenuePos = sum.VenuePos.Add(p.Quantity)
		}
	}
	return nil
}

// printer is the grid's observer in a live run: it prints every fill,
// round trip, risk change and repair as the engine books it, on the
// runner's owner goroutine.
type printer struct {
	grid.NopObserver
	w      io.Writer
	rules  exchange.Rules
	trips  int
	netSum exchange.Money
}

func (p *printer) printf(format string, a ...any) {
	fmt.Fprintf(p.w, "%s %s", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, a...))
}

// Fill implements grid.Observer.
func (p *printer) Fill(n grid.FillNote) {
	what := fmt.Sprintf("level %d", n.Ref.Level)
	if n.Ref.Level == grid.InitialLevel {
		what = "initial position"
	}
	p.printf("fill   %-4s %s @ %s, fee %s (%s)\n", n.Side, fixed(p.rules.StepsToQty(n.Qty), p.rules.StepSize),
		fixed(p.rules.TicksToPrice(n.Price), p.rules.TickSize), p.rules.MoneyToDecimal(n.Fee).StringFixed(4), what)
}

// RoundTrip implements grid.Observer.
func (p *printer) RoundTrip(r grid.RoundTrip) {
	p.trips++
	p.netSum += r.Net()
	p.printf("round trip at level %d: %s, gross %s, fees %s, net %s (total %d, net %s)\n", r.Level,
		fixed(p.rules.StepsToQty(r.Qty), p.rules.StepSize), p.rules.MoneyToDecimal(r.Realized).StringFixed(4),
		p.rules.MoneyToDecimal(r.Fees).StringFixed(4), p.rules.MoneyToDecimal(r.Net()).StringFixed(4), p.trips,
		p.rules.MoneyToDecimal(p.netSum).StringFixed(2))
}

// Risk implements grid.Observer.
func (p *printer) Risk(n grid.RiskNote) {
	state := "running"
	switch {
	case n.Halted:
		state = "HALTED"
	case n.Paused:
		state = "paused"
	}
	p.printf("grid %s: %s\n", state, n.Reason)
}

// Repair implements grid.Observer.
func (p *printer) Repair(what string, ref grid.OrderRef) { p.printf("repair %s: %s\n", ref, what) }

// report prints the summary of a live run.
func report(w io.Writer, s Summary, elapsed time.Duration, keep bool) {
	money := func(d decimal.Decimal) string { return d.StringFixed(2) }
	how := "ended after"
	if s.Interrupted {
		how = "interrupted after"
	}
	fmt.Fprintf(w, "\nlive run %s %s\n\n", how, elapsed.Round(time.Millisecond))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k string, v any) { fmt.Fprintf(tw, "%s\t%v\n", k, v) }
	e := s.Engine
	row("round trips", e.RoundTrips)
	row("fills", e.Fills)
	row("orders placed / canceled / rejected", fmt.Sprintf("%d / %d / %d", e.Placed, e.Canceled, e.Rejected))
	row("realized (gross)", money(e.Realized))
	row("fees", money(e.Fees))
	row("realized net of fees", money(e.NetRealized))
	row("unrealized at the last price", money(e.Unrealized))
	row("position (engine / venue)", e.Position.String()+" / "+s.VenuePos.String())
	if e.Halted {
		row("HALTED", e.Reason)
	}
	left := "entries canceled, exits kept"
	if keep {
		left = "entries and exits kept: -keep-orders"
	}
	row("grid orders left on the venue", fmt.Sprintf("%d (%s)", len(s.VenueOrders), left))
	tw.Flush()
}
