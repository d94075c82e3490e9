package risk

import (
	"testing"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func at(offset time.Duration) time.Time { return t0.Add(offset) }

func priceObs(offset time.Duration, symbol, price string) Observation {
	return Observation{Time: at(offset), Kind: KindPrice, Symbol: symbol, Price: d(price)}
}

func timerObs(offset time.Duration) Observation {
	return Observation{Time: at(offset), Kind: KindTimer}
}

func markObs(offset time.Duration, symbol, price string) Observation {
	return Observation{Time: at(offset), Kind: KindMark, Symbol: symbol, Mark: exchange.MarkPriceUpdate{Symbol: symbol, MarkPrice: d(price)}}
}

func accountObs(offset time.Duration, positions ...exchange.Position) Observation {
	return Observation{Time: at(offset), Kind: KindAccount, Positions: positions}
}

func equityObs(offset time.Duration, equity string) Observation {
	return Observation{Time: at(offset), Kind: KindAccount, Account: exchange.Account{TotalMargin: d(equity)}}
}

// step is one observation and the status a monitor must answer.
type step struct {
	o         Observation
	triggered bool
	reason    string // checked when not empty
}

func run(t *testing.T, m Monitor, steps []step) {
	t.Helper()
	for i, s := range steps {
		st := m.Observe(s.o)
		require.Equal(t, s.triggered, st.Triggered, "step %d (%s at %s): %q", i, s.o.Kind, s.o.Time.Format(time.TimeOnly), st.Reason)
		if s.reason != "" {
			require.Equal(t, s.reason, st.Reason, "step %d", i)
		}
	}
}

func TestPriceBand(t *testing.T) {
	m, err := NewPriceBand(DefaultPriceBandConfig("TESTUSDT"))
	require.NoError(t, err)
	assert.Equal(t, "price-band", m.Name())
	run(t, m, []step{
		{o: priceObs(0, "TESTUSDT", "100"), triggered: false},
		{o: priceObs(time.Minute, "TESTUSDT", "100")},
		{o: priceObs(90*time.Second, "OTHERUSDT", "50")}, // another symbol
		{o: priceObs(2*time.Minute, "TESTUSDT", "94.9"), triggered: true,
			reason: "TESTUSDT fell 5.10% within 15m0s at 2025-01-01T00:02:00Z: from 100 to 94.9 (limit 5.00%)"},
		// Hysteresis: 4 % is under the trigger but over the clear level.
		{o: priceObs(3*time.Minute, "TESTUSDT", "96"), triggered: true},
		{o: priceObs(4*time.Minute, "TESTUSDT", "94"), triggered: true},
		{o: timerObs(16 * time.Minute), triggered: true}, // 100 at 1m still in the window
		// At 17m the 100s have aged out: high 96, low 94, last 94: 2.08 %.
		{o: timerObs(17 * time.Minute), triggered: false,
			reason: "TESTUSDT moved at most 2.08% within 15m0s at 2025-01-01T00:17:00Z (high 96, low 94, last 94; clear level 2.50%)"},
		// A move just under the limit does not re-trigger; just over does.
		{o: priceObs(18*time.Minute, "TESTUSDT", "98.7")}, // +5.0% from 94 exactly: not more than 5 %
		{o: priceObs(19*time.Minute, "TESTUSDT", "98.71"), triggered: true,
			reason: "TESTUSDT rose 5.01% within 15m0s at 2025-01-01T00:19:00Z: from 94 to 98.71 (limit 5.00%)"},
	})
}

func TestPriceBandKline(t *testing.T) {
	m, err := NewPriceBand(DefaultPriceBandConfig("TESTUSDT"))
	require.NoError(t, err)
	k := func(o, h, l, c string) Observation {
		return Observation{Time: at(time.Minute), Kind: KindKline, Symbol: "TESTUSDT",
			Kline: exchange.Kline{Symbol: "TESTUSDT", Interval: "1m", Open: d(o), High: d(h), Low: d(l), Close: d(c), Closed: true}}
	}
	// A red candle went open → high → low → close: the fall is from the high.
	run(t, m, []step{{o: k("100", "101", "94", "95"), triggered: true,
		reason: "TESTUSDT fell 6.93% within 15m0s at 2025-01-01T00:01:00Z: from 101 to 94 (limit 5.00%)"}})
	// Candles of another interval are not read.
	m, _ = NewPriceBand(DefaultPriceBandConfig("TESTUSDT"))
	o := k("100", "101", "94", "95")
	o.Kline.Interval = "15m"
	run(t, m, []step{{o: o, triggered: false}})
	// A green one dipped first, then rose from the low.
	m, _ = NewPriceBand(DefaultPriceBandConfig("TESTUSDT"))
	run(t, m, []step{{o: k("100", "106", "99", "105"), triggered: true,
		reason: "TESTUSDT rose 7.07% within 15m0s at 2025-01-01T00:01:00Z: from 99 to 106 (limit 5.00%)"}})
}

func TestMonitorConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"band", func() error { _, err := NewPriceBand(PriceBandConfig{}); return err }(),
			"risk: PriceBandConfig.Name = \"\": must not be empty\n" +
				"risk: PriceBandConfig.Symbol = \"\": must not be empty\n" +
				"risk: PriceBandConfig.Window = 0s: must be positive\n" +
				"risk: PriceBandConfig.MaxMove = 0: must be a fraction in (0, 1)\n" +
				"risk: PriceBandConfig.ClearMove = 0: must be positive and at most MaxMove 0"},
		{"band clear", func() error {
			c := DefaultPriceBandConfig("X")
			c.ClearMove = d("0.06")
			_, err := NewPriceBand(c)
			return err
		}(), "risk: PriceBandConfig.ClearMove = 0.06: must be positive and at most MaxMove 0.05"},
		{"exposure", func() error {
			_, err := NewExposure(ExposureConfig{Name: "e", Symbol: "X", ClearRatio: d("1.5")})
			return err
		}(),
			"risk: ExposureConfig.MaxQty = 0: or MaxNotional must be positive\n" +
				"risk: ExposureConfig.ClearRatio = 1.5: must be a fraction in (0, 1]"},
		{"drawdown", func() error {
			_, err := NewDrawdown(DrawdownConfig{Name: "d", MaxDrawdown: d("0.1"), ClearDrawdown: d("0.2")})
			return err
		}(), "risk: DrawdownConfig.ClearDrawdown = 0.2: must be in [0, MaxDrawdown 0.1]"},
		{"stale", func() error {
			_, err := NewStaleFeed(StaleFeedConfig{Name: "s", Symbol: "X", MaxAge: -time.Second})
			return err
		}(),
			"risk: StaleFeedConfig.MaxAge = -1s: must be positive\n" +
				"risk: StaleFeedConfig.ClearPrices = 0: must be at least 1"},
		{"liquidation", func() error {
			c := DefaultLiquidationDistanceConfig("X")
			c.ClearDistance = d("0.01")
			_, err := NewLiquidationDistance(c)
			return err
		}(), "risk: LiquidationDistanceConfig.ClearDistance = 0.01: must be in [MinDistance 0.05, 1)"},
		{"volume", func() error {
			_, err := NewVolumeSpike(VolumeSpikeConfig{Name: "v", Symbols: []string{"A", "A"}, Window: 0, Multiplier: d("3"), TriggerQuorum: 3, ClearQuorum: 1})
			return err
		}(), "risk: VolumeSpikeConfig.Symbols[1] = A: is listed twice\n" +
			"risk: VolumeSpikeConfig.Window = 0: must be at least 1\n" +
			"risk: VolumeSpikeConfig.Direction = Direction(0): must be LONG, SHORT or NEUTRAL\n" +
			"risk: VolumeSpikeConfig.TriggerQuorum = 3: must be in [1, 2]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Error(t, tc.err)
			assert.Equal(t, tc.want, tc.err.Error())
		})
	}
	for _, err := range []error{
		DefaultPriceBandConfig("X").Validate(),
		DefaultExposureConfig("X", d("1000")).Validate(),
		DefaultDrawdownConfig().Validate(),
		DefaultStaleFeedConfig("X").Validate(),
		DefaultLiquidationDistanceConfig("X").Validate(),
		DefaultVolumeSpikeConfig(Long).Validate(),
	} {
		assert.NoError(t, err)
	}
}

