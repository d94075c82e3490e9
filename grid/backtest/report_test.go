package backtest

import (
	"bytes"
	"encoding/xml"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange/sim"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/pricefeed"
)

// parsedReport is what a test reads back from a report with encoding/xml.
type parsedReport struct {
	cells    map[string]string   // summary cell id → text
	svgs     []string            // aria-labels of the charts
	classes  map[string][]string // element class → its points or d attributes
	notes    []string
	elements map[string]int // element name → count
}

// parseReport parses the report strictly as XML and collects the summary
// table, the charts and their drawings.
func parseReport(t *testing.T, doc []byte) parsedReport {
	t.Helper()
	p := parsedReport{cells: map[string]string{}, classes: map[string][]string{}, elements: map[string]int{}}
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = true
	var cell, class string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err, "the report must be well-formed XML")
		switch e := tok.(type) {
		case xml.StartElement:
			p.elements[e.Name.Local]++
			attr := func(name string) string {
				for _, a := range e.Attr {
					if a.Name.Local == name {
						return a.Value
					}
				}
				return ""
			}
			class = attr("class")
			switch e.Name.Local {
			case "td":
				cell = attr("id")
			case "svg":
				assert.Equal(t, "http://www.w3.org/2000/svg", e.Name.Space)
				p.svgs = append(p.svgs, attr("aria-label"))
			case "polyline":
				p.classes[class] = append(p.classes[class], attr("points"))
			case "path":
				p.classes[class] = append(p.classes[class], attr("d"))
			}
		case xml.CharData:
			if cell != "" {
				p.cells[cell] += string(e)
			}
			if class == "note" {
				p.notes = append(p.notes, string(e))
			}
		case xml.EndElement:
			if e.Name.Local == "td" {
				cell = ""
			}
			class = ""
		}
	}
	return p
}

func monthRun(t testing.TB) Result {
	t.Helper()
	candles, err := pricefeed.ReadCandlesFile(shippedMonth, btcRules)
	require.NoError(t, err)
	sc := sim.DefaultCoreConfig(btcRules)
	sc.InitialBalance, _ = btcRules.DecimalToMoney(dec("10000"))
	sc.Leverage = 5
	res, err := Run(candles, Config{Rules: btcRules, Sim: sc, Grid: []grid.Option{
		grid.WithBounds(dec("90000"), dec("115000"), 50), grid.WithAmount(dec("200")),
	}})
	require.NoError(t, err)
	return res
}

