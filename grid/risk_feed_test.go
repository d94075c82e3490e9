package grid

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/pricefeed"
	"github.com/gridmesh/gridmesh/risk"
)

// TestTimerObservationCarriesLiveness drives an engine's stale-feed monitor
// as a runner does (issue 10, bug 2): the one price the subscription
// delivers on a flat market, then on each timer tick TimerObservation of
// the monitor's liveness. Entries stay allowed while the source repeats
// its price, pause when it falls silent, and resume when it speaks again.
func TestTimerObservationCarriesLiveness(t *testing.T) {
	sf, err := risk.NewStaleFeed(risk.StaleFeedConfig{Name: "stale-feed", Symbol: "TEST", MaxAge: 30 * time.Second, ClearPrices: 2})
	require.NoError(t, err)
	e, err := New(unitRules, WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 4), WithQuantity(d("1")), WithRiskMonitors(0, sf))
	require.NoError(t, err)
	mon, err := pricefeed.NewMonitor("TEST")
	require.NoError(t, err)
	defer mon.Close()
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

	// Nothing heard yet: a plain timer observation.
	assert.Equal(t, risk.Observation{Time: t0, Kind: risk.KindTimer}, TimerObservation(t0, unitRules, mon.Liveness()))

	mon.Publish(100, t0)
	e.ObserveRisk(risk.Observation{Time: t0, Kind: risk.KindPrice, Symbol: "TEST", Price: d("100")})
	for s := 1; s <= 300; s++ { // five flat minutes, a message a second
		now := t0.Add(time.Duration(s) * time.Second)
		mon.Publish(100, now)
		if s%10 == 0 {
			e.ObserveRisk(TimerObservation(now, unitRules, mon.Liveness()))
			require.False(t, e.RiskPaused(), "paused at %s on a live feed", now)
		}
	}
	o := TimerObservation(t0.Add(300*time.Second), unitRules, mon.Liveness())
	assert.Equal(t, risk.Observation{Time: t0.Add(300 * time.Second), Kind: risk.KindAlive, Symbol: "TEST", Price: d("100"), Heard: t0.Add(300 * time.Second)}, o)

	// Silence: 40 s later with nothing new.
	e.ObserveRisk(TimerObservation(t0.Add(340*time.Second), unitRules, mon.Liveness()))
	assert.True(t, e.RiskPaused())
	// Speaking again: the late message does not count, the next two do.
	for _, s := range []int{345, 350, 355} {
		now := t0.Add(time.Duration(s) * time.Second)
		mon.Publish(100, now)
		e.ObserveRisk(TimerObservation(now, unitRules, mon.Liveness()))
	}
	assert.False(t, e.RiskPaused())
}

func TestRiskBooksAndPositionMode(t *testing.T) {
	e, err := New(unitRules, WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 4), WithQuantity(d("1")), WithPositionMode(exchange.Hedge), WithMode(Neutral))
	require.NoError(t, err)
	assert.Equal(t, exchange.Hedge, e.PositionMode())
	b := e.RiskBooks(100, 7)
	assert.Equal(t, []string{"0", "0", "0", "7", "-7"}, []string{b.Realized.String(), b.Unrealized.String(), b.Fees.String(), b.Funding.String(), b.Net().String()})
}
