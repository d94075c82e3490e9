package backtest

import (
	"testing"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/sim"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/pricefeed"
)

const shippedMonth = "../../examples/data/binance-um_BTCUSDT_1m_2025-05-04_2025-06-03.csv.gz"

const shippedFunding = "../../examples/data/BTCUSDT-fundingRate-2025-05-04_2025-06-03.csv"

var btcRules = exchange.Rules{Symbol: "BTCUSDT", TickSize: dec("0.1"), StepSize: dec("0.001"), MinQty: dec("0.001"), MinNotional: dec("100")}

// yearOfCandles builds 525,600 one-minute candles (a year) by chaining the
// shipped month of real BTCUSDT candles end to end, each copy rescaled so
// that it opens at the previous copy's close: the path stays continuous
// and every move is a real one, only its level shifts. Times continue
// minute by minute.
func yearOfCandles(tb testing.TB) []pricefeed.Candle {
	tb.Helper()
	month, err := pricefeed.ReadCandlesFile(shippedMonth, btcRules)
	if err != nil {
		tb.Fatal(err)
	}
	const year = 525_600
	out := make([]pricefeed.Candle, 0, year)
	t0 := month[0].OpenTime
	for len(out) < year {
		// scale = previous close / this copy's open, as a ratio of ticks
		num, den := int64(month[0].Open), int64(month[0].Open)
		if len(out) > 0 {
			num = int64(out[len(out)-1].Close)
		}
		scale := func(p exchange.Ticks) exchange.Ticks { return exchange.Ticks((int64(p)*num + den/2) / den) }
		for _, c := range month {
			if len(out) == year {
				break
			}
			out = append(out, pricefeed.Candle{
				OpenTime: t0 + int64(len(out))*60_000,
				Open:     scale(c.Open), High: scale(c.High), Low: scale(c.Low), Close: scale(c.Close),
				Volume: c.Volume,
			})
		}
	}
	return out
}

// BenchmarkBacktest replays a year of 1-minute candles (decoded in memory)
// through the engine and the simulator with a dense trailing grid: 0.2 %
// geometric spacing, windows of 25 levels, 250 USDT per order. Budget:
// ≥ 10 million candles/s on one core. fills/candle shows the grid is busy.
func BenchmarkBacktest(b *testing.B) {
	candles := yearOfCandles(b)
	sc := sim.DefaultCoreConfig(btcRules)
	sc.InitialBalance, _ = btcRules.DecimalToMoney(dec("1000000"))
	sc.Leverage = 10
	cfg := Config{Rules: btcRules, Sim: sc, EquityEvery: 1440, Grid: []grid.Option{
		grid.WithTrailing(dec("0.002"), 200), grid.WithGeometric(),
		grid.WithAmount(dec("250")), grid.WithWindows(25, 25, 2),
	}}
	var res Result
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		var err error
		if res, err = Run(candles, cfg); err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	b.ReportMetric(float64(len(candles))*float64(b.N)/elapsed.Seconds(), "candles/s")
	b.ReportMetric(float64(res.Fills)/float64(res.Candles), "fills/candle")
	b.ReportMetric(float64(res.RoundTrips), "roundtrips")
}