func TestZeroMonitorsAreInert(t *testing.T) {
	obs := []Observation{
		priceObs(0, "", "100"), priceObs(time.Hour, "", "1"), timerObs(2 * time.Hour),
		accountObs(3*time.Hour, exchange.Position{Quantity: d("1000"), LiquidationPrice: d("1")}),
		equityObs(4*time.Hour, "1"), equityObs(5*time.Hour, "1000"), equityObs(6*time.Hour, "1"),
		{Time: at(7 * time.Hour), Kind: KindKline, Kline: exchange.Kline{Volume: d("1e9"), Close: d("1"), Closed: true}},
		aliveObs(8*time.Hour, "", 0), booksObs(9*time.Hour, "-1000", "-1000", "1", "1"),
	}
	for _, m := range []Monitor{&PriceBand{}, &Exposure{}, &Drawdown{}, &StaleFeed{}, &LiquidationDistance{}, &VolumeSpike{}, MonitorFunc{}} {
		for _, o := range obs {
			assert.Equal(t, Status{}, m.Observe(o), "%T", m)
		}
	}
}

func TestExposure(t *testing.T) {
	cfg := DefaultExposureConfig("TESTUSDT", d("1000"))
	cfg.MaxQty = d("10")
	m, err := NewExposure(cfg)
	require.NoError(t, err)
	pos := func(q string) exchange.Position { return exchange.Position{Symbol: "TESTUSDT", Quantity: d(q)} }
	run(t, m, []step{
		{o: priceObs(0, "TESTUSDT", "50")},
		{o: accountObs(time.Second, pos("5"))},
		{o: accountObs(2*time.Second, pos("-11")), triggered: true,
			reason: "TESTUSDT position 11 exceeds the maximum 10 at 2025-01-01T00:00:02Z"},
		{o: accountObs(3*time.Second, exchange.Position{Symbol: "OTHERUSDT"}), triggered: true}, // not ours: kept
		{o: accountObs(4*time.Second, pos("9.5")), triggered: true},                             // above 90 % of 10
		{o: accountObs(5*time.Second, pos("9")), triggered: false,
			reason: "TESTUSDT position 9 (notional 450) back within 90.00% of the maximum at 2025-01-01T00:00:05Z"},
		// The price lifts the notional over 1000.
		{o: priceObs(6*time.Second, "TESTUSDT", "112"), triggered: true,
			reason: "TESTUSDT position 9 × price 112 = notional 1008 exceeds the maximum 1000 at 2025-01-01T00:00:06Z"},
		{o: priceObs(7*time.Second, "TESTUSDT", "105"), triggered: true}, // 945 > 900
		// Once a mark price is seen it is preferred to the last price.
		{o: markObs(8*time.Second, "TESTUSDT", "100"), triggered: false},
		{o: priceObs(9*time.Second, "TESTUSDT", "200"), triggered: false},
	})
	// Hedge legs add up.
	m, _ = NewExposure(cfg)
	run(t, m, []step{
		{o: accountObs(0, exchange.Position{Symbol: "TESTUSDT", PositionSide: exchange.PositionLong, Quantity: d("6")})},
		{o: accountObs(time.Second, exchange.Position{Symbol: "TESTUSDT", PositionSide: exchange.PositionShort, Quantity: d("-5")}), triggered: true,
			reason: "TESTUSDT position 11 exceeds the maximum 10 at 2025-01-01T00:00:01Z"},
	})
}

