// Command paper trades a grid on paper: the simulated venue runs on the
// wall clock like a real one, and the market is a replay of the BTCUSDT
// perpetual's recorded 1-minute candles (May–June 2025, shipped in this
// repository) at a speed factor, so that a short run shows fills and round
// trips as they happen. With no flags it runs 20 seconds, one candle every
// 20 ms (speed 3000), a bounded long grid around the recording's first price:
//
//	go run ./examples/paper
//	go run ./examples/paper -duration 1m -speed 600
//	go run ./examples/paper -mode neutral -lower 93000 -upper 98000 -intervals 50
//	go run ./examples/paper -h
//
// Ctrl-C stops it early, cleanly: the grid cancels its entries, every
// goroutine ends, and the summary is printed. Bad flags print the problem
// and exit with status 2.
//
// The wiring is what a live host does, with the simulator in the venue's
// place. One [pricefeed.Feed] is the single price source of the symbol;
// it feeds the market (the venue matches resting orders against each
// price) and the grid (the runner's price feed):
//
//	candle replay ─► Monitor ─┬─► venue.SetPriceTicks   (the market moves)
//	                          └─► grid.Runner           (WithPriceFeed)
//	venue's order stream ─────────► grid.Runner          (fills, cancels)
//	grid.Runner ─► orders ─► venue
//
// Every goroutine is started by run and has ended before run returns.
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
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/examples/internal/cli"
	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/sim"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/pricefeed"
)

// rules are the BTCUSDT perpetual's, the symbol of the shipped data.
var rules = cli.BTCUSDT

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first Ctrl-C, let a second one kill the process outright.
	context.AfterFunc(ctx, stop)
	_, err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	cli.Exit("paper", err)
}

// flags are the command line, as text where they are money.
type flags struct {
	data, mode                    string
	lower, upper, amount, balance string
	duration                      time.Duration
	speed                         float64
	candles, intervals, window    int
	leverage                      int
	verbose                       bool
}

func parseFlags(args []string, stderr io.Writer) (flags, error) {
	var f flags
	fs := flag.NewFlagSet("paper", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&f.duration, "duration", 20*time.Second, "how long to trade (wall-clock time)")
	fs.Float64Var(&f.speed, "speed", 3000, "replay speed: recorded time per wall-clock time (3000: a 1-minute candle every 20 ms)")
	fs.StringVar(&f.data, "data", cli.DefaultData, "kline CSV to replay (OHLCV with header, or Binance's 12-column dump), gzip or plain")
	fs.IntVar(&f.candles, "candles", 0, "replay only the first n candles (0: all); the market then stays at its last price")
	fs.StringVar(&f.mode, "mode", "long", "grid mode: long, short or neutral")
	fs.StringVar(&f.lower, "lower", "93000", "lower bound of the grid")
	fs.StringVar(&f.upper, "upper", "98000", "upper bound of the grid")
	fs.IntVar(&f.intervals, "intervals", 50, "number of grid intervals (the grid has intervals+1 price levels)")
	fs.IntVar(&f.intervals, "levels", 50, "deprecated: the old name of -intervals")
	fs.StringVar(&f.amount, "amount", "200", "notional of every order, in USDT")
	fs.IntVar(&f.window, "window", 10, "levels kept live on each side (buy and sell windows)")
	fs.StringVar(&f.balance, "balance", "10000", "paper account's initial balance, in USDT")
	fs.IntVar(&f.leverage, "leverage", 5, "leverage")
	fs.BoolVar(&f.verbose, "v", false, "log the runner's and the venue's debug messages to stderr")
	if err := cli.Parse(fs, args); err != nil {
		return f, err
	}
	return f, nil
}

// setup is what the flags describe: the venue's account and the grid's
// shape (the start price is added once the recording's first price is known).
type setup struct {
	venue sim.CoreConfig
	grid  []grid.Option
	mode  grid.Mode
}

