// Command sweep backtests every combination of ranges of grid settings on
// recorded 1-minute candles, on every core, and ranks them. By default it
// ranks on the first 70 % of the month of real BTCUSDT perpetual data this
// repository ships and runs the ten best again on the last 30 %, starting
// flat there, so a setting that only fitted the past shows it. Every run
// is booked as examples/backtest books it: the month's real funding
// settlements (-funding), margin checked, taker orders slipping 1 bp:
//
//	go run ./examples/sweep
//	go run ./examples/sweep -metric sharpe -top 20 -csv sweep.csv
//	go run ./examples/sweep -modes long -bounds 95000-110000 -intervals 10,20,40,80 -split 2025-05-25
//	go run ./examples/sweep -trailing 0.002,0.004 -geometric true -layers 20,40 -bounds ""
//
// Lists are comma-separated. The Markdown table of the best goes to
// stdout; -csv writes every combination. A progress line with an estimate
// of the time left shows on stderr when it is a terminal (not with
// -quiet). Bad flags print the problem and exit with status 2.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/gridmesh/gridmesh/examples/internal/cli"
	"github.com/gridmesh/gridmesh/grid/backtest"
	"github.com/gridmesh/gridmesh/pricefeed"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	cli.Exit("sweep", err)
}

// flags are the command line as given; config turns them into a sweep.
type flags struct {
	data, funding, symbol, tick, step, minQty, minNotional string
	balance, maker, taker                                  string
	modes, bounds, intervals, trailing, layers             string
	amounts, windows, leverages, geometric                 string
	metric, split, csv, md                                 string
	top, workers                                           int
	quiet                                                  bool
}

func parseFlags(args []string, stderr io.Writer) (flags, error) {
	var f flags
	fs := flag.NewFlagSet("sweep", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.data, "data", cli.DefaultData, "kline CSV (OHLCV with header, or Binance's 12-column dump), gzip or plain")
	fs.StringVar(&f.funding, "funding", "", "funding settlements charged in every run: Binance's public-data CSV or GET /fapi/v1/fundingRate JSON, gzip or plain; \"none\" for none (default: the shipped month's settlements with the shipped data)")
	fs.StringVar(&f.symbol, "symbol", "BTCUSDT", "symbol name")
	fs.StringVar(&f.tick, "tick", "0.1", "tick size")
	fs.StringVar(&f.step, "step", "0.001", "step size")
	fs.StringVar(&f.minQty, "min-qty", "0.001", "minimum order quantity")
	fs.StringVar(&f.minNotional, "min-notional", "100", "minimum order notional")
	fs.StringVar(&f.balance, "balance", "10000", "initial balance of every run, in quote currency")
	fs.StringVar(&f.maker, "maker-fee", "0.0002", "maker fee rate (negative for a rebate)")
	fs.StringVar(&f.taker, "taker-fee", "0.0005", "taker fee rate")
	fs.StringVar(&f.modes, "modes", "long,short,neutral", "grid modes to try")
	fs.StringVar(&f.bounds, "bounds", "90000-115000,93000-112000,95000-110000", "bounded grids' ranges to try, lower-upper (empty: none)")
	fs.StringVar(&f.intervals, "intervals", "20,40,60,80", "bounded grids' numbers of intervals to try (a grid has intervals+1 price levels)")
	fs.StringVar(&f.intervals, "levels", "20,40,60,80", "deprecated: the old name of -intervals")
	fs.StringVar(&f.trailing, "trailing", "", "trailing grids' intervals to try (a price step; a fraction with geometric)")
	fs.StringVar(&f.layers, "layers", "40", "trailing grids' layer caps to try")
	fs.StringVar(&f.amounts, "amounts", "200,400", "notionals per order to try, in quote currency")
	fs.StringVar(&f.windows, "windows", "5,10", "windows (levels live on each side) to try")
	fs.StringVar(&f.leverages, "leverages", "5", "leverages to try")
	fs.StringVar(&f.geometric, "geometric", "false,true", "level spacings to try: false (arithmetic), true (geometric)")
	fs.StringVar(&f.metric, "metric", "return", "rank by: return, sharpe, sortino, calmar, drawdown or roundtrips")
	fs.StringVar(&f.split, "split", "0.7", "rank on the data before this point and test the top out of sample after it: a fraction of the time span, a date (2006-01-02) or an RFC 3339 time; \"none\" ranks on everything")
	fs.IntVar(&f.top, "top", 10, "rows to show, and to run out of sample")
	fs.IntVar(&f.workers, "workers", 0, "runs at once (default: GOMAXPROCS)")
	fs.StringVar(&f.csv, "csv", "", "write every combination's results as CSV to this file")
	fs.StringVar(&f.md, "md", "", "write the Markdown table to this file too")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress line on a terminal")
	if err := cli.Parse(fs, args); err != nil {
		return f, err
	}
	return f, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
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
	candles, err := pricefeed.ReadCandlesFile(path, cfg.Base.Rules)
	if err != nil {
		return err
	}
	funding, err := f.loadFunding(&cfg)
	if err != nil {
		return err
	}
	if cfg.Split, err = f.splitAt(candles); err != nil {
		return err
	}
	combos, err := cfg.Space.Combinations()
	if err != nil {
		return cli.Usage(err.Error())
	}
	workers := cfg.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	p := cli.NewProgress(os.Stderr, "sweep", f.quiet)
	cfg.Progress = p.Update
	res, err := backtest.Sweep(ctx, candles, cfg)
	p.Done()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "gridmesh sweep — %s, %d combinations, workers %d, data %s\n", cfg.Base.Rules.Symbol, len(combos), workers, filepath.Base(path))
	fmt.Fprintf(stdout, "funding: %s; taker orders slip %s\n\n", funding, backtest.DefaultSlippage())
	if err := res.WriteMarkdown(stdout, f.top); err != nil {
		return err
	}
	if f.csv != "" {
		if err := writeFile(f.csv, res.WriteCSV); err != nil {
			return fmt.Errorf("-csv %s: %w", f.csv, err)
		}
		fmt.Fprintf(stdout, "\nwrote %s (-csv, %d rows)\n", f.csv, len(res.Rows))
	}
	if f.md != "" {
		if err := writeFile(f.md, func(w io.Writer) error { return res.WriteMarkdown(w, f.top) }); err != nil {
			return fmt.Errorf("-md %s: %w", f.md, err)
		}
		fmt.Fprintf(stdout, "wrote %s (-md)\n", f.md)
	}
	return nil
}

// loadFunding sets every run's funding from -funding: the file given, none,
// or by default the shipped month's real settlements when the data is the
// shipped month (as examples/backtest charges them). It says what it set.
func (f flags) loadFunding(cfg *backtest.SweepConfig) (string, error) {
	path := f.funding
	switch {
	case path == "none":
		return "none", nil
	case path == "" && f.data != cli.DefaultData:
		return "none (give -funding for this data's settlements)", nil
	case path == "":
		path = cli.DefaultFunding
	}
	found, err := cli.FindFile("funding", path)
	if err != nil {
		return "", err
	}
	ss, err := backtest.ReadFundingFile(found)
	if err != nil {
		return "", cli.Usage("-funding: " + strings.ReplaceAll(err.Error(), "backtest: ", ""))
	}
	cfg.Base.Funding = backtest.Funding{Settlements: ss}
	return "real settlements of " + filepath.Base(found), nil
}

// writeFile creates path and writes it; a failed write leaves no file.
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}
