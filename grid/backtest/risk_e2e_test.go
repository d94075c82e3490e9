package backtest

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/sim"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/pricefeed"
	"github.com/gridmesh/gridmesh/risk"
)

// TestPositionModeMismatchIsRefused is the regression test of issue 10's
// misconfiguration: a grid in one position mode against a simulator in the
// other used to run to the end with no error, 0 trades and every order
// refused. Run refuses it at start, naming both settings.
func TestPositionModeMismatchIsRefused(t *testing.T) {
	candles := []pricefeed.Candle{candle(t, 0, "102", "103", "99", "101"), candle(t, 1, "101", "106", "100.5", "106")}
	for _, tc := range []struct {
		gridMode, simMode exchange.PositionMode
		want              string
	}{
		{exchange.Hedge, exchange.OneWay, "backtest: the grid's position mode (grid.WithPositionMode) is HEDGE but the simulator's (Config.Sim.PositionMode) is ONE_WAY: they must match"},
		{exchange.OneWay, exchange.Hedge, "backtest: the grid's position mode (grid.WithPositionMode) is ONE_WAY but the simulator's (Config.Sim.PositionMode) is HEDGE: they must match"},
	} {
		sc := sim.DefaultCoreConfig(handRules)
		sc.InitialBalance, _ = handRules.DecimalToMoney(dec("1000"))
		sc.PositionMode = tc.simMode
		_, err := Run(candles, Config{Rules: handRules, Sim: sc, Grid: []grid.Option{
			grid.WithMode(grid.Neutral), grid.WithBounds(dec("90"), dec("110"), 4), grid.WithQuantity(dec("1")), grid.WithPositionMode(tc.gridMode),
		}})
		require.Error(t, err)
		var ce *ConfigError
		require.True(t, errors.As(err, &ce), "%T", err)
		assert.ErrorIs(t, err, exchange.ErrPositionMode)
		assert.Contains(t, err.Error(), tc.want)
	}
}

// obsRecorder is a monitor that records what it sees and never triggers.
type obsRecorder struct{ obs []risk.Observation }

func (r *obsRecorder) Name() string { return "recorder" }
func (r *obsRecorder) Observe(o risk.Observation) risk.Status {
	r.obs = append(r.obs, o)
	return risk.Status{}
}

