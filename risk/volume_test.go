package risk

import (
	"testing"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bar returns a 1m candle of symbol opening at minute n after t0.
func bar(symbol string, n int, vol, close string, closed bool) Observation {
	open := at(time.Duration(n) * time.Minute)
	return Observation{Time: open.Add(time.Minute - time.Millisecond), Kind: KindKline, Symbol: symbol,
		Kline: exchange.Kline{Symbol: symbol, Interval: "1m", OpenTime: open, CloseTime: open.Add(time.Minute - time.Millisecond),
			Open: d(close), High: d(close), Low: d(close), Close: d(close), Volume: d(vol), Closed: closed}}
}

func spikeConfig(dir Direction) VolumeSpikeConfig {
	c := DefaultVolumeSpikeConfig(dir, "AUSDT", "BUSDT")
	c.Window = 3
	c.Multiplier = d("2")
	return c
}

// warm feeds three quiet bars (volume 10, close 100) of both symbols.
func warm(t *testing.T, m Monitor) {
	for n := 0; n < 3; n++ {
		for _, s := range []string{"AUSDT", "BUSDT"} {
			require.False(t, m.Observe(bar(s, n, "10", "100", true)).Triggered)
		}
	}
}

func TestVolumeSpikeDefaults(t *testing.T) {
	c := DefaultVolumeSpikeConfig(Long)
	assert.Equal(t, []string{"BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT"}, c.Symbols)
	assert.Equal(t, 20, c.Window)
	assert.Equal(t, "3", c.Multiplier.String())
	assert.Equal(t, 5, c.TriggerQuorum)
	assert.Equal(t, 3, c.ClearQuorum)
	assert.Equal(t, "1m", c.Interval)
	assert.Equal(t, 2, DefaultVolumeSpikeConfig(Short, "A", "B").ClearQuorum)
	assert.Equal(t, 1, DefaultVolumeSpikeConfig(Short, "A").ClearQuorum)
}

func TestVolumeSpikeLong(t *testing.T) {
	m, err := NewVolumeSpike(spikeConfig(Long))
	require.NoError(t, err)
	assert.Equal(t, "volume-spike", m.Name())
	warm(t, m)
	run(t, m, []step{
		{o: bar("AUSDT", 3, "25", "99", true)}, // anomalous alone: 1 of 2
		{o: bar("BUSDT", 3, "30", "98", true), triggered: true,
			reason: "2/2 symbols anomalous on the 1m bar of 2025-01-01T00:03:00Z (need 2): AUSDT volume 2.50× MA3, close 99 below MA3 100; BUSDT volume 3.00× MA3, close 98 below MA3 100"},
		// A normalises (volume 10 < 2 × 15, close 101 above MA 99.67); B is still anomalous.
		{o: bar("AUSDT", 4, "10", "101", true), triggered: true},
		{o: bar("BUSDT", 4, "50", "97", true), triggered: true},
		// Hysteresis: B's volume is back to normal but its close is still
		// below its average, so it has not normalised.
		{o: bar("AUSDT", 5, "10", "101", true), triggered: true},
		{o: bar("BUSDT", 5, "12", "98", true), triggered: true},
		{o: bar("AUSDT", 6, "10", "101", true), triggered: true},
		{o: bar("BUSDT", 6, "12", "99", true), triggered: false,
			reason: "2/2 symbols normalised on the 1m bar of 2025-01-01T00:06:00Z (need 2): AUSDT volume 0.67× MA3, close 101 above MA3 100.33333333; BUSDT volume 0.39× MA3, close 99 above MA3 97.66666667"},
	})
}

func TestVolumeSpikeFormingAndFiltering(t *testing.T) {
	m, err := NewVolumeSpike(spikeConfig(Long))
	require.NoError(t, err)
	warm(t, m)
	other := bar("AUSDT", 3, "1000", "1", true)
	other.Kline.Interval = "5m"
	run(t, m, []step{
		{o: other},                               // another interval
		{o: bar("CUSDT", 3, "1000", "1", true)},  // not in the basket
		{o: bar("AUSDT", 2, "1000", "1", true)},  // a repeated closed bar
		{o: bar("AUSDT", 1, "1000", "1", false)}, // an old bar
		{o: bar("AUSDT", 3, "15", "99", false)},  // forming, not yet a spike
		{o: bar("AUSDT", 3, "21", "99", false)},  // forming spike: 1 of 2
		{o: bar("BUSDT", 3, "21", "99.9", false), triggered: true,
			reason: "2/2 symbols anomalous on the 1m bar of 2025-01-01T00:03:00Z (need 2): AUSDT volume 2.10× MA3, close 99 below MA3 100; BUSDT volume 2.10× MA3, close 99.9 below MA3 100"},
	})
	// Bars must coincide: A's spike on bar 3 and B's on bar 4 are not a quorum.
	m, _ = NewVolumeSpike(spikeConfig(Long))
	warm(t, m)
	run(t, m, []step{
		{o: bar("AUSDT", 3, "30", "90", true)},
		{o: bar("BUSDT", 3, "10", "100", true)},
		{o: bar("BUSDT", 4, "30", "90", true)},
	})
}

func TestVolumeSpikeDirections(t *testing.T) {
	// A spike with closes above the average hurts a short grid, not a long one.
	up := func(dir Direction) bool {
		m, err := NewVolumeSpike(spikeConfig(dir))
		require.NoError(t, err)
		warm(t, m)
		m.Observe(bar("AUSDT", 3, "30", "101", true))
		return m.Observe(bar("BUSDT", 3, "30", "102", true)).Triggered
	}
	assert.False(t, up(Long))
	assert.True(t, up(Short))
	assert.True(t, up(Neutral))

	// Neutral clears on volume alone, whichever side the close is on.
	m, _ := NewVolumeSpike(spikeConfig(Neutral))
	warm(t, m)
	run(t, m, []step{
		{o: bar("AUSDT", 3, "30", "101", true)},
		{o: bar("BUSDT", 3, "30", "99", true), triggered: true},
		{o: bar("AUSDT", 4, "10", "90", true), triggered: true},
		{o: bar("BUSDT", 4, "10", "110", true), triggered: false,
			reason: "2/2 symbols normalised on the 1m bar of 2025-01-01T00:04:00Z (need 2): AUSDT volume 0.60× MA3, close 90 below MA3 100.33333333; BUSDT volume 0.60× MA3, close 110 above MA3 99.66666667"},
	})

	// A lower clear quorum: one of two normalised is enough.
	c := spikeConfig(Long)
	c.ClearQuorum = 1
	m, _ = NewVolumeSpike(c)
	warm(t, m)
	run(t, m, []step{
		{o: bar("AUSDT", 3, "30", "99", true)},
		{o: bar("BUSDT", 3, "30", "99", true), triggered: true},
		{o: bar("AUSDT", 4, "10", "101", true), triggered: false},
	})
}
