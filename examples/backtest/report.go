package main

import (
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/grid/backtest"
)

func report(w io.Writer, f flags, s setup, path string, r backtest.Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k string, v any) { fmt.Fprintf(tw, "%s\t%v\n", k, v) }
	money := func(d decimal.Decimal) string { return d.StringFixed(2) }
	kind := "bounded " + f.lower + "–" + f.upper + fmt.Sprintf(", %d intervals", f.intervals)
	if f.trailing != "" {
		kind = "trailing, interval " + f.trailing + fmt.Sprintf(", layer cap %d", f.layers)
	}
	if f.geometric {
		kind += ", geometric"
	}
	fmt.Fprintf(w, "gridmesh backtest — %s %s grid (%s), %s per order, window %d\n", f.symbol, f.mode, kind, f.amount, f.window)
	margin := "checked"
	if f.noMarginCheck {
		margin = "not checked"
	}
	fmt.Fprintf(w, "venue: %s margin (%s), leverage %d, fees %s maker / %s taker, market orders slip %s\n",
		f.marginMode, margin, f.leverage, s.maker, s.taker, s.slippage)
	fmt.Fprintf(w, "data: %s\nfunding: %s\n\n", filepath.Base(path), s.funding)
	row("period", stamp(r.Start)+" → "+stamp(r.End)+" UTC")
	row("candles", r.Candles)
	row("price", r.OpenPrice.String()+" → "+r.ClosePrice.String())
	row("round trips", r.RoundTrips)
	row("fills (maker / taker)", fmt.Sprintf("%d (%d / %d)", r.Fills, r.MakerFills, r.TakerFills))
	row("orders / cancels / rejections", fmt.Sprintf("%d / %d / %d", r.Orders, r.Cancels, r.Rejections))
	row("refused for margin", r.MarginRefusals)
	row("realized (gross)", money(r.Realized))
	row("fees", money(r.Fees))
	row("funding", money(r.Funding)+fmt.Sprintf(" (%d settlements; negative: received)", r.FundingPayments))
	row("slippage paid", money(r.Slippage))
	row("realized net of fees and funding", money(r.NetRealized))
	row("unrealized at close", money(r.Unrealized))
	row("position at close", r.Position.String())
	row("initial balance", money(r.InitialBalance))
	row("final equity", money(r.FinalEquity))
	row("PnL", money(r.PnL)+fmt.Sprintf(" (%s%%)", r.PnL.Mul(decimal.NewFromInt(100)).Div(r.InitialBalance).StringFixed(2)))
	row("buy and hold (1×, same balance)", money(r.BuyAndHold.Sub(r.InitialBalance)))
	row("max drawdown", money(r.MaxDrawdown)+" ("+r.MaxDrawdownPct.StringFixed(2)+"%)")
	row("max position", r.MaxPosition.String()+" (notional "+money(r.MaxNotional)+")")
	if r.Stopped != "" {
		row("STOPPED", stamp(r.StoppedAt)+" UTC: "+r.Stopped)
	}
	if f.trend {
		row("trend filter", fmt.Sprintf("held one side's entries after %d candles; %s at the end", r.TrendCandles, r.Engine.Trend))
	}
	if r.Engine.PostOnlyRejects > 0 {
		row("post-only rejections / re-priced", fmt.Sprintf("%d / %d", r.Engine.PostOnlyRejects, r.Engine.Repriced))
	}
	if r.Engine.Waiting != "" {
		row("never started", r.Engine.Waiting)
	}
	if len(r.Liquidated) == 0 {
		row("liquidations", 0)
	}
	for _, l := range r.Liquidated {
		row("LIQUIDATED", fmt.Sprintf("%s UTC at %s: %s %s closed, margin %s", stamp(l.Time), l.Price, l.PositionSide, l.Qty, money(l.Margin)))
	}
	if len(r.Liquidated) > 0 {
		row("insurance fund", money(r.Insurance)+" (positive: kept from the account; negative: covered a loss below bankruptcy)")
	}
	tw.Flush()
}