// check turns the flags into a setup, reporting every bad flag at once.
func (f flags) check() (setup, error) {
	var errs []string
	dec := func(name, v string) (decimal.Decimal, bool) {
		d, err := decimal.NewFromString(v)
		if err != nil {
			errs = append(errs, fmt.Sprintf("-%s %q is not a decimal number", name, v))
		}
		return d, err == nil
	}
	if f.duration <= 0 {
		errs = append(errs, fmt.Sprintf("-duration %s must be positive", f.duration))
	}
	if !(f.speed > 0) || f.speed > 1e6 { // also refuses NaN
		errs = append(errs, fmt.Sprintf("-speed %v must be above 0 and at most 1e6", f.speed))
	}
	if f.candles < 0 {
		errs = append(errs, fmt.Sprintf("-candles %d must not be negative", f.candles))
	}
	mode, err := grid.ParseMode(f.mode)
	if err != nil {
		errs = append(errs, "-mode: "+err.Error())
	}
	lower, _ := dec("lower", f.lower)
	upper, _ := dec("upper", f.upper)
	amount, _ := dec("amount", f.amount)
	s := setup{mode: mode, venue: sim.DefaultCoreConfig(rules)}
	if balance, ok := dec("balance", f.balance); ok {
		if !balance.IsPositive() {
			errs = append(errs, fmt.Sprintf("-balance %s must be positive", balance))
		} else if s.venue.InitialBalance, err = rules.DecimalToMoney(balance); err != nil {
			errs = append(errs, "-balance: "+err.Error())
		}
	}
	if f.leverage < 1 || f.leverage > 125 {
		errs = append(errs, fmt.Sprintf("-leverage %d must be 1 to 125", f.leverage))
	}
	if len(errs) > 0 {
		return setup{}, cli.Usage(strings.Join(errs, "; "))
	}
	s.venue.Leverage = int64(f.leverage)
	s.venue.CheckMargin = true // refuse what the venue would refuse
	s.grid = []grid.Option{
		grid.WithGridID("paper"), grid.WithMode(mode), grid.WithBounds(lower, upper, f.intervals),
		grid.WithAmount(amount), grid.WithWindows(f.window, f.window, 2),
	}
	if mode == grid.Neutral { // a neutral grid holds longs and shorts at once
		s.venue.PositionMode = exchange.Hedge
		s.grid = append(s.grid, grid.WithPositionMode(exchange.Hedge))
	}
	return s, nil
}

// Summary is what a paper run did, as run reports it to its caller.
type Summary struct {
	Elapsed       time.Duration
	Candles       int // candles whose first price was replayed
	Engine        grid.Stats
	Venue         sim.CoreStats
	Account       exchange.Account
	Positions     []exchange.Position
	Resting       []exchange.Order // orders left on the venue when the run ended
	Interrupted   bool             // the parent context ended the run (Ctrl-C)
	FirstPrice    decimal.Decimal
	LastPrice     decimal.Decimal
	FirstCandleAt time.Time
}

