package exchange

import (
	"errors"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// btcMarketRules are BTCUSDT's rules with the sheet's capture of LOT_SIZE
// (max 1000) and MARKET_LOT_SIZE (0.001 to 120).
func btcMarketRules() Rules {
	r := btcRules()
	r.MaxQty, r.MarketMinQty, r.MarketMaxQty = d("1000"), d("0.001"), d("120")
	return r
}

func TestRulesValidateQtyBounds(t *testing.T) {
	require.NoError(t, btcMarketRules().Validate())
	r := btcRules()
	r.MaxQty, r.MarketMinQty, r.MarketMaxQty = d("-1"), d("-2"), d("-3")
	msg := r.Validate().Error()
	assert.Contains(t, msg, "MaxQty -1 must not be negative")
	assert.Contains(t, msg, "MarketMinQty -2 must not be negative")
	assert.Contains(t, msg, "MarketMaxQty -3 must not be negative")
	r = btcRules()
	r.MinQty, r.MaxQty = d("1"), d("0.5")
	assert.ErrorContains(t, r.Validate(), "MaxQty 0.5 is below MinQty 1")
	r = btcRules()
	r.MarketMinQty, r.MarketMaxQty = d("5"), d("2")
	assert.ErrorContains(t, r.Validate(), "MarketMaxQty 2 is below the market minimum 5")
}

func TestCheckOrderMaxQty(t *testing.T) {
	r := btcMarketRules()
	assert.NoError(t, r.CheckOrder(d("95000"), d("1000")))
	err := r.CheckOrder(d("95000"), d("1000.001"))
	require.ErrorIs(t, err, ErrInvalidOrder)
	assert.EqualError(t, err, "BTCUSDT: quantity 1000.001 is above MaxQty 1000")
	// No maximum known: no bound.
	assert.NoError(t, btcRules().CheckOrder(d("95000"), d("1000000")))
}

func TestCheckMarketOrder(t *testing.T) {
	r := btcMarketRules()
	r.MinQty = d("0.002") // the limit minimum does not bind market orders when the market's is set
	cases := []struct {
		qty, err string
	}{
		{"0.001", ""},
		{"120", ""},
		{"120.001", "BTCUSDT: quantity 120.001 is above the market maximum 120 (send it in parts: Rules.SplitMarketQty)"},
		{"500", "BTCUSDT: quantity 500 is above the market maximum 120 (send it in parts: Rules.SplitMarketQty)"},
		{"0", "BTCUSDT: quantity 0 must be positive"},
		{"0.0005", "BTCUSDT: quantity 0.0005 is not a multiple of 0.001"},
	}
	for _, tc := range cases {
		err := r.CheckMarketOrder(d(tc.qty))
		if tc.err == "" {
			assert.NoError(t, err, tc.qty)
			continue
		}
		assert.EqualError(t, err, tc.err, tc.qty)
		assert.ErrorIs(t, err, ErrInvalidOrder, tc.qty)
	}
	// Without market bounds, MinQty and MaxQty apply.
	l := btcRules()
	l.MinQty, l.MaxQty = d("0.01"), d("5")
	assert.EqualError(t, l.CheckMarketOrder(d("0.005")), "BTCUSDT: quantity 0.005 is below the market minimum 0.01")
	assert.ErrorContains(t, l.CheckMarketOrder(d("5.001")), "above the market maximum 5")
	assert.NoError(t, btcRules().CheckMarketOrder(d("100000")))
}

func TestSplitMarketQty(t *testing.T) {
	blz := Rules{Symbol: "BLZUSDT", TickSize: d("0.0001"), StepSize: d("1"), MinQty: d("1"), MarketMinQty: d("1"), MarketMaxQty: d("120")}
	cases := []struct {
		rules Rules
		qty   string
		want  []string
		err   string
	}{
		{blz, "100", []string{"100"}, ""},
		{blz, "120", []string{"120"}, ""},
		{blz, "121", []string{"61", "60"}, ""},
		{blz, "250", []string{"84", "83", "83"}, ""},
		{blz, "240", []string{"120", "120"}, ""},
		{btcMarketRules(), "250.005", []string{"83.335", "83.335", "83.335"}, ""},
		{btcMarketRules(), "240.001", []string{"80.001", "80", "80"}, ""},
		{btcRules(), "5000", []string{"5000"}, ""}, // no maximum known
		{blz, "0", nil, "BLZUSDT: quantity 0 must be positive"},
		{blz, "1.5", nil, "BLZUSDT: quantity 1.5 is not a multiple of 1"},
		{Rules{Symbol: "X", TickSize: d("1"), StepSize: d("1"), MarketMinQty: d("70"), MarketMaxQty: d("100")}, "101", nil,
			"X: quantity 101 cannot be split into 2 market orders of at most 100 and at least 70"},
		{Rules{Symbol: "X", TickSize: d("1"), StepSize: d("1"), MarketMinQty: d("70"), MarketMaxQty: d("100")}, "60", nil,
			"X: quantity 60 is below the market minimum 70"},
		{Rules{Symbol: "X", TickSize: d("1"), StepSize: d("0.001"), MarketMaxQty: d("0.001")}, "10000000000", nil,
			"X: quantity 10000000000 would need 10000000000000 market orders of at most 0.001 (more than 1000)"},
	}
	for _, tc := range cases {
		parts, err := tc.rules.SplitMarketQty(d(tc.qty))
		if tc.err != "" {
			assert.EqualError(t, err, tc.err, tc.qty)
			assert.True(t, errors.Is(err, ErrInvalidOrder), tc.qty)
			continue
		}
		require.NoError(t, err, tc.qty)
		got := make([]string, len(parts))
		sum := decimal.Zero
		for i, p := range parts {
			got[i] = p.String()
			sum = sum.Add(p)
			assert.NoError(t, tc.rules.CheckMarketOrder(p), "part %s of %s", p, tc.qty)
		}
		assert.Equal(t, tc.want, got, tc.qty)
		assert.True(t, sum.Equal(d(tc.qty)), "parts of %s sum to %s", tc.qty, sum)
	}
}

// FuzzSplitMarketQty: any split sums exactly to the quantity, has the
// fewest parts, and every part passes CheckMarketOrder.
func FuzzSplitMarketQty(f *testing.F) {
	f.Add(int64(250), int64(120), int64(1), int64(3))
	f.Add(int64(250005), int64(120000), int64(1), int64(-3))
	f.Fuzz(func(t *testing.T, qtySteps, maxSteps, minSteps int64, exp int64) {
		if qtySteps <= 0 || maxSteps <= 0 || minSteps <= 0 || qtySteps > 1e12 || maxSteps > 1e12 {
			return
		}
		exp = exp%9 - 4
		step := decimal.New(1, int32(exp))
		r := Rules{Symbol: "F", TickSize: d("0.1"), StepSize: step, MarketMinQty: decimal.NewFromInt(minSteps).Mul(step),
			MarketMaxQty: decimal.NewFromInt(maxSteps).Mul(step)}
		if r.Validate() != nil {
			return
		}
		qty := decimal.NewFromInt(qtySteps).Mul(step)
		parts, err := r.SplitMarketQty(qty)
		if err != nil {
			if !errors.Is(err, ErrInvalidOrder) {
				t.Fatalf("%s: %v does not match ErrInvalidOrder", qty, err)
			}
			return
		}
		want := (qtySteps + maxSteps - 1) / maxSteps
		if int64(len(parts)) != want {
			t.Fatalf("%s split into %d parts, want %d", qty, len(parts), want)
		}
		sum := decimal.Zero
		for _, p := range parts {
			if err := r.CheckMarketOrder(p); err != nil {
				t.Fatalf("part %s of %s: %v", p, qty, err)
			}
			sum = sum.Add(p)
		}
		if !sum.Equal(qty) {
			t.Fatalf("parts of %s sum to %s", qty, sum)
		}
	})
}