// TestReportIsXMLWithChartsAndTheResultsNumbers writes the shipped
// month's report, parses it with encoding/xml, and checks the summary
// table's numbers against the Result and the charts against the series.
func TestReportIsXMLWithChartsAndTheResultsNumbers(t *testing.T) {
	res := monthRun(t)
	var buf bytes.Buffer
	require.NoError(t, res.WriteHTML(&buf))
	doc := buf.Bytes()
	p := parseReport(t, doc)

	// Self-contained: no script, no external resource.
	assert.Zero(t, p.elements["script"])
	assert.Zero(t, p.elements["link"])
	assert.Zero(t, p.elements["img"])
	for _, ref := range []string{"href=", "src=", "url(", "@import"} {
		assert.NotContains(t, string(doc), ref)
	}

	// The table's numbers are the Result's.
	c := p.cells
	num := func(key string) decimal.Decimal {
		d, err := decimal.NewFromString(c[key])
		require.NoError(t, err, "cell %s = %q", key, c[key])
		return d
	}
	assert.Equal(t, res.FinalEquity.StringFixed(2), c["final_equity"])
	// 10452.51 without slippage: the initial position's market buy of
	// 4488.75 slips by the default 1 bp, 0.4512, and pays 0.0002 more fee.
	assert.Equal(t, "10452.06", c["final_equity"])
	assert.True(t, num("pnl").Equal(res.PnL.Round(2)))
	assert.True(t, num("total_return").Equal(res.PnL.Mul(dec("100")).Div(res.InitialBalance).Round(2)))
	assert.True(t, num("buy_and_hold_return").Equal(res.BuyAndHold.Sub(res.InitialBalance).Mul(dec("100")).Div(res.InitialBalance).Round(2)))
	assert.True(t, num("max_drawdown").Equal(res.MaxDrawdown.Round(2)))
	assert.True(t, num("max_drawdown_pct").Equal(res.MaxDrawdownPct.Round(2)))
	assert.True(t, num("fees").Equal(res.Fees.Round(2)))
	assert.True(t, num("funding").Equal(res.Funding.Round(2)))
	assert.True(t, num("realized").Equal(res.Realized.Round(2)))
	assert.True(t, num("net_realized").Equal(res.NetRealized.Round(2)))
	assert.True(t, num("unrealized").Equal(res.Unrealized.Round(2)))
	assert.True(t, num("max_notional").Equal(res.MaxNotional.Round(2)))
	assert.Equal(t, res.Position.String(), c["position"])
	assert.Equal(t, res.MaxPosition.String(), c["max_position"])
	assert.Equal(t, strconv.Itoa(res.RoundTrips), c["round_trips"])
	assert.Equal(t, "250", c["round_trips"])
	assert.Equal(t, strconv.Itoa(res.Candles), c["candles"])
	assert.Equal(t, strconv.FormatInt(res.Fills, 10), c["fills"])
	assert.Equal(t, strconv.Itoa(res.Orders), c["orders"])
	assert.Equal(t, "0", c["liquidations"])
	assert.Equal(t, res.Start.UTC().Format("2006-01-02 15:04"), c["start"])

	m := res.Metrics()
	float := func(key string, want float64) {
		v, err := strconv.ParseFloat(c[key], 64)
		require.NoError(t, err, "cell %s = %q", key, c[key])
		assert.InDelta(t, want, v, 0.005, key)
	}
	float("sharpe", m.Sharpe)
	float("sortino", m.Sortino)
	float("annualized_return", m.AnnualizedPct)
	float("win_rate", m.WinRatePct)
	float("time_in_market", m.TimeInMarketPct)
	float("fill_rate", m.FillRatePct)
	assert.Equal(t, 31, m.Days, "a month from 15:33 on May 4 to 15:31 on June 3 touches 31 UTC days")
	assert.True(t, num("avg_trip_net").Equal(m.AvgTripNet.Round(2)))
	assert.Equal(t, m.DrawdownPeak.UTC().Format("2006-01-02 15:04"), c["drawdown_peak"])
	assert.Equal(t, m.DrawdownTrough.UTC().Format("2006-01-02 15:04"), c["drawdown_trough"])
	assert.True(t, m.DrawdownTrough.After(m.DrawdownPeak))
	for _, row := range res.SummaryRows() {
		assert.Equal(t, row.Value, c[row.Key], "every row is in the table: %s", row.Key)
	}

	// The charts.
	assert.Equal(t, []string{"price with grid levels and fills", "equity against buy and hold", "drawdown", "position", "margin use", "funding"}, p.svgs)
	for _, class := range []string{"band", "close", "eq", "bh", "dd", "pos", "mrg", "lvl", "eb", "xs"} {
		require.Len(t, p.classes[class], 1, class)
		assert.NotEmpty(t, p.classes[class][0], class)
	}
	assert.Empty(t, p.classes["es"][0], "a long grid never enters by selling")
	assert.Empty(t, p.classes["liq"][0])
	for _, class := range []string{"close", "eq", "bh", "pos"} {
		pts := len(strings.Fields(p.classes[class][0]))
		assert.LessOrEqual(t, pts, MaxPointsPerSeries, class)
		assert.Greater(t, pts, plotWidth/2, class)
	}
	// 50 intervals, 51 levels; those inside the chart's range (the month's
	// low and high, padded by 5 % of the range) are drawn.
	require.Len(t, res.Series.Levels, 51)
	lo, hi := res.Series.Buckets[0].Low, res.Series.Buckets[0].High
	for _, b := range res.Series.Buckets {
		lo, hi = decimal.Min(lo, b.Low), decimal.Max(hi, b.High)
	}
	pad := hi.Sub(lo).Mul(dec("0.05"))
	inside := 0
	for _, l := range res.Series.Levels {
		if l.GreaterThanOrEqual(lo.Sub(pad)) && l.LessThanOrEqual(hi.Add(pad)) {
			inside++
		}
	}
	assert.Equal(t, 41, inside, "92400 to 112900: 92500 … 112500")
	assert.Equal(t, inside, strings.Count(p.classes["lvl"][0], "M"))
	assert.Contains(t, p.notes, "no funding paid or received in this run")
}