// run trades on paper until the duration has passed or ctx ends, printing
// fills and round trips to stdout as they happen and a summary at the end.
func run(parent context.Context, args []string, stdout, stderr io.Writer) (Summary, error) {
	f, err := parseFlags(args, stderr)
	if err != nil {
		return Summary{}, err
	}
	s, err := f.check()
	if err != nil {
		return Summary{}, err
	}
	path, err := cli.FindData(f.data)
	if err != nil {
		return Summary{}, cli.Usage(err.Error())
	}
	candles, err := pricefeed.ReadCandlesFile(path, rules)
	if err != nil {
		return Summary{}, err
	}
	if len(candles) == 0 {
		return Summary{}, cli.Usage(fmt.Sprintf("-data %q holds no candles", path))
	}
	if f.candles > 0 && f.candles < len(candles) {
		candles = candles[:f.candles]
	}
	log := slog.New(slog.DiscardHandler)
	if f.verbose {
		log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	start := candles[0].Open

	// The venue: the simulator on the wall clock, opened at the first price
	// so that the grid's first orders meet a market.
	venue, err := sim.NewVenue(sim.VenueConfig{Core: s.venue, Name: "paper", Logger: log})
	if err != nil {
		return Summary{}, err
	}
	defer venue.Close()
	if err := venue.SetPriceTicks(parent, start); err != nil {
		return Summary{}, err
	}

	// The single price source. Interval 0 passes every price the venue
	// can take: here the venue *is* the market and must see the recording's
	// path to match it. (A live host keeps the default 50 ms coalescing: the
	// real venue matches on its own.)
	mon, err := pricefeed.NewFeed(rules.Symbol, pricefeed.WithInterval(0), pricefeed.WithLogger(log))
	if err != nil {
		return Summary{}, err
	}
	defer mon.Close()
	replay, err := pricefeed.NewCandleReplay(candles, pricefeed.WithSpeed(f.speed))
	if err != nil {
		return Summary{}, cli.Usage(err.Error())
	}

	out := &printer{w: stdout, mon: mon}
	eng, err := grid.New(rules, append(s.grid,
		grid.WithStartPrice(rules.TicksToPrice(start)), grid.WithObserver(out), grid.WithEngineLogger(log))...)
	if err != nil { // the grid is all flags: a level that breaks the rules is a bad flag too
		return Summary{}, cli.Usage(err.Error())
	}
	// The replay compresses hours into seconds, so the grid trades far more
	// often per wall-clock second than it would live: give the executor the
	// venue's real limits (Binance: 300 orders per 10 s, 2,400 weight per
	// minute) rather than the conservative default of 10 orders a second.
	x, err := exchange.NewExecutor(venue, exchange.WithExecutorLogger(log), exchange.WithRateLimits(
		exchange.RateLimit{Scope: exchange.ScopeOrder, Interval: 10 * time.Second, Limit: 300},
		exchange.RateLimit{Scope: exchange.ScopeRequest, Interval: time.Minute, Limit: 2400},
	))
	if err != nil {
		return Summary{}, err
	}
	runner, err := grid.NewRunner(eng, venue, grid.WithPriceFeed(mon), grid.WithExecutor(x), grid.WithRunnerLogger(log))
	if err != nil {
		return Summary{}, err
	}

	fmt.Fprintf(stdout, "gridmesh paper trading — %s %s grid %s–%s, %d intervals, %s USDT per order, window %d\n",
		rules.Symbol, s.mode, f.lower, f.upper, f.intervals, f.amount, f.window)
	fmt.Fprintf(stdout, "market: %s replayed at %g× from %s (price %s), for %s\n\n",
		filepath.Base(path), f.speed, time.UnixMilli(candles[0].OpenTime).UTC().Format("2006-01-02 15:04"),
		rules.TicksToPrice(start), f.duration)

	// The run ends by cancellation rather than by a deadline: a deadline
	// on the runner's context would reach every request, and the executor
	// refuses to hold an order for its rate limit past it.
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	timer := time.AfterFunc(f.duration, cancel)
	defer timer.Stop()
	began := time.Now()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	fail := func(err error) { // the first failure stops everything
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
		cancel()
	}
	prices := mon.Subscribe(ctx) // before the replay starts: no price is missed

	// 1. The replay publishes the recording into the monitor.
	wg.Add(1)
	go func() {
		defer wg.Done()
		switch err := mon.Run(ctx, replay); {
		case err == nil:
			out.printf("— the recording ended; the market stays at its last price\n")
		case ctx.Err() == nil:
			fail(fmt.Errorf("replay: %w", err))
		}
	}()
	// 2. The market: every price of the monitor moves the venue, which
	// fills the resting orders the move reaches.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for p := range prices {
			if err := venue.SetPriceTicks(ctx, p.Ticks); err != nil {
				if ctx.Err() == nil {
					fail(fmt.Errorf("venue: %w", err))
				}
				return
			}
		}
	}()
	// 3. The grid.
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := runner.Run(ctx); err != nil {
			fail(err)
		}
	}()
	<-ctx.Done()
	wg.Wait()
	if len(errs) > 0 {
		return Summary{}, errors.Join(errs...)
	}

	// Every goroutine has ended: the engine and the replay may be read.
	sum := Summary{
		Elapsed:       time.Since(began).Round(time.Millisecond),
		Candles:       (4*len(candles) - replay.Len() + 3) / 4,
		Engine:        eng.Stats(),
		Venue:         venue.Stats(),
		Interrupted:   parent.Err() != nil,
		FirstPrice:    rules.TicksToPrice(start),
		FirstCandleAt: time.UnixMilli(candles[0].OpenTime).UTC(),
	}
	bg := context.Background()
	if sum.Account, err = venue.Account(bg); err != nil {
		return Summary{}, err
	}
	if sum.Positions, err = venue.Positions(bg, rules.Symbol); err != nil {
		return Summary{}, err
	}
	if sum.Resting, err = venue.OpenOrders(bg, rules.Symbol); err != nil {
		return Summary{}, err
	}
	sum.LastPrice = sum.Positions[0].MarkPrice
	report(stdout, sum)
	return sum, nil
}

