package grid

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
)

// TestStatsShowTheLadderEnd: a trailing geometric grid's Stats carry where
// its ladder ends (TickSize / interval) and the lowest level it makes, the
// numbers of Engine.LadderEnd; other grids show zero.
func TestStatsShowTheLadderEnd(t *testing.T) {
	near := exchange.Rules{Symbol: "NEARUSDT", TickSize: d("0.001"), StepSize: d("1"), MinQty: d("1"), MinNotional: d("0")}
	unit := exchange.Rules{Symbol: "X", TickSize: d("1"), StepSize: d("1"), MinQty: d("1"), MinNotional: d("0")}
	for _, tc := range []struct {
		name      string
		rules     exchange.Rules
		opts      []Option
		wantEnd   string
		wantLevel int64
	}{
		{"near geometric 0.3%", near, []Option{WithStartPrice(d("7")), WithTrailing(d("0.003"), 1000), WithGeometric()}, "0.3333", -1016},
		{"unit tick geometric 1%", unit, []Option{WithStartPrice(d("1000")), WithTrailing(d("0.01"), 1000), WithGeometric()}, "100", -231},
		{"trailing arithmetic", near, []Option{WithStartPrice(d("7")), WithTrailing(d("0.01"), 100)}, "0", 0},
		{"bounded geometric", near, []Option{WithStartPrice(d("7")), WithBounds(d("6"), d("8"), 20), WithGeometric()}, "0", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := New(tc.rules, append(tc.opts, WithQuantity(d("1")))...)
			require.NoError(t, err)
			st := e.Stats()
			assert.Equal(t, tc.wantEnd, st.LadderEnd.String())
			assert.Equal(t, tc.wantLevel, st.LadderEndLevel)
			var end *LadderEndError
			if tc.wantLevel == 0 {
				assert.NoError(t, e.LadderEnd())
				return
			}
			require.ErrorAs(t, e.LadderEnd(), &end)
			assert.Equal(t, end.Level, st.LadderEndLevel)
			assert.Contains(t, end.Error(), "below "+tc.wantEnd+" one interval")
		})
	}
}

// TestFloorBelowTheLadderEndIsRefused: WithFloorPrice promises levels down
// to the floor, which a trailing geometric grid cannot make below its
// ladder end. New refuses such a floor, naming the option, the floor and
// the ladder end in the user's units; a floor at or above the end starts.
func TestFloorBelowTheLadderEndIsRefused(t *testing.T) {
	near := exchange.Rules{Symbol: "NEARUSDT", TickSize: d("0.001"), StepSize: d("1"), MinQty: d("1"), MinNotional: d("0")}
	opts := func(floor string) []Option {
		return []Option{WithStartPrice(d("7")), WithTrailing(d("0.003"), 1000), WithGeometric(), WithQuantity(d("1")), WithFloorPrice(d(floor))}
	}
	for _, floor := range []string{"0.333", "0.1", "0.001"} {
		_, err := New(near, opts(floor)...)
		require.Error(t, err, "floor %s", floor)
		var oe *OptionError
		require.ErrorAs(t, err, &oe)
		assert.ErrorIs(t, err, ErrInvalidOption)
		assert.Equal(t, "WithFloorPrice", oe.Option)
		assert.Equal(t, floor, oe.Value)
		assert.Equal(t, "grid: WithFloorPrice = "+floor+": is below the ladder end 0.3333 of this trailing geometric grid (level -1016): "+
			"below it one interval (0.003) is less than one tick (0.001), so the grid makes no level there; raise the floor to at least the ladder end, or widen the interval",
			err.Error())
	}
	// The floor is rounded to the tick first: 0.3334 is 0.333, below the end.
	_, err := New(near, opts("0.3334")...)
	require.ErrorContains(t, err, "WithFloorPrice = 0.333:")
	for _, floor := range []string{"0.334", "0.5", "6"} {
		e, err := New(near, opts(floor)...)
		require.NoError(t, err, "floor %s", floor)
		assert.Equal(t, "0.3333", e.Stats().LadderEnd.String())
	}
	// A wider interval reaches lower: 3 % ends at 0.0333.
	_, err = New(near, WithStartPrice(d("7")), WithTrailing(d("0.03"), 30), WithGeometric(), WithQuantity(d("1")), WithFloorPrice(d("0.1")))
	require.NoError(t, err)
}

// TestBelowTheLadderEndIsLogged: when the price falls below the lowest
// level of a trailing geometric grid, the engine says so once (WARN, with
// the ladder end), and again only after the price came back and fell again.
func TestBelowTheLadderEndIsLogged(t *testing.T) {
	rules := exchange.Rules{Symbol: "X", TickSize: d("1"), StepSize: d("1"), MinQty: d("1"), MinNotional: d("0")}
	var buf bytes.Buffer
	e, err := New(rules, WithStartPrice(d("1000")), WithTrailing(d("0.01"), 1000), WithGeometric(), WithQuantity(d("1")),
		WithEngineLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	require.NoError(t, err)
	e.OnStreamReady(time.Unix(0, 0))
	for _, p := range []exchange.Ticks{1000, 500, 101, 99, 90, 95, 150, 98} {
		e.OnPrice(time.Unix(0, 0), p)
	}
	assert.Equal(t, 2, strings.Count(buf.String(), "the price is below the ladder end"), buf.String())
	assert.Contains(t, buf.String(), "price=99 end=")
	assert.Contains(t, buf.String(), "below 100 one interval (0.01) is less than one tick (1)")
}