// TestReportOfTheHandGridMarksEveryFill checks that a short run's chart
// marks each fill at its own price: with four candles every fill has a
// pixel column of its own kind.
func TestReportOfTheHandGridMarksEveryFill(t *testing.T) {
	res := handRun(t)
	var buf bytes.Buffer
	cnt, err := res.writeHTML(&buf)
	require.NoError(t, err)
	p := parseReport(t, buf.Bytes())
	// Entries (buys): 102 initial and 100 at the start, 105+100+95 in c3
	// (one column: min 95, max 105 marked), so 4 markers; exits (sells):
	// 105, 110, 100 in three columns.
	assert.Equal(t, 4, strings.Count(p.classes["eb"][0], "M"))
	assert.Equal(t, 3, strings.Count(p.classes["xs"][0], "M"))
	assert.Equal(t, 7, cnt.markers)
	assert.Equal(t, "3", p.cells["round_trips"])
	assert.Equal(t, "100.00", p.cells["win_rate"])
	assert.Equal(t, "5.95", p.cells["avg_trip_net"])
	assert.Equal(t, "1014.81", p.cells["final_equity"])
	assert.Equal(t, "n/a", p.cells["sharpe"], "four minutes are no daily returns")
	assert.Equal(t, "n/a", p.cells["annualized_return"])
}

// TestReportWithoutRecordingSaysSo checks the report of a NoRecord run:
// well-formed, the table complete, the charts replaced by a note.
func TestReportWithoutRecordingSaysSo(t *testing.T) {
	sc := sim.DefaultCoreConfig(handRules)
	sc.InitialBalance, _ = handRules.DecimalToMoney(dec("1000"))
	res, err := Run([]pricefeed.Candle{candle(t, 0, "102", "103", "99", "101")}, Config{Rules: handRules, Sim: sc, NoRecord: true,
		Grid: []grid.Option{grid.WithBounds(dec("90"), dec("110"), 4), grid.WithQuantity(dec("1"))}})
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, res.WriteHTML(&buf))
	p := parseReport(t, buf.Bytes())
	assert.Len(t, p.svgs, 6)
	assert.Len(t, p.notes, 6)
	assert.Equal(t, "n/a", p.cells["win_rate"])
	assert.Equal(t, "n/a", p.cells["time_in_market"])
	assert.Equal(t, res.FinalEquity.StringFixed(2), p.cells["final_equity"])
}

// TestReportEscapesText checks that a symbol or halt reason with markup
// characters keeps the report well-formed.
func TestReportEscapesText(t *testing.T) {
	res := handRun(t)
	res.Series.Symbol = `A<B>&"C"`
	res.Halted = "risk: price < band & rising"
	var buf bytes.Buffer
	require.NoError(t, res.WriteHTML(&buf))
	parseReport(t, buf.Bytes())
	assert.Contains(t, buf.String(), "A&lt;B&gt;&amp;")
}

// TestMetricsDailyReturns checks the daily returns and their ratios on
// samples with known values.
func TestMetricsDailyReturns(t *testing.T) {
	day := int64(24 * 3600 * 1000)
	base := int64(1_700_006_400_000) // a UTC midnight
	var res Result
	res.InitialBalance = dec("100")
	for i, e := range []string{"101", "110", "99", "121"} { // samples at 12:00 and the day's close
		res.Equity = append(res.Equity,
			EquityPoint{Time: msTime(base + int64(i)*day + day/2), Equity: dec("100")},
			EquityPoint{Time: msTime(base + int64(i+1)*day), Equity: dec(e)})
	}
	rets := res.DailyReturns()
	require.Len(t, rets, 4)
	for i, want := range []float64{0.01, 110.0/101 - 1, 99.0/110 - 1, 121.0/99 - 1} {
		assert.InDelta(t, want, rets[i], 1e-12, "day %d", i)
	}
	sharpe, sortino := sharpeSortino(rets)
	mean := (rets[0] + rets[1] + rets[2] + rets[3]) / 4
	var ss float64
	for _, r := range rets {
		ss += (r - mean) * (r - mean)
	}
	assert.InDelta(t, mean/math.Sqrt(ss/3)*math.Sqrt(365), sharpe, 1e-9)
	assert.InDelta(t, mean/math.Sqrt(rets[2]*rets[2]/4)*math.Sqrt(365), sortino, 1e-9)

	_, s := sharpeSortino([]float64{0.01, 0.02})
	assert.True(t, math.IsInf(s, 1), "no losing day: Sortino is unbounded")
	a, b := sharpeSortino([]float64{0.01})
	assert.True(t, math.IsNaN(a) && math.IsNaN(b))
}

