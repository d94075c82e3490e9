package exchange_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
)

func tickParser(t testing.TB, tick string) exchange.GridParser {
	t.Helper()
	p, err := exchange.Rules{TickSize: decimal.RequireFromString(tick)}.TickParser()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGridParserFromDecimal(t *testing.T) {
	tests := []struct {
		tick, value string
		want        int64
	}{
		{"0.1", "95505.4", 955054},
		{"0.1", "95505.45", 955055},   // half away from zero
		{"0.1", "95505.449", 955054},  // below half
		{"0.1", "-95505.45", -955055}, // half away from zero, negative
		{"0.1", "95505", 955050},      // fewer places than the tick
		{"0.1", "9.5505e4", 955050},   // positive exponent
		{"0.5", "0.25", 1},            // a tick that is not a power of ten
		{"0.5", "0.2499", 0},          // …below half of it
		{"0.5", "0.74", 1},            //
		{"0.5", "0.75", 2},            //
		{"10", "60005", 6001},         // a tick above one
		{"10", "60004.99", 6000},      //
		{"0.00000001", "0.00001234", 1234},
		{"0.00000001", "10000000000", 1000000000000000000}, // 1e10 at a 1e-8 tick
		{"0.01", "0", 0},
		{"0.01", "0.000000000000000000000000004", 0},         // far below the tick: the slow path
		{"0.01", "1234567890123456.789", 123456789012345679}, // 19 digits: the slow path
	}
	for _, tc := range tests {
		p := tickParser(t, tc.tick)
		got, err := p.FromDecimal(decimal.RequireFromString(tc.value))
		if err != nil || got != tc.want {
			t.Errorf("tick %s: FromDecimal(%s) = %d, %v; want %d", tc.tick, tc.value, got, err, tc.want)
		}
	}
}

func TestGridParserFromDecimalErrors(t *testing.T) {
	p := tickParser(t, "0.01")
	_, err := p.FromDecimal(decimal.RequireFromString("1e40"))
	if err == nil || err.Error() != `parse price "10000000000000000000000000000000000000000": out of range` {
		t.Errorf("FromDecimal(1e40) error = %v", err)
	}
	var zero exchange.GridParser
	if _, err := zero.FromDecimal(decimal.NewFromInt(1)); err == nil {
		t.Error("the zero GridParser converted a decimal")
	}
}

// TestGridParserFromDecimalMatchesDivision: the int64 path agrees with
// exact decimal division rounded half away from zero, for every tick and
// value shape real symbols have.
func TestGridParserFromDecimalMatchesDivision(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 5))
	ticks := []string{"0.00000001", "0.0001", "0.001", "0.01", "0.05", "0.1", "0.5", "1", "5", "10", "25"}
	for range 20000 {
		tick := decimal.RequireFromString(ticks[rng.IntN(len(ticks))])
		v := decimal.New(rng.Int64N(1e15)-5e14, -int32(rng.IntN(12)))
		checkFromDecimal(t, tick, v)
	}
}

func checkFromDecimal(t *testing.T, tick, v decimal.Decimal) {
	t.Helper()
	p, err := exchange.Rules{TickSize: tick}.TickParser()
	if err != nil {
		return
	}
	want := v.DivRound(tick, 0)
	got, err := p.FromDecimal(v)
	if want.Abs().GreaterThan(decimal.NewFromInt(math.MaxInt64 / 4)) {
		if err == nil {
			t.Fatalf("tick %s: FromDecimal(%s) = %d, want an out-of-range error", tick, v, got)
		}
		return
	}
	if err != nil || got != want.IntPart() {
		t.Fatalf("tick %s: FromDecimal(%s) = %d, %v; want %s", tick, v, got, err, want)
	}
}

func TestGridParserFromDecimalAllocates(t *testing.T) {
	p := tickParser(t, "0.1")
	v := decimal.RequireFromString("95505.45")
	if n := testing.AllocsPerRun(100, func() { _, _ = p.FromDecimal(v) }); n != 0 {
		t.Errorf("FromDecimal allocates %v times per call, want 0", n)
	}
}

func FuzzGridParserFromDecimal(f *testing.F) {
	f.Add(int64(955054), int32(-1), uint8(5), int32(-1))
	f.Add(int64(-1), int32(-30), uint8(1), int32(-8))
	f.Add(int64(math.MaxInt64), int32(0), uint8(1), int32(0))
	f.Add(int64(123), int32(20), uint8(25), int32(1))
	f.Fuzz(func(t *testing.T, coef int64, exp int32, tickCoef uint8, tickExp int32) {
		if tickCoef == 0 || exp < -40 || exp > 40 || tickExp < -18 || tickExp > 4 {
			return
		}
		checkFromDecimal(t, decimal.New(int64(tickCoef), tickExp), decimal.New(coef, exp))
	})
}

func BenchmarkGridParserFromDecimal(b *testing.B) {
	p := tickParser(b, "0.1")
	v := decimal.RequireFromString("95505.45")
	b.ReportAllocs()
	for b.Loop() {
		_, _ = p.FromDecimal(v)
	}
}
