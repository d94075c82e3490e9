package grid

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
)

// BenchmarkEngineTickWithStops is BenchmarkEngineTick's quiet tick with a
// take-profit and stop-loss by PnL, stop prices and a time limit watching
// every price: the controls' cost on the hot path. 0 allocs.
func BenchmarkEngineTickWithStops(b *testing.B) {
	const n = 1_000
	lower := int64(1_000_000)
	start := lower + int64(n/2)*10 + 5
	e, err := New(unitRules, WithStartPrice(decimal.NewFromInt(start)),
		WithBounds(decimal.NewFromInt(lower), decimal.NewFromInt(lower+int64(n)*10), n),
		WithQuantity(d("1")), WithInitialPosition(false), WithWindows(25, 25, 2),
		WithTakeProfit(AtPnL(d("1000000"))), WithStopLoss(AtPnL(d("1000000"))), WithTimeLimit(time.Hour, true))
	if err != nil {
		b.Fatal(err)
	}
	now := time.Unix(0, 0)
	p := exchange.Ticks(start)
	e.OnPrice(now, p)
	new(acker).ack(b, e, now, e.OnStreamReady(now))
	prices := [4]exchange.Ticks{p, p + 2, p - 3, p + 1}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if in := e.OnPrice(now, prices[i&3]); len(in) != 0 {
			b.Fatal("a quiet tick acted")
		}
	}
}