// TestObservationsCarryTheReplayClockAndTheirData checks what every
// built-in monitor is fed in a backtest: observations in time order, each
// stamped with the replay's clock (a fill with its tick's time, the rest
// with the candle's end), never the wall clock; account observations
// carrying the venue's positions (quantity, mark, liquidation price) and
// equity; and the grid's own books.
func TestObservationsCarryTheReplayClockAndTheirData(t *testing.T) {
	sc := sim.DefaultCoreConfig(handRules)
	sc.InitialBalance, _ = handRules.DecimalToMoney(dec("1000"))
	sc.Leverage = 10
	candles := []pricefeed.Candle{
		candle(t, 0, "102", "103", "99", "101"),
		candle(t, 1, "101", "106", "100.5", "106"),
		candle(t, 2, "106", "111", "94", "96"),
		candle(t, 3, "96", "101", "96", "101"),
	}
	rec := &obsRecorder{}
	_, err := Run(candles, Config{Rules: handRules, Sim: sc, Slippage: &Slippage{}, Grid: []grid.Option{
		grid.WithBounds(dec("90"), dec("110"), 4), grid.WithQuantity(dec("1")), grid.WithRiskMonitors(0, rec),
	}})
	require.NoError(t, err)
	start := time.UnixMilli(candles[0].OpenTime)
	end := time.UnixMilli(candles[len(candles)-1].OpenTime).Add(time.Minute)
	kinds := map[risk.ObservationKind]int{}
	fillAt := map[time.Time]bool{}
	accountsAfterFills, booksAfterFills := 0, 0
	var last time.Time
	for i, o := range rec.obs {
		kinds[o.Kind]++
		require.False(t, o.Time.Before(last), "observation %d (%s) at %s is before the one before it at %s", i, o.Kind, o.Time, last)
		require.False(t, o.Time.Before(start) || o.Time.After(end), "observation %d (%s) at %s is outside the replay", i, o.Kind, o.Time)
		last = o.Time
		switch {
		case o.Kind == risk.KindFill:
			assert.Equal(t, o.Time, o.Fill.Time)
			assert.Zero(t, o.Time.Sub(start)%(15*time.Second), "fill %d at %s is not at a tick", i, o.Time)
			fillAt[o.Time] = true
		case o.Kind == risk.KindAccount && fillAt[o.Time] && o.Time.Sub(start)%time.Minute != 0:
			accountsAfterFills++ // the account after a fill, at the fill's time
		case o.Kind == risk.KindBooks && fillAt[o.Time] && o.Time.Sub(start)%time.Minute != 0:
			booksAfterFills++
		default:
			assert.Zero(t, o.Time.Sub(start)%time.Minute, "observation %d (%s) at %s is not at a candle's end", i, o.Kind, o.Time)
		}
	}
	assert.Equal(t, 4, kinds[risk.KindKline])
	assert.Equal(t, 4, kinds[risk.KindPrice])
	assert.Equal(t, 8, kinds[risk.KindFill], "one per fill, at its tick's time")
	assert.Positive(t, accountsAfterFills)
	assert.Equal(t, accountsAfterFills, booksAfterFills)
	assert.GreaterOrEqual(t, kinds[risk.KindAccount], 4+accountsAfterFills, "one per candle, and one after each batch of fills")
	assert.Equal(t, kinds[risk.KindAccount], kinds[risk.KindBooks], "the grid's books beside each account observation")

	// After the last candle: 2 held at 101, in one-way mode. The venue
	// books average entry (buys 102, 100; sells 105, 110; buys 105, 100,
	// 95 → 3 at 100; sell 100 → 2 at 100): entry 100, unrealized +2, wallet
	// 1012.806. The grid books per slot (1 @105, 1 @100): unrealized −3,
	// realized 18. Both come to the same equity change, 14.806.
	var acct, books risk.Observation
	for _, o := range rec.obs {
		switch o.Kind {
		case risk.KindAccount:
			acct = o // the last is the candle's end
		case risk.KindBooks:
			books = o
		}
	}
	require.Len(t, acct.Positions, 1)
	p := acct.Positions[0]
	assert.Equal(t, "TESTUSDT", p.Symbol)
	assert.Equal(t, exchange.PositionBoth, p.PositionSide)
	assert.Equal(t, "2", p.Quantity.String())
	assert.Equal(t, "100", p.EntryPrice.String())
	assert.Equal(t, "101", p.MarkPrice.String())
	assert.Equal(t, "2", p.UnrealizedPnL.String())
	assert.True(t, p.LiquidationPrice.IsZero(), "1000 USDT carries 2 units at 10x: no liquidation price above zero")
	assert.Equal(t, "1014.806", acct.Account.TotalMargin.String())
	assert.Equal(t, "1012.806", acct.Account.TotalWallet.String())
	// The grid's own books: realized 18, fees 0.194, unrealized −3 at 101.
	b := books.Books
	assert.Equal(t, []string{"18", "-3", "0.194", "0"}, []string{b.Realized.String(), b.Unrealized.String(), b.Fees.String(), b.Funding.String()})
	assert.Equal(t, "14.806", books.Books.Net().String())
}

// noteLog records the engine's risk notes.
type noteLog struct {
	grid.NopObserver
	notes []grid.RiskNote
}

func (n *noteLog) Risk(r grid.RiskNote) { n.notes = append(n.notes, r) }

// riskCycle is one pause and resume of the grid by one monitor, as the
// engine reported it.
type riskCycle struct {
	trigger, pause, clear, resume grid.RiskNote
}

