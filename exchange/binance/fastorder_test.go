package binance

import (
	"math/rand/v2"
	"net/url"
	"testing"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/shopspring/decimal"
)

// randDec returns a random positive decimal with up to digits digits and
// exp in [-10, 3].
func randDec(rng *rand.Rand, digits int) decimal.Decimal {
	n := rng.Int64N(pow10[digits]) + 1
	return decimal.New(n, int32(rng.IntN(14)-10))
}

// TestFastRulesAgree: whenever the int64 path vouches for an order,
// checkRules accepts it, and the int64 formatting writes what StringFixed
// writes; the int64 path also vouches for the plain valid orders.
func TestFastRulesAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	vouched, valid := 0, 0
	for range 20000 {
		tick := decimal.New(int64([]int{1, 5, 10, 25}[rng.IntN(4)]), int32(rng.IntN(9)-6))
		step := decimal.New(int64([]int{1, 2, 5, 10}[rng.IntN(4)]), int32(rng.IntN(9)-6))
		si := symbolInfo{rules: exchange.Rules{Symbol: "X", TickSize: tick, StepSize: step}}
		if rng.IntN(2) == 0 {
			si.rules.MinQty = step.Mul(decimal.NewFromInt(rng.Int64N(5)))
		}
		if rng.IntN(2) == 0 {
			si.rules.MinNotional = decimal.New(rng.Int64N(100), int32(rng.IntN(3)-1))
		}
		if rng.IntN(2) == 0 {
			si.rules.MaxQty = step.Mul(decimal.NewFromInt(rng.Int64N(1e6) + 1))
		}
		if rng.IntN(2) == 0 {
			si.rules.MarketMaxQty = step.Mul(decimal.NewFromInt(rng.Int64N(1e4) + 1))
		}
		if rng.IntN(2) == 0 {
			si.minPrice, si.maxPrice = tick.Mul(decimal.NewFromInt(rng.Int64N(10))), tick.Mul(decimal.NewFromInt(rng.Int64N(1e7)+1))
		}
		if si.rules.Validate() != nil {
			continue
		}
		si.fast = newFastRules(si)
		req := exchange.OrderRequest{Symbol: "X", Side: exchange.Buy, Type: exchange.Limit, TimeInForce: exchange.GTC,
			ReduceOnly: rng.IntN(4) == 0}
		if rng.IntN(3) == 0 {
			req.Type = exchange.Market
		}
		switch rng.IntN(3) {
		case 0: // on the grids
			req.Quantity = step.Mul(decimal.NewFromInt(rng.Int64N(1e5) + 1))
			req.Price = tick.Mul(decimal.NewFromInt(rng.Int64N(1e8) + 1))
		case 1: // anywhere
			req.Quantity, req.Price = randDec(rng, 8), randDec(rng, 12)
		default: // large
			req.Quantity = step.Mul(decimal.New(rng.Int64N(1e9)+1, int32(rng.IntN(12))))
			req.Price = tick.Mul(decimal.New(rng.Int64N(1e9)+1, int32(rng.IntN(12))))
		}
		slow := checkRules(si, req)
		if slow == nil {
			valid++
		}
		if !si.fast.check(req) {
			continue
		}
		vouched++
		if slow != nil {
			t.Fatalf("rules %+v %+v: the int64 path vouches for %s × %s (%s), checkRules refuses: %v", si.rules, si.fast, req.Quantity, req.Price, req.Type, slow)
		}
		for _, v := range []struct {
			d      decimal.Decimal
			places int32
		}{{req.Quantity, si.fast.qtyPlaces}, {req.Price, si.fast.pricePlaces}} {
			if req.Type == exchange.Market && v.d.Equal(req.Price) {
				continue
			}
			if got, want := string(fixedOf(v.d, v.places).appendTo(nil)), v.d.StringFixed(v.places); got != want {
				t.Fatalf("%s with %d places: %q, StringFixed %q", v.d, v.places, got, want)
			}
		}
	}
	if vouched < valid/2 || vouched == 0 {
		t.Errorf("the int64 path vouched for %d of %d valid orders", vouched, valid)
	}
}

func TestFixedFormatting(t *testing.T) {
	for _, tc := range []struct {
		v      string
		places int32
	}{{"0.002", 3}, {"60000", 1}, {"60000.1", 1}, {"0.0020", 3}, {"5", 0}, {"1200", 0}, {"0.00000001", 8}, {"123.456", 5}, {"1e3", 2}, {"0.1234", 2}} {
		d := decimal.RequireFromString(tc.v)
		if got, want := string(fixedOf(d, tc.places).appendTo(nil)), d.StringFixed(tc.places); got != want {
			t.Errorf("%s/%d: %q, want %q", tc.v, tc.places, got, want)
		}
	}
}

func FuzzQueryEscapeAndClientID(f *testing.F) {
	for _, s := range []string{"g1-b-0001", "a b", "x/y:z.w_~", "%&=+?#", "ü", "", "1234567890123456789012345678901234567"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(appendQueryEscape(nil, s)), url.QueryEscape(s); got != want {
			t.Fatalf("appendQueryEscape(%q) = %q, want %q", s, got, want)
		}
		if got, want := validClientID(s), clientIDPattern.MatchString(s); got != want {
			t.Fatalf("validClientID(%q) = %v, the pattern says %v", s, got, want)
		}
	})
}
