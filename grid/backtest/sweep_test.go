package backtest

import (
	"bytes"
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gridmesh/gridmesh/exchange/sim"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/pricefeed"
)

func sweepCandles(t *testing.T, n int) []pricefeed.Candle {
	t.Helper()
	candles, err := pricefeed.ReadCandlesFile(shippedMonth, btcRules)
	require.NoError(t, err)
	return candles[:n]
}

func sweepBase() Config {
	sc := sim.DefaultCoreConfig(btcRules)
	sc.InitialBalance, _ = btcRules.DecimalToMoney(dec("10000"))
	return Config{Rules: btcRules, Sim: sc, Grid: []grid.Option{grid.WithGridID("sw")}}
}

// smallSpace has bounded and trailing grids, both geometric settings, and
// one combination the grid refuses (a neutral range that excludes the
// start price).
func smallSpace() Space {
	return Space{
		Modes:     []grid.Mode{grid.Long, grid.Neutral},
		Bounds:    []Range{{dec("92000"), dec("100000")}, {dec("94000"), dec("97000")}, {dec("50000"), dec("60000")}},
		Levels:    []int{20, 40},
		Trailing:  []decimal.Decimal{dec("0.003")},
		LayerCaps: []int{20},
		Amounts:   []decimal.Decimal{dec("300")},
		Windows:   []int{8},
		Leverages: []int{3},
		Geometric: []bool{false, true},
	}
}

// TestSweepIsTheSameOnAnyNumberOfWorkers runs one sweep, with a split, on
// 1 and 4 workers and demands identical results.
func TestSweepIsTheSameOnAnyNumberOfWorkers(t *testing.T) {
	defer goleak.VerifyNone(t)
	candles := sweepCandles(t, 6000)
	split, err := SplitAt(candles, 0.6)
	require.NoError(t, err)
	cfg := SweepConfig{Base: sweepBase(), Space: smallSpace(), Metric: MetricReturn, Split: split, Top: 5}
	cfg.Workers = 1
	one, err := Sweep(context.Background(), candles, cfg)
	require.NoError(t, err)
	cfg.Workers = 4
	var calls []int
	cfg.Progress = func(done, total int) {
		calls = append(calls, done)
		assert.Equal(t, 28+5, total)
	}
	four, err := Sweep(context.Background(), candles, cfg)
	require.NoError(t, err)
	require.Len(t, calls, 33, "one call per run, on the caller's goroutine")
	assert.Equal(t, 33, calls[32])
	assert.Equal(t, withoutNaN(one), withoutNaN(four))
	// (long, neutral) × (3 bounds × 2 levels + 1 trailing) × 2 geometric.
	require.Len(t, one.Rows, 28)
}

// withoutNaN replaces the NaN figures (Sharpe of a grid that never
// traded, the value of a failed run) by -1e300, since NaN != NaN.
func withoutNaN(s SweepResult) SweepResult {
	fix := func(o *Outcome) {
		for _, v := range []*float64{&o.Value, &o.Sharpe, &o.Sortino} {
			if math.IsNaN(*v) {
				*v = -1e300
			}
		}
	}
	s.Rows = append([]SweepRow(nil), s.Rows...)
	for i := range s.Rows {
		fix(&s.Rows[i].In)
		if s.Rows[i].Out != nil {
			o := *s.Rows[i].Out
			fix(&o)
			s.Rows[i].Out = &o
		}
	}
	return s
}