// printer is the grid's observer: it prints every fill, round trip, risk
// change and repair as the engine books it. It runs on the runner's owner
// goroutine; the mutex lets run print beside it.
type printer struct {
	grid.NopObserver
	mu     sync.Mutex
	w      io.Writer
	mon    *pricefeed.Feed
	trips  int
	netSum exchange.Money
}

// printf prints one line, prefixed with the wall-clock time and the
// recorded market time of the latest price.
func (p *printer) printf(format string, a ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	market := "--:--"
	if _, t, ok := p.mon.Latest(); ok {
		market = t.UTC().Format("01-02 15:04")
	}
	fmt.Fprintf(p.w, "%s [market %s] %s", time.Now().Format("15:04:05.000"), market, fmt.Sprintf(format, a...))
}

// Fill implements grid.Observer.
func (p *printer) Fill(n grid.FillNote) {
	what := "level " + fmt.Sprint(n.Ref.Level)
	if n.Ref.Level == grid.InitialLevel {
		what = "initial position"
	}
	p.printf("fill   %-4s %s @ %s, fee %s (%s)\n", n.Side, rules.StepsToQty(n.Qty), rules.TicksToPrice(n.Price),
		rules.MoneyToDecimal(n.Fee).StringFixed(4), what)
}

// RoundTrip implements grid.Observer.
func (p *printer) RoundTrip(r grid.RoundTrip) {
	p.mu.Lock()
	p.trips++
	p.netSum += r.Net()
	trips, sum := p.trips, p.netSum
	p.mu.Unlock()
	p.printf("round trip at level %d: %s, gross %s, fees %s, net %s (total %d, net %s)\n", r.Level,
		rules.StepsToQty(r.Qty), rules.MoneyToDecimal(r.Realized).StringFixed(4), rules.MoneyToDecimal(r.Fees).StringFixed(4),
		rules.MoneyToDecimal(r.Net()).StringFixed(4), trips, rules.MoneyToDecimal(sum).StringFixed(2))
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
func (p *printer) Repair(what string, ref grid.OrderRef) {
	p.printf("repair %s: %s\n", ref, what)
}

// report prints the summary: the engine's books beside the venue's account.
func report(w io.Writer, s Summary) {
	money := func(d decimal.Decimal) string { return d.StringFixed(2) }
	fmt.Fprintln(w)
	how := "ended after"
	if s.Interrupted {
		how = "interrupted after"
	}
	fmt.Fprintf(w, "paper run %s %s: %d candles replayed from %s UTC, price %s → %s\n\n", how, s.Elapsed, s.Candles,
		s.FirstCandleAt.Format("2006-01-02 15:04"), s.FirstPrice, s.LastPrice)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k string, v any) { fmt.Fprintf(tw, "%s\t%v\n", k, v) }
	e := s.Engine
	fmt.Fprintln(tw, "grid (engine books)\t")
	row("  round trips", e.RoundTrips)
	row("  fills", e.Fills)
	row("  orders placed / canceled / rejected", fmt.Sprintf("%d / %d / %d", e.Placed, e.Canceled, e.Rejected))
	row("  realized (gross)", money(e.Realized))
	row("  fees", money(e.Fees))
	row("  realized net of fees", money(e.NetRealized))
	row("  unrealized at the last price", money(e.Unrealized))
	row("  position", e.Position)
	if e.Halted {
		row("  HALTED", e.Reason)
	}
	a, v := s.Account, s.Venue
	fmt.Fprintln(tw, "venue (paper account)\t")
	row("  fills (maker / taker)", fmt.Sprintf("%d (%d / %d)", v.Fills, v.MakerFills, v.TakerFills))
	row("  fees paid", money(rules.MoneyToDecimal(v.FeesPaid)))
	row("  realized PnL (gross)", money(rules.MoneyToDecimal(v.RealizedPnL)))
	row("  wallet balance", money(a.TotalWallet))
	row("  equity (wallet + unrealized)", money(a.TotalMargin))
	row("  available", money(a.AvailableBalance))
	for _, p := range s.Positions {
		if p.Quantity.IsZero() {
			continue
		}
		row("  position "+p.PositionSide.String(), p.Quantity.String()+" @ "+p.EntryPrice.StringFixed(1)+", unrealized "+money(p.UnrealizedPnL))
	}
	row("  orders left resting (exits)", len(s.Resting))
	tw.Flush()
}
