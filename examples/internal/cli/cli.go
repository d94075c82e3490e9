// Package cli holds what the example commands share: usage errors and
// their exit status, and where the data this repository ships is found.
// It is internal to the examples; a library user needs none of it.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
)

// UsageError is a problem with the command line: the command exits with
// status 2. Build one with [Usage].
type UsageError struct{ msg string }

// Error is the message for the user.
func (e *UsageError) Error() string { return e.msg }

// Usage returns a *UsageError with the message.
func Usage(msg string) error { return &UsageError{msg: msg} }

// IsUsage reports whether err is (or wraps) a *UsageError.
func IsUsage(err error) bool {
	var ue *UsageError
	return errors.As(err, &ue)
}

// Exit ends a command after its run: status 2 for a usage error, 0 for
// -h, 1 for any other error (printed with the command's name), and it
// returns when err is nil.
func Exit(name string, err error) {
	switch {
	case err == nil:
		return
	case IsUsage(err):
		fmt.Fprintln(os.Stderr, Message(name, err))
		os.Exit(2)
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	default:
		fmt.Fprintln(os.Stderr, Message(name, err))
		os.Exit(1)
	}
}

// Message is err's message with one "name: " prefix: added unless the
// message already starts with it (a library of the same name prefixes its
// own errors).
func Message(name string, err error) string {
	msg := err.Error()
	if strings.HasPrefix(msg, name+": ") {
		return msg
	}
	return name + ": " + msg
}

// Parse parses a command's flags: -h returns flag.ErrHelp (exit 0), a bad
// flag or a stray argument a usage error.
func Parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return Usage(err.Error())
	}
	if fs.NArg() > 0 {
		return Usage(fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	return nil
}

// MonthFile is the name of the month of BTCUSDT perpetual candles the
// repository ships (see examples/data/SOURCES.md).
const MonthFile = "binance-um_BTCUSDT_1m_2025-05-04_2025-06-03.csv.gz"

// DefaultData is MonthFile's path from the repository root.
const DefaultData = "examples/data/" + MonthFile

// FundingFile is the name of the real BTCUSDT funding settlements of the
// shipped month (see examples/data/SOURCES.md).
const FundingFile = "BTCUSDT-fundingRate-2025-05-04_2025-06-03.csv"

// DefaultFunding is FundingFile's path from the repository root.
const DefaultFunding = "examples/data/" + FundingFile

// BTCUSDT are the BTCUSDT perpetual's rules on Binance USDⓈ-M.
var BTCUSDT = exchange.Rules{
	Symbol:      "BTCUSDT",
	TickSize:    decimal.RequireFromString("0.1"),
	StepSize:    decimal.RequireFromString("0.001"),
	MinQty:      decimal.RequireFromString("0.001"),
	MinNotional: decimal.RequireFromString("100"),
}

// FindData resolves a data file: as given when it exists; the defaults
// (DefaultData, DefaultFunding) also from the examples' own folder, so a command works from
// any directory of a clone. A missing file is a usage error naming it.
func FindData(path string) (string, error) { return FindFile("data", path) }

// FindFile is FindData for the file of any flag: a missing file is a usage
// error naming the flag.
func FindFile(flagName, path string) (string, error) {
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if path == DefaultData || path == DefaultFunding {
		if _, src, _, ok := runtime.Caller(0); ok {
			alt := filepath.Join(filepath.Dir(src), "..", "..", "data", filepath.Base(path))
			if _, err := os.Stat(alt); err == nil {
				return alt, nil
			}
		}
	}
	return "", Usage(fmt.Sprintf("-%s %q: no such file", flagName, path))
}