func TestDrawdown(t *testing.T) {
	m, err := NewDrawdown(DefaultDrawdownConfig())
	require.NoError(t, err)
	run(t, m, []step{
		{o: equityObs(0, "1000")},
		{o: equityObs(time.Minute, "1100")},
		{o: equityObs(2*time.Minute, "990")}, // exactly 10 %: not more
		{o: priceObs(3*time.Minute, "TESTUSDT", "1")},
		{o: equityObs(4*time.Minute, "989"), triggered: true,
			reason: "equity 989 is 10.09% below its peak 1100 at 2025-01-01T00:04:00Z (limit 10.00%)"},
		{o: Observation{Time: at(5 * time.Minute), Kind: KindAccount}, triggered: true}, // no equity in it
		{o: equityObs(6*time.Minute, "1040"), triggered: true},                          // 5.45 %
		{o: Observation{Time: at(7 * time.Minute), Kind: KindAccount, Account: exchange.Account{TotalWallet: d("1045")}}, triggered: false,
			reason: "equity 1045 is back within 5.00% of its peak 1100 at 2025-01-01T00:07:00Z (clear level 5.00%)"},
		{o: equityObs(8*time.Minute, "995")}, // 9.55 %
		{o: equityObs(9*time.Minute, "2000")},
		{o: equityObs(10*time.Minute, "1799"), triggered: true},
	})
}