func msTime(ms int64) time.Time { return time.UnixMilli(ms) }

// TestReportOfALiquidatedRun checks a run the venue liquidates: the
// forced close is a recorded trade, marked on the chart, and counted in
// the table.
func TestReportOfALiquidatedRun(t *testing.T) {
	sc := sim.DefaultCoreConfig(handRules)
	sc.InitialBalance, _ = handRules.DecimalToMoney(dec("100"))
	sc.Leverage = 10
	candles := []pricefeed.Candle{
		candle(t, 0, "102", "103", "99", "101"),
		candle(t, 1, "101", "101", "85", "86"),
		candle(t, 2, "86", "87", "70", "71"),
		candle(t, 3, "71", "72", "60", "61"),
	}
	res, err := Run(candles, Config{Rules: handRules, Sim: sc, Grid: []grid.Option{
		grid.WithBounds(dec("90"), dec("110"), 4), grid.WithQuantity(dec("1")),
	}})
	require.NoError(t, err)
	require.Equal(t, int64(1), res.Liquidations)
	last := res.Trades[len(res.Trades)-1]
	assert.Equal(t, RoleLiquidation, last.Role)
	assert.Equal(t, "4", last.Qty.String(), "the whole position: 102, 100, 95 and 90")
	var buf bytes.Buffer
	require.NoError(t, res.WriteHTML(&buf))
	p := parseReport(t, buf.Bytes())
	assert.Equal(t, "1", p.cells["liquidations"])
	require.Len(t, res.Liquidated, 1)
	liq := res.Liquidated[0]
	assert.Equal(t, fmtTime(liq.Time)+" at "+liq.Price.String(), p.cells["liquidated"])
	assert.Equal(t, res.Insurance.StringFixed(2), p.cells["insurance"])
	assert.Equal(t, strconv.Itoa(res.MarginRefusals), p.cells["margin_refusals"])
	assert.Equal(t, 1, strings.Count(p.classes["liq"][0], "M"), "one liquidation marker")
	assert.Contains(t, buf.String(), "halted: liquidated at ")
	// The run stops at the liquidation, and its last equity sample is there.
	lastEq := res.Equity[len(res.Equity)-1]
	assert.Equal(t, res.FinalEquity.String(), lastEq.Equity.String())
	require.Len(t, res.Equity, 1, "EquityEvery 60, but the liquidation's candle is sampled")
	assert.Equal(t, res.Start.Add(time.Duration(res.Candles)*time.Minute), lastEq.Time)
	var csvBuf bytes.Buffer
	require.NoError(t, res.WriteTradesCSV(&csvBuf))
	assert.Contains(t, csvBuf.String(), ",,SELL,liquidation,")
}

// TestNiceTicks checks the axis labels' round values.
func TestNiceTicks(t *testing.T) {
	assert.Equal(t, []float64{95000, 100000, 105000, 110000}, niceTicks(92395, 112891, 5))
	assert.Equal(t, []float64{-1, -0.5, 0}, niceTicks(-1.2, 0.1, 5))
	assert.Equal(t, []float64{3}, niceTicks(3, 3, 5))
}

