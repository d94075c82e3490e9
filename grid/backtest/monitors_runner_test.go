package backtest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/pricefeed"
	"github.com/gridmesh/gridmesh/risk"
)

// The remaining built-in monitors end to end through grid.Runner against
// sim.Venue (issue 10): each pauses entries on its own data as the runner
// sees it live — the grid's books and the polled account on the runner's
// timer, the feed's prices, the venue's candles — and resumes after its
// clear and the 10-minute cool-down. The backtest's twins are in
// risk_e2e_test.go; the runner's timer runs in real time here (at the
// replay's time), so only the reasons' form and the order of events are
// pinned, not the minute.

// TestDrawdownPausesAndResumesInPaperTrading runs both drawdowns through
// the runner over the fall of 2025-05-19 (BTC −4.7 % from 23:30 to 06:38,
// recovered by the afternoon): the grid's own (its books at the last price,
// observed on the runner's timer, net of fees and funding) and the
// account's (wallet + unrealized from the venue's Account, polled with
// WithAccountPoll).
func TestDrawdownPausesAndResumesInPaperTrading(t *testing.T) {
	defer goleak.VerifyNone(t)
	btc := loadBTCMonth(t)
	from := (time.Date(2025, 5, 18, 20, 0, 0, 0, time.UTC).UnixMilli() - btc[0].OpenTime) / 60_000
	day := btc[from : from+1440]
	for _, tc := range []struct {
		cfg  risk.DrawdownConfig
		what string
	}{
		{risk.DrawdownConfig{Name: "drawdown", Source: risk.DrawdownGrid, Capital: dec("10000"), MaxDrawdown: dec("0.01"), ClearDrawdown: dec("0.005")}, "grid equity "},
		{risk.DrawdownConfig{Name: "drawdown", MaxDrawdown: dec("0.01"), ClearDrawdown: dec("0.005")}, "equity "},
	} {
		t.Run(tc.cfg.Source.String(), func(t *testing.T) {
			m, err := risk.NewDrawdown(tc.cfg)
			require.NoError(t, err)
			lr := newLiveRun(t, day[0], btcRules, "10000", "0.005", "1000", m)
			ls := lr.start(lr.venue, grid.WithTimerInterval(2*time.Millisecond), grid.WithAccountPoll(time.Minute))
			ls.begin(day[0])
			for _, c := range day {
				ls.candle(c)
			}
			ls.stop()
			c := firstCycle(t, lr.log.all(), "drawdown")
			assert.Regexp(t, `^`+tc.what+`\d+\.\d+ is \d\.\d\d% below its peak \d+\.\d+ at 2025-05-19T\d\d:\d\d:\d\dZ \(limit 1\.00%\)$`, c.trigger.Reason)
			assert.Regexp(t, `^`+tc.what+`\d+\.\d+ is back within 0\.[0-4]\d% of its peak \d+\.\d+ at 2025-05-19T\d\d:\d\d:\d\dZ \(clear level 0\.50%\)$`, c.clear.Reason)
			assert.False(t, c.resume.Time.Before(c.clear.Time.Add(10*time.Minute)), "resumed at %s, cleared at %s", c.resume.Time, c.clear.Time)
		})
	}
}

// TestPriceBandPausesAndResumesInPaperTrading: the circuit breaker on the
// NEAR crash, fed the prices the runner takes from its feed (each candle's
// four ticks at their times): 5 % in 15 minutes of market time.
func TestPriceBandPausesAndResumesInPaperTrading(t *testing.T) {
	defer goleak.VerifyNone(t)
	near, _ := loadNearCrash(t)
	m, err := risk.NewPriceBand(risk.DefaultPriceBandConfig("NEARUSDT"))
	require.NoError(t, err)
	notes := runLive(t, near, nearRules, "1000", "0.01", "150", m)
	c := firstCycle(t, notes, "price-band")
	assert.Equal(t, "NEARUSDT fell 6.77% within 15m0s at 2025-02-02T22:41:30Z: from 3.752 to 3.498 (limit 5.00%)", c.trigger.Reason)
	assert.Equal(t, c.trigger.Time, c.pause.Time)
	assert.Equal(t, "2025-02-02T22:56:45Z", utc(c.clear.Time))
	assert.Equal(t, "2025-02-02T23:06:45Z", utc(c.resume.Time), "at the first price after the 10-minute cool-down")
}

// TestVolumeSpikePausesAndResumesInPaperTrading: the basket monitor on the
// NEAR crash with AVAX as the basket, fed the closed 1-minute candles of
// both (with their volumes) by the venue's candle streams, which the
// runner subscribes with WithRiskKlines.
func TestVolumeSpikePausesAndResumesInPaperTrading(t *testing.T) {
	defer goleak.VerifyNone(t)
	near, avax := loadNearCrash(t)
	m, err := risk.NewVolumeSpike(risk.DefaultVolumeSpikeConfig(risk.Long, "NEARUSDT", "AVAXUSDT"))
	require.NoError(t, err)
	lr := newLiveRun(t, near[0], nearRules, "1000", "0.01", "150", m)
	kv := newKlineVenue(lr.venue)
	ls := lr.start(kv, grid.WithRiskKlines("1m", "AVAXUSDT"))
	ls.begin(near[0])
	ai := 0
	for _, c := range near {
		ls.candle(c)
		ls.kline(candleKline(nearRules, c))
		for ai < len(avax) && avax[ai].OpenTime < c.OpenTime {
			ai++
		}
		if ai < len(avax) && avax[ai].OpenTime == c.OpenTime {
			ls.kline(candleKline(avaxRules, avax[ai]))
		}
	}
	ls.stop()
	c := firstCycle(t, lr.log.all(), "volume-spike")
	// As in the backtest (TestVolumeSpikePausesAndResumesInABacktest): the
	// spike of the 03:01 bar, seen at its close.
	assert.Equal(t, "2025-02-02T03:01:59Z", utc(c.trigger.Time))
	assert.Contains(t, c.trigger.Reason, "2/2 symbols anomalous on the 1m bar of 2025-02-02T03:01:00Z")
	assert.Equal(t, "2025-02-02T03:04:59Z", utc(c.clear.Time))
	assert.Equal(t, "2025-02-02T03:42:59Z", utc(c.resume.Time), "a second spike at 03:14 restarted the cool-down; the clear at 03:32:59, ten minutes on")
}

// candleKline is c as a closed 1-minute candle of rules' symbol, with its volume.
func candleKline(rules exchange.Rules, c pricefeed.Candle) exchange.Kline {
	open := time.UnixMilli(c.OpenTime)
	return exchange.Kline{
		Symbol: rules.Symbol, Interval: "1m", OpenTime: open, CloseTime: open.Add(time.Minute - time.Millisecond),
		Open: rules.TicksToPrice(c.Open), High: rules.TicksToPrice(c.High), Low: rules.TicksToPrice(c.Low), Close: rules.TicksToPrice(c.Close),
		Volume: rules.StepsToQty(c.Volume), Closed: true,
	}
}
