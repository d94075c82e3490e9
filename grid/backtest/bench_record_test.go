package backtest

import (
	"testing"
	"time"

	"github.com/gridmesh/gridmesh/exchange/sim"
	"github.com/gridmesh/gridmesh/grid"
)

// BenchmarkBacktestNoRecord is BenchmarkBacktest without recording
// (Config.NoRecord, as sweeps run): the engine and simulator's own pace.
// The difference between the two is the cost of Result.Trades and
// Result.Series.
func BenchmarkBacktestNoRecord(b *testing.B) {
	candles := yearOfCandles(b)
	sc := sim.DefaultCoreConfig(btcRules)
	sc.InitialBalance, _ = btcRules.DecimalToMoney(dec("1000000"))
	sc.Leverage = 10
	cfg := Config{Rules: btcRules, Sim: sc, EquityEvery: 1440, NoRecord: true, Grid: []grid.Option{
		grid.WithTrailing(dec("0.002"), 200), grid.WithGeometric(),
		grid.WithAmount(dec("250")), grid.WithWindows(25, 25, 2),
	}}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if _, err := Run(candles, cfg); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(candles))*float64(b.N)/time.Since(start).Seconds(), "candles/s")
}
