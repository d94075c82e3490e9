package risk

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scripted is a monitor whose status the test sets before each observation.
type scripted struct {
	name string
	next Status
}

func (s *scripted) Name() string               { return s.name }
func (s *scripted) Observe(Observation) Status { return s.next }

func TestGuardZeroValue(t *testing.T) {
	var g Guard
	assert.Nil(t, g.Observe(priceObs(0, "X", "1")))
	assert.Nil(t, g.Observe(timerObs(time.Hour)))
	assert.False(t, g.Paused())
	assert.Nil(t, g.Reasons())
	assert.Equal(t, time.Duration(0), g.Cooldown())

	g2 := NewGuard(-time.Second, nil, nil)
	assert.Equal(t, time.Duration(0), g2.Cooldown())
	assert.Nil(t, g2.Observe(timerObs(0)))
}

func TestGuardCooldown(t *testing.T) {
	a, b := &scripted{name: "a"}, &scripted{name: "b"}
	g := NewGuard(5*time.Minute, a, nil, b)

	a.next = Status{Triggered: true, Reason: "a high"}
	assert.Equal(t, []Transition{
		{Time: at(0), Monitor: "a", Triggered: true, Reason: "a high"},
		{Time: at(0), Monitor: GuardName, Triggered: true, Guard: true, Reason: "entries paused: a: a high"},
	}, g.Observe(timerObs(0)))
	assert.True(t, g.Paused())

	b.next = Status{Triggered: true, Reason: "b low"}
	assert.Equal(t, []Transition{{Time: at(time.Minute), Monitor: "b", Triggered: true, Reason: "b low"}}, g.Observe(timerObs(time.Minute)))
	assert.Equal(t, []string{"a: a high", "b: b low"}, g.Reasons())

	// A reason change without a state change is no transition.
	a.next.Reason = "a higher"
	assert.Nil(t, g.Observe(timerObs(90*time.Second)))

	a.next = Status{Reason: "a ok"}
	assert.Equal(t, []Transition{{Time: at(2 * time.Minute), Monitor: "a", Reason: "a ok"}}, g.Observe(timerObs(2*time.Minute)))
	assert.True(t, g.Paused())
	assert.Equal(t, []string{"b: b low"}, g.Reasons())

	b.next = Status{Reason: "b ok"}
	assert.Equal(t, []Transition{{Time: at(3 * time.Minute), Monitor: "b", Reason: "b ok"}}, g.Observe(timerObs(3*time.Minute)))
	assert.True(t, g.Paused(), "cooling down")
	assert.Nil(t, g.Reasons())
	assert.Nil(t, g.Observe(priceObs(8*time.Minute-time.Nanosecond, "X", "1")))
	assert.True(t, g.Paused())
	assert.Equal(t, []Transition{{Time: at(8 * time.Minute), Monitor: GuardName, Guard: true,
		Reason: "entries resumed: every monitor clear since 2025-01-01T00:03:00Z, cool-down 5m0s over"}}, g.Observe(timerObs(8*time.Minute)))
	assert.False(t, g.Paused())

	// A trigger during the cool-down keeps the guard paused, and the
	// cool-down restarts from the later clear.
	a.next = Status{Triggered: true, Reason: "x"}
	g.Observe(timerObs(10 * time.Minute))
	a.next = Status{}
	g.Observe(timerObs(11 * time.Minute))
	a.next = Status{Triggered: true, Reason: "y"}
	assert.Equal(t, []Transition{{Time: at(12 * time.Minute), Monitor: "a", Triggered: true, Reason: "y"}}, g.Observe(timerObs(12*time.Minute)))
	a.next = Status{}
	g.Observe(timerObs(13 * time.Minute))
	assert.Nil(t, g.Observe(timerObs(17*time.Minute)))
	assert.True(t, g.Paused())
	require.Len(t, g.Observe(timerObs(18*time.Minute)), 1)
	assert.False(t, g.Paused())
}

