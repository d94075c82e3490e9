package backtest

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange/sim"
	"github.com/gridmesh/gridmesh/grid"
)

// yearRun backtests a year of 1-minute candles (the shipped month chained,
// see yearOfCandles) with BenchmarkBacktest's dense trailing grid, recording.
func yearRun(tb testing.TB) Result {
	tb.Helper()
	candles := yearOfCandles(tb)
	sc := sim.DefaultCoreConfig(btcRules)
	sc.InitialBalance, _ = btcRules.DecimalToMoney(dec("1000000"))
	sc.Leverage = 10
	res, err := Run(candles, Config{Rules: btcRules, Sim: sc, Grid: []grid.Option{
		grid.WithTrailing(dec("0.002"), 200), grid.WithGeometric(),
		grid.WithAmount(dec("250")), grid.WithWindows(25, 25, 2),
	}})
	require.NoError(tb, err)
	return res
}

// TestYearReportIsSmall writes the report of a year of 1-minute candles
// with a busy grid: under 3 MiB, no line over MaxPointsPerSeries points,
// and still well-formed.
func TestYearReportIsSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("a year of candles")
	}
	res := yearRun(t)
	require.Equal(t, 525_600, res.Candles)
	var buf bytes.Buffer
	cnt, err := res.writeHTML(&buf)
	require.NoError(t, err)
	assert.Less(t, buf.Len(), 3<<20)
	for class, n := range cnt.points {
		assert.LessOrEqual(t, n, MaxPointsPerSeries, class)
	}
	assert.LessOrEqual(t, cnt.markers, 2*5*plotWidth)
	assert.LessOrEqual(t, cnt.levels, maxLevelLines)
	p := parseReport(t, buf.Bytes())
	assert.Len(t, p.svgs, 6)
	t.Logf("year report: %d bytes, %d fills recorded, %d buckets, points %v, %d fill markers, %d level lines (of %d levels)",
		buf.Len(), len(res.Trades), len(res.Series.Buckets), cnt.points, cnt.markers, cnt.levels, len(res.Series.Levels))
	assert.Equal(t, 6, strings.Count(buf.String(), "<svg "))
}

// BenchmarkReportYear measures writing a year's report; bytes/report is
// its size.
func BenchmarkReportYear(b *testing.B) {
	res := yearRun(b)
	var buf bytes.Buffer
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf.Reset()
		if err := res.WriteHTML(&buf); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes/report")
}
