package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/risk"
)

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
