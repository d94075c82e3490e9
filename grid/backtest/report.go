package backtest

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
)

// maxLevelLines caps the grid levels drawn on the price chart; a denser
// grid is drawn every k-th level (the chart says so).
const maxLevelLines = 200

// reportCSS is the report's whole style sheet.
const reportCSS = `
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1d2330;background:#fff}
h1{font-size:20px;margin:0 0 4px}
p.sub{margin:0 0 16px;color:#5a6270}
.layout{display:flex;flex-wrap:wrap;gap:28px;align-items:flex-start}
.charts{flex:1 1 760px;min-width:0;max-width:1060px}
.side{flex:0 0 auto;position:sticky;top:12px}
table.summary{border-collapse:collapse;font-variant-numeric:tabular-nums}
table.summary th{text-align:left;font-weight:normal;color:#5a6270;padding:2px 16px 2px 0}
table.summary td{text-align:right;padding:2px 0}
table.summary tr.sep th,table.summary tr.sep td{border-top:1px solid #e3e6eb;padding-top:5px}
svg{display:block;margin:8px 0;max-width:100%;height:auto}
svg text{font:11px system-ui,sans-serif;fill:#5a6270}
svg text.title{font-size:13px;fill:#1d2330}
svg text.ylab{text-anchor:end}
svg text.note{text-anchor:middle;font-size:13px}
.frame{fill:none;stroke:#c9ced6}
.grid{stroke:#eef0f3}
.zero{stroke:#9aa1ad;stroke-dasharray:3 3}
.lvl{stroke:#d6dcf5;stroke-width:0.6}
.band{stroke:#8792a6;stroke-width:1}
.close{fill:none;stroke:#1d2330;stroke-width:0.6}
.eq{fill:none;stroke:#1f6feb;stroke-width:1.2}
.bh{fill:none;stroke:#b08800;stroke-width:1}
.dd{stroke:#d1242f;stroke-width:1}
.pos{fill:none;stroke:#6639ba;stroke-width:1}
.mrg{stroke:#bc4c00;stroke-width:1}
.fund{fill:none;stroke:#0a7f6f;stroke-width:1.2}
.eb{fill:#1a7f37}
.es{fill:#d1242f}
.xb{fill:none;stroke:#1a7f37;stroke-width:1.2}
.xs{fill:none;stroke:#d1242f;stroke-width:1.2}
.liq{fill:none;stroke:#000;stroke-width:2}
.key{font-size:12px;color:#5a6270;margin:0 0 4px}
.key span{margin-right:14px}
`

// WriteHTML writes the result as one self-contained report: XHTML with
// inline SVG charts and CSS, no script and nothing fetched from the network,
// so it opens offline in any browser and parses as XML. It holds the price
// with the grid's levels and every fill marked (entries as triangles,
// exits as squares; green buys, red sells), equity against buy-and-hold,
// drawdown, position, margin use, cumulative funding, and a summary table
// of [Result.Metrics] and the result's totals.
//
// Charts are drawn from Series (recorded unless Config.NoRecord): every
// series is downsampled to the chart's pixel columns, keeping each
// column's minimum and maximum, so no line has more than
// MaxPointsPerSeries points and a year of 1-minute candles makes a file
// of a few hundred kilobytes. Without a recorded series the charts say so
// and the table is still complete where it can be.
func (r Result) WriteHTML(w io.Writer) error {
	_, err := r.writeHTML(w)
	return err
}

// reportCounts are what a report drew, for tests and the size benchmark.
type reportCounts struct {
	points  map[string]int // series class → points drawn
	markers int            // fill markers drawn
	levels  int            // level lines drawn
}

