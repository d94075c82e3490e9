package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/risk"
)

func TestFundingWindow(t *testing.T) {
	m := &FundingWindow{Every: 8 * time.Hour, Before: 10 * time.Minute, After: 5 * time.Minute}
	at := func(hhmm string) risk.Status {
		ts, err := time.Parse("2006-01-02 15:04", "2025-05-04 "+hhmm)
		require.NoError(t, err)
		return m.Observe(risk.Observation{Time: ts, Kind: risk.KindTimer})
	}
	assert.False(t, at("15:49").Triggered)
	s := at("15:50")
	assert.True(t, s.Triggered)
	assert.Equal(t, "funding settlement at 16:00 UTC", s.Reason)
	assert.True(t, at("16:04").Triggered)
	s = at("16:05")
	assert.False(t, s.Triggered)
	assert.Equal(t, "clear of the funding settlement", s.Reason)
	assert.True(t, at("23:55").Triggered)
	assert.True(t, at("00:02").Triggered)
	assert.False(t, (&FundingWindow{}).Observe(risk.Observation{Time: time.Now()}).Triggered, "zero value never triggers")
}

func TestRunComparesWithAndWithoutMonitors(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(&out))
	s := out.String()
	assert.Contains(t, s, "round trips     250               249")
	assert.Contains(t, s, "candles paused  0                 1350")
	assert.Contains(t, s, "monitor triggers: funding-window 90, price-band 0")
	assert.Contains(t, s, "2025-05-04 15:50 funding-window: funding settlement at 16:00 UTC")
}
