package pricefeed_test

import (
	"context"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/pricefeed"
	"github.com/gridmesh/gridmesh/risk"
)

func TestMonitorLiveness(t *testing.T) {
	m := newMonitor(t)
	assert.Equal(t, pricefeed.Liveness{}, m.Liveness())
	m.Publish(100, t0)
	m.Publish(100, t0.Add(time.Second)) // unchanged: still a message
	m.Publish(99, t0)                   // stale: dropped, not counted
	m.Publish(101, t0.Add(2*time.Second))
	assert.Equal(t, pricefeed.Liveness{Price: pricefeed.Price{Ticks: 101, Time: t0.Add(2 * time.Second)}, Messages: 3}, m.Liveness())
	assert.Equal(t, uint64(3), m.Messages())
}

// TestMonitorUnchangedPriceIsLivenessNotADelivery shows both halves of
// issue 10, bug 2 on the monitor: a repeated price wakes no subscriber
// (the engine is not woken on every unchanged tick) yet advances the
// liveness a runner reads on its timer.
func TestMonitorUnchangedPriceIsLivenessNotADelivery(t *testing.T) {
	m := newMonitor(t, pricefeed.WithInterval(0))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := m.Subscribe(ctx)
	m.Publish(100, t0)
	require.Equal(t, exchange.Ticks(100), recv(t, ch))
	for k := 1; k <= 50; k++ {
		m.Publish(100, t0.Add(time.Duration(k)*time.Second))
	}
	m.Publish(101, t0.Add(51*time.Second))
	// The next delivery is the change, not one of the 50 repeats.
	p, ok := <-ch
	require.True(t, ok)
	assert.Equal(t, pricefeed.Price{Ticks: 101, Time: t0.Add(51 * time.Second)}, p)
	assert.Equal(t, uint64(52), m.Liveness().Messages)
}

// TestQuietLiveFeedKeepsStaleFeedMonitorCleared is issue 10, bug 2 end to
// end between the price monitor and risk's stale-feed monitor, as a runner
// wires them: prices delivered by the subscription become KindPrice
// observations, and on each timer tick the runner reads Liveness and sends
// a KindAlive observation stamped with its clock. A flat market (the same
// price every second for ten minutes) never pauses entries; without the
// liveness observations it does, which is the bug.
func TestQuietLiveFeedKeepsStaleFeedMonitorCleared(t *testing.T) {
	for _, withLiveness := range []bool{true, false} {
		m := newMonitor(t)
		sf, err := risk.NewStaleFeed(risk.DefaultStaleFeedConfig("BTCUSDT"))
		require.NoError(t, err)
		rules := exchange.Rules{Symbol: "BTCUSDT", TickSize: decimal.RequireFromString("0.1")}
		triggered := false
		var delivered exchange.Ticks
		for sec := 0; sec <= 600; sec++ {
			now := t0.Add(time.Duration(sec) * time.Second)
			m.Publish(600000, now.Add(-200*time.Millisecond)) // the venue's event time, just before our clock
			// The subscription delivers changes only: the first price.
			if p, _, _ := m.Latest(); p != delivered {
				delivered = p
				triggered = sf.Observe(risk.Observation{Time: now, Kind: risk.KindPrice, Symbol: "BTCUSDT", Price: rules.TicksToPrice(p)}).Triggered || triggered
			}
			if sec%10 == 0 { // the runner's timer
				o := risk.Observation{Time: now, Kind: risk.KindTimer}
				if withLiveness {
					l := m.Liveness()
					o = risk.Observation{Time: now, Kind: risk.KindAlive, Symbol: "BTCUSDT", Price: rules.TicksToPrice(l.Price.Ticks), Heard: l.Price.Time}
				}
				triggered = sf.Observe(o).Triggered || triggered
			}
		}
		assert.Equal(t, !withLiveness, triggered, "with liveness: %v", withLiveness)
	}
}