func (r Result) writeHTML(out io.Writer) (reportCounts, error) {
	cnt := reportCounts{points: map[string]int{}}
	w := bufio.NewWriterSize(out, 64<<10)
	title := "gridmesh backtest"
	if r.Series.Symbol != "" {
		title += " — " + r.Series.Symbol
	}
	w.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<!DOCTYPE html>\n")
	w.WriteString(`<html xmlns="http://www.w3.org/1999/xhtml" lang="en"><head><meta charset="utf-8"/>` +
		`<meta name="viewport" content="width=device-width, initial-scale=1"/><title>` + esc(title) + "</title>\n<style>" + reportCSS + "</style></head>\n<body>\n")
	w.WriteString("<h1>" + esc(title) + "</h1>\n")
	w.WriteString(`<p class="sub">` + esc(fmtTime(r.Start)+" → "+fmtTime(r.End)+fmt.Sprintf(", %d candles, price %s → %s", r.Candles, r.OpenPrice, r.ClosePrice)))
	if r.Halted != "" {
		w.WriteString(esc(" — halted: " + r.Halted))
	}
	w.WriteString("</p>\n")
	// The picture first, the numbers beside it (below it on a narrow screen).
	w.WriteString(`<div class="layout"><div class="charts">` + "\n")
	r.writeCharts(w, &cnt)
	w.WriteString(`</div><div class="side">` + "\n")
	r.writeTable(w)
	w.WriteString("</div></div>\n</body></html>\n")
	if err := w.Flush(); err != nil {
		return cnt, fmt.Errorf("backtest: HTML report: %w", err)
	}
	return cnt, nil
}

// SummaryRow is one row of the HTML report's summary table: Key is the
// cell's id, Label the row's heading, Value the cell's text. A plain value.
type SummaryRow struct{ Key, Label, Value string }

// SummaryRows are the summary table of the HTML report, in order: the cell
// of each row has the row's Key as its id, and its text is Value (a plain
// number in the unit the Label names, a date, "n/a", or for "liquidated"
// each liquidation as "2006-01-02 15:04 at price" joined by "; ", or
// "none").
func (r Result) SummaryRows() []SummaryRow {
	m := r.Metrics()
	money := func(d decimal.Decimal) string { return d.StringFixed(2) }
	return []SummaryRow{
		{"start", "Start (UTC)", fmtTime(r.Start)},
		{"end", "End (UTC)", fmtTime(r.End)},
		{"candles", "Candles", strconv.Itoa(r.Candles)},
		{"initial_balance", "Initial balance", money(r.InitialBalance)},
		{"final_equity", "Final equity", money(r.FinalEquity)},
		{"pnl", "PnL", money(r.PnL)},
		{"total_return", "Total return (%)", m.ReturnPct.StringFixed(2)},
		{"annualized_return", "Annualised return (%)", fmtFloat(m.AnnualizedPct)},
		{"buy_and_hold_return", "Buy and hold return (%)", m.BuyAndHoldPct.StringFixed(2)},
		{"max_drawdown", "Max drawdown", money(m.MaxDrawdown)},
		{"max_drawdown_pct", "Max drawdown (%)", m.MaxDrawdownPct.StringFixed(2)},
		{"drawdown_peak", "Drawdown peak (UTC)", fmtTime(m.DrawdownPeak)},
		{"drawdown_trough", "Drawdown trough (UTC)", fmtTime(m.DrawdownTrough)},
		{"sharpe", "Sharpe (daily, ×√365)", fmtFloat(m.Sharpe)},
		{"sortino", "Sortino (daily, ×√365)", fmtFloat(m.Sortino)},
		{"round_trips", "Round trips", strconv.Itoa(m.RoundTrips)},
		{"win_rate", "Win rate (%)", fmtFloat(m.WinRatePct)},
		{"avg_trip_net", "Average profit per round trip", money(m.AvgTripNet)},
		{"realized", "Realized (gross)", money(r.Realized)},
		{"fees", "Fees", money(m.Fees)},
		{"funding", "Funding (paid positive)", money(m.Funding)},
		{"funding_payments", "Funding settlements charged", strconv.Itoa(r.FundingPayments)},
		{"slippage", "Slippage of taker fills", money(r.Slippage)},
		{"net_realized", "Realized net", money(r.NetRealized)},
		{"unrealized", "Unrealized at close", money(r.Unrealized)},
		{"position", "Position at close", r.Position.String()},
		{"time_in_market", "Time in market (%)", fmtFloat(m.TimeInMarketPct)},
		{"fill_rate", "Fill rate (%)", fmtFloat(m.FillRatePct)},
		{"fills", "Fills", strconv.FormatInt(r.Fills, 10)},
		{"orders", "Orders placed", strconv.Itoa(r.Orders)},
		{"max_position", "Max position", r.MaxPosition.String()},
		{"max_notional", "Max notional", money(r.MaxNotional)},
		{"margin_refusals", "Orders refused for margin", strconv.Itoa(r.MarginRefusals)},
		{"liquidations", "Liquidations", strconv.FormatInt(m.Liquidations, 10)},
		{"liquidated", "Liquidated (UTC at price)", liquidatedText(r.Liquidated)},
		{"insurance", "Left to the insurance fund", money(r.Insurance)},
	}
}

