package grid

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/risk"
)

// Issue 10, bug 5: a risk resume cleared the runner's "symbol not trading"
// pause. Pauses are a set now: each owner clears only its own, and Stats
// lists them all.
func TestPausesOfDifferentOwnersAddUp(t *testing.T) {
	trig := true
	m := risk.MonitorFunc{Label: "spike", Fn: func(risk.Observation) risk.Status { return risk.Status{Triggered: trig, Reason: "volume spike"} }}
	e, err := New(unitRules, WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("1")),
		WithWindows(1, 1, 0), WithInitialPosition(false), WithRiskMonitors(0, m))
	require.NoError(t, err)
	t0 := time.Unix(1000, 0)
	e.OnPrice(t0, 100)
	entry := e.OnStreamReady(t0)[0].Ref
	mustApplyEv(t, e, t0, OrderEvent{Ref: entry, Type: OrderAccepted})
	e.ObserveRisk(risk.Observation{Time: t0, Kind: risk.KindTimer})
	require.True(t, e.PausedBy(PauseRisk))
	assert.Equal(t, []string{"cancel 9/1"}, strsOf(e.PauseFor(t0, PauseVenue, "symbol not trading", true)))
	mustApplyEv(t, e, t0, OrderEvent{Ref: entry, Type: OrderCanceled})
	assert.Equal(t, []string{"risk: entries paused: spike: volume spike", "venue: symbol not trading"}, e.Stats().Pauses)

	trig = false
	in := e.ObserveRisk(risk.Observation{Time: t0.Add(time.Minute), Kind: risk.KindTimer})
	assert.Empty(t, strsOf(in), "the venue's pause still holds entries")
	assert.True(t, e.Stats().Paused)
	assert.Equal(t, []string{"venue: symbol not trading"}, e.Stats().Pauses)
	assert.Equal(t, "venue: symbol not trading", e.Stats().Reason)

	in = e.ResumeFor(t0.Add(2*time.Minute), PauseVenue)
	assert.False(t, e.Stats().Paused)
	assert.Equal(t, []string{"place 9/2 entry BUY 1@99 post-only"}, strsOf(in), "entries placed again once nobody holds them")
	assert.Empty(t, strsOf(e.ResumeFor(t0, PauseHost)), "resuming a pause nobody holds does nothing")
}
