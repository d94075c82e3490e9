package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/gridmesh/gridmesh/examples/internal/cli"
	"github.com/gridmesh/gridmesh/grid/backtest"
)

// outputs are the files a run can write besides its summary, and -quiet.
type outputs struct {
	report, trades, equity, json string
	quiet                        bool
}

func (o *outputs) register(fs *flag.FlagSet) {
	fs.StringVar(&o.report, "report", "", "write an HTML report (charts and summary, self-contained) to this file")
	fs.StringVar(&o.trades, "trades", "", "write every fill as CSV to this file")
	fs.StringVar(&o.equity, "equity", "", "write the equity samples as CSV to this file")
	fs.StringVar(&o.json, "json", "", "write the whole result as JSON to this file")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress line on a terminal")
}

// progress returns the run's progress callback: a line on stderr when it
// is a terminal and -quiet is not set, nil otherwise.
func (o outputs) progress() (func(done, total int), func()) {
	p := cli.NewProgress(os.Stderr, "backtest", o.quiet)
	if p == nil {
		return nil, func() {}
	}
	return p.Update, p.Done
}

// write writes every file asked for and tells stdout where they went.
func (o outputs) write(stdout io.Writer, res backtest.Result) error {
	var errs []error
	for _, out := range []struct {
		flag, path string
		write      func(io.Writer) error
	}{
		{"report", o.report, res.WriteHTML},
		{"trades", o.trades, res.WriteTradesCSV},
		{"equity", o.equity, res.WriteEquityCSV},
		{"json", o.json, res.WriteJSON},
	} {
		if out.path == "" {
			continue
		}
		if err := writeOutput(out.path, out.write); err != nil {
			errs = append(errs, fmt.Errorf("-%s %s: %w", out.flag, out.path, err))
			continue
		}
		fmt.Fprintf(stdout, "wrote %s (-%s)\n", out.path, out.flag)
	}
	return errors.Join(errs...)
}

// writeOutput creates path and writes it; a failed write leaves no file.
func writeOutput(path string, write func(io.Writer) error) error {
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