// liquidatedText lists liquidations as "2006-01-02 15:04 at price", or
// "none".
func liquidatedText(ls []Liquidation) string {
	if len(ls) == 0 {
		return "none"
	}
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = fmtTime(l.Time) + " at " + l.Price.String()
	}
	return strings.Join(parts, "; ")
}

// separated are the rows that open a group in the table.
var separated = map[string]bool{"initial_balance": true, "max_drawdown": true, "round_trips": true, "time_in_market": true, "margin_refusals": true}

func (r Result) writeTable(w *bufio.Writer) {
	w.WriteString(`<table class="summary" id="summary">` + "\n")
	for _, row := range r.SummaryRows() {
		cls := ""
		if separated[row.Key] {
			cls = ` class="sep"`
		}
		w.WriteString("<tr" + cls + "><th>" + esc(row.Label) + `</th><td id="` + row.Key + `">` + esc(row.Value) + "</td></tr>\n")
	}
	w.WriteString("</table>\n")
}

// fmtTime formats a time as "2006-01-02 15:04" UTC, or "n/a" when zero.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "n/a"
	}
	return t.UTC().Format("2006-01-02 15:04")
}

// fmtFloat formats a ratio with two decimals: "n/a" for NaN, "inf" for ±Inf.
func fmtFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return "n/a"
	case math.IsInf(v, 1):
		return "inf"
	case math.IsInf(v, -1):
		return "-inf"
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// esc escapes text for XML.
func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// f is a decimal as a float64 for drawing (never for money arithmetic).
func f(d decimal.Decimal) float64 { return d.InexactFloat64() }

const chartHeight = 180.0

// svgOpen starts one chart's svg element.
func svgOpen(w *bufio.Writer, label string) {
	h := int(plotTop + chartHeight + plotBottom)
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s">`+"\n",
		chartWidth, h, chartWidth, h, esc(label))
}

