package exchange

import (
	"errors"
	"math"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func btcRules() Rules {
	return Rules{
		Symbol:      "BTCUSDT",
		TickSize:    decimal.RequireFromString("0.1"),
		StepSize:    decimal.RequireFromString("0.001"),
		MinQty:      decimal.RequireFromString("0.001"),
		MinNotional: decimal.RequireFromString("100"),
	}
}

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func TestRulesValidateReportsEveryProblem(t *testing.T) {
	err := Rules{Symbol: "X", TickSize: d("0"), StepSize: d("-1"), MinQty: d("-0.1"), MinNotional: d("5")}.Validate()
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, "TickSize 0 must be positive")
	assert.Contains(t, msg, "StepSize -1 must be positive")
	assert.Contains(t, msg, "MinQty -0.1 must not be negative")
	assert.NoError(t, btcRules().Validate())
}

func TestRulesRounding(t *testing.T) {
	r := btcRules()
	assert.Equal(t, "95505.5", r.RoundPrice(d("95505.45")).String())
	assert.Equal(t, "95505.4", r.RoundPrice(d("95505.44")).String())
	assert.Equal(t, "0.012", r.FloorQty(d("0.0129")).String())

	ticks, err := r.PriceToTicks(d("95505.4"))
	require.NoError(t, err)
	assert.Equal(t, Ticks(955054), ticks)
	assert.Equal(t, "95505.4", r.TicksToPrice(ticks).String())

	_, err = r.PriceToTicks(d("95505.45"))
	require.ErrorIs(t, err, ErrInvalidOrder)
	assert.EqualError(t, err, "BTCUSDT: price 95505.45 is not a multiple of 0.1")

	steps, err := r.QtyToSteps(d("0.123"))
	require.NoError(t, err)
	assert.Equal(t, Steps(123), steps)
	assert.Equal(t, "0.123", r.StepsToQty(steps).String())
}

func TestMoneyConversion(t *testing.T) {
	r := btcRules()
	assert.Equal(t, "0.0001", r.MoneyUnit().String())
	// 95505.4 × 0.123 = 11747.1642
	m := Notional(955054, 123)
	assert.Equal(t, Money(117471642), m)
	assert.Equal(t, "11747.1642", r.MoneyToDecimal(m).String())
	back, err := r.DecimalToMoney(d("11747.16429"))
	require.NoError(t, err)
	assert.Equal(t, m, back, "rounds toward zero to a unit")
	assert.Equal(t, Money(1_000_000), r.MinNotionalMoney())
	assert.Equal(t, Steps(1), r.MinQtySteps())
}

func TestCheckOrder(t *testing.T) {
	r := btcRules()
	assert.NoError(t, r.CheckOrder(d("100000"), d("0.001")))
	for _, tc := range []struct{ price, qty, want string }{
		{"0", "1", "BTCUSDT: price 0 must be positive"},
		{"100000", "0", "BTCUSDT: quantity 0 must be positive"},
		{"100000.05", "0.001", "BTCUSDT: price 100000.05 is not a multiple of 0.1"},
		{"100000", "0.0015", "BTCUSDT: quantity 0.0015 is not a multiple of 0.001"},
		{"50000", "0.001", "BTCUSDT: notional 50 is below MinNotional 100"},
	} {
		err := r.CheckOrder(d(tc.price), d(tc.qty))
		assert.EqualError(t, err, tc.want)
		assert.ErrorIs(t, err, ErrInvalidOrder)
		var re *RuleError
		assert.True(t, errors.As(err, &re))
	}
	assert.NoError(t, r.CheckTicks(1_000_000, 1))
	assert.EqualError(t, r.CheckTicks(500_000, 1), "BTCUSDT: notional 50 is below MinNotional 100")
	assert.EqualError(t, r.CheckTicks(1_000_000, 0), "BTCUSDT: quantity 0 is below MinQty 0.001")
}

