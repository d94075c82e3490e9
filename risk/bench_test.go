package risk

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/shopspring/decimal"
)

// BenchmarkGuardObservePrice measures one price tick through a guard over
// the per-symbol monitors (price band, stale feed, exposure, liquidation
// distance), ticks 100 ms apart on a random walk.
func BenchmarkGuardObservePrice(b *testing.B) {
	band, _ := NewPriceBand(DefaultPriceBandConfig("X"))
	stale, _ := NewStaleFeed(DefaultStaleFeedConfig("X"))
	exposure, _ := NewExposure(DefaultExposureConfig("X", decimal.NewFromInt(1_000_000)))
	liq, _ := NewLiquidationDistance(DefaultLiquidationDistanceConfig("X"))
	g := NewGuard(time.Minute, band, stale, exposure, liq)
	g.Observe(Observation{Time: t0, Kind: KindAccount, Positions: []exchange.Position{{Symbol: "X", Quantity: decimal.NewFromInt(3), LiquidationPrice: decimal.NewFromInt(50_000)}}})
	rng := rand.New(rand.NewPCG(1, 1))
	obs := make([]Observation, 4096)
	p := int64(10_000_000)
	for i := range obs {
		p += rng.Int64N(2001) - 1000
		obs[i] = Observation{Kind: KindPrice, Symbol: "X", Price: decimal.New(p, -2)}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		o := obs[i%len(obs)]
		o.Time = t0.Add(time.Duration(i+1) * 100 * time.Millisecond)
		g.Observe(o)
	}
}

// BenchmarkVolumeSpikeKline measures one closed 1m candle of a five-symbol
// basket through the volume-spike monitor.
func BenchmarkVolumeSpikeKline(b *testing.B) {
	m, _ := NewVolumeSpike(DefaultVolumeSpikeConfig(Long))
	syms := DefaultBasket()
	rng := rand.New(rand.NewPCG(2, 2))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := syms[i%len(syms)]
		open := t0.Add(time.Duration(i/len(syms)) * time.Minute)
		m.Observe(Observation{Time: open.Add(time.Minute), Kind: KindKline, Symbol: s,
			Kline: exchange.Kline{Symbol: s, Interval: "1m", OpenTime: open, Close: decimal.New(10_000+rng.Int64N(100), -2),
				Volume: decimal.NewFromInt(1000 + rng.Int64N(1000)), Closed: true}})
	}
}

// BenchmarkRunChecks measures every built-in check on a 200-level long grid.
func BenchmarkRunChecks(b *testing.B) {
	p := longPlan()
	p.Lower, p.Upper, p.StartPrice = d("80"), d("120"), d("100")
	p.Levels = nil
	for i := 0; i < 200; i++ {
		price := decimal.New(8000+int64(i)*20, -2)
		p.Levels = append(p.Levels, PlanLevel{Price: price, Qty: d("1"), EntrySide: exchange.Buy,
			ExitPrice: price.Add(d("0.2")), Initial: price.GreaterThanOrEqual(p.StartPrice)})
	}
	in := input(p, "1000000")
	if err := RunChecks(in, DefaultChecks()...); err != nil {
		b.Fatal(fmt.Sprint(err))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = RunChecks(in, DefaultChecks()...)
	}
}