func TestGuardZeroCooldownResumesAtOnce(t *testing.T) {
	a := &scripted{name: "a", next: Status{Triggered: true, Reason: "r"}}
	g := NewGuard(0, a)
	require.Len(t, g.Observe(timerObs(0)), 2)
	a.next = Status{Reason: "ok"}
	assert.Equal(t, []Transition{
		{Time: at(time.Second), Monitor: "a", Reason: "ok"},
		{Time: at(time.Second), Monitor: GuardName, Guard: true, Reason: "entries resumed: every monitor clear since 2025-01-01T00:00:01Z, cool-down 0s over"},
	}, g.Observe(timerObs(time.Second)))
	assert.False(t, g.Paused())
}

// TestGuardProperty drives a guard over scripted monitors that flip at
// random and over real monitors fed a random walk, and checks after every
// observation that the guard is paused whenever any monitor is triggered,
// that it resumes only once all are clear and the cool-down has passed,
// and that its transitions tell exactly what changed.
func TestGuardProperty(t *testing.T) {
	triggers := map[string]int{}
	for seed := uint64(1); seed <= 50; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 0x5eed))
			cooldown := time.Duration(rng.IntN(10)) * time.Second
			scripts := []*scripted{{name: "s0"}, {name: "s1"}, {name: "s2"}}
			band, err := NewPriceBand(PriceBandConfig{Name: "band", Symbol: "X", Window: 20 * time.Second, MaxMove: d("0.02"), ClearMove: d("0.01")})
			require.NoError(t, err)
			stale, err := NewStaleFeed(StaleFeedConfig{Name: "stale", Symbol: "X", MaxAge: 5 * time.Second, ClearPrices: 2})
			require.NoError(t, err)
			monitors := []Monitor{scripts[0], band, scripts[1], stale, scripts[2]}
			g := NewGuard(cooldown, monitors...)
			state := map[string]bool{}
			paused := false
			var lastClear time.Time
			price := 10000
			now := time.Duration(0)
			for i := 0; i < 2000; i++ {
				now += time.Duration(1+rng.IntN(3000)) * time.Millisecond
				for _, s := range scripts {
					if rng.IntN(20) == 0 {
						s.next = Status{Triggered: !s.next.Triggered, Reason: fmt.Sprint(i)}
					}
				}
				var o Observation
				if rng.IntN(4) == 0 {
					o = timerObs(now)
				} else {
					price += rng.IntN(201) - 100
					o = Observation{Time: at(now), Kind: KindPrice, Symbol: "X", Price: d(fmt.Sprint(price))}
				}
				trs := g.Observe(o)
				// Replay the transitions on our model of the guard.
				for _, tr := range trs {
					require.Equal(t, at(now), tr.Time)
					if tr.Guard {
						require.NotEqual(t, paused, tr.Triggered, "guard transition must change its state")
						paused = tr.Triggered
						continue
					}
					require.NotEqual(t, state[tr.Monitor], tr.Triggered, "monitor transition must change its state")
					state[tr.Monitor] = tr.Triggered
					if tr.Triggered {
						triggers[tr.Monitor]++
					}
					if !tr.Triggered {
						lastClear = at(now)
					}
				}
				any := false
				for _, m := range monitors {
					st := m.Observe(Observation{Time: at(now), Kind: 0}) // an unknown kind changes nothing
					require.Equal(t, state[m.Name()], st.Triggered, m.Name())
					any = any || st.Triggered
				}
				require.Equal(t, paused, g.Paused())
				if any {
					require.True(t, g.Paused(), "a monitor is triggered but the guard is not paused (step %d)", i)
					require.Len(t, g.Reasons(), countTrue(state))
				} else if g.Paused() {
					require.True(t, at(now).Before(lastClear.Add(cooldown)), "all clear and cooled down but still paused (step %d)", i)
				}
			}
		})
	}
	// The real monitors took part: each triggered somewhere.
	for _, name := range []string{"band", "stale", "s0"} {
		assert.Positive(t, triggers[name], name)
	}
	t.Logf("triggers: %v", triggers)
}

func countTrue(m map[string]bool) int {
	n := 0
	for _, v := range m {
		if v {
			n++
		}
	}
	return n
}