func TestStaleFeed(t *testing.T) {
	m, err := NewStaleFeed(DefaultStaleFeedConfig("TESTUSDT"))
	require.NoError(t, err)
	s := time.Second
	run(t, m, []step{
		{o: timerObs(0)},
		{o: priceObs(10*s, "TESTUSDT", "1")},
		{o: timerObs(40 * s)}, // 30 s exactly: not more
		// Another symbol's price is not ours, and any observation notices the silence.
		{o: priceObs(41*s, "OTHERUSDT", "1"), triggered: true, reason: "no TESTUSDT price for 31s since the last price at 2025-01-01T00:00:10Z (limit 30s)"},
		{o: priceObs(50*s, "TESTUSDT", "1"), triggered: true}, // came late: does not count
		{o: priceObs(60*s, "TESTUSDT", "1"), triggered: true}, // 1
		{o: priceObs(70*s, "TESTUSDT", "1"), triggered: true}, // 2
		{o: timerObs(101 * s), triggered: true},               // silent again: the run restarts
		{o: priceObs(105*s, "TESTUSDT", "1"), triggered: true},
		{o: priceObs(110*s, "TESTUSDT", "1"), triggered: true},
		{o: priceObs(115*s, "TESTUSDT", "1"), triggered: true},
		{o: priceObs(120*s, "TESTUSDT", "1"), triggered: false, reason: "TESTUSDT prices flowing again at 2025-01-01T00:02:00Z: 3 in a row, each within 30s"},
		// A late price alone (no timer in between) also triggers.
		{o: priceObs(200*s, "TESTUSDT", "1"), triggered: true, reason: "no TESTUSDT price for 1m20s since the last price at 2025-01-01T00:02:00Z (limit 30s)"},
	})
	// No price at all since the start.
	m, _ = NewStaleFeed(DefaultStaleFeedConfig("TESTUSDT"))
	run(t, m, []step{
		{o: accountObs(0)},
		{o: timerObs(31 * s), triggered: true, reason: "no TESTUSDT price for 31s since the first observation at 2025-01-01T00:00:00Z (limit 30s)"},
	})
	// Klines are prices too.
	m, _ = NewStaleFeed(DefaultStaleFeedConfig("TESTUSDT"))
	run(t, m, []step{
		{o: timerObs(0)},
		{o: Observation{Time: at(20 * s), Kind: KindKline, Symbol: "TESTUSDT", Kline: exchange.Kline{Close: d("1")}}},
		{o: timerObs(45 * s)},
	})
}

func aliveObs(offset time.Duration, symbol string, heard time.Duration) Observation {
	return Observation{Time: at(offset), Kind: KindAlive, Symbol: symbol, Price: d("1"), Heard: at(heard)}
}

