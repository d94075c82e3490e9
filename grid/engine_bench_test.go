package grid

import (
	"fmt"
	"testing"
	"time"
	"unsafe"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
)

// benchEngine is a started bounded long grid of n intervals one tick apart
// around 1,000,000, all orders acknowledged.
func benchEngine(b *testing.B, n int) (*Engine, exchange.Ticks) {
	b.Helper()
	lower := int64(1_000_000 - n/2)
	e, err := New(unitRules, WithStartPrice(decimal.NewFromInt(lower+int64(n/2))),
		WithBounds(decimal.NewFromInt(lower), decimal.NewFromInt(lower+int64(n)), n),
		WithQuantity(d("1")), WithInitialPosition(false), WithWindows(25, 25, 2))
	if err != nil {
		b.Fatal(err)
	}
	now := time.Unix(0, 0)
	start := exchange.Ticks(lower + int64(n/2))
	e.OnPrice(now, start)
	new(acker).ack(b, e, now, e.OnStreamReady(now))
	return e, start
}

// acker answers intents as a venue would that accepts every order and
// confirms every cancel, reusing its queue so a benchmark counts only the
// engine's allocations.
type acker struct{ queue []Intent }

func (a *acker) ack(b *testing.B, e *Engine, now time.Time, in []Intent) {
	a.queue = append(a.queue[:0], in...)
	for head := 0; head < len(a.queue); head++ {
		it := a.queue[head]
		typ := OrderAccepted
		if it.Kind == IntentCancel {
			typ = OrderCanceled
		}
		more, err := e.Apply(now, OrderEvent{Ref: it.Ref, Type: typ})
		if err != nil {
			b.Fatal(err)
		}
		a.queue = append(a.queue, more...)
	}
}

// BenchmarkEngineTick is a price tick with no order action: the price moves
// inside the band between two levels. Budget: ≤ 10 ns, 0 allocs, and 1e5
// slots at most 1.5× the time of 1e2.
func BenchmarkEngineTick(b *testing.B) {
	for _, n := range []int{100, 1_000, 100_000} {
		b.Run(fmt.Sprintf("slots=%d", n), func(b *testing.B) {
			// levels 10 ticks apart so the price can move inside a band
			lower := int64(1_000_000)
			e, err := New(unitRules, WithStartPrice(decimal.NewFromInt(lower+int64(n/2)*10+5)),
				WithBounds(decimal.NewFromInt(lower), decimal.NewFromInt(lower+int64(n)*10), n),
				WithQuantity(d("1")), WithInitialPosition(false), WithWindows(25, 25, 2))
			if err != nil {
				b.Fatal(err)
			}
			now := time.Unix(0, 0)
			p := exchange.Ticks(lower + int64(n/2)*10 + 5)
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
		})
	}
}

// BenchmarkEngineTickWindowMove is a tick that moves the window by one
// level: one entry placed, one canceled (both acknowledged). Budget: ≤ 2 µs,
// ≤ 4 allocs.
func BenchmarkEngineTickWindowMove(b *testing.B) {
	const n = 20_000
	e, start := benchEngine(b, n)
	now := time.Unix(0, 0)
	p := start
	dir := exchange.Ticks(1)
	var a acker
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%5000 == 0 {
			dir = -dir
		}
		p += dir
		a.ack(b, e, now, e.OnPrice(now, p))
	}
}

// TestSlotMemoryBudget holds a level (its slot included) to the project's
// budget of 512 bytes per slot (a million-level grid in half a gigabyte).
func TestSlotMemoryBudget(t *testing.T) {
	if size := unsafe.Sizeof(level{}); size > 512 {
		t.Fatalf("a level takes %d bytes, over the 512-byte budget", size)
	} else {
		t.Logf("a level takes %d bytes", size)
	}
}
