package slot

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestExitOfAMemeCoinOrderBooksExactPnL is the regression test of issue 9,
// bug 5: a 1,000 USDT order on a 1e-8-tick coin at 0.00001 USDT is 1,000
// ticks × 1e8 steps (step 1), and booking its exit multiplied the cost
// (1e11) by the exited quantity (1e8) in 64 bits: 1e19 overflows int64.
func TestExitOfAMemeCoinOrderBooksExactPnL(t *testing.T) {
	const qty, entry, exit = 100_000_000, 1_000, 1_010
	for _, kind := range []Kind{Long, Short} {
		t.Run(kind.String(), func(t *testing.T) {
			s := Slot{Kind: kind}
			apply(t, &s, Event{Type: Submit, Role: RoleEntry, Gen: 1, Qty: qty})
			apply(t, &s, Event{Type: Fill, Gen: 1, Qty: qty, Price: entry})
			require.Equal(t, int64(qty*entry), s.Cost)
			apply(t, &s, Event{Type: Submit, Role: RoleExit, Gen: 2, Qty: qty})
			eff := apply(t, &s, Event{Type: Fill, Gen: 2, Qty: qty, Price: exit})
			want := int64(qty * (exit - entry)) // 1e9 units: 10 USDT
			if kind == Short {
				want = -want
			}
			assert.Equal(t, want, eff.Realized)
			assert.True(t, eff.RoundTrip)
			assert.Equal(t, Free, s.State)
			assert.Zero(t, s.Cost)
		})
	}
}

// TestPartialExitsOfALargeHoldingBookExactPnL exits 1e10 steps held at
// mixed entry prices in uneven parts: every booking multiplies a cost near
// 1e12 by a quantity near 1e10, and the truncated basis must carry over so
// that the trip sums exactly.
func TestPartialExitsOfALargeHoldingBookExactPnL(t *testing.T) {
	s := Slot{Kind: Long}
	apply(t, &s, Event{Type: Submit, Role: RoleEntry, Gen: 1, Qty: 10_000_000_000})
	apply(t, &s, Event{Type: Fill, Gen: 1, Qty: 3_333_333_333, Price: 101})
	apply(t, &s, Event{Type: Fill, Gen: 1, Qty: 10_000_000_000, Price: 100})
	cost := int64(3_333_333_333*101 + 6_666_666_667*100) // 1_003_333_333_333
	require.Equal(t, cost, s.Cost)
	apply(t, &s, Event{Type: Submit, Role: RoleExit, Gen: 2, Qty: 10_000_000_000})
	// removed = cost × part / held, truncated; held shrinks each time.
	eff := apply(t, &s, Event{Type: Fill, Gen: 2, Qty: 7_000_000_001, Price: 103})
	removed := int64(702_333_333_433) // ⌊1_003_333_333_333 × 7_000_000_001 / 1e10⌋
	assert.Equal(t, int64(7_000_000_001*103)-removed, eff.Realized)
	assert.Equal(t, cost-removed, s.Cost)
	eff = apply(t, &s, Event{Type: Fill, Gen: 2, Qty: 10_000_000_000, Price: 99})
	assert.Equal(t, int64(2_999_999_999*99)-(cost-removed), eff.Realized)
	assert.True(t, eff.RoundTrip)
	assert.Zero(t, s.Cost)
}

func apply(t *testing.T, s *Slot, e Event) Effect {
	t.Helper()
	eff, err := s.Apply(e)
	require.NoError(t, err, "%v", e.Type)
	require.NoError(t, s.Check())
	return eff
}