// TestStaleFeedQuietButLiveFeed is the regression test of issue 10, bug 2:
// on a flat market the price monitor does not re-deliver an unchanged
// price, so only the first price reaches the stale-feed monitor. The
// source's liveness (KindAlive, from pricefeed.Monitor.Liveness on the
// runner's timer) keeps it cleared while messages come, and it still
// triggers when they stop, and clears when they come again.
func TestStaleFeedQuietButLiveFeed(t *testing.T) {
	m, err := NewStaleFeed(DefaultStaleFeedConfig("TESTUSDT"))
	require.NoError(t, err)
	s := time.Second
	steps := []step{{o: priceObs(0, "TESTUSDT", "1")}}
	// Ten minutes of a flat market: the source repeats the price every
	// second; the runner's timer reads the liveness every 10 s.
	for k := time.Duration(1); k <= 60; k++ {
		steps = append(steps, step{o: aliveObs(10*k*s, "TESTUSDT", 10*k*s-300*time.Millisecond)})
	}
	// The source goes quiet after 600 s: the timer keeps reading the same
	// Heard; past 30 s of it the feed is stale.
	steps = append(steps,
		step{o: aliveObs(610*s, "TESTUSDT", 599700*time.Millisecond)},
		step{o: aliveObs(620*s, "TESTUSDT", 599700*time.Millisecond)},
		step{o: aliveObs(629*s, "TESTUSDT", 599700*time.Millisecond)}, // 29.3 s
		step{o: aliveObs(630*s, "TESTUSDT", 599700*time.Millisecond), triggered: true,
			reason: "no TESTUSDT price for 30.3s since the last price at 2025-01-01T00:09:59Z (limit 30s)"},
		step{o: aliveObs(640*s, "TESTUSDT", 599700*time.Millisecond), triggered: true},
		// Another symbol's liveness is not ours.
		step{o: aliveObs(645*s, "OTHERUSDT", 645*s), triggered: true},
		// Messages again: the first came late and does not count; three more clear.
		step{o: aliveObs(650*s, "TESTUSDT", 649*s), triggered: true},
		step{o: aliveObs(660*s, "TESTUSDT", 659*s), triggered: true},
		step{o: aliveObs(670*s, "TESTUSDT", 669*s), triggered: true},
		step{o: aliveObs(680*s, "TESTUSDT", 679*s), triggered: false,
			reason: "TESTUSDT prices flowing again at 2025-01-01T00:11:19Z: 3 in a row, each within 30s"},
		// A liveness reading older than a price already seen proves nothing new.
		step{o: priceObs(690*s, "TESTUSDT", "1")},
		step{o: aliveObs(725*s, "TESTUSDT", 685*s), triggered: true,
			reason: "no TESTUSDT price for 35s since the last price at 2025-01-01T00:11:30Z (limit 30s)"},
	)
	run(t, m, steps)
}

func TestLiquidationDistance(t *testing.T) {
	m, err := NewLiquidationDistance(DefaultLiquidationDistanceConfig("TESTUSDT"))
	require.NoError(t, err)
	long := exchange.Position{Symbol: "TESTUSDT", Quantity: d("1"), LiquidationPrice: d("90")}
	run(t, m, []step{
		{o: priceObs(0, "TESTUSDT", "94")}, // no position known yet
		{o: accountObs(time.Second, long), triggered: true,
			reason: "TESTUSDT price 94 is 4.26% from the long position's liquidation price 90 at 2025-01-01T00:00:01Z (limit 5.00%)"},
		{o: priceObs(2*time.Second, "TESTUSDT", "97"), triggered: true}, // 7.22 %
		{o: markObs(3*time.Second, "TESTUSDT", "98"), triggered: false,
			reason: "TESTUSDT mark price 98 is 8.16% from the nearest liquidation price 90 at 2025-01-01T00:00:03Z (clear level 8.00%)"},
		{o: priceObs(4*time.Second, "TESTUSDT", "94")},                    // the mark price rules now
		{o: markObs(5*time.Second, "TESTUSDT", "94.8"), triggered: false}, // 5.06 %
		{o: markObs(6*time.Second, "TESTUSDT", "94.6"), triggered: true,
			reason: "TESTUSDT mark price 94.6 is 4.86% from the long position's liquidation price 90 at 2025-01-01T00:00:06Z (limit 5.00%)"},
		{o: accountObs(7*time.Second, exchange.Position{Symbol: "TESTUSDT"}), triggered: false,
			reason: "TESTUSDT has no open position with a liquidation price at 2025-01-01T00:00:07Z"},
	})
	// Hedge: the nearer leg counts.
	m, _ = NewLiquidationDistance(DefaultLiquidationDistanceConfig("TESTUSDT"))
	run(t, m, []step{
		{o: markObs(0, "TESTUSDT", "100")},
		{o: accountObs(time.Second,
			exchange.Position{Symbol: "TESTUSDT", PositionSide: exchange.PositionLong, Quantity: d("1"), LiquidationPrice: d("80")},
			exchange.Position{Symbol: "TESTUSDT", PositionSide: exchange.PositionShort, Quantity: d("-1"), LiquidationPrice: d("104")}), triggered: true,
			reason: "TESTUSDT mark price 100 is 4.00% from the SHORT position's liquidation price 104 at 2025-01-01T00:00:01Z (limit 5.00%)"},
	})
}

