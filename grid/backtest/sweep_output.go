package backtest

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
)

// SweepColumns are the columns of [SweepResult.WriteCSV], in order, one
// row per combination in rank order. They are stable: later versions only
// append columns. Empty cells are settings that do not apply (the bounds of
// a trailing grid) or runs that did not happen; "n/a" a figure that does
// not exist (a Sharpe ratio of less than two days).
//
//	rank                 1 for the best
//	mode                 long, short or neutral
//	lower, upper, levels a bounded grid's range and intervals
//	trailing, layer_cap  a trailing grid's interval and layer cap
//	amount, window, leverage, geometric
//	error                why the combination could not run
//	metric               the ranking metric's name
//	value                its value in sample
//	pnl, return_pct, max_drawdown_pct, sharpe, sortino, round_trips,
//	fills, fees, liquidations
//	                     in sample (the whole data without a split)
//	oos_value, oos_pnl, oos_return_pct, oos_max_drawdown_pct, oos_sharpe,
//	oos_round_trips, oos_liquidations
//	                     out of sample, for the top rows of a split sweep:
//	                     "n/a" for a top row that could not run there
//	oos_note             why: "n/a: " and the reason, such as a bounded
//	                     range the price never entered after the split
var SweepColumns = []string{
	"rank", "mode", "lower", "upper", "levels", "trailing", "layer_cap", "amount", "window", "leverage", "geometric",
	"error", "metric", "value", "pnl", "return_pct", "max_drawdown_pct", "sharpe", "sortino", "round_trips", "fills", "fees", "liquidations",
	"oos_value", "oos_pnl", "oos_return_pct", "oos_max_drawdown_pct", "oos_sharpe", "oos_round_trips", "oos_liquidations", "oos_note",
}

// WriteCSV writes every row with a header of SweepColumns.
func (s SweepResult) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(SweepColumns); err != nil {
		return fmt.Errorf("backtest: sweep CSV: %w", err)
	}
	for i := range s.Rows {
		r := &s.Rows[i]
		p := r.Params
		row := []string{strconv.Itoa(r.Rank), p.Mode.String()}
		if p.Bounded() {
			row = append(row, p.Lower.String(), p.Upper.String(), strconv.Itoa(p.Levels), "", "")
		} else {
			row = append(row, "", "", "", p.Trailing.String(), strconv.Itoa(p.LayerCap))
		}
		row = append(row, p.Amount.String(), strconv.Itoa(p.Window), strconv.Itoa(p.Leverage), strconv.FormatBool(p.Geometric), r.Err, s.Metric.String())
		if r.Err != "" {
			row = append(row, make([]string, 10)...)
		} else {
			o := &r.In
			row = append(row, fmtFloat(o.Value), o.PnL.String(), o.ReturnPct.String(), o.MaxDrawdownPct.String(), fmtFloat(o.Sharpe), fmtFloat(o.Sortino),
				strconv.Itoa(o.RoundTrips), strconv.FormatInt(o.Fills, 10), o.Fees.String(), strconv.FormatInt(o.Liquidations, 10))
		}
		if o := r.Out; o != nil {
			row = append(row, fmtFloat(o.Value), o.PnL.String(), o.ReturnPct.String(), o.MaxDrawdownPct.String(), fmtFloat(o.Sharpe),
				strconv.Itoa(o.RoundTrips), strconv.FormatInt(o.Liquidations, 10), r.OutNote)
		} else if r.OutNote != "" {
			row = append(row, "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", r.OutNote)
		} else {
			row = append(row, "", "", "", "", "", "", "", "")
		}
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("backtest: sweep CSV: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("backtest: sweep CSV: %w", err)
	}
	return nil
}

// WriteMarkdown writes the first n rows (all when n ≤ 0) as a Markdown
// table: the settings, the in-sample metric, return, drawdown and round
// trips, and, for a split sweep, the same out of sample ("n/a" where the
// combination did not or could not run there), under a line naming the
// periods.
func (s SweepResult) WriteMarkdown(w io.Writer, n int) error {
	var b strings.Builder
	split := s.OutCandles > 0
	fmt.Fprintf(&b, "Ranked by %s on %s → %s (%d candles)", s.Metric, fmtTime(s.InStart), fmtTime(s.InEnd), s.InCandles)
	if split {
		fmt.Fprintf(&b, "; out of sample %s → %s (%d candles), top %d", fmtTime(s.OutStart), fmtTime(s.OutEnd), s.OutCandles, s.Top)
	}
	b.WriteString(".\n\n")
	b.WriteString("| # | mode | grid | amount | window | leverage | " + s.Metric.String() + " | return % | max DD % | trips |")
	sep := "|--:|---|---|--:|--:|--:|--:|--:|--:|--:|"
	if split {
		b.WriteString(" OOS " + s.Metric.String() + " | OOS return % | OOS max DD % | OOS trips |")
		sep += "--:|--:|--:|--:|"
	}
	b.WriteString("\n" + sep + "\n")
	if n <= 0 || n > len(s.Rows) {
		n = len(s.Rows)
	}
	pct := func(d decimal.Decimal) string { return d.StringFixed(2) }
	for i := range n {
		r := &s.Rows[i]
		p := r.Params
		g := p.Grid()
		if p.Geometric {
			g += " geo"
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %d | %d |", r.Rank, p.Mode, g, p.Amount, p.Window, p.Leverage)
		if r.Err != "" {
			b.WriteString(" error: " + mdEscape(r.Err) + " | | | |")
		} else {
			fmt.Fprintf(&b, " %s | %s | %s | %d |", fmtFloat(r.In.Value), pct(r.In.ReturnPct), pct(r.In.MaxDrawdownPct), r.In.RoundTrips)
		}
		if split {
			switch {
			case r.Out != nil:
				fmt.Fprintf(&b, " %s | %s | %s | %d |", fmtFloat(r.Out.Value), pct(r.Out.ReturnPct), pct(r.Out.MaxDrawdownPct), r.Out.RoundTrips)
			case i < s.Top:
				b.WriteString(" n/a | n/a | n/a | n/a |")
			default:
				b.WriteString(" | | | |")
			}
		}
		b.WriteString("\n")
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("backtest: sweep Markdown: %w", err)
	}
	return nil
}

// mdEscape keeps a message inside one table cell.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