// TestReportDrawsFunding checks, on buckets made up by hand, that a run
// with funding gets a funding line instead of the note (a real run's:
// TestReportShowsTheVenuesBooking).
func TestReportDrawsFunding(t *testing.T) {
	res := handRun(t)
	for i := range res.Series.Buckets {
		res.Series.Buckets[i].Funding = dec(strconv.Itoa(i)).Mul(dec("0.25"))
	}
	res.Funding = dec("0.75")
	var buf bytes.Buffer
	require.NoError(t, res.WriteHTML(&buf))
	p := parseReport(t, buf.Bytes())
	require.Len(t, p.classes["fund"], 1)
	assert.Len(t, strings.Fields(p.classes["fund"][0]), 4, "one point per candle")
	assert.NotContains(t, p.notes, "no funding paid or received in this run")
	assert.Equal(t, "0.75", p.cells["funding"])
}

// TestReportShowsTheVenuesBooking runs the shipped month with its real
// funding settlements and the default venue (margin checked, 1 bp
// slippage) and checks that the report, the exports and the recorded
// series carry the Result's booking: funding (its total, its settlements,
// its chart), slippage, margin refusals, no liquidation; and that the
// exact figures agree to the last digit — the last equity sample and
// bucket are FinalEquity, their funding is Result.Funding, and the
// trades' fees sum to Result.Fees.
func TestReportShowsTheVenuesBooking(t *testing.T) {
	ss, err := ReadFundingFile(shippedFunding)
	require.NoError(t, err)
	res := btcMonthFunded(t, Funding{Settlements: ss})
	require.Equal(t, 90, res.FundingPayments)
	require.True(t, res.Funding.IsPositive())
	require.True(t, res.Slippage.IsPositive(), "the initial position's market buy slipped")

	var buf bytes.Buffer
	require.NoError(t, res.WriteHTML(&buf))
	p := parseReport(t, buf.Bytes())
	c := p.cells
	assert.Equal(t, res.Funding.StringFixed(2), c["funding"])
	assert.Equal(t, "90", c["funding_payments"])
	assert.Equal(t, res.Slippage.StringFixed(2), c["slippage"])
	assert.Equal(t, "0.45", c["slippage"], "1 bp of the initial buy's 4488.75")
	assert.Equal(t, "0", c["margin_refusals"])
	assert.Equal(t, "0", c["liquidations"])
	assert.Equal(t, "none", c["liquidated"])
	assert.Equal(t, "0.00", c["insurance"])
	require.Len(t, p.classes["fund"], 1)
	assert.NotEmpty(t, p.classes["fund"][0])
	assert.NotContains(t, p.notes, "no funding paid or received in this run")

	// The recorded series end on the Result's exact figures.
	bs := res.Series.Buckets
	last := bs[len(bs)-1]
	assert.Equal(t, res.FinalEquity.String(), last.Equity.String())
	assert.Equal(t, res.Funding.String(), last.Funding.String())
	require.NotEmpty(t, res.Equity)
	assert.Equal(t, res.FinalEquity.String(), res.Equity[len(res.Equity)-1].Equity.String())
	assert.Equal(t, res.Funding.String(), res.Series.Samples[len(res.Series.Samples)-1].Funding.String())
	assert.False(t, res.FinalEquity.Equal(res.FinalEquity.Round(4)), "the final equity has digits below the Money unit: %s", res.FinalEquity)
	fees := decimal.Zero
	for _, tr := range res.Trades {
		fees = fees.Add(tr.Fee)
		rate := dec("0.0002")
		if !tr.Maker {
			rate = dec("0.0005")
		}
		require.Equal(t, tr.Price.Mul(tr.Qty).Mul(rate).String(), tr.Fee.String(), "a trade's fee is its notional × rate, exactly")
	}
	assert.Equal(t, res.Fees.String(), fees.String(), "the trades' fees sum to Result.Fees exactly")

	// The equity export's last row is the final equity and funding.
	var eb bytes.Buffer
	require.NoError(t, res.WriteEquityCSV(&eb))
	rows := readCSV(t, eb.Bytes(), EquityColumns)
	lastRow := rows[len(rows)-1]
	assert.Equal(t, res.FinalEquity.String(), lastRow[2])
	assert.Equal(t, res.Funding.String(), lastRow[8])
	assert.Equal(t, res.Position.String(), lastRow[6])
}
