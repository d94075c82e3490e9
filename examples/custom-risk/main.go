// Command custom-risk shows a host adding its own runtime risk monitor
// beside the built-in ones. The monitor here pauses new entries around the
// funding settlements (00:00, 08:00 and 16:00 UTC on Binance), when spreads
// widen and prices jump; the built-in price band stops entries when the
// price moves more than 5 % in 15 minutes. Both run in a backtest over the
// BTCUSDT month this repository ships:
//
//	go run ./examples/custom-risk
//
// A monitor is any type with Name and Observe (see risk.Monitor): a pure
// state machine fed observations in time order, with no clock of its own.
package main

import (
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/examples/internal/cli"
	"github.com/gridmesh/gridmesh/exchange/sim"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/grid/backtest"
	"github.com/gridmesh/gridmesh/pricefeed"
	"github.com/gridmesh/gridmesh/risk"
)

// FundingWindow triggers from Before a funding settlement until After it.
// Its zero value never triggers. It is not safe for concurrent use (the
// engine's owner feeds it).
type FundingWindow struct {
	Every  time.Duration // settlement period (8 h on Binance)
	Before time.Duration
	After  time.Duration
	state  risk.Status
}

// Name implements risk.Monitor.
func (m *FundingWindow) Name() string { return "funding-window" }

// Observe implements risk.Monitor: any observation tells the time.
func (m *FundingWindow) Observe(o risk.Observation) risk.Status {
	if m.Every <= 0 {
		return m.state
	}
	// distance to the nearest settlement (they fall on multiples of Every)
	since := o.Time.Sub(o.Time.Truncate(m.Every))
	until := m.Every - since
	inside := since < m.After || until <= m.Before
	if inside != m.state.Triggered {
		next := o.Time.Add(until).UTC().Format("15:04")
		if since < m.After {
			next = o.Time.Add(-since).UTC().Format("15:04")
		}
		reason := "clear of the funding settlement"
		if inside {
			reason = "funding settlement at " + next + " UTC"
		}
		m.state = risk.Status{Triggered: inside, Reason: reason}
	}
	return m.state
}

var _ risk.Monitor = (*FundingWindow)(nil)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "custom-risk:", err)
		os.Exit(1)
	}
}

func run(w io.Writer) error {
	d := decimal.RequireFromString
	rules := cli.BTCUSDT
	path, err := cli.FindData(cli.DefaultData)
	if err != nil {
		return err
	}
	candles, err := pricefeed.ReadCandlesFile(path, rules)
	if err != nil {
		return err
	}
	venue := sim.DefaultCoreConfig(rules)
	venue.InitialBalance, _ = rules.DecimalToMoney(d("10000"))
	venue.Leverage = 5
	shape := []grid.Option{grid.WithBounds(d("90000"), d("115000"), 50), grid.WithAmount(d("200"))}

	band, err := risk.NewPriceBand(risk.DefaultPriceBandConfig(rules.Symbol))
	if err != nil {
		return err
	}
	funding := &FundingWindow{Every: 8 * time.Hour, Before: 10 * time.Minute, After: 5 * time.Minute}
	var notes riskLog
	guarded := append(shape,
		grid.WithRiskMonitors(0, band, funding), // no extra cool-down: the window itself says when
		grid.WithPauseCancelsEntries(true),
		grid.WithObserver(&notes),
	)

	plain, err := backtest.Run(candles, backtest.Config{Rules: rules, Sim: venue, Grid: shape})
	if err != nil {
		return err
	}
	withRisk, err := backtest.Run(candles, backtest.Config{Rules: rules, Sim: venue, Grid: guarded})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "BTCUSDT %s → %s, bounded long grid 90000–115000, 200 USDT per order\n\n",
		plain.Start.UTC().Format("2006-01-02"), plain.End.UTC().Format("2006-01-02"))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\twithout monitors\twith price band + funding window")
	fmt.Fprintf(tw, "round trips\t%d\t%d\n", plain.RoundTrips, withRisk.RoundTrips)
	fmt.Fprintf(tw, "net realized\t%s\t%s\n", plain.NetRealized.StringFixed(2), withRisk.NetRealized.StringFixed(2))
	fmt.Fprintf(tw, "PnL\t%s\t%s\n", plain.PnL.StringFixed(2), withRisk.PnL.StringFixed(2))
	fmt.Fprintf(tw, "max drawdown\t%s\t%s\n", plain.MaxDrawdown.StringFixed(2), withRisk.MaxDrawdown.StringFixed(2))
	fmt.Fprintf(tw, "candles paused\t%d\t%d\n", plain.PausedCandles, withRisk.PausedCandles)
	tw.Flush()
	fmt.Fprintf(w, "\nmonitor triggers: funding-window %d, price-band %d; first three notes:\n", notes.count["funding-window"], notes.count["price-band"])
	for _, n := range notes.first {
		fmt.Fprintln(w, " ", n)
	}
	return nil
}

// riskLog is an observer that keeps the risk notes.
type riskLog struct {
	grid.NopObserver
	count map[string]int
	first []string
}

func (l *riskLog) Risk(n grid.RiskNote) {
	if n.Monitor == "" {
		return
	}
	if l.count == nil {
		l.count = map[string]int{}
	}
	if len(l.first) < 3 {
		l.first = append(l.first, n.Time.UTC().Format("2006-01-02 15:04")+" "+n.Monitor+": "+n.Reason)
	}
	if n.Triggered {
		l.count[n.Monitor]++
	}
}
