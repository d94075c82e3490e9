package backtest

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/sim"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/pricefeed"
	"github.com/gridmesh/gridmesh/risk"
)

// riskLog is a thread-safe noteLog: the runner's owner goroutine writes it.
type riskLog struct {
	grid.NopObserver
	mu    sync.Mutex
	notes []grid.RiskNote
}

func (l *riskLog) Risk(n grid.RiskNote) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.notes = append(l.notes, n)
}

func (l *riskLog) all() []grid.RiskNote {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]grid.RiskNote(nil), l.notes...)
}

// runLive replays candles through grid.Runner against sim.Venue in
// lockstep (as TestRunnerAgreesWithBacktest does), with monitor m on a
// 10-minute cool-down, and returns the engine's risk notes: paper trading,
// where the monitors see only what the venue's streams tell the runner.
func runLive(t *testing.T, candles []pricefeed.Candle, rules exchange.Rules, balance, interval, amount string, m risk.Monitor) []grid.RiskNote {
	t.Helper()
	lr := newLiveRun(t, candles[0], rules, balance, interval, amount, m)
	ls := lr.start(lr.venue)
	ls.begin(candles[0])
	for _, c := range candles {
		ls.candle(c)
	}
	ls.stop()
	return lr.log.all()
}

// liveRun is the venue, the grid and the notes of a paper-trading run of
// a long trailing geometric grid with its monitors (10-minute cool-down),
// the grid the backtest's risk tests run (runWithMonitor).
type liveRun struct {
	t     *testing.T
	venue *sim.Venue
	eng   *grid.Engine
	log   *riskLog
	clock atomic.Int64 // the replay's clock: the runner's and the venue's
}

func newLiveRun(t *testing.T, first pricefeed.Candle, rules exchange.Rules, balance, interval, amount string, ms ...risk.Monitor) *liveRun {
	t.Helper()
	sc := sim.DefaultCoreConfig(rules)
	var err error
	sc.InitialBalance, err = rules.DecimalToMoney(dec(balance))
	require.NoError(t, err)
	sc.Leverage = 10
	lr := &liveRun{t: t, log: &riskLog{}}
	lr.venue, err = sim.NewVenue(sim.VenueConfig{Core: sc, Clock: func() time.Time { return time.UnixMilli(lr.clock.Load()) }})
	require.NoError(t, err)
	opts := []grid.Option{grid.WithGridID("risk"), grid.WithStartPrice(rules.TicksToPrice(first.Open)),
		grid.WithMode(grid.Long), grid.WithTrailing(dec(interval), 30), grid.WithGeometric(), grid.WithAmount(dec(amount)), grid.WithWindows(10, 10, 2),
		grid.WithObserver(lr.log)}
	if len(ms) > 0 {
		opts = append(opts, grid.WithRiskMonitors(10*time.Minute, ms...))
	}
	lr.eng, err = grid.New(rules, opts...)
	require.NoError(t, err)
	return lr
}

// start starts the runner against ex (the venue or a wrapper of it).
func (lr *liveRun) start(ex exchange.IExchange, opts ...grid.RunnerOption) *lockstep {
	return startLockstep(lr.t, lr.venue, ex, lr.eng, &lr.clock, opts...)
}

// TestExposurePausesAndResumesInPaperTrading: the simulated venue now sends
// an account update with the positions after every batch of fills, so the
// exposure monitor sees the position through the runner (issue 10, bug 1:
// it used to hear only of funding and liquidations).
func TestExposurePausesAndResumesInPaperTrading(t *testing.T) {
	defer goleak.VerifyNone(t)
	btc := loadBTCMonth(t)
	// 2025-05-12 12:00 to 2025-05-13 12:00: the first cycles of the backtest's.
	from := (time.Date(2025, 5, 12, 12, 0, 0, 0, time.UTC).UnixMilli() - btc[0].OpenTime) / 60_000
	m, err := risk.NewExposure(risk.ExposureConfig{Name: "exposure", Symbol: "BTCUSDT", MaxQty: dec("0.05"), ClearRatio: dec("0.9")})
	require.NoError(t, err)
	notes := runLive(t, btc[from:from+1440], btcRules, "10000", "0.005", "1000", m)
	c := firstCycle(t, notes, "exposure")
	assert.True(t, strings.HasPrefix(c.trigger.Reason, "BTCUSDT position 0.05"), c.trigger.Reason)
	assert.Contains(t, c.trigger.Reason, "exceeds the maximum 0.05")
	assert.Contains(t, c.clear.Reason, "back within 90.00% of the maximum")
	assert.False(t, c.resume.Time.Before(c.clear.Time.Add(10*time.Minute)), "resumed at %s, cleared at %s", c.resume.Time, c.clear.Time)
}

// TestLiquidationDistancePausesAndResumesInPaperTrading: the venue's
// account updates carry each position's liquidation price, so the
// liquidation-distance monitor works through the runner on the NEAR crash.
func TestLiquidationDistancePausesAndResumesInPaperTrading(t *testing.T) {
	defer goleak.VerifyNone(t)
	near, _ := loadNearCrash(t)
	m, err := risk.NewLiquidationDistance(risk.LiquidationDistanceConfig{Name: "liquidation-distance", Symbol: "NEARUSDT", MinDistance: dec("0.3"), ClearDistance: dec("0.35")})
	require.NoError(t, err)
	notes := runLive(t, near, nearRules, "1000", "0.01", "150", m)
	c := firstCycle(t, notes, "liquidation-distance")
	assert.Contains(t, c.trigger.Reason, "from the long position's liquidation price")
	assert.Contains(t, c.trigger.Reason, "(limit 30.00%)")
	assert.Contains(t, c.clear.Reason, "(clear level 35.00%)")
	assert.False(t, c.resume.Time.Before(c.clear.Time.Add(10*time.Minute)))
}