func (r Result) writeCharts(w *bufio.Writer, cnt *reportCounts) {
	bs := r.Series.Buckets
	t0, t1 := r.Start.UnixMilli(), r.End.UnixMilli()
	newChart := func() *chart { return &chart{w: w, top: plotTop, h: chartHeight, t0: t0, t1: t1} }
	empty := len(bs) == 0
	const notRecorded = "not recorded (Config.NoRecord)"

	// Price, levels and fills.
	price := columns(len(bs), t0, t1, func(i int) (int64, float64, float64, bool, float64) {
		b := &bs[i]
		return b.Start.UnixMilli(), f(b.Low), f(b.High), !b.Close.LessThan(b.Open), f(b.Close)
	})
	w.WriteString(`<p class="key"><span>▲ entry buy</span><span>▼ entry sell</span><span>□ exit (green buy, red sell)</span><span>✕ liquidation</span><span>lines: grid levels</span></p>` + "\n")
	svgOpen(w, "price with grid levels and fills")
	c := newChart()
	c.scale(price)
	c.frame("Price, grid levels and fills", fmtValue)
	if empty {
		c.note(notRecorded)
	} else {
		cnt.levels = r.drawLevels(c)
		cnt.points["band"] = c.band(price)
		cnt.points["close"] = c.closeLine(price)
		cnt.markers = r.drawFills(c)
	}
	c.timeAxis()
	w.WriteString("</svg>\n")

	// Equity against buy and hold.
	svgOpen(w, "equity against buy and hold")
	eq := columns(len(bs), t0, t1, func(i int) (int64, float64, float64, bool, float64) {
		b := &bs[i]
		return b.Start.UnixMilli(), f(b.EquityMin), f(b.EquityMax), b.EquityMinFirst, f(b.Equity)
	})
	open, init := f(r.OpenPrice), f(r.InitialBalance)
	bh := make([]column, len(price))
	for i, k := range price {
		if k.set && open > 0 {
			bh[i] = column{lo: init * k.lo / open, hi: init * k.hi / open, last: init * k.last / open, loAt: k.loAt, hiAt: k.hiAt, set: true}
		}
	}
	c = newChart()
	c.scale(append(eq, bh...), init)
	c.frame("Equity (blue) against buy and hold (gold)", fmtValue)
	if empty {
		c.note(notRecorded)
	} else {
		cnt.points["bh"] = c.line(bh, "bh")
		cnt.points["eq"] = c.line(eq, "eq")
	}
	c.timeAxis()
	w.WriteString("</svg>\n")

	// Drawdown.
	dd := columns(len(bs), t0, t1, func(i int) (int64, float64, float64, bool, float64) {
		v := -f(bs[i].DrawdownPct)
		return bs[i].Start.UnixMilli(), v, v, true, v
	})
	r.simpleChart(w, cnt, newChart(), "drawdown", "Drawdown from peak (% of peak)", dd, true, "dd", fmtPctAxis, empty, "")

	// Position.
	pos := columns(len(bs), t0, t1, func(i int) (int64, float64, float64, bool, float64) {
		b := &bs[i]
		return b.Start.UnixMilli(), f(b.PositionMin), f(b.PositionMax), true, f(b.Position)
	})
	r.simpleChart(w, cnt, newChart(), "position", "Position (base, signed)", pos, false, "pos", fmtValue, empty, "")

	// Margin use.
	mrg := columns(len(bs), t0, t1, func(i int) (int64, float64, float64, bool, float64) {
		v := f(bs[i].MarginPct)
		return bs[i].Start.UnixMilli(), v, v, true, v
	})
	r.simpleChart(w, cnt, newChart(), "margin use", "Initial margin in use, positions and orders (% of equity)", mrg, false, "mrg", fmtPctAxis, empty, "")

	// Funding.
	fund := columns(len(bs), t0, t1, func(i int) (int64, float64, float64, bool, float64) {
		v := -f(bs[i].Funding)
		return bs[i].Start.UnixMilli(), v, v, true, v
	})
	none := ""
	if r.Funding.IsZero() && allZero(fund) {
		none = "no funding paid or received in this run"
	}
	r.simpleChart(w, cnt, newChart(), "funding", "Cumulative funding (received positive, paid negative)", fund, false, "fund", fmtValue, empty, none)
}

// simpleChart draws one series as a line or an area, or a note instead.
func (r Result) simpleChart(w *bufio.Writer, cnt *reportCounts, c *chart, label, title string, cols []column, area bool, class string,
	format func(float64) string, empty bool, none string) {
	svgOpen(w, label)
	c.scale(cols, 0)
	c.frame(title, format)
	switch {
	case empty:
		c.note("not recorded (Config.NoRecord)")
	case none != "":
		c.note(none)
	case area:
		cnt.points[class] = c.area(cols, true, class)
	case class == "mrg":
		cnt.points[class] = c.area(cols, false, class)
	default:
		cnt.points[class] = c.line(cols, class)
	}
	c.timeAxis()
	w.WriteString("</svg>\n")
}

func allZero(cols []column) bool {
	for _, k := range cols {
		if k.set && (k.lo != 0 || k.hi != 0) {
			return false
		}
	}
	return true
}

