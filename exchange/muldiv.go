package exchange

import (
	"errors"
	"math"
	"math/bits"
)

// ErrOverflow is matched by the errors of the exact integer arithmetic of
// money ([MulDiv], [MulDivRound], [CheckedNotional]) when the exact result
// does not fit in an int64. It never comes with a wrong value: the
// arithmetic is exact or it fails.
var ErrOverflow = errors.New("exchange: integer result out of the int64 range")

var errDivByZero = errors.New("exchange: division by zero")

// MaxNotional bounds one order's price × quantity in [Money] units, 1/16
// of the int64 range: the engine and the simulator refuse a larger order,
// so that the sums of many orders' notionals, costs and PnL stay exact in
// int64. With a 1e-8 tick and whole-coin steps it is 5.7e9 USDT; with
// BTCUSDT's 0.1 tick and 0.001 step, 5.7e13 USDT.
const MaxNotional Money = math.MaxInt64 >> 4

// MulDiv returns a × b / d truncated toward zero, as Go's / truncates,
// computed exactly for every int64 a, b and d: the product is kept in 128
// bits. It fails with an error matching [ErrOverflow] only when the
// quotient itself does not fit in an int64 (never when |b| ≤ |d|, the
// pro-rata share of a cost or a fee), and with a division-by-zero error
// when d is 0.
//
// It is the one multiply-divide of gridmesh's integer money: the slot's
// realized PnL, the engine's fee split and hard-stop close, the simulator's
// position booking and [Rate.Apply] all use it.
func MulDiv(a, b, d int64) (int64, error) {
	if d == 0 {
		return 0, errDivByZero
	}
	q, ok := mulDiv(a, b, d, false)
	if !ok {
		return 0, ErrOverflow
	}
	return q, nil
}

// MulDivRound is [MulDiv] rounded half away from zero instead of truncated.
func MulDivRound(a, b, d int64) (int64, error) {
	if d == 0 {
		return 0, errDivByZero
	}
	q, ok := mulDiv(a, b, d, true)
	if !ok {
		return 0, ErrOverflow
	}
	return q, nil
}

// CheckedNotional is [Notional] for a price and quantity that come from
// outside the engine's validated orders (a venue's fill, a setting): price ×
// qty exactly, or an error matching [ErrOverflow] when the product does not
// fit in an int64.
func CheckedNotional(price Ticks, qty Steps) (Money, error) {
	m, ok := mul(int64(price), int64(qty))
	if !ok {
		return 0, ErrOverflow
	}
	return Money(m), nil
}

// mul returns a × b and whether it fits in an int64.
func mul(a, b int64) (int64, bool) {
	hi, lo := bits.Mul64(uabs(a), uabs(b))
	return signed(lo, hi == 0, (a < 0) != (b < 0))
}

// mulDiv returns a × b / d, truncated toward zero or rounded half away
// from zero, and whether it fits in an int64; d must not be 0.
func mulDiv(a, b, d int64, round bool) (int64, bool) {
	ud := uabs(d)
	hi, lo := bits.Mul64(uabs(a), uabs(b))
	if hi >= ud { // the quotient needs more than 64 bits
		return 0, false
	}
	q, r := bits.Div64(hi, lo, ud)
	if round && r >= ud-r { // r ≥ d/2 without overflowing 2r
		if q == math.MaxUint64 {
			return 0, false
		}
		q++
	}
	return signed(q, true, (a < 0) != (b < 0) != (d < 0))
}

// signed applies a sign to a magnitude and reports whether the result fits
// in an int64 (ok false on entry stays false).
func signed(m uint64, ok, neg bool) (int64, bool) {
	switch {
	case !ok:
		return 0, false
	case neg && m <= 1<<63:
		return -int64(m), true // m = 1<<63 wraps to MinInt64, which is right
	case !neg && m <= math.MaxInt64:
		return int64(m), true
	}
	return 0, false
}

func uabs(v int64) uint64 {
	if v < 0 {
		return uint64(-v) // MinInt64 gives 1<<63, its true magnitude
	}
	return uint64(v)
}
