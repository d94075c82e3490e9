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
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/examples/internal/cli"
	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/binance/binancetest"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/pricefeed"
	"github.com/gridmesh/gridmesh/risk"
)

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