// firstCycle finds monitor's first trigger, the pause it caused, its
// clear and the resume that followed, failing the test when one is missing.
func firstCycle(t *testing.T, notes []grid.RiskNote, monitor string) riskCycle {
	t.Helper()
	var c riskCycle
	step := 0
	for _, n := range notes {
		switch {
		case step == 0 && n.Monitor == monitor && n.Triggered:
			c.trigger, step = n, 1
		case step == 1 && n.Monitor == "" && n.Paused && !n.Halted:
			c.pause, step = n, 2
		case step == 2 && n.Monitor == monitor && !n.Triggered:
			c.clear, step = n, 3
		case step == 3 && n.Monitor == "" && !n.Paused && n.Reason == "resumed":
			c.resume, step = n, 4
		}
	}
	if step != 4 {
		for _, n := range notes {
			t.Logf("%+v", n)
		}
	}
	require.Equal(t, 4, step, "monitor %s: no full trigger → pause → clear → resume cycle in %d notes", monitor, len(notes))
	return c
}

func utc(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// runWithMonitor backtests a long trailing geometric grid with one monitor
// (10-minute cool-down) and returns the result and the engine's risk notes.
func runWithMonitor(t *testing.T, candles []pricefeed.Candle, rules exchange.Rules, balance, interval, amount string, m risk.Monitor, basket map[string][]pricefeed.Candle) (Result, []grid.RiskNote) {
	t.Helper()
	sc := sim.DefaultCoreConfig(rules)
	var err error
	sc.InitialBalance, err = rules.DecimalToMoney(dec(balance))
	require.NoError(t, err)
	sc.Leverage = 10
	log := &noteLog{}
	cfg := Config{Rules: rules, Sim: sc, Grid: []grid.Option{
		grid.WithMode(grid.Long), grid.WithTrailing(dec(interval), 30), grid.WithGeometric(), grid.WithAmount(dec(amount)), grid.WithWindows(10, 10, 2),
		grid.WithRiskMonitors(10*time.Minute, m), grid.WithObserver(log),
	}}
	if basket != nil {
		cfg.Basket, cfg.BasketRules = basket, map[string]exchange.Rules{"AVAXUSDT": avaxRules}
	}
	res, err := Run(candles, cfg)
	require.NoError(t, err)
	return res, log.notes
}

func loadNearCrash(t *testing.T) (near, avax []pricefeed.Candle) {
	t.Helper()
	near, err := pricefeed.ReadCandlesFile("../../risk/testdata/NEARUSDT-1m-2025-02-02_03.csv.gz", nearRules)
	require.NoError(t, err)
	avax, err = pricefeed.ReadCandlesFile("../../risk/testdata/AVAXUSDT-1m-2025-02-02_03.csv.gz", avaxRules)
	require.NoError(t, err)
	return near, avax
}

func loadBTCMonth(t *testing.T) []pricefeed.Candle {
	t.Helper()
	btc, err := pricefeed.ReadCandlesFile(shippedMonth, btcRules)
	require.NoError(t, err)
	return btc
}

// TestExposurePausesAndResumesInABacktest is issue 10, bug 1 end to end:
// the exposure monitor used to be inert in a backtest (the account
// observation carried no position), so a long grid held far more than its
// cap. It now pauses entries when the position passes 0.05 BTC and resumes
// once exits have brought it back under 90 % of that, on the shipped month.
func TestExposurePausesAndResumesInABacktest(t *testing.T) {
	m, err := risk.NewExposure(risk.ExposureConfig{Name: "exposure", Symbol: "BTCUSDT", MaxQty: dec("0.05"), ClearRatio: dec("0.9")})
	require.NoError(t, err)
	res, notes := runWithMonitor(t, loadBTCMonth(t), btcRules, "10000", "0.005", "1000", m, nil)
	c := firstCycle(t, notes, "exposure")
	// The account after the fill that passed the cap: paused at the fill's tick.
	assert.Equal(t, "BTCUSDT position 0.054 exceeds the maximum 0.05 at 2025-05-12T14:29:30Z", c.trigger.Reason)
	assert.Equal(t, "2025-05-12T14:29:30Z", utc(c.pause.Time))
	assert.Equal(t, "BTCUSDT position 0.045 (notional 4652.883) back within 90.00% of the maximum at 2025-05-12T14:40:30Z", c.clear.Reason)
	assert.Equal(t, "2025-05-12T14:51:00Z", utc(c.resume.Time), "at the first observation after the 10-minute cool-down")
	assert.Positive(t, res.PausedCandles)
	// Paused, the grid places no entry: the position overshoots the cap by
	// what one candle's fills add, never by layers more.
	assert.True(t, res.MaxPosition.LessThan(dec("0.1")), "max position %s", res.MaxPosition)
}

// TestLiquidationDistancePausesAndResumesInABacktest: on the NEAR crash,
// with positions and their liquidation prices now in the backtest's account
// observations, the liquidation-distance monitor pauses a 10× long grid
// when the price comes within 30 % of its liquidation price and resumes it
// when the distance is back over 35 %.
func TestLiquidationDistancePausesAndResumesInABacktest(t *testing.T) {
	near, _ := loadNearCrash(t)
	m, err := risk.NewLiquidationDistance(risk.LiquidationDistanceConfig{Name: "liquidation-distance", Symbol: "NEARUSDT", MinDistance: dec("0.3"), ClearDistance: dec("0.35")})
	require.NoError(t, err)
	res, notes := runWithMonitor(t, near, nearRules, "1000", "0.01", "150", m, nil)
	c := firstCycle(t, notes, "liquidation-distance")
	assert.Equal(t, "NEARUSDT price 3.575 is 27.24% from the long position's liquidation price 2.601 at 2025-02-02T22:41:30Z (limit 30.00%)", c.trigger.Reason)
	assert.Equal(t, "NEARUSDT price 3.661 is 36.27% from the nearest liquidation price 2.333 at 2025-02-02T22:46:30Z (clear level 35.00%)", c.clear.Reason)
	assert.Equal(t, "2025-02-02T22:57:00Z", utc(c.resume.Time))
	assert.Zero(t, res.Liquidations, "paused in time, the grid is not liquidated")
}

// TestDrawdownPausesAndResumesInABacktest runs both drawdowns on the
// shipped month: the account's (wallet + unrealized from the venue) and
// the grid's own (its books at the last price, net of fees and funding).
// With the grid the account's only trader, they agree to the cent.
func TestDrawdownPausesAndResumesInABacktest(t *testing.T) {
	btc := loadBTCMonth(t)
	for _, tc := range []struct {
		cfg  risk.DrawdownConfig
		what string
	}{
		{risk.DrawdownConfig{Name: "drawdown", MaxDrawdown: dec("0.01"), ClearDrawdown: dec("0.005")}, "equity"},
		{risk.DrawdownConfig{Name: "drawdown", Source: risk.DrawdownGrid, Capital: dec("10000"), MaxDrawdown: dec("0.01"), ClearDrawdown: dec("0.005")}, "grid equity"},
	} {
		t.Run(tc.cfg.Source.String(), func(t *testing.T) {
			m, err := risk.NewDrawdown(tc.cfg)
			require.NoError(t, err)
			res, notes := runWithMonitor(t, btc, btcRules, "10000", "0.005", "1000", m, nil)
			c := firstCycle(t, notes, "drawdown")
			assert.Equal(t, tc.what+" 10176.1483 is 1.03% below its peak 10281.7312 at 2025-05-12T18:05:30Z (limit 1.00%)", c.trigger.Reason)
			assert.Equal(t, tc.what+" 10237.01 is back within 0.43% of its peak 10281.7312 at 2025-05-12T20:54:00Z (clear level 0.50%)", c.clear.Reason)
			assert.Equal(t, "2025-05-12T21:04:00Z", utc(c.resume.Time))
			assert.Positive(t, res.PausedCandles)
		})
	}
}

// TestPriceBandPausesAndResumesInABacktest: the circuit breaker on the NEAR
// crash, 5 % in 15 minutes of market time.
func TestPriceBandPausesAndResumesInABacktest(t *testing.T) {
	near, _ := loadNearCrash(t)
	m, err := risk.NewPriceBand(risk.DefaultPriceBandConfig("NEARUSDT"))
	require.NoError(t, err)
	_, notes := runWithMonitor(t, near, nearRules, "1000", "0.01", "150", m, nil)
	c := firstCycle(t, notes, "price-band")
	assert.Equal(t, "NEARUSDT fell 6.77% within 15m0s at 2025-02-02T22:42:00Z: from 3.752 to 3.498 (limit 5.00%)", c.trigger.Reason)
	assert.Equal(t, "2025-02-02T22:58:00Z", utc(c.clear.Time))
	assert.Equal(t, "2025-02-02T23:08:00Z", utc(c.resume.Time))
}

// TestVolumeSpikePausesAndResumesInABacktest: the basket monitor on the
// NEAR crash with AVAX as the basket.
func TestVolumeSpikePausesAndResumesInABacktest(t *testing.T) {
	near, avax := loadNearCrash(t)
	m, err := risk.NewVolumeSpike(risk.DefaultVolumeSpikeConfig(risk.Long, "NEARUSDT", "AVAXUSDT"))
	require.NoError(t, err)
	_, notes := runWithMonitor(t, near, nearRules, "1000", "0.01", "150", m, map[string][]pricefeed.Candle{"AVAXUSDT": avax})
	c := firstCycle(t, notes, "volume-spike")
	assert.Equal(t, "2025-02-02T03:02:00Z", utc(c.trigger.Time))
	assert.Contains(t, c.trigger.Reason, "2/2 symbols anomalous on the 1m bar of 2025-02-02T03:01:00Z")
	// It clears at 03:05 but triggers again at 03:14, inside the cool-down;
	// the second clear at 03:33 lets entries resume ten minutes later.
	assert.Equal(t, "2025-02-02T03:05:00Z", utc(c.clear.Time))
	assert.Equal(t, "2025-02-02T03:43:00Z", utc(c.resume.Time))
}

// TestStaleFeedPausesAndResumesInABacktest: twenty minutes cut out of the
// NEAR data is a silent feed in market time; the stale-feed monitor pauses
// at the first candle after the gap and resumes once candles flow again.
// The uncut data never trips it: every candle is a minute of market time,
// whatever the replay's speed.
func TestStaleFeedPausesAndResumesInABacktest(t *testing.T) {
	near, _ := loadNearCrash(t)
	cfg := risk.StaleFeedConfig{Name: "stale-feed", Symbol: "NEARUSDT", MaxAge: 5 * time.Minute, ClearPrices: 3}
	m, err := risk.NewStaleFeed(cfg)
	require.NoError(t, err)
	_, notes := runWithMonitor(t, near, nearRules, "1000", "0.01", "150", m, nil)
	for _, n := range notes {
		require.NotEqual(t, "stale-feed", n.Monitor, "continuous data: %s", n.Reason)
	}

	cut := append(append([]pricefeed.Candle(nil), near[:600]...), near[620:]...)
	m, err = risk.NewStaleFeed(cfg)
	require.NoError(t, err)
	_, notes = runWithMonitor(t, cut, nearRules, "1000", "0.01", "150", m, nil)
	c := firstCycle(t, notes, "stale-feed")
	lastBefore := time.UnixMilli(near[599].OpenTime).Add(time.Minute)
	firstAfter := time.UnixMilli(near[620].OpenTime).Add(time.Minute)
	assert.Equal(t, "no NEARUSDT price for 21m0s since the last price at "+utc(lastBefore)+" (limit 5m0s)", c.trigger.Reason)
	assert.Equal(t, utc(firstAfter), utc(c.trigger.Time))
	assert.True(t, c.clear.Time.After(firstAfter) && c.clear.Time.Before(firstAfter.Add(5*time.Minute)), "cleared at %s", c.clear.Time)
	assert.Equal(t, utc(c.clear.Time.Add(10*time.Minute)), utc(c.resume.Time))
}