// TestSweepRanksAndRunsOutOfSample checks the ranking, the failed
// combinations' place, and each top row's out-of-sample figures against a
// run of its own from the split.
func TestSweepRanksAndRunsOutOfSample(t *testing.T) {
	candles := sweepCandles(t, 6000)
	split := time.UnixMilli(candles[4000].OpenTime)
	base := sweepBase()
	res, err := Sweep(context.Background(), candles, SweepConfig{Base: base, Space: smallSpace(), Metric: MetricReturn, Split: split, Top: 28, Workers: 2})
	require.NoError(t, err)
	assert.Equal(t, 4000, res.InCandles)
	assert.Equal(t, 2000, res.OutCandles)
	assert.True(t, res.OutStart.Equal(split))

	failed := 0
	for i, r := range res.Rows {
		assert.Equal(t, i+1, r.Rank)
		if r.Err != "" {
			failed++
			if r.Params.Bounded() {
				assert.Contains(t, r.Err, "a neutral grid must start inside")
			} else {
				assert.Contains(t, r.Err, "WithTrailing = 0.003: interval must be a positive multiple of the tick size")
			}
			assert.Equal(t, "n/a: did not run in sample", r.OutNote)
			continue
		}
		assert.Zero(t, failed, "failed combinations rank last")
		if i > 0 && res.Rows[i-1].Err == "" {
			assert.GreaterOrEqual(t, res.Rows[i-1].In.Value, r.In.Value, "rank %d", r.Rank)
		}
		// In sample: the same as a run of its own on the first part.
		own, err := Run(candles[:4000], r.Params.Config(base))
		require.NoError(t, err)
		assert.True(t, own.PnL.Equal(r.In.PnL), "rank %d %s", r.Rank, r.Params)
		assert.Equal(t, own.RoundTrips, r.In.RoundTrips)

		if r.Params.Bounded() && r.Params.Upper.LessThan(dec("90000")) {
			assert.Nil(t, r.Out)
			assert.Contains(t, r.OutNote, "never entered the range", r.Params.String())
			continue
		}
		if r.Out == nil {
			// A neutral grid whose range the price left before the split
			// cannot start outside it.
			assert.Contains(t, r.OutNote, "n/a: ", r.Params.String())
			continue
		}
		after, err := Run(candles[4000:], r.Params.Config(base))
		require.NoError(t, err)
		assert.True(t, after.PnL.Equal(r.Out.PnL), "rank %d %s: starts flat at the split", r.Rank, r.Params)
		assert.Equal(t, after.RoundTrips, r.Out.RoundTrips)
	}
	// Neutral 50000–60000: the start price 95k-ish is outside (4
	// combinations); an arithmetic trailing interval of 0.003 is no price
	// step (2).
	assert.Equal(t, 6, failed)

	// The CSV says n/a where the Markdown does.
	var buf bytes.Buffer
	require.NoError(t, res.WriteCSV(&buf))
	na := 0
	for _, row := range readCSV(t, buf.Bytes(), SweepColumns) {
		if strings.Contains(row[len(row)-1], "never entered the range") {
			na++
			assert.Equal(t, []string{"n/a", "n/a"}, row[23:25], "oos_value, oos_pnl")
		}
	}
	assert.Equal(t, 4, na, "long 50000-60000: 2 level counts × 2 spacings")
	buf.Reset()
	require.NoError(t, res.WriteMarkdown(&buf, 0))
	assert.Equal(t, 4+6, strings.Count(buf.String(), "| n/a | n/a | n/a | n/a |"), "never entered, and failed in sample")
}

// TestSweepRanksDrawdownAscending checks the one metric where lower is
// better.
func TestSweepRanksDrawdownAscending(t *testing.T) {
	candles := sweepCandles(t, 3000)
	sp := smallSpace()
	sp.Modes = []grid.Mode{grid.Long}
	res, err := Sweep(context.Background(), candles, SweepConfig{Base: sweepBase(), Space: sp, Metric: MetricDrawdown})
	require.NoError(t, err)
	for i := 1; i < len(res.Rows) && res.Rows[i].Err == ""; i++ {
		assert.LessOrEqual(t, res.Rows[i-1].In.Value, res.Rows[i].In.Value)
		assert.Equal(t, res.Rows[i].In.MaxDrawdownPct.InexactFloat64(), res.Rows[i].In.Value)
	}
	assert.Nil(t, res.Rows[0].Out, "no split, no out-of-sample runs")
}

// TestSweepStopsWithItsContext cancels a sweep: it returns the context's
// error with every worker ended.
func TestSweepStopsWithItsContext(t *testing.T) {
	defer goleak.VerifyNone(t)
	candles := sweepCandles(t, 3000)
	ctx, cancel := context.WithCancel(context.Background())
	cfg := SweepConfig{Base: sweepBase(), Space: smallSpace(), Metric: MetricSharpe, Workers: 3, Progress: func(done, total int) {
		if done == 2 {
			cancel()
		}
	}}
	_, err := Sweep(ctx, candles, cfg)
	require.ErrorIs(t, err, context.Canceled)
}

// TestSweepBadInput checks the errors of a space with nothing to run, a
// missing metric and a split outside the data.
func TestSweepBadInput(t *testing.T) {
	candles := sweepCandles(t, 100)
	_, err := Sweep(context.Background(), candles, SweepConfig{Base: sweepBase(), Metric: MetricReturn})
	require.ErrorIs(t, err, ErrSpace)
	for _, want := range []string{"Modes is empty", "Amounts is empty", "Windows is empty", "Leverages is empty", "give Bounds and Levels"} {
		assert.Contains(t, err.Error(), want)
	}
	sp := smallSpace()
	sp.Trailing = []decimal.Decimal{dec("0")}
	_, err = sp.Combinations()
	require.ErrorIs(t, err, ErrSpace)
	assert.Contains(t, err.Error(), "Trailing interval 0 must be positive")

	_, err = Sweep(context.Background(), candles, SweepConfig{Base: sweepBase(), Space: smallSpace()})
	assert.ErrorContains(t, err, "sweep metric Metric(0)")
	_, err = Sweep(context.Background(), candles, SweepConfig{Base: sweepBase(), Space: smallSpace(), Metric: MetricReturn, Split: time.UnixMilli(candles[0].OpenTime)})
	assert.ErrorContains(t, err, "is outside the candles")
	_, err = SplitAt(candles, 1)
	assert.ErrorContains(t, err, "split fraction 1 must be between 0 and 1")
	_, err = Sweep(context.Background(), nil, SweepConfig{Base: sweepBase(), Space: smallSpace(), Metric: MetricReturn})
	assert.True(t, errors.Is(err, ErrNoCandles))
}