func TestRateApply(t *testing.T) {
	fee := Rate(20_000) // 0.02 %
	assert.Equal(t, "0.02%", fee.String())
	assert.Equal(t, Money(2000), fee.Apply(10_000_000))
	assert.Equal(t, Money(1), Rate(50_000_000).Apply(1), "half rounds away from zero")
	assert.Equal(t, Money(-1), Rate(50_000_000).Apply(-1))
	assert.Equal(t, Money(0), Rate(49_999_999).Apply(1))
	assert.Equal(t, Money(-2000), Rate(-20_000).Apply(10_000_000), "rebate")
	assert.Equal(t, Money(math.MaxInt64), Rate(RateScale*4).Apply(math.MaxInt64), "saturates instead of overflowing")
	r, err := RateFromDecimal(d("0.0005"))
	require.NoError(t, err)
	assert.Equal(t, Rate(50_000), r)
	_, err = RateFromDecimal(d("0.000000001"))
	assert.Error(t, err)
}

func TestGridParser(t *testing.T) {
	p, err := btcRules().TickParser()
	require.NoError(t, err)
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"95505.4", 955054},
		{"95505", 955050},
		{"95505.40", 955054},
		{"95505.45", 955055}, // off-grid: nearest, half away from zero
		{"95505.449", 955054},
		{"-1.25", -13},
		{"+2", 20},
		{"0.0", 0},
		{"1e2", 1000},
		{"9.55054E4", 955054},
	} {
		got, err := p.ParseString(tc.in)
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
	for _, bad := range []string{"", "-", ".", "1.2.3", "12a", "99999999999999999999", "1e"} {
		_, err := p.ParseString(bad)
		var pe *ParseError
		assert.True(t, errors.As(err, &pe), "%q: %v", bad, err)
	}

	half, err := Rules{Symbol: "X", TickSize: d("0.5"), StepSize: d("1")}.TickParser()
	require.NoError(t, err)
	v, _ := half.ParseString("0.74")
	assert.Equal(t, int64(1), v)
	v, _ = half.ParseString("0.75")
	assert.Equal(t, int64(2), v)
	_, err = Rules{}.TickParser()
	assert.Error(t, err)
	_, err = GridParser{}.ParseString("1")
	assert.Error(t, err)
}

// FuzzGridParser checks the fast parser against decimal on any input it accepts.
func FuzzGridParser(f *testing.F) {
	for _, s := range []string{"95505.4", "0.001", "-3", "1e-5", "12.3456789"} {
		f.Add(s)
	}
	p, err := btcRules().TickParser()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := p.ParseString(s)
		if err != nil {
			return
		}
		want, derr := decimal.NewFromString(s)
		if derr != nil {
			t.Fatalf("fast parser accepted %q that decimal rejects", s)
		}
		exact := want.Div(d("0.1"))
		diff := exact.Sub(decimal.NewFromInt(got)).Abs()
		if diff.GreaterThan(d("0.5")) {
			t.Fatalf("%q: got %d ticks, exact %s", s, got, exact)
		}
	})
}

func TestErrorsMatch(t *testing.T) {
	rl := &RateLimitError{RetryAfter: 3e9, Banned: true}
	assert.ErrorIs(t, rl, ErrRateLimited)
	assert.Equal(t, "rate limited: banned, retry after 3s", rl.Error())
	uo := &UnknownOutcomeError{Op: "place", Err: errors.New("timeout")}
	assert.ErrorIs(t, uo, ErrUnknownOutcome)
	ve := &VenueError{Venue: "binance", Code: -5022, Msg: "post only", Kind: ErrPostOnlyRejected}
	assert.ErrorIs(t, ve, ErrPostOnlyRejected)
	assert.Equal(t, "binance: code -5022: post only", ve.Error())
	assert.True(t, Retryable(rl))
	assert.False(t, Retryable(uo), "an unknown outcome is resolved by query, never resent blindly")
	assert.False(t, Retryable(ve))
	assert.True(t, Retryable(&VenueError{Kind: ErrClockSkew}))
}

func TestEnumStrings(t *testing.T) {
	assert.Equal(t, "BUY", Buy.String())
	assert.Equal(t, "SELL", Buy.Opposite().String())
	assert.Equal(t, "Side(9)", Side(9).String())
	assert.Equal(t, "SHORT", PositionShort.String())
	assert.Equal(t, "GTX", PostOnly.String())
	assert.Equal(t, "PARTIALLY_FILLED", StatusPartiallyFilled.String())
	assert.True(t, StatusExpired.Terminal())
	assert.True(t, StatusNew.Live())
	assert.Equal(t, "HEDGE", Hedge.String())
	assert.Equal(t, "MARGIN_CALL", EventMarginCall.String())
}
