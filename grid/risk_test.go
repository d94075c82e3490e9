package grid

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/risk"
	"github.com/gridmesh/gridmesh/slot"
)

// TestNoEntryWhileAMonitorIsTriggered drives grids with scripted monitors
// that trigger and clear at random, along random price walks, and checks
// that no entry is ever placed while any monitor is triggered or the
// cool-down after the last clear has not passed, and that exits keep
// being placed meanwhile.
func TestNoEntryWhileAMonitorIsTriggered(t *testing.T) {
	pausedSteps, exitsWhilePaused := 0, 0
	for seed := uint64(1); seed <= 40; seed++ {
		rng := rand.New(rand.NewPCG(seed, 3))
		var on [2]bool
		mon := func(i int) risk.Monitor {
			return risk.MonitorFunc{Label: []string{"a", "b"}[i], Fn: func(o risk.Observation) risk.Status {
				if o.Kind == risk.KindPrice && rng.IntN(8) == 0 {
					on[i] = !on[i]
				}
				return risk.Status{Triggered: on[i], Reason: "scripted"}
			}}
		}
		cooldown := time.Duration(rng.IntN(5)) * time.Second
		e, err := New(unitRules, WithStartPrice(d("1000")), WithBounds(d("900"), d("1100"), 40), WithQuantity(d("1")),
			WithWindows(3, 3, 1), WithRiskMonitors(cooldown, mon(0), mon(1)), WithPauseCancelsEntries(rng.IntN(2) == 0))
		require.NoError(t, err)
		v := newBookVenue(t, e, 1000)
		v.onIntent = func(in Intent) {
			if in.Kind != IntentPlace {
				return
			}
			if e.RiskPaused() || on[0] || on[1] {
				require.NotEqual(t, slot.RoleEntry, in.Role, "seed %d: entry %s placed while a monitor is triggered", seed, in)
				exitsWhilePaused++
			}
		}
		p := exchange.Ticks(1000)
		for step := 0; step < 300; step++ {
			p = min(max(p+exchange.Ticks(rng.IntN(31)-15), 850), 1150)
			v.tick(p)
			v.run(e.ObserveRisk(risk.Observation{Time: v.now, Kind: risk.KindPrice, Symbol: "TEST", Price: unitRules.TicksToPrice(p)}))
			assert.Equal(t, e.RiskPaused(), e.Stats().Paused, "seed %d: the engine's pause follows the guard", seed)
			if e.RiskPaused() {
				pausedSteps++
			}
		}
	}
	assert.Greater(t, pausedSteps, 1000, "the monitors did pause the grids")
	assert.Greater(t, exitsWhilePaused, 50, "exits kept working while paused")
}

func TestPlanDescribesTheGrid(t *testing.T) {
	e, err := New(unitRules, WithStartPrice(d("1000")), WithBounds(d("900"), d("1100"), 4), WithQuantity(d("2")),
		WithRiskChecks(risk.Plan{Leverage: 3, MakerFee: d("0.0002"), TakerFee: d("0.0005"), MaintenanceRate: d("0.004")}))
	require.NoError(t, err)
	p := e.Plan()
	assert.Equal(t, risk.Long, p.Direction)
	assert.Equal(t, "900", p.Lower.String())
	assert.Equal(t, "1100", p.Upper.String())
	assert.Equal(t, 3, p.Leverage)
	require.Len(t, p.Levels, 4)
	// levels 900, 950 rest as entries; 1000 and 1050 are bought at start.
	assert.Equal(t, []bool{false, false, true, true}, []bool{p.Levels[0].Initial, p.Levels[1].Initial, p.Levels[2].Initial, p.Levels[3].Initial})
	assert.Equal(t, "1050", p.Levels[2].ExitPrice.String())
	require.NoError(t, p.Validate())
}

func TestCheckStartReportsShortfall(t *testing.T) {
	e, err := New(unitRules, WithStartPrice(d("1000")), WithBounds(d("900"), d("1100"), 4), WithQuantity(d("2")),
		WithRiskChecks(risk.Plan{Leverage: 20, MakerFee: d("0.0002"), TakerFee: d("0.0005"), MaintenanceRate: d("0.004")}, risk.LeverageCheck{}))
	require.NoError(t, err)
	err = e.CheckStart(exchange.Account{CanTrade: true}, nil)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrChecksFailed)
	assert.Contains(t, err.Error(), "leverage")
}

func TestHardStopClosesTheGridsPosition(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
		want exchange.PositionSide
	}{
		{"one-way long", []Option{WithMode(Long)}, exchange.PositionBoth},
		{"hedge long", []Option{WithMode(Long), WithPositionMode(exchange.Hedge)}, exchange.PositionLong},
	} {
		t.Run(tc.name, func(t *testing.T) {
			trig := false
			m := risk.MonitorFunc{Label: "panic", Fn: func(risk.Observation) risk.Status { return risk.Status{Triggered: trig, Reason: "test"} }}
			e, err := New(unitRules, append([]Option{WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("1")),
				WithWindows(3, 3, 0), WithInitialPosition(false), WithRiskMonitors(0, m), WithRiskHardStop(true)}, tc.opts...)...)
			require.NoError(t, err)
			v := newBookVenue(t, e, 100)
			var closes []Intent
			v.onIntent = func(in Intent) {
				if in.Ref.Level == CloseLevel {
					closes = append(closes, in)
				}
			}
			v.checkEvery = false
			v.tick(97) // entries @99, @98, @97 fill: 3 held
			require.Equal(t, exchange.Steps(3), v.position)
			trig = true
			v.run(e.ObserveRisk(risk.Observation{Time: v.now, Kind: risk.KindTimer}))
			require.Len(t, closes, 1)
			c := closes[0]
			assert.True(t, c.Market)
			assert.Equal(t, exchange.Sell, c.Side)
			assert.Equal(t, exchange.Steps(3), c.Qty)
			assert.Equal(t, tc.want, c.PositionSide)
			assert.Equal(t, tc.want == exchange.PositionBoth, c.ReduceOnly, "reduce-only in one-way mode only (-1106)")
			assert.Zero(t, v.position)
			assert.Empty(t, v.orders)
			assert.True(t, e.Stats().Halted)
			// realized: sold 3 at 97 against 99+98+97
			assert.Equal(t, exchange.Money(97*3-(99+98+97)), e.Books().Realized)
			require.NoError(t, e.CheckInvariants())
			trig = false
			v.run(e.ObserveRisk(risk.Observation{Time: v.now.Add(time.Hour), Kind: risk.KindTimer}))
			v.tick(95)
			assert.Empty(t, v.orders, "a hard stop does not resume")
		})
	}
}