// TestParseMetric checks every metric's name both ways.
func TestParseMetric(t *testing.T) {
	for _, m := range []Metric{MetricReturn, MetricSharpe, MetricSortino, MetricCalmar, MetricDrawdown, MetricRoundTrips} {
		got, err := ParseMetric(m.String())
		require.NoError(t, err)
		assert.Equal(t, m, got)
	}
	_, err := ParseMetric("profit")
	assert.EqualError(t, err, `backtest: metric "profit": want return, sharpe, sortino, calmar, drawdown, roundtrips`)
	o := Outcome{ReturnPct: dec("6"), MaxDrawdownPct: dec("2")}
	assert.Equal(t, 3.0, MetricCalmar.Of(o))
	assert.True(t, math.IsInf(MetricCalmar.Of(Outcome{ReturnPct: dec("1")}), 1))
	assert.True(t, MetricReturn.better(1, math.NaN()))
	assert.False(t, MetricReturn.better(math.NaN(), 1))
}

// TestSweepCSVAndMarkdown reads the CSV back and checks the Markdown table.
func TestSweepCSVAndMarkdown(t *testing.T) {
	candles := sweepCandles(t, 6000)
	res, err := Sweep(context.Background(), candles, SweepConfig{Base: sweepBase(), Space: smallSpace(), Metric: MetricReturn,
		Split: time.UnixMilli(candles[4000].OpenTime), Top: 3})
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, res.WriteCSV(&buf))
	rows := readCSV(t, buf.Bytes(), SweepColumns)
	require.Len(t, rows, len(res.Rows))
	col := map[string]int{}
	for i, c := range SweepColumns {
		col[c] = i
	}
	for i, row := range rows {
		r := res.Rows[i]
		require.Len(t, row, len(SweepColumns))
		assert.Equal(t, r.Params.Mode.String(), row[col["mode"]])
		if r.Err != "" {
			assert.Equal(t, r.Err, row[col["error"]])
			continue
		}
		assert.Equal(t, r.In.PnL.String(), row[col["pnl"]])
		assert.Equal(t, r.In.ReturnPct.String(), row[col["return_pct"]])
		assert.Equal(t, "return", row[col["metric"]])
		switch {
		case r.Out != nil:
			assert.Equal(t, r.Out.PnL.String(), row[col["oos_pnl"]])
		case r.OutNote != "":
			assert.Equal(t, "n/a", row[col["oos_pnl"]])
			assert.Equal(t, r.OutNote, row[col["oos_note"]])
		default:
			assert.Empty(t, row[col["oos_pnl"]])
		}
		if r.Params.Bounded() {
			assert.Equal(t, r.Params.Lower.String(), row[col["lower"]])
			assert.Empty(t, row[col["trailing"]])
		} else {
			assert.Equal(t, "0.003", row[col["trailing"]])
			assert.Empty(t, row[col["lower"]])
		}
	}
	buf.Reset()
	require.NoError(t, res.WriteMarkdown(&buf, 5))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 2+2+5)
	assert.Contains(t, lines[0], "Ranked by return on ")
	assert.Contains(t, lines[0], "out of sample")
	assert.Equal(t, "| # | mode | grid | amount | window | leverage | return | return % | max DD % | trips | OOS return | OOS return % | OOS max DD % | OOS trips |", lines[2])
	for _, l := range lines[4:] {
		assert.Equal(t, 15, strings.Count(l, "|"), l)
	}
	assert.True(t, strings.HasPrefix(lines[4], "| 1 | "))
	assert.True(t, strings.HasSuffix(lines[8], "|  |  |  |  |") || strings.HasSuffix(lines[8], " | | | |"), "rows below the top have no OOS figures: %s", lines[8])
}

// TestSpaceTooLarge checks that a space naming more than MaxCombinations
// is refused before anything is built.
func TestSpaceTooLarge(t *testing.T) {
	many := make([]int, 1000)
	for i := range many {
		many[i] = i + 1
	}
	sp := Space{Modes: []grid.Mode{grid.Long}, Bounds: []Range{{dec("1"), dec("2")}}, Levels: many,
		Amounts: []decimal.Decimal{dec("1")}, Windows: many[:100], Leverages: []int{1, 2}}
	_, err := sp.Combinations()
	require.ErrorIs(t, err, ErrSpace)
	assert.ErrorContains(t, err, "more than 100000 combinations")
	sp.Leverages = []int{1}
	c, err := sp.Combinations()
	require.NoError(t, err)
	assert.Len(t, c, MaxCombinations)
}