// band draws each price column as a vertical segment from low to high.
func (c *chart) band(cols []column) int {
	n := 0
	c.w.WriteString(`<path class="band" d="`)
	for i := range cols {
		if k := &cols[i]; k.set {
			lo, hi := c.y(k.lo), c.y(k.hi)
			if lo-hi < 1 {
				lo, hi = lo+0.5, hi-0.5
			}
			c.w.WriteString("M" + num(c.x(i)) + " " + num(lo) + "V" + num(hi))
			n += 2
		}
	}
	c.w.WriteString(`"/>` + "\n")
	return n
}

// closeLine draws each column's last close.
func (c *chart) closeLine(cols []column) int {
	last := make([]column, len(cols))
	for i, k := range cols {
		last[i] = column{lo: k.last, hi: k.last, set: k.set}
	}
	return c.line(last, "close")
}

// drawLevels draws the grid's levels inside the chart's range, at most
// maxLevelLines of them.
func (r Result) drawLevels(c *chart) int {
	var in []float64
	for _, l := range r.Series.Levels {
		if v := f(l); v >= c.vmin && v <= c.vmax {
			in = append(in, v)
		}
	}
	stride := (len(in) + maxLevelLines - 1) / maxLevelLines
	if stride > 1 {
		c.w.WriteString(`<text class="ylab" x="` + num(plotLeft+plotWidth-4) + `" y="` + num(c.top+12) + `">every ` + strconv.Itoa(stride) + "th level</text>\n")
	}
	n := 0
	c.w.WriteString(`<path class="lvl" d="`)
	for i := 0; i < len(in); i += max(stride, 1) {
		c.w.WriteString("M" + num(plotLeft) + " " + num(c.y(in[i])) + "h" + num(plotWidth))
		n++
	}
	c.w.WriteString(`"/>` + "\n")
	return n
}

// fillKinds are the marker classes by kind: entry buy, entry sell, exit
// buy, exit sell, liquidation.
var fillKinds = [5]string{"eb", "es", "xb", "xs", "liq"}

func kindOf(t *Trade) int {
	k := 0
	switch t.Role {
	case RoleExit:
		k = 2
	case RoleLiquidation:
		return 4
	}
	if t.Side == exchange.Sell {
		k++
	}
	return k
}

// drawFills marks the fills, bucketed by pixel column: per column and
// kind, the lowest and the highest fill price. It returns the markers drawn.
func (r Result) drawFills(c *chart) int {
	type mark struct {
		lo, hi float64
		set    bool
	}
	var cols [5][plotWidth]mark
	for i := range r.Trades {
		t := &r.Trades[i]
		k, col, p := kindOf(t), colOf(t.Time.UnixMilli(), c.t0, c.t1), f(t.Price)
		m := &cols[k][col]
		if !m.set {
			*m = mark{lo: p, hi: p, set: true}
			continue
		}
		m.lo, m.hi = min(m.lo, p), max(m.hi, p)
	}
	n := 0
	for k, class := range fillKinds {
		c.w.WriteString(`<path class="` + class + `" d="`)
		for col := range cols[k] {
			m := &cols[k][col]
			if !m.set {
				continue
			}
			for j, p := range []float64{m.lo, m.hi} {
				if j == 1 && m.hi == m.lo {
					break
				}
				x, y := num(c.x(col)), c.y(p)
				switch k {
				case 0:
					c.w.WriteString("M" + x + " " + num(y) + "l-3.5 6h7z")
				case 1:
					c.w.WriteString("M" + x + " " + num(y) + "l-3.5 -6h7z")
				case 2, 3:
					c.w.WriteString("M" + num(c.x(col)-2.5) + " " + num(y-2.5) + "h5v5h-5z")
				default:
					c.w.WriteString("M" + num(c.x(col)-5) + " " + num(y-5) + "l10 10m0 -10l-10 10")
				}
				n++
			}
		}
		c.w.WriteString(`"/>` + "\n")
	}
	return n
}
