package grid

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
)

func TestNextFundingRead(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		return v
	}
	for _, tc := range []struct{ now, want string }{
		{"2025-05-12T07:50:00Z", "2025-05-12T07:55:00Z"}, // every 5 minutes
		{"2025-05-12T07:58:30Z", "2025-05-12T08:01:00Z"}, // a minute after the hour comes first
		{"2025-05-12T08:00:00Z", "2025-05-12T08:01:00Z"},
		{"2025-05-12T08:01:00Z", "2025-05-12T08:06:00Z"},
		{"2025-05-12T08:00:59Z", "2025-05-12T08:01:00Z"},
	} {
		assert.Equal(t, tc.want, nextFundingRead(at(tc.now)).UTC().Format(time.RFC3339), tc.now)
	}
}

// TestBookSettlements books, on hand-computed numbers, the grid's position
// at each settlement (not at the read) × mark × rate, each settlement
// once however often the venue reports it, none before the runner's start,
// rounding the running total half up to the Money unit.
func TestBookSettlements(t *testing.T) {
	rules := exchange.Rules{Symbol: "BTCUSDT", TickSize: d("0.1"), StepSize: d("0.001"), MinQty: d("0.001"), MinNotional: d("0")}
	eng, err := New(rules, WithStartPrice(d("100000")), WithTrailing(d("100"), 10), WithQuantity(d("0.001")))
	require.NoError(t, err)
	r := &Runner{eng: eng, rules: rules, gridID: "g", log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	l := &loop{r: r}
	t0 := time.Unix(1_746_000_000, 0)
	b := &r.fund
	b.init, b.src, b.last = true, FundingHistory(nil), t0
	b.samples = []posSample{{t: t0}, {t: t0.Add(time.Hour), pos: 20}, {t: t0.Add(3 * time.Hour), pos: -5}}
	s := func(h time.Duration, rate, mark string) exchange.FundingSettlement {
		return exchange.FundingSettlement{Symbol: "BTCUSDT", Time: t0.Add(h), Rate: d(rate), MarkPrice: d(mark)}
	}
	l.bookSettlements([]exchange.FundingSettlement{
		s(-time.Hour, "0.01", "100000"),       // before the start: not booked
		s(30*time.Minute, "0.0001", "100000"), // flat: nothing
		s(2*time.Hour, "0.0001", "100000.05"), // long 0.02 × 100000.05 × 0.0001 = 0.20000010: 2000.001 units → 2000
	})
	assert.Equal(t, exchange.Money(2000), eng.books.Funding)
	// The same settlements again, and a later one: only the later one.
	l.bookSettlements([]exchange.FundingSettlement{
		s(2*time.Hour, "0.0001", "100000.05"),
		s(4*time.Hour, "0.00012345", "100000"), // short 0.005 × 100000 × 0.00012345 = −0.061725: −617.25 units
	})
	// total 2000.001 − 617.25 = 1382.751 → 1383
	assert.Equal(t, exchange.Money(1383), eng.books.Funding)
	assert.Equal(t, "0.1383", eng.Stats().Funding.String())
	assert.False(t, b.reading)
	// Samples older than the one in force at the last settlement are gone.
	assert.Equal(t, []posSample{{t: t0.Add(3 * time.Hour), pos: -5}}, b.samples)
	pos, ok := b.positionAt(t0.Add(10 * time.Hour))
	assert.True(t, ok)
	assert.Equal(t, exchange.Steps(-5), pos)
	_, ok = b.positionAt(t0.Add(-time.Second))
	assert.False(t, ok)
}