func TestObservationKindString(t *testing.T) {
	names := map[ObservationKind]string{KindPrice: "price", KindKline: "kline", KindFill: "fill", KindAccount: "account", KindMark: "mark", KindTimer: "timer", KindAlive: "alive", KindBooks: "books", 0: "ObservationKind(0)"}
	for k, want := range names {
		assert.Equal(t, want, k.String())
	}
}

var _ = decimal.Zero

func booksObs(offset time.Duration, realized, unrealized, fees, funding string) Observation {
	return Observation{Time: at(offset), Kind: KindBooks, Books: Books{Realized: d(realized), Unrealized: d(unrealized), Fees: d(fees), Funding: d(funding)}}
}

// TestGridDrawdown: the grid's drawdown is measured on Capital plus its own
// books' net PnL (realized + unrealized − fees − funding); the account's
// equity does not move it, and the account drawdown ignores the books.
func TestGridDrawdown(t *testing.T) {
	m, err := NewDrawdown(DefaultGridDrawdownConfig(d("1000")))
	require.NoError(t, err)
	s := time.Second
	run(t, m, []step{
		{o: equityObs(0, "1")},                 // the account's equity is not the grid's
		{o: booksObs(s, "0", "-99", "1", "0")}, // 900: 10.00 %, not more
		{o: booksObs(2*s, "0", "-99", "1", "1"), triggered: true, // 899
			reason: "grid equity 899 is 10.10% below its peak 1000 at 2025-01-01T00:00:02Z (limit 10.00%)"},
		{o: booksObs(3*s, "20", "-75", "2", "3"), triggered: true}, // 940: 6 %, above the 5 % clear level
		{o: booksObs(4*s, "20", "-40", "2", "3"), triggered: false, // 975
			reason: "grid equity 975 is back within 2.50% of its peak 1000 at 2025-01-01T00:00:04Z (clear level 5.00%)"},
		{o: booksObs(5*s, "300", "0", "0", "0")},                     // a new peak: 1300
		{o: booksObs(6*s, "300", "-200", "0", "0"), triggered: true}, // 1100: 15.38 %
	})
	acct, err := NewDrawdown(DefaultDrawdownConfig())
	require.NoError(t, err)
	run(t, acct, []step{
		{o: equityObs(0, "1000")},
		{o: booksObs(s, "0", "-500", "0", "0")},
		{o: equityObs(2*s, "850"), triggered: true},
	})
	for _, tc := range []struct {
		cfg  DrawdownConfig
		want string
	}{
		{DefaultGridDrawdownConfig(d("0")), "risk: DrawdownConfig.Capital = 0: must be positive with Source grid"},
		{func() DrawdownConfig { c := DefaultDrawdownConfig(); c.Capital = d("5"); return c }(), "risk: DrawdownConfig.Capital = 5: is only read with Source grid"},
		{func() DrawdownConfig { c := DefaultDrawdownConfig(); c.Source = 7; return c }(), "risk: DrawdownConfig.Source = DrawdownSource(7): must be account or grid"},
	} {
		_, err := NewDrawdown(tc.cfg)
		require.Error(t, err)
		assert.Contains(t, err.Error(), tc.want)
	}
}
