// Command custom-adapter runs a grid on a venue gridmesh does not ship: the
// make-believe "example venue" of the examplevenue package beside this
// file, through the adapter written there. Read that package first — it is
// the point of this example; this command only shows that a grid runs on
// an adapter that passes the conformance suite, with nothing else to add:
//
//	go run ./examples/custom-adapter
//	go run ./examples/custom-adapter -duration 20s -seed 7
//
// The venue's market is a seeded random walk around 60,000, moved every
// 2 ms. The grid takes its prices from the adapter's own price stream (the
// runner's default feed), its fills from the adapter's order stream, and
// sends its orders through the executor, which paces them by the limits
// the adapter declares. Ctrl-C stops it early; bad flags exit with status 2.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/examples/custom-adapter/examplevenue"
	"github.com/gridmesh/gridmesh/examples/internal/cli"
	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/grid"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop) // a second Ctrl-C kills outright
	_, err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	cli.Exit("custom-adapter", err)
}

// Result is what a run did.
type Result struct {
	Engine    grid.Stats
	Executor  exchange.ExecutorStats
	Account   exchange.Account
	Positions []exchange.Position
	Fills     []exchange.Fill // the venue's record of every execution
	Malformed uint64          // pushes the adapter could not read
}

// run trades for the duration (or until ctx ends) and prints the result.
func run(parent context.Context, args []string, stdout, stderr io.Writer) (Result, error) {
	fs := flag.NewFlagSet("custom-adapter", flag.ContinueOnError)
	fs.SetOutput(stderr)
	duration := fs.Duration("duration", 5*time.Second, "how long to trade")
	seed := fs.Uint64("seed", 1, "seed of the market's random walk")
	verbose := fs.Bool("v", false, "log the runner's and the adapter's messages to stderr")
	if err := cli.Parse(fs, args); err != nil {
		return Result{}, err
	}
	if *duration <= 0 {
		return Result{}, cli.Usage(fmt.Sprintf("-duration %s must be positive", *duration))
	}

	log := slog.New(slog.DiscardHandler)
	if *verbose {
		log = slog.New(slog.NewTextHandler(stderr, nil))
	}

	// The venue (in real life: somewhere on the internet) and the adapter.
	srv, err := examplevenue.NewServer(examplevenue.ServerConfig{
		Instrument: examplevenue.Instrument{Symbol: "BTCUSDT", TickSz: "0.1", LotSz: "0.001", MinSz: "0.001", MinNotional: "5"},
		Balance:    "10000", Leverage: 5, OrderRate: examplevenue.OrderRateLimit,
	})
	if err != nil {
		return Result{}, err
	}
	defer srv.Close()
	ad, err := examplevenue.New(srv, examplevenue.Config{Logger: log})
	if err != nil {
		return Result{}, err
	}
	defer ad.Close()
	const start = 600_000 // ticks of 0.1: 60,000 USDT
	if err := srv.SetPrice("60000"); err != nil {
		return Result{}, err
	}

	// A run ends by cancellation, not by a deadline: a deadline on the
	// runner's context would reach every request, and the executor refuses
	// to hold an order for its rate limit past it.
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	timer := time.AfterFunc(*duration, cancel)
	defer timer.Stop()

	// The grid is built from the rules the adapter reports, like any venue's.
	rules, err := ad.Rules(ctx, "BTCUSDT")
	if err != nil {
		return Result{}, err
	}
	trips := &tripPrinter{w: stdout, rules: rules}
	dec := decimal.RequireFromString
	eng, err := grid.New(rules, grid.WithGridID("demo"), grid.WithStartPrice(dec("60000")),
		grid.WithBounds(dec("59000"), dec("61000"), 40), grid.WithAmount(dec("200")), grid.WithObserver(trips))
	if err != nil {
		return Result{}, err
	}
	x, err := exchange.NewExecutor(ad) // finds the adapter's RateLimitDeclarer
	if err != nil {
		return Result{}, err
	}
	runner, err := grid.NewRunner(eng, ad, grid.WithExecutor(x), grid.WithRunnerLogger(log))
	if err != nil {
		return Result{}, err
	}
	fmt.Fprintf(stdout, "a long grid 59000–61000 (50 USDT apart, 200 USDT per order) on %s for %s\n", ad.Name(), *duration)

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	fail := func(err error) { // the first failure stops both goroutines
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
		cancel()
	}
	wg.Add(2)
	go func() { // the market: a mean-reverting random walk, in whole ticks
		defer wg.Done()
		rng := rand.New(rand.NewPCG(*seed, 0))
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		p := int64(start)
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			p += rng.Int64N(201) - 100 + (start-p)/1000 // ±10 USDT a step, drawn back to 60,000
			if err := srv.SetPrice(rules.TicksToPrice(exchange.Ticks(p)).String()); err != nil {
				fail(fmt.Errorf("market: %w", err))
				return
			}
		}
	}()
	go func() { // the grid
		defer wg.Done()
		if err := runner.Run(ctx); err != nil {
			fail(err)
		}
	}()
	wg.Wait()
	if len(errs) > 0 {
		return Result{}, errors.Join(errs...)
	}

	res := Result{Engine: eng.Stats(), Executor: x.Stats(), Malformed: ad.Malformed()}
	bg := context.Background()
	if res.Account, err = ad.Account(bg); err != nil {
		return Result{}, err
	}
	if res.Positions, err = ad.Positions(bg, rules.Symbol); err != nil {
		return Result{}, err
	}
	if res.Fills, err = ad.Fills(bg, rules.Symbol, time.Time{}); err != nil {
		return Result{}, err
	}
	report(stdout, res)
	return res, nil
}

// tripPrinter prints each round trip as the engine books it (on the
// runner's goroutine, which owns the engine).
type tripPrinter struct {
	grid.NopObserver
	w     io.Writer
	rules exchange.Rules
}

// RoundTrip implements grid.Observer.
func (p *tripPrinter) RoundTrip(r grid.RoundTrip) {
	fmt.Fprintf(p.w, "  round trip at level %2d: %s BTC, net %s USDT\n", r.Level, p.rules.StepsToQty(r.Qty), p.rules.MoneyToDecimal(r.Net()).StringFixed(4))
}

func report(w io.Writer, r Result) {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k string, v any) { fmt.Fprintf(tw, "%s\t%v\n", k, v) }
	e, x := r.Engine, r.Executor
	row("round trips", e.RoundTrips)
	row("fills (engine / venue)", fmt.Sprintf("%d / %d", e.Fills, len(r.Fills)))
	row("orders placed / canceled / rejected", fmt.Sprintf("%d / %d / %d", e.Placed, e.Canceled, e.Rejected))
	row("realized net of fees", e.NetRealized.StringFixed(4))
	row("position (engine / venue)", e.Position.String()+" / "+r.Positions[0].Quantity.String())
	row("wallet / equity", r.Account.TotalWallet.StringFixed(2)+" / "+r.Account.TotalMargin.StringFixed(2))
	row("requests sent", x.Requests[exchange.OpPlace]+x.Requests[exchange.OpBatchPlace]+x.Requests[exchange.OpCancel]+
		x.Requests[exchange.OpBatchCancel]+x.Requests[exchange.OpQuery]+x.Requests[exchange.OpOpenOrders]+x.Requests[exchange.OpPositions])
	row("waits for the declared limit (summed)", x.RateLimitWaitTime.Round(time.Millisecond))
	row("refused by the venue's limit", x.RateLimited)
	row("malformed pushes skipped", r.Malformed)
	tw.Flush()
}
